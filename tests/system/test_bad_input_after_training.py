"""The bad-input matrix for what comes after a run (issue 16's commands: --init-from, generate
--dataset/--interpolate/--truncation, evaluate --cas/--privacy): each case through the real CLI,
its exact one-line message, exit code 2, no traceback, and nothing written (no run directory,
no dataset folder, no GIF, metrics.json unchanged).  docs/errors.md lists the same cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_runs import FASHION, tiny_run

from gankit.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory, reference_cache):
    root = tmp_path_factory.mktemp("runs")
    cache = reference_cache  # the session's: reference features computed once, not once per module
    return {"cond": tiny_run(root, True, cache).path, "uncond": tiny_run(root, False, cache).path}


def fails_with(capsys, argv: list[str], message: str) -> None:
    """The command exits 2 with exactly `gankit: error: MESSAGE` on stderr and no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"gankit: error: {message}"


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*"))


def test_init_from_a_file_that_is_not_a_training_checkpoint(tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    stranger = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, str(stranger))
    out = tmp_path / "runs"
    fails_with(capsys, ["train", "--out", str(out), "--data-dir", str(FASHION), "--init-from", str(stranger),
                        "--set", "data.limit=64"],
               f"{stranger}: a safetensors file without gankit metadata, not a gankit checkpoint; give a checkpoint "
               "gankit wrote (RUN/checkpoints/last.safetensors)")
    assert not out.exists()


def test_dataset_into_a_folder_that_holds_files(runs, tmp_path, capsys):
    out = tmp_path / "synthetic"
    out.mkdir()
    (out / "mine.png").write_bytes(b"x")
    fails_with(capsys, ["generate", str(runs["cond"]), "--dataset", str(out), "--n", "20"],
               f"--dataset {out}: exists and is not an empty folder; choose a new folder "
               "(a synthetic dataset never overwrites files)")
    assert files_under(out) == [out / "mine.png"]


def test_dataset_with_fewer_images_than_classes(runs, tmp_path, capsys):
    out = tmp_path / "synthetic"
    fails_with(capsys, ["generate", str(runs["cond"]), "--dataset", str(out), "--n", "3"],
               "--n 3: fewer images than the run's 10 classes; use --n >= 10")
    assert not out.exists()


def test_per_class_of_an_unconditional_run(runs, tmp_path, capsys):
    out = tmp_path / "synthetic"
    fails_with(capsys, ["generate", str(runs["uncond"]), "--dataset", str(out), "--per-class", "5"],
               f"--per-class: {runs['uncond']} is an unconditional run (model.conditional=false), so its images "
               "have no classes; use --n N (written to one folder, unlabelled)")
    assert not out.exists()


def test_interpolate_zero_frames(runs, tmp_path, capsys):
    gif = tmp_path / "walk.gif"
    fails_with(capsys, ["generate", str(runs["uncond"]), "--interpolate", "0", "--gif", str(gif)],
               "--interpolate 0: must be at least 1 frame per pair of keyframes")
    assert not gif.exists()


def test_truncation_that_is_not_finite(tmp_path, capsys, fashion_dir):
    """psi=nan on a style-based run (a tiny stylegan-lite trained here) is refused."""
    out = tmp_path / "runs"
    assert main(["train", "--preset", "stylegan-lite", "--out", str(out), "--name", "sg", "--data-dir", str(fashion_dir),
                 *[x for s in ("data.limit=64", "train.max_steps=2", "train.batch_size=16", "model.g_width=8",
                               "model.d_width=8", "model.w_dim=16", "train.progress=false",
                               "train.tensorboard=false") for x in ("--set", s)]]) == 0
    capsys.readouterr()
    run = out / "0001-sg"
    grid = tmp_path / "t.png"
    fails_with(capsys, ["generate", str(run), "--truncation", "nan", "--grid", str(grid)],
               "--truncation nan: give a finite psi (1 = none, 0 = the average image, 0.7 is typical)")
    assert not grid.exists()


def test_cas_of_an_unconditional_run(runs, capsys):
    before = files_under(runs["uncond"])
    fails_with(capsys, ["evaluate", str(runs["uncond"]), "--cas", "--n", "100"],
               f"--cas: run {runs['uncond']} is unconditional (model.conditional=false); the Classification "
               "Accuracy Score needs labelled samples from a class-conditional run")
    assert files_under(runs["uncond"]) == before


def test_cas_with_too_few_images(runs, capsys):
    before = files_under(runs["cond"])
    fails_with(capsys, ["evaluate", str(runs["cond"]), "--cas", "--n", "50"],
               "--n 50: too few images to train a classifier on 10 classes; use --n >= 100")
    assert files_under(runs["cond"]) == before


def test_cas_epochs_without_cas(runs, capsys):
    fails_with(capsys, ["evaluate", str(runs["cond"]), "--cas-epochs", "2"], "--cas-epochs belongs to --cas")


def test_privacy_with_no_images(runs, capsys):
    before = files_under(runs["uncond"])
    fails_with(capsys, ["evaluate", str(runs["uncond"]), "--privacy", "--n", "0"], "--n 0: must be at least 1")
    assert files_under(runs["uncond"]) == before
