"""The `gankit` command: the verb table (verbs.py) builds the parser and names each verb's handler.

Every user-facing failure is a `GankitError`, printed as one line (`gankit: error: ...`)
with exit code 2, the same code argparse uses for bad arguments (`gankit --debug ...` adds
its traceback).  Every warning, gankit's own or a library's, is shown as one line
(`gankit: warning: ...`) on stderr, never in Python's format with a source line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

from gankit.cli.verbs import VERBS, build_parser
from gankit.errors import GankitError


def warning_line(message, category=None, filename=None, lineno=None, file=None, line=None, *,
                 debug: bool = False) -> None:
    """`warnings.showwarning` while the CLI runs: one line `gankit: warning: MESSAGE` on stderr,
    written with tqdm so it lands above any progress bar.  Filters are left alone: a library's
    warning is shown (once, by Python's default filter), never turned into an error."""
    from tqdm import tqdm

    text = " ".join(str(message).split())  # one line, whatever the message held
    where = f" ({filename}:{lineno})" if debug and filename else ""
    tqdm.write(f"gankit: warning: {text}{where}", file=sys.stderr)


def matplotlib_home() -> None:
    """Matplotlib writes its font cache under ~/.config (or $MPLCONFIGDIR); with a read-only home
    it prints a multi-line complaint.  Give it a writable folder before anything imports it."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "matplotlib"
    base = home if home.exists() else home.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not os.access(base, os.W_OK):
        os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="gankit-matplotlib-")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    matplotlib_home()
    shown = warnings.showwarning
    warnings.showwarning = lambda *w, **kw: warning_line(*w, **kw, debug=args.debug)
    try:
        return VERBS[args.command].run(args)
    except GankitError as e:
        return _fail(args, str(e), 2)
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the operating system refused a path: the user's to fix, one line
        from gankit.util.paths import os_error_message

        return _fail(args, os_error_message(e), 2)
    except Exception as e:  # a bug, not bad input: still one line, and where the traceback is
        log = getattr(e, "gankit_log", None)
        where = f" (traceback in {log})" if log else ""
        return _fail(args, f"internal error, a bug in gankit: {type(e).__name__}: {e}{where}; "
                           "rerun with --debug to see the traceback, and please report it", 1)
    finally:
        warnings.showwarning = shown


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    _end_progress_bars()
    if args.debug:
        traceback.print_exc(file=sys.stderr)
    msg = " ".join(message.split())  # one line, whatever the message held
    print(f"gankit: error: {msg}", file=sys.stderr)
    return code


def _end_progress_bars() -> None:
    """Close any progress bar an error cut short, so the error starts a line of its own
    (tqdm leaves a bar's line open until the bar closes)."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()
