"""A real full file system (a size-limited tmpfs mounted here; root only): a checkpoint that does not
fit is one line through the real CLI, exit 2, no temp file left, and the previous checkpoint intact.
safetensors reports the failed write as its own SafetensorError, not OSError: a test that fakes
OSError never sees it, so this one fills a real disk, at the first checkpoint and at a later one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input_helpers import Terminal, flat_folder

from gankit.cli import main
from gankit.runs.checkpoint import load_state

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")

RUN = ["--set", "data.dataset=folder", "--set", "model.g_width=8", "--set", "model.d_width=8",
       "--set", "train.batch_size=16", "--set", "train.max_steps=3", "--set", "train.epochs=1",
       "--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "train.ema=false",
       "--set", "train.checkpoint_every_steps=1", "--name", "x"]


@pytest.fixture
def small_disk(tmp_path):
    """mount(size, read_only=False) -> a fresh tmpfs of `size` bytes, unmounted after the test."""
    mounted = []

    def mount(size: int, read_only: bool = False) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        options = f"{'ro,' if read_only else ''}size={size}"
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def fails(argv: list[str], capsys) -> str:
    """Exit 2, no traceback, and the error as the last line (after the run directory's line)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    shown = [line.rsplit("\r", 1)[-1].rstrip() for line in err.split("\n")]  # a carriage return overwrites
    lines = [line for line in shown if line and not line.startswith("gankit: warning: ")]
    # one line means one line: the run directory's line, then the error alone (no second line beside it)
    assert len(lines) == 2 and lines[0].startswith("run directory: ") and lines[1].startswith("gankit: error: "), err
    return lines[-1][len("gankit: error: "):]


def checkpoint_size(tmp_path, images) -> int:
    assert main(["train", "--set", f"data.path={images}", "--out", str(tmp_path / "probe"), *RUN]) == 0
    return (tmp_path / "probe" / "0001-x" / "checkpoints" / "last.safetensors").stat().st_size


# the progress bar off, on with stderr redirected (no bar is drawn), and on a terminal (what users
# see): a bar cut short must not leave a line beside the error
BARS = pytest.mark.parametrize("bar", ["off", "redirected", "terminal"])


def bar_flags(bar: str, monkeypatch) -> list[str]:
    if bar == "terminal":
        monkeypatch.setattr(sys, "stderr", Terminal(sys.stderr))
    return [] if bar == "off" else ["--set", "train.progress=true"]


@BARS
def test_the_first_checkpoint_on_a_full_disk(tmp_path, small_disk, capsys, bar, monkeypatch):
    images = flat_folder(tmp_path / "imgs", 32)
    size = checkpoint_size(tmp_path, images)
    disk = small_disk(size // 2)  # the run directory fits, its first checkpoint does not
    capsys.readouterr()
    line = fails(["train", "--set", f"data.path={images}", "--out", str(disk), *RUN, *bar_flags(bar, monkeypatch)],
                 capsys)
    last = disk / "0001-x" / "checkpoints" / "last.safetensors"
    assert line == (f"could not save the checkpoint {last} (No space left on device); no earlier "
                    "last.safetensors existed; free disk space and continue with gankit train --resume RUN")
    assert list(last.parent.iterdir()) == []  # no half-written temp file


@BARS
def test_a_later_checkpoint_on_a_full_disk_keeps_the_previous_one(tmp_path, small_disk, capsys, bar, monkeypatch):
    images = flat_folder(tmp_path / "imgs", 32)
    size = checkpoint_size(tmp_path, images)
    disk = small_disk(size + size // 2)  # one checkpoint fits; the next (written beside it) does not
    capsys.readouterr()
    line = fails(["train", "--set", f"data.path={images}", "--out", str(disk), *RUN, *bar_flags(bar, monkeypatch)],
                 capsys)
    last = disk / "0001-x" / "checkpoints" / "last.safetensors"
    assert line == (f"could not save the checkpoint {last} (No space left on device); the previous "
                    "last.safetensors is intact; free disk space and continue with gankit train --resume RUN")
    assert load_state(last)["step"] == 1  # the first save, loadable
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.safetensors"]


def test_a_read_only_out_is_refused_before_any_work(small_disk, capsys):
    where = small_disk(64 << 10, read_only=True)
    assert main(["train", "--out", str(where), *RUN[2:]]) == 2  # (fashion-mnist: the default data)
    err = capsys.readouterr().err
    assert err.splitlines() == [f"gankit: error: --out {where}: {where} is not writable; choose a folder you can "
                                "write to or fix its permissions"]
    assert list(where.iterdir()) == []


def test_a_read_only_home_gets_no_matplotlib_complaint(tmp_path, small_disk):
    """matplotlib writes a font cache under ~/.config; with a read-only home it prints a multi-line
    complaint.  The CLI gives it a writable folder first, so a command still prints one line."""
    import sys

    home = small_disk(64 << 10, read_only=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), GANKIT_CACHE=str(tmp_path / "cache"))
    images = flat_folder(tmp_path / "imgs", 32)
    out = subprocess.run([sys.executable, "-m", "gankit", "train", "--set", f"data.path={images}", "--out",
                          str(tmp_path / "runs"), *RUN], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr  # training draws its plots with matplotlib
    assert "matplotlib" not in out.stderr.lower(), out.stderr
    assert (tmp_path / "runs" / "0001-x" / "plots" / "losses.png").is_file()
