"""Classic augmentation of the real batch (data.augment): what each op does to a batch, its
determinism, the leak warning, and that D sees augmented reals in training (real Fashion-MNIST)."""

import warnings

import pytest
import torch
from tiny_runs import whole_and_resumed

from gankit.config import DataConfig
from gankit.errors import GankitError, GankitWarning
from gankit.launch.presets import build_config
from gankit.runs.layout import create_run_dir
from gankit.training.augment_real import augment_real, leak_warnings, rotate, translate, warn_leaks
from gankit.training.loop import epoch_order
from tiny_runs import resolved_train as train
from gankit.util.imageio import to_float


def batch(n: int = 16, h: int = 12, w: int = 12) -> torch.Tensor:
    return torch.rand(n, 1, h, w, generator=torch.Generator().manual_seed(1)) * 2 - 1


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_hflip_mirrors_the_images_a_coin_chose_and_leaves_the_rest():
    x = batch()
    out = augment_real(x, DataConfig(augment=["hflip"]), gen())
    chosen = torch.rand(16, generator=gen()) < 0.5  # the first draw of the same generator
    assert 0 < int(chosen.sum()) < 16
    assert torch.equal(out[chosen], torch.flip(x[chosen], dims=[-1]))
    assert torch.equal(out[~chosen], x[~chosen])


def test_rotate_keeps_shape_and_range_and_turns_counter_clockwise():
    x = batch()
    out = augment_real(x, DataConfig(augment=["rotate"], augment_degrees=10), gen())
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert out.min() >= x.min() - 1e-6 and out.max() <= x.max() + 1e-6  # edges repeated, bilinear: no new values
    # the op itself: 0 degrees is the identity, +90 is torch.rot90 (counter-clockwise), on square and 180 on
    # non-square images
    assert torch.allclose(rotate(x, torch.zeros(16)), x, atol=1e-6)
    assert torch.allclose(rotate(x, torch.full((16,), 90.0)), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)
    wide = batch(2, 5, 8)
    assert torch.allclose(rotate(wide, torch.full((2,), 180.0)), wide.flip(-1).flip(-2), atol=1e-5)
    angles = (torch.rand(16, generator=gen()) * 2 - 1) * 10  # U(-10, 10) from the same generator
    assert torch.equal(out, rotate(x, angles)) and angles.abs().max() <= 10


def test_translate_shifts_content_by_at_most_the_shift():
    x = torch.full((1, 1, 12, 12), -1.0)
    x[0, 0, 5, 6] = 1.0
    moved = translate(x, torch.tensor([2]), torch.tensor([-1]))
    assert moved[0, 0].argmax().item() == 7 * 12 + 5 and moved.sum() == x.sum()  # 2 down, 1 left
    xs = batch()
    out = augment_real(xs, DataConfig(augment=["translate"], augment_shift=2), gen())
    shifts = []
    for i in range(16):  # each image is some shift of its original within [-2, 2]^2
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(out[i:i + 1], translate(xs[i:i + 1], torch.tensor([dy]), torch.tensor([dx])))]
        assert found, i
        shifts.append(found[0])
    assert len(set(shifts)) > 3


def test_same_seed_same_batch_and_off_draws_nothing():
    x = batch()
    cfg = DataConfig(augment=["hflip", "rotate", "translate"])
    a, b, c = (augment_real(x, cfg, gen(s)) for s in (5, 5, 6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)
    assert augment_real(x, DataConfig(), None) is x
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(0).get_state())  # no random numbers drawn


def test_the_leak_warning_names_what_g_will_learn():
    expected = ("data.augment=hflip on mnist: G will learn mirrored digits (the augmentation leaks into the "
                "generated distribution); use train.diffaugment for D-only augmentation")
    assert leak_warnings(DataConfig(dataset="mnist", augment=["hflip"])) == [expected]
    with pytest.warns(GankitWarning) as caught:
        warn_leaks(DataConfig(dataset="mnist", augment=["hflip"]))
    assert [str(w.message) for w in caught] == [expected]
    assert leak_warnings(DataConfig(dataset="fashion-mnist", augment=["hflip"])) == []  # clothes mirror well
    assert len(leak_warnings(DataConfig(dataset="fashion-mnist", augment=["rotate", "translate"]))) == 2


@pytest.mark.parametrize("sets, fragment", [
    (["data.augment=hflip,spin"], "data.augment='spin'"),
    (["data.augment_degrees=0"], "data.augment_degrees=0.0"),
    (["data.augment_shift=-1"], "data.augment_shift=-1"),
])
def test_bad_settings_are_rejected(sets, fragment):
    with pytest.raises(GankitError, match=fragment):
        build_config(sets=sets)


TINY = ["data.limit=32", "model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=16",
        "train.progress=false", "train.tensorboard=false", "train.log_every=1", "train.ema=false"]


def test_d_sees_augmented_reals_in_training(tmp_path, fashion_dir, monkeypatch):
    import gankit.training.objectives

    seen: list[torch.Tensor] = []
    d_obj = gankit.training.objectives.d_objective

    def record(D, loss, lo, real, *rest):
        seen.append(real.detach().clone())
        return d_obj(D, loss, lo, real, *rest)

    monkeypatch.setattr(gankit.training.objectives, "d_objective", record)
    cfg = build_config(sets=TINY + ["train.max_steps=1", "data.augment=hflip"])
    run = create_run_dir(tmp_path, "aug")
    run.write_config(cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(cfg, run, data_dir=str(fashion_dir))
    assert not [w for w in caught if "data.augment" in str(w.message)]  # hflip on clothes: nothing to warn about
    from gankit.data import load_dataset

    data = load_dataset(cfg.data, str(fashion_dir))
    plain = to_float(data.images[epoch_order(len(data), cfg.train.seed, 0)[:16]], cfg.data.range)
    flipped = [i for i in range(16) if not torch.equal(seen[0][i], plain[i])]
    assert 0 < len(flipped) < 16
    assert all(torch.equal(seen[0][i], plain[i].flip(-1)) for i in flipped)


@pytest.mark.filterwarnings("ignore:data.augment=")  # rotations on clothes: expected here
def test_a_resumed_run_draws_the_same_augmentations(tmp_path, fashion_dir):
    sets = TINY + ["data.augment=hflip,rotate,translate"]
    a, b = whole_and_resumed(tmp_path, sets, str(fashion_dir))
    for k, v in a.D.state_dict().items():
        assert torch.equal(v, b.D.state_dict()[k]), k
