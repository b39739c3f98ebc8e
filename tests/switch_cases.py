"""The technique switches as test cases, shared by the switch tests: each switch's --set
entries, the tiny smoke-test settings, and builders for the preset with or without a switch."""

import torch

from gankit.launch.start import resolve
from gankit.data.imagedata import ImageData
from gankit.launch.presets import build_config
from gankit.models import build_models
from gankit.training.state import TrainingState

BASE = ["train.max_steps=2", "train.batch_size=16", "train.progress=false", "train.tensorboard=false",
        "train.log_every=1"]
# dcgan's switches start from the non-saturating loss: the default's hinge reads no targets, so
# smoothing, label noise, flips and swapped labels would be refused on it (validation.py); and
# from an unconditional G without the default's mode-seeking term, so each switch's effect is
# its own (the "conditional" and "mode-seeking" switches turn those on)
TINY = {"dcgan": ["model.g_width=8", "model.d_width=8", "loss.name=ns", "model.conditional=false",
                  "loss.ms_weight=0", "loss.ms_tau=0"],
        "fashion-tf2": ["model.g_width=16", "model.d_width=8"]}

SWITCHES = {
    "bce": ["loss.name=bce"],
    "hinge": ["loss.name=hinge"],
    "wgan-gp": ["loss.name=wgan-gp", "loss.gp_weight=10", "train.n_critic=2"],
    "wgan": ["loss.name=wgan", "optim.name=rmsprop", "train.n_critic=2"],
    "lsgan": ["loss.name=lsgan"],
    "r1": ["loss.r1_gamma=1.0"],
    "sgd": ["optim.name=sgd", "optim.momentum=0.9"],
    "rmsprop": ["optim.name=rmsprop"],
    "ttur+decay": ["optim.g_lr=1e-4", "optim.d_lr=4e-4", "optim.lr_decay=linear"],
    "smoothing": ["loss.real_label=0.9"],
    "label-noise": ["loss.label_noise=0.15"],
    "label-flip": ["loss.label_flip=0.05"],
    "swap": ["loss.swap_labels=true"],
    "instance-noise": ["loss.instance_noise=0.1"],
    "top-k": ["loss.g_topk=0.5", "loss.g_topk_gamma=0.5"],
    "mode-seeking": ["model.conditional=true", "loss.ms_weight=1.0"],
    "mode-seeking-bound": ["model.conditional=true", "loss.ms_weight=1.0", "loss.ms_tau=0.33"],
    "bn-d": ["model.d_norm=batch"],
    "no-bn-g": ["model.g_norm=none"],
    "dropout": ["model.d_dropout=0.3"],
    "sn": ["model.d_spectral_norm=true", "model.g_spectral_norm=true"],
    "mbd": ["model.minibatch_disc=8", "model.minibatch_disc_dim=3"],
    "mbstd": ["model.mbstd=true"],
    "activations": ["model.g_act=leaky_relu", "model.d_act=relu", "model.leaky_slope=0.1"],
    "diffaugment": ["train.diffaugment=color,translation,cutout"],
    "ema": ["train.ema=true", "train.ema_decay=0.9", "train.ema_start=1"],
    "conditional": ["model.conditional=true"],
}

# Builders for the focused effect tests (CPU, tiny tensors).  Every switch goes from its SWITCHES
# entry through build_config, so a switch the config ignored would leave the effect out.

SHAPE, CLASSES = (1, 28, 28), 10
PRESETS = ["dcgan", "fashion-tf2"]


def cfg_for(switch: str | None, preset: str = "dcgan", extra: tuple[str, ...] = ()):
    """The smoke test's config for `switch` (None: the preset without any switch)."""
    return build_config(preset=preset, sets=BASE + TINY[preset] + (SWITCHES[switch] if switch else []) + list(extra))


def nets(switch: str | None, preset: str):
    torch.manual_seed(0)
    return build_models(cfg_for(switch, preset).model, SHAPE, CLASSES)


def fake_data(n: int = 16) -> ImageData:
    return ImageData(torch.randint(0, 256, (n, *SHAPE), dtype=torch.uint8), torch.arange(n) % CLASSES,
                     [str(i) for i in range(CLASSES)], "fake")


def state_for(switch: str | None, preset: str = "dcgan", total_steps: int = 4) -> TrainingState:
    data = fake_data()
    return TrainingState.create(resolve(cfg_for(switch, preset), data), data, "cpu", total_steps)
