"""`python -m gankit` runs the command-line interface."""

from gankit.cli import main

raise SystemExit(main())
