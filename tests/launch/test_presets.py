"""Every shipped preset is a complete, valid config; the seed presets carry their tutorials'
hyperparameters (as stated in the issue that asked for them)."""

import pytest

from gankit.data import DATASETS
from gankit.errors import GankitError
from gankit.launch.presets import build_config, preset_dict, preset_names
from gankit.models import MODELS

SECTIONS = {"data", "model", "loss", "optim", "train"}


def test_the_tutorial_presets_ship():
    assert {"tf-dcgan", "fashion-tf2", "cifar-catdog", "fashion-vogue", "mnist-study"} <= set(preset_names())


@pytest.mark.parametrize("name", preset_names())
def test_preset_loads_validates_and_describes_itself(name):
    raw = preset_dict(name)
    assert SECTIONS <= set(raw), f"preset {name} misses sections {SECTIONS - set(raw)}"
    cfg = build_config(preset=name)  # validates
    assert cfg.preset == name
    assert cfg.description.strip() and "\n" not in cfg.description
    assert cfg.data.dataset in DATASETS
    assert cfg.model.name in MODELS


# (preset, dotted key, value the tutorial states)
STATED = [
    ("tf-dcgan", "model.z_dim", 100), ("tf-dcgan", "optim.g_lr", 1e-4), ("tf-dcgan", "optim.d_lr", 1e-4),
    ("tf-dcgan", "optim.beta1", 0.9), ("tf-dcgan", "train.batch_size", 256), ("tf-dcgan", "train.epochs", 50),
    ("tf-dcgan", "model.d_dropout", 0.3), ("tf-dcgan", "model.leaky_slope", 0.3), ("tf-dcgan", "train.update", "simultaneous"),
    ("fashion-tf2", "model.z_dim", 150), ("fashion-tf2", "optim.g_lr", 1e-5), ("fashion-tf2", "optim.d_lr", 3e-5),
    ("fashion-tf2", "optim.beta1", 0.5), ("fashion-tf2", "train.batch_size", 64), ("fashion-tf2", "train.epochs", 30),
    ("fashion-tf2", "train.sample_every", 2), ("fashion-tf2", "data.dataset", "fashion-mnist"),
    ("cifar-catdog", "data.dataset", "cifar10"), ("cifar-catdog", "data.classes", ["cat", "dog"]),
    ("cifar-catdog", "optim.g_lr", 1e-5), ("cifar-catdog", "optim.d_lr", 1e-5),
    ("cifar-catdog", "train.batch_size", 64), ("cifar-catdog", "train.epochs", 150),
    ("cifar-catdog", "train.sample_every", 10), ("cifar-catdog", "model.g_norm", "batch"),
    ("fashion-vogue", "model.z_dim", 128), ("fashion-vogue", "data.range", "0,1"),
    ("fashion-vogue", "model.out_act", "sigmoid"), ("fashion-vogue", "loss.label_noise", 0.15),
    ("fashion-vogue", "loss.swap_labels", True), ("fashion-vogue", "optim.g_lr", 1e-4),
    ("fashion-vogue", "optim.d_lr", 1e-5), ("fashion-vogue", "train.batch_size", 128),
    ("fashion-vogue", "train.epochs", 20), ("fashion-vogue", "train.sample_every", 1),
    ("fashion-vogue", "model.d_dropout", 0.4), ("fashion-vogue", "model.leaky_slope", 0.2),
    ("mnist-study", "data.dataset", "mnist"), ("mnist-study", "model.g_act", "relu"),
    ("mnist-study", "model.d_act", "relu"), ("mnist-study", "model.out_act", "tanh"),
    ("mnist-study", "optim.g_lr", 2e-4), ("mnist-study", "optim.d_lr", 2e-4), ("mnist-study", "train.epochs", 10),
]


@pytest.mark.parametrize("name, key, value", STATED)
def test_tutorial_presets_hold_the_stated_hyperparameters(name, key, value):
    cfg = build_config(preset=name)
    section, field = key.split(".")
    assert getattr(getattr(cfg, section), field) == value


@pytest.mark.parametrize("name", ["tf-dcgan", "fashion-tf2", "cifar-catdog", "fashion-vogue", "mnist-study"])
def test_bce_tutorials_train_g_non_saturating(name):
    # every tutorial trains G with BCE against D's "real" target: the non-saturating game
    assert build_config(preset=name).loss.name == "ns"


def test_catdog_runs_on_the_folder_zip_with_overrides():
    cfg = build_config(preset="cifar-catdog",
                       sets=["data.dataset=folder", "data.path=/work/shared/datasets/cifar10-catdog.zip"])
    assert (cfg.data.dataset, cfg.model.name, cfg.train.epochs) == ("folder", "catdog", 150)


def test_vogue_range_cannot_be_half_changed():
    # its sigmoid G makes [0, 1] images: switching only the data range is refused
    with pytest.raises(GankitError, match="out_act"):
        build_config(preset="fashion-vogue", sets=["data.range=-1,1"])
