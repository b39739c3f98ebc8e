"""Shared by the bad-input tests (tests/test_bad_input*.py): the one error line a failing
command prints, and small real inputs (PNG bytes, a flat folder of images) to feed it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.cli import main

FAST = ["--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=16",
        "--set", "train.max_steps=2", "--set", "train.epochs=1", "--set", "train.progress=false",
        "--set", "train.tensorboard=false"]


def error_line(capsys) -> str:
    """The one `gankit: error:` line of stderr (after any `gankit: downloading/warning` lines)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and lines[-1].startswith("gankit: error: "), err
    assert all(line.startswith(("gankit: downloading ", "gankit: warning: ")) for line in lines[:-1]), err
    return lines[-1][len("gankit: error: "):]


def fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return error_line(capsys)


def png(value: int, size=(28, 28)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def flat_folder(root: Path, n: int = 32) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


class Terminal:
    """A stream that says it is a terminal (as a user's stderr is), writing through to another."""

    def __init__(self, stream):
        self.stream = stream

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self.stream, name)
