"""DiffAugment ops keep shapes, pass gradients, and do what they say to the pixels."""

import pytest
import torch

from gankit.data.diffaugment import AUGMENTS, brightness, contrast, cutout, diff_augment, saturation, translation
from gankit.errors import GankitError


def images(n=16, c=3, h=8, w=8, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_empty_policy_is_identity():
    x = images()
    assert diff_augment(x, []) is x


@pytest.mark.parametrize("policy", [["color"], ["translation"], ["cutout"], ["color", "translation", "cutout"]])
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_and_gradient(policy, channels):
    torch.manual_seed(0)
    x = images(c=channels).requires_grad_(True)
    y = diff_augment(x, policy)
    assert y.shape == x.shape
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_is_a_zero_filled_shift_of_each_image():
    torch.manual_seed(1)
    x = images(n=32, h=16, w=16) + 3.0  # strictly positive: fill zeros are recognisable
    y = translation(x)
    shift = 2  # 16 / 8
    moved = 0
    for i in range(x.shape[0]):
        found = None
        for dy in range(-shift, shift + 1):
            for dx in range(-shift, shift + 1):
                ref = torch.zeros_like(x[i])
                # output[r, c] = x[r + dy, c + dx] where in range
                r0, r1 = max(0, -dy), min(16, 16 - dy)
                c0, c1 = max(0, -dx), min(16, 16 - dx)
                ref[:, r0:r1, c0:c1] = x[i, :, r0 + dy : r1 + dy, c0 + dx : c1 + dx]
                if torch.equal(ref, y[i]):
                    found = (dy, dx)
        assert found is not None, f"sample {i} is not a shift of its input"
        moved += found != (0, 0)
    assert moved >= 24  # P(no shift) = 1/25 per sample


def test_cutout_zeroes_one_box_up_to_half_size():
    torch.manual_seed(2)
    x = images(n=64) + 3.0
    y = cutout(x)
    for i in range(64):
        zero = (y[i] == 0).all(dim=0)  # [h, w]; same box in every channel
        assert torch.equal((y[i] == 0), zero.expand_as(y[i]))
        rows, cols = zero.any(dim=1).nonzero().flatten(), zero.any(dim=0).nonzero().flatten()
        h, w = len(rows), len(cols)
        assert 2 <= h <= 4 and 2 <= w <= 4  # half of 8, may overhang the edge by up to half
        assert zero.sum().item() == h * w  # a filled rectangle
        assert rows.max() - rows.min() + 1 == h and cols.max() - cols.min() + 1 == w
        assert torch.equal(y[i][:, ~zero], x[i][:, ~zero])


def test_colour_ops():
    torch.manual_seed(3)
    x = images(n=64)
    d = brightness(x) - x  # one offset per sample, in [-0.5, 0.5]
    per = d.flatten(1)
    assert torch.allclose(per, per[:, :1].expand_as(per), atol=1e-6)
    assert per.abs().max() <= 0.5 and per[:, 0].std() > 0.2
    # saturation keeps each pixel's channel mean; contrast keeps each image's mean
    assert torch.allclose(saturation(x).mean(1), x.mean(1), atol=1e-5)
    assert torch.allclose(contrast(x).mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)
    assert not torch.allclose(contrast(x), x)
    grey = images(c=1)
    assert torch.allclose(saturation(grey), grey, atol=1e-6)  # no-op on one channel


def test_registry_and_unknown_op():
    assert set(AUGMENTS) == {"color", "translation", "cutout"}
    with pytest.raises(GankitError, match="unknown DiffAugment op"):
        diff_augment(images(), ["flip"])


# train.diffaugment=auto (the default preset): the ops on colour images unless ADA runs


def _toy(n: int, channels: int):
    from gankit.data import ImageData

    return ImageData(torch.zeros(n, channels, 32, 32, dtype=torch.uint8), torch.arange(n) % 2, ["a", "b"], "toy")


TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=16", "train.progress=false",
        "train.tensorboard=false", "train.ema=false"]


@pytest.mark.parametrize("n, channels, sets, ops", [
    (10_000, 3, [], ["color", "translation", "cutout"]),  # cats+dogs: colour, too many images for ADA
    (60_000, 1, [], []),  # Fashion-MNIST: grey
    (3916, 3, [], []),  # emoji: ADA is on and applies the ops itself
    (3916, 3, ["train.ada=false"], ["color", "translation", "cutout"]),
    (10_000, 3, ["train.diffaugment=translation"], ["translation"]),  # a user's list stands
    (10_000, 3, ["train.diffaugment="], []),
    (60_000, 1, ["train.diffaugment=auto", "train.ada=true"], []),
])
def test_auto_augments_colour_images_without_ada_and_the_config_records_the_ops(n, channels, sets, ops):
    from gankit.launch.presets import build_config
    from gankit.launch.start import prepare

    cfg = build_config(sets=TINY + sets)
    assert any(s.startswith("train.diffaugment=") for s in sets) or cfg.train.diffaugment == "auto"
    cfg, _ = prepare(cfg, data=_toy(n, channels))
    assert cfg.train.diffaugment == ops and cfg.to_dict()["train"]["diffaugment"] == ops


def test_train_resolves_auto_for_callers_that_skip_the_pre_flight(tmp_path):
    from tiny_runs import resolved_train as train

    from gankit.launch.presets import build_config
    from gankit.runs.layout import create_run_dir

    cfg = build_config(sets=TINY + ["train.max_steps=1", "train.ada=false", "train.epochs=1"])
    run = create_run_dir(tmp_path, "toy")
    run.write_config(cfg)  # as bench/ does: "auto" in config.json, resolved when training starts
    train(cfg, run, data=_toy(64, 3))
    assert cfg.train.diffaugment == ["color", "translation", "cutout"]


@pytest.mark.parametrize("text, value", [("auto", "auto"), (" Auto ", "auto"), ("color,cutout", ["color", "cutout"])])
def test_the_command_line_spells_auto_or_a_list(text, value):
    from gankit.launch.presets import build_config

    assert build_config(sets=[f"train.diffaugment={text}"]).train.diffaugment == value


def test_an_unknown_op_is_one_line(capsys):
    from gankit.cli import main

    assert main(["train", "--dry-run", "--set", "train.diffaugment=color,blur"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "blur" in err and "translation" in err
