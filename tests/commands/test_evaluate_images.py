"""`gankit evaluate --images PATH --against REF`: images from anywhere get the same metrics as a
run's samples.  A folder written by `gankit generate --out` scores exactly as `gankit evaluate RUN`
on the same samples; real test images score near the real-vs-real floor; other sizes and channel
counts are converted and the table says so; bad input is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_input_helpers import fails
from tiny_runs import FASHION, tiny_run

from gankit.cli import main

N = 200


@pytest.fixture(scope="module")
def run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), True, reference_cache).path


def metric_values(m: dict) -> dict:
    return {k: v for k, v in m.items() if isinstance(v, (int, float)) and k not in ("seconds", "step")}


@pytest.mark.slow  # 10-40 s: `make test-slow` (the default suite stays under 10 minutes)
def test_a_generated_folder_scores_exactly_as_the_run(run, tmp_path, shared_cache, capsys):
    images = tmp_path / "imgs"
    assert main(["generate", str(run), "--n", str(N), "--seed", "3", "--out", str(images)]) == 0
    assert main(["evaluate", str(run), "--n", str(N), "--seed", "3", "--data-dir", str(FASHION)]) == 0
    by_run = json.loads((run / "metrics.json").read_text())
    out = tmp_path / "m.json"
    assert main(["evaluate", "--images", str(images), "--against", str(run), "--n", str(N), "--seed", "3",
                 "--data-dir", str(FASHION), "--out", str(out)]) == 0
    by_images = json.loads(out.read_text())
    assert metric_values(by_images) == metric_values(by_run) and by_images["fid"] > 0
    for key in ("n", "reference", "reference_split", "reference_size", "evaluator_sha256", "small_n_warning"):
        assert by_images[key] == by_run[key], key  # the same provenance
    assert by_images["images"] == str(images) and by_images["against"] == str(run)
    table = capsys.readouterr().out
    assert "real-vs-real floor" in table and f"written: {out}" in table


def test_an_npz_of_real_test_images_scores_near_the_floor(tmp_path, shared_cache, capsys):
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    test = load_dataset(DataConfig(dataset="fashion-mnist", split="test"), str(FASHION))
    npz = tmp_path / "real.npz"
    np.savez(npz, images=test.images[:N].permute(0, 2, 3, 1).numpy())
    out = tmp_path / "m.json"
    assert main(["evaluate", "--images", str(npz), "--against", "fashion-mnist", "--data-dir", str(FASHION),
                 "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["n"] == N and m["classes_covered"] == 10
    assert m["fid"] < 2 * m["floor_fid"] + 1  # real images are as far from the train split as the floor is


def test_other_sizes_and_channels_are_converted_and_said(tmp_path, shared_cache, capsys):
    rng = np.random.default_rng(0)
    npy = tmp_path / "rgb.npy"
    np.save(npy, rng.integers(0, 256, (40, 32, 48, 3), dtype=np.uint8))  # [N, H, W, C], 3 channels, not square
    out = tmp_path / "m.json"
    assert main(["evaluate", "--images", str(npy), "--against", "fashion-mnist", "--data-dir", str(FASHION),
                 "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert f"{npy}: 3x32x48 images converted to the reference's 1x28x28" in m["notes"]
    assert f"note: {npy}: 3x32x48 images converted" in capsys.readouterr().out


def test_a_folder_of_mixed_sizes_is_resized_and_said_once(tmp_path, shared_cache, capsys):
    from PIL import Image

    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(20):
        s = 28 if i % 2 else 40
        Image.fromarray(rng.integers(0, 256, (s, s), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    assert main(["evaluate", "--images", str(folder), "--against", "fashion-mnist", "--data-dir", str(FASHION)]) == 0
    out = capsys.readouterr().out
    assert out.count("images of mixed sizes resized and centre-cropped to the reference's 1x28x28") == 1


@pytest.mark.parametrize("argv, message", [
    (["--images", "NOPE", "--against", "fashion-mnist"], "--images NOPE: no such file or folder"),
    (["--images", "EMPTY", "--against", "fashion-mnist"],
     "EMPTY: no files found; put images in it (one sub-folder per class, or all of them directly in it for one class)"),
    (["--images", "ONE", "--against", "fashion-mnist"],
     "--images ONE: 1 image(s); the metrics need at least 2 (10 for any figure, 2048 for comparable FID)"),
    (["--images", "ONE", "--against", "banana"],
     "--against banana: not a dataset (fashion-mnist, mnist, cifar10, stacked-mnist), a run directory or an existing "
     "folder/zip"),
    (["--images", "ONE"], "--images PATH and --against REF go together (the images to score, the real ones to "
                          "compare with)"),
    (["--images", "ONE", "--against", "fashion-mnist", "--out", "EMPTY"], "--out EMPTY: is a folder; give a file name"),
    (["--images", "TEXT", "--against", "fashion-mnist"],
     "--images TEXT: expected uint8 images [N, H, W(, C)], got float64 [3]"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "one.npy", np.zeros((1, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "text.npy", np.zeros(3))
    names = {"NOPE": tmp_path / "nope", "EMPTY": tmp_path / "empty", "ONE": tmp_path / "one.npy",
             "TEXT": tmp_path / "text.npy"}
    argv = [str(names.get(a, a)) for a in argv]
    before = sorted(p.name for p in tmp_path.iterdir())
    message = message.replace("NOPE", str(names["NOPE"])).replace("EMPTY", str(names["EMPTY"]))
    message = message.replace("ONE", str(names["ONE"])).replace("TEXT", str(names["TEXT"]))
    assert fails(["evaluate", *argv, "--data-dir", str(FASHION)], capsys) == message
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_any_folder_against_any_folder_makes_the_reference_folders_evaluator(tmp_path, monkeypatch, capsys):
    """No shipped evaluator serves a user's folder: `evaluate --images` makes one for the reference
    (once, then cached) and scores with it; `evaluator train --set ...` makes the same one."""
    from PIL import Image

    from gankit.metrics import evaluator_folder as ef

    monkeypatch.setattr(ef, "SSL_STEPS", 10)
    g = np.random.default_rng(0)
    for name, n in (("ref", 240), ("mine", 60)):
        (tmp_path / name).mkdir()
        for i in range(n):
            coarse = Image.fromarray(g.integers(0, 256, (6, 6, 3), dtype=np.uint8))
            coarse.resize((32, 32), Image.BILINEAR).save(tmp_path / name / f"{i}.png")
    assert main(["evaluator", "train", "--set", "data.dataset=folder", "--set", f"data.path={tmp_path / 'ref'}"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["method"] == "ssl" and card["images"] == 240
    assert main(["evaluate", "--images", str(tmp_path / "mine"), "--against", str(tmp_path / "ref"),
                 "--out", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr()
    assert "training a ssl" not in out.err and "n=60 samples" in out.err  # found by the folder's fingerprint, not trained again
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["evaluator_sha256"] == card["sha256"] and m["fid"] > 0 and m["floor_fid"] > 0 and "cs" not in m


def test_rgba_and_grey_alpha_arrays_are_composited_on_white_and_odd_channels_refused(tmp_path):
    from gankit.commands.evaluate_images import _array, convert_images
    from gankit.errors import GankitError

    rgba = np.zeros((2, 4, 4, 4), dtype=np.uint8)
    rgba[0, ..., :3], rgba[0, ..., 3] = 10, 255  # opaque dark
    rgba[1, ..., :3], rgba[1, ..., 3] = 10, 0  # transparent: white, as the folder loader shows it
    np.save(tmp_path / "rgba.npy", rgba)
    x = _array(tmp_path / "rgba.npy")
    assert x.shape == (2, 3, 4, 4) and x[0].unique().tolist() == [10] and x[1].unique().tolist() == [255]
    grey, note = convert_images(x, 1, 4, "rgba.npy")  # scored against an RGB or a grey reference alike
    assert grey.shape == (2, 1, 4, 4) and "3x4x4 images converted" in note
    np.save(tmp_path / "la.npy", np.full((2, 2, 5, 5), 255, dtype=np.uint8))  # [N, C, H, W], grey + alpha
    assert _array(tmp_path / "la.npy").shape == (2, 1, 5, 5)
    np.save(tmp_path / "five.npy", np.zeros((2, 6, 6, 5), dtype=np.uint8))
    with pytest.raises(GankitError, match=r"five.npy: 5 channels in \[2, 6, 6, 5\]; expected 1 \(grey\)"):
        _array(tmp_path / "five.npy")


def test_a_reference_too_small_for_an_evaluator_gets_advice_that_works(tmp_path, capsys):
    """`gankit evaluator train` refuses fewer than MIN_IMAGES images, so it is not what the message advises."""
    from bad_input_helpers import flat_folder

    from gankit.metrics.evaluator_folder import MIN_IMAGES

    small = flat_folder(tmp_path / "small", 20)
    assert main(["evaluate", "--images", str(small), "--against", str(small)]) == 2
    err = capsys.readouterr().err
    assert (f"no gankit evaluator for folder:small: its 20 images are too few to train one (at least {MIN_IMAGES}); "
            "compare against a larger reference with --against, or use Inception-v3") in err
    assert "gankit evaluator train" not in err and len(err.strip().splitlines()) == 1
