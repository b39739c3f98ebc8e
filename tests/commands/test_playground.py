"""What `gankit app` shows, without the browser (commands/playground.py): a seed's image is the one
`gankit generate --n 1 --seed` draws and its latent renders back exactly; class, truncation and seed
each change what they should; the interpolation runs from one seed's image to the other's; an
uploaded image is found again; bad values are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import FASHION, TINY, resolved_train, tiny_run

from gankit.cli import main
from gankit.commands.playground import ANY, Playground
from gankit.errors import GankitError
from gankit.runs.load import load_run
from gankit.util.imageio import to_uint8


@pytest.fixture(scope="module")
def runs(tmp_path_factory, reference_cache):
    root = tmp_path_factory.mktemp("runs")
    return {"uncond": tiny_run(root, False, reference_cache).path, "cond": tiny_run(root, True, reference_cache).path}


@pytest.fixture(scope="module")
def style_run(tmp_path_factory, reference_cache):
    from gankit.launch.presets import build_config
    from gankit.runs.layout import create_run_dir

    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(reference_cache))
        cfg = build_config(preset="stylegan-lite", sets=[*TINY, "model.conditional=true", "train.ada=false"])
        run = create_run_dir(tmp_path_factory.mktemp("sg"), "sg")
        run.write_config(cfg)
        resolved_train(cfg, run, data_dir=str(FASHION))
    return run.path


def generated(run, tmp_path, argv):
    assert main(["generate", str(run), *argv, "--npz", str(tmp_path / "g")]) == 0
    return np.load(tmp_path / "g.npz")["images"]  # [N, H, W, C]


def test_a_seed_shows_what_generate_draws_and_its_latent_renders_back(runs, tmp_path):
    play = Playground(str(runs["cond"]))
    assert play.classes[:2] == ["T-shirt/top", "Trouser"] and len(play.classes) == 10
    for cls, argv in ((ANY, []), ("Bag", ["--class", "Bag"])):
        images = play.images(11, 3, cls)  # seeds 11, 12, 13
        for i, seed in enumerate((11, 12, 13)):
            drawn = generated(runs["cond"], tmp_path, ["--n", "1", "--seed", str(seed), *argv])
            assert np.array_equal(images[i].permute(1, 2, 0).numpy(), drawn[0])
    play.latent(12, "Bag").save(tmp_path / "l.npz")
    back = generated(runs["cond"], tmp_path, ["--latent", str(tmp_path / "l.npz")])
    assert np.array_equal(back[0], play.images(12, 1, "Bag")[0].permute(1, 2, 0).numpy())


def test_seed_and_class_change_the_image_and_the_interpolation_joins_two_seeds(runs):
    play = Playground(str(runs["cond"]))
    a = play.images(3, 1, "Bag")
    assert not torch.equal(a, play.images(4, 1, "Bag")) and not torch.equal(a, play.images(3, 1, "Sneaker"))
    walk = play.interpolation(3, 4, 6, "Bag")
    assert walk.shape == (6, 1, 28, 28)
    assert torch.equal(walk[0], a[0]) and torch.equal(walk[-1], play.images(4, 1, "Bag")[0])
    # an unconditional G has no classes; the class control is ignored there, not an error
    plain = Playground(str(runs["uncond"]))
    assert plain.classes == [] and not plain.style
    assert torch.equal(plain.images(5, 2), plain.images(5, 2, "Bag"))


def test_truncation_pulls_a_style_based_g_toward_its_average_image(style_run, tmp_path):
    play = Playground(str(style_run))
    assert play.style
    free = play.images(0, 4, "Bag", 1.0)
    average = play.images(0, 4, "Bag", 0.0)
    assert not torch.equal(free[0], free[1])
    assert all(torch.equal(average[0], average[i]) for i in range(1, 4))  # psi 0: one image for every seed
    half = play.images(0, 4, "Bag", 0.5).float()
    spread = lambda x: float(x.float().std(0).mean())  # noqa: E731
    assert spread(average) == 0 < spread(half) < spread(free)
    # the truncated image's latent (W+, psi inside it) renders back exactly
    play.latent(2, "Bag", 0.5).save(tmp_path / "w.npz")
    back = generated(style_run, tmp_path, ["--latent", str(tmp_path / "w.npz")])
    assert np.array_equal(back[0], play.images(2, 1, "Bag", 0.5)[0].permute(1, 2, 0).numpy())


def test_an_uploaded_generated_image_is_found_again(runs, tmp_path):
    play = Playground(str(runs["uncond"]))
    loaded = load_run(runs["uncond"])
    z = torch.randn(1, loaded.G.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        target = to_uint8(loaded.G(z), loaded.cfg.data.range)[0, 0].numpy()
    Image.fromarray(target).save(tmp_path / "mine.png")
    r = play.project(str(tmp_path / "mine.png"), steps=300)
    assert r.name == "mine" and r.pair.shape == (32, 62, 1)  # target | projection, framed
    assert np.abs(r.pair[2:30, 2:30, 0].astype(int) - target).max() == 0
    with torch.no_grad():
        two = loaded.G(torch.randn(2, loaded.G.z_dim, generator=torch.Generator().manual_seed(9)))
    assert r.pixel_mse < 0.02 * float(((two[0] - two[1]) ** 2).mean()) and r.feature_dist is not None
    assert r.summary().startswith(f"mine: pixel MSE {r.pixel_mse:.4f}, feature distance")
    r.latent.save(tmp_path / "found.npz")  # the right half of the pair is what the latent renders
    back = generated(runs["uncond"], tmp_path, ["--latent", str(tmp_path / "found.npz")])
    assert np.array_equal(r.pair[2:30, 32:60], back[0])


def test_bad_values_and_uploads_are_one_line(runs, tmp_path):
    play = Playground(str(runs["cond"]))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(GankitError, match=r"notes.png: not an image gankit can read \(UnidentifiedImageError\)"):
        play.project(str(tmp_path / "notes.png"))
    np.savez(tmp_path / "two.npz", images=np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(GankitError, match="two.npz: holds 2 images; the page projects one image"):
        play.project(str(tmp_path / "two.npz"))
    with pytest.raises(GankitError, match="'Hat': not a class of this run"):
        play.images(0, 1, "Hat")
    for bad, match in (((0, 65), "65 images: give 1 to 64"), ((-1, 1), "seed -1: must be 0 or more")):
        with pytest.raises(GankitError, match=match):
            play.images(*bad)
    with pytest.raises(GankitError, match="2 frames|1 frames"):
        play.interpolation(0, 1, 1)


def test_an_onnx_export_samples_but_does_not_project(runs, tmp_path):
    pytest.importorskip("onnxruntime")
    assert main(["export", str(runs["cond"]), "--out", str(tmp_path / "ox"), "--format", "onnx"]) == 0
    play, run = Playground(str(tmp_path / "ox")), Playground(str(runs["cond"]))
    assert play.onnx and not play.projectable
    assert int((play.images(7, 2, "Bag").int() - run.images(7, 2, "Bag").int()).abs().max()) <= 1  # ORT's rounding
    with pytest.raises(GankitError, match="an ONNX export cannot be projected into"):
        play.project(str(tmp_path / "any.png"))
