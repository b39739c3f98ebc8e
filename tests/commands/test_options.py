"""`gankit options`: the reference of every config key, and docs/options.md kept equal to it."""

from pathlib import Path

from gankit.cli import main
from gankit.commands.options import format_markdown
from gankit.config import field_types
from gankit.models import MODELS
from gankit.training.losses import LOSSES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def test_the_committed_options_page_is_what_the_code_prints():
    assert PAGE.read_text() == format_markdown(), "docs/options.md is stale: run `gankit options --markdown > docs/options.md`"


def test_the_page_has_every_key_its_range_and_every_registered_choice():
    page = format_markdown()
    assert all(f"| `{key}` |" in page for key in field_types() if "." in key)
    assert "| `optim.g_lr` | float | `0.0002` | > 0 |" in page  # the range from launch/ranges.py
    assert "| `train.batch_size` | int | `128` | in [1, 65536] |" in page and "| `32` |" in page  # preset's value
    assert all(f"- `{name}`: {spec.description}" in page for name, spec in MODELS.items())
    assert all(f"- `{name}`: {loss.description}" in page for name, loss in LOSSES.items())


def test_the_cli_prints_the_page_and_refuses_a_preset_with_it(capsys):
    assert main(["options", "--markdown"]) == 0
    assert capsys.readouterr().out == format_markdown()
    assert main(["options", "--markdown", "--preset", "dcgan"]) == 2
    assert capsys.readouterr().err.strip() == ("gankit: error: --markdown writes the reference page of the built-in "
                                               "defaults and the default preset; leave out --preset")
