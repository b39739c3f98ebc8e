"""StackedMNIST (data/stacked.py): three MNIST digits as R, G, B; deterministic; unlabelled."""

import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.mnist import load_mnist


def test_each_channel_is_an_mnist_digit_and_the_set_is_the_same_every_time(shared_datasets):
    where = str(shared_datasets / "mnist")
    cfg = DataConfig(dataset="stacked-mnist", split="test", limit=500)
    a, b = load_dataset(cfg, where), load_dataset(cfg, where)
    assert a.images.shape == (500, 3, 28, 28) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and a.class_names == [] and a.name == "stacked-mnist/test"
    digits = load_mnist(DataConfig(dataset="mnist", split="test"), where).images[:, 0]
    for c in range(3):  # every channel of the first image is one of MNIST's digits, exactly
        assert any(torch.equal(a.images[0, c], d) for d in digits)
    assert not torch.equal(a.images[:, 0], a.images[:, 1])  # channels drawn independently


def test_without_mnist_files_it_says_where_they_go(tmp_path, capsys):
    from bad_input_helpers import fails

    line = fails(["data", "show", "stacked-mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "g.png")],
                 capsys)
    assert line.startswith("stacked-mnist is built from MNIST's train split: mnist/train-images-idx3-ubyte(.gz) "
                           "not found in ")
    assert line.endswith("yourself and pass --data-dir DIR (file in DIR or DIR/mnist/)")
    assert not (tmp_path / "g.png").exists()


def test_the_default_preset_trains_it_unconditionally(shared_datasets):
    from gankit.launch.presets import build_config
    from gankit.launch.start import resolve

    cfg = build_config(sets=["data.dataset=stacked-mnist", "data.split=test", "data.limit=64"])
    data = load_dataset(cfg.data, str(shared_datasets / "mnist"))
    resolve(cfg, data)
    assert cfg.model.conditional is False and cfg.model.d_width == 32  # unlabelled: the papers' unconditional GAN
    assert cfg.train.ada is True and cfg.train.diffaugment == []  # 64 images: small data
