"""`gankit project RUN IMAGE... --out DIR` and `gankit generate RUN --latent FILE`: a generated
image is found again (its own latent recovered closely), the latent renders back exactly, every
model family projects (z, or W+ for stylegan-lite), a conditional G searches its classes, and bad
input is one line with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bad_input_helpers import fails
from PIL import Image
from tiny_runs import TINY, tiny_run

from gankit.cli import main
from gankit.runs.load import load_run
from gankit.util.imageio import to_uint8


@pytest.fixture(scope="module")
def runs(tmp_path_factory, reference_cache):
    cache = reference_cache  # the session's: reference features computed once, not once per module
    root = tmp_path_factory.mktemp("runs")
    return {"uncond": tiny_run(root, False, cache).path, "cond": tiny_run(root, True, cache).path}


def generated_png(run, path, seed: int = 5, label: int | None = None):
    """A sample of the run's own G as a PNG, and the z that drew it."""
    loaded = load_run(run)
    z = torch.randn(1, loaded.G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = loaded.G(z, torch.tensor([label]) if label is not None else None)
    Image.fromarray(to_uint8(x, loaded.cfg.data.range)[0, 0].numpy()).save(path)
    return z


def projection_cell(png, h: int, w: int) -> np.ndarray:
    """The right cell of DIR/NAME.png (target | projection, 2 px frames)."""
    grid = np.asarray(Image.open(png))
    return grid[2:2 + h, 4 + w:4 + 2 * w]


def test_a_generated_image_is_found_again_and_its_latent_renders_back_exactly(runs, tmp_path, capsys):
    run = runs["uncond"]
    z = generated_png(run, tmp_path / "mine.png")
    out = tmp_path / "proj"
    assert main(["project", str(run), str(tmp_path / "mine.png"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mine: pixel MSE" in printed and "feature distance" in printed and f"written: {out}" in printed
    rows = json.loads((out / "projection.json").read_text())["images"]
    assert [r["image"] for r in rows] == ["mine"] and rows[0]["steps"] == 300
    # far closer than two of the run's samples are to each other
    loaded = load_run(run)
    with torch.no_grad():
        two = loaded.G(torch.randn(2, loaded.G.z_dim, generator=torch.Generator().manual_seed(9)))
    apart = float(((two[0] - two[1]) ** 2).mean())
    assert rows[0]["pixel_mse"] < 0.01 * apart
    latent = np.load(out / "mine.npz")
    assert str(latent["kind"]) == "z" and int(latent["label"]) == -1
    found = torch.from_numpy(latent["latent"])
    strangers = torch.randn(256, z.shape[1], generator=torch.Generator().manual_seed(3))
    # its own z found again: nearer than a tenth of the nearest of 256 random ones
    assert float((found - z).norm()) < 0.1 * float((strangers - z).norm(dim=1).min())
    assert (out / "mine.gif").stat().st_size > 0
    # the latent renders back exactly: the same pixels as the projection
    assert main(["generate", str(run), "--latent", str(out / "mine.npz"), "--npz", str(tmp_path / "back.npz")]) == 0
    back = np.load(tmp_path / "back.npz")["images"][0, :, :, 0]
    assert np.array_equal(back, projection_cell(out / "mine.png", 28, 28))


def test_a_conditional_g_tries_each_class_or_the_one_given(runs, tmp_path, capsys):
    run = runs["cond"]
    generated_png(run, tmp_path / "bag.png", label=8)
    assert main(["project", str(run), str(tmp_path / "bag.png"), "--out", str(tmp_path / "a"), "--steps", "5"]) == 0
    assert int(np.load(tmp_path / "a" / "bag.npz")["label"]) in range(10)
    assert main(["project", str(run), str(tmp_path / "bag.png"), "--out", str(tmp_path / "b"), "--steps", "5",
                 "--class", "Trouser"]) == 0
    assert json.loads((tmp_path / "b" / "projection.json").read_text())["images"][0]["class"] == "Trouser"
    assert int(np.load(tmp_path / "b" / "bag.npz")["label"]) == 1
    assert main(["generate", str(run), "--latent", str(tmp_path / "b" / "bag.npz"), "--grid", str(tmp_path / "g.png")]) == 0


def test_two_images_of_one_name_get_two_projections(runs, tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        generated_png(runs["uncond"], tmp_path / d / "x.png", seed=ord(d))
    assert main(["project", str(runs["uncond"]), str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png"),
                 "--out", str(tmp_path / "o"), "--steps", "2"]) == 0
    rows = json.loads((tmp_path / "o" / "projection.json").read_text())["images"]
    assert [r["image"] for r in rows] == ["x", "x-2"] and (tmp_path / "o" / "x-2.npz").is_file()


def test_other_sizes_and_colour_are_prepared_as_training_data_and_said(runs, tmp_path, capsys):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "c.jpg")
    assert main(["project", str(runs["uncond"]), str(tmp_path / "c.jpg"), "--out", str(tmp_path / "o"),
                 "--steps", "2"]) == 0
    assert "non-square" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "o" / "c.png")).shape[:2] == (32, 62)  # two 28 px cells, framed


def test_stylegan_lite_projects_in_w_plus_and_renders_back_exactly(runs, tmp_path, capsys):
    from gankit.launch.presets import build_config
    from gankit.runs.layout import create_run_dir
    from tiny_runs import FASHION, resolved_train

    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    cfg = build_config(preset="stylegan-lite", sets=[*TINY, "model.conditional=false", "train.ada=false"])
    run = create_run_dir(tmp_path, "sg")
    run.write_config(cfg)
    resolved_train(cfg, run, data_dir=str(FASHION))
    generated_png(run.path, tmp_path / "s.png")
    assert main(["project", str(run.path), str(tmp_path / "s.png"), "--out", str(tmp_path / "p"), "--steps", "3"]) == 0
    latent = np.load(tmp_path / "p" / "s.npz")
    G = load_run(run.path).G
    assert str(latent["kind"]) == "w+" and latent["latent"].shape == (1, G.num_ws, G.w_dim)
    assert main(["generate", str(run.path), "--latent", str(tmp_path / "p" / "s.npz"), "--npz", str(tmp_path / "b")]) == 0
    back = np.load(tmp_path / "b.npz")["images"][0, :, :, 0]
    assert np.array_equal(back, projection_cell(tmp_path / "p" / "s.png", 28, 28))
    # a W+ latent does not fit a z generator
    line = fails(["generate", str(runs["uncond"]), "--latent", str(tmp_path / "p" / "s.npz"), "--grid",
                  str(tmp_path / "x.png")], capsys)
    assert f"a stylegan-lite w+ latent of shape [1, {G.num_ws}, {G.w_dim}]; this run's G (dcgan) takes a z" in line


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    run = str(runs["uncond"])
    out = tmp_path / "never"
    (tmp_path / "notes.png").write_text("not an image")
    assert fails(["project", run, str(tmp_path / "notes.png"), "--out", str(out)], capsys) == (
        f"{tmp_path / 'notes.png'}: not an image gankit can read (UnidentifiedImageError); give a PNG, JPEG, "
        "WebP, GIF, BMP or TIFF file, a folder of them, a zip, or an .npz")
    (tmp_path / "empty").mkdir()
    assert "empty: no files found; put images in it" in fails(["project", run, str(tmp_path / "empty"), "--out", str(out)], capsys)
    generated_png(run, tmp_path / "ok.png")
    assert fails(["project", str(runs["cond"]), str(tmp_path / "ok.png"), "--out", str(out), "--class", "Hat"],
                 capsys).startswith("--class 'Hat': not a class of this run")
    assert fails(["project", run, str(tmp_path / "ok.png"), "--out", str(out), "--class", "Bag"], capsys) == (
        "--class Bag: this run's G is unconditional; leave --class out")
    assert fails(["project", run, str(tmp_path / "ok.png"), "--out", str(out), "--steps", "0"], capsys) == (
        "--steps 0: must be at least 1")
    assert not out.exists()
    # latents of the wrong shape, model or file
    np.savez(tmp_path / "wide.npz", kind="z", latent=np.zeros((1, 7), np.float32), label=-1, model="dcgan")
    assert fails(["generate", run, "--latent", str(tmp_path / "wide.npz"), "--grid", str(tmp_path / "g.png")],
                 capsys).startswith(f"--latent {tmp_path / 'wide.npz'}: a dcgan z latent of shape [1, 7]; "
                                    "this run's G (dcgan) takes a z latent of shape [1, ")
    np.save(tmp_path / "plain.npy", np.zeros((1, 100), np.float32))
    assert "not a latent written by `gankit project`" in fails(
        ["generate", run, "--latent", str(tmp_path / "plain.npy"), "--grid", str(tmp_path / "g.png")], capsys)
    np.savez(tmp_path / "labelled.npz", kind="z", latent=np.zeros((1, load_run(run).G.z_dim), np.float32), label=3,
             model="dcgan")
    assert "class index 3 does not fit this run's unconditional G" in fails(
        ["generate", run, "--latent", str(tmp_path / "labelled.npz"), "--grid", str(tmp_path / "g.png")], capsys)
    assert "without --dataset, --gif or --class" in fails(
        ["generate", run, "--latent", str(tmp_path / "labelled.npz"), "--gif", str(tmp_path / "w.gif")], capsys)
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "w.gif").exists()


def test_a_safetensors_export_projects_and_an_onnx_one_is_refused(runs, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    run = str(runs["uncond"])
    generated_png(run, tmp_path / "t.png")
    assert main(["export", run, "--out", str(tmp_path / "st")]) == 0
    assert main(["project", str(tmp_path / "st"), str(tmp_path / "t.png"), "--out", str(tmp_path / "a"),
                 "--steps", "2"]) == 0
    assert main(["export", run, "--out", str(tmp_path / "ox"), "--format", "onnx"]) == 0
    assert fails(["project", str(tmp_path / "ox"), str(tmp_path / "t.png"), "--out", str(tmp_path / "b")], capsys) == (
        f"{tmp_path / 'ox'}: an ONNX export cannot be projected into (no gradients); give the run directory or a "
        "safetensors export (`gankit export RUN --out DIR`)")
    assert not (tmp_path / "b").exists()
