"""Generator/discriminator pairs by name: `MODELS[name]` is a `ModelSpec` (spec.py); `MODELS[name](model_cfg,
img_shape, num_classes) -> (G, D)`.

Every G is called as `G(z, y=None)` and returns images in the data range; every D is called
as `D(x, y=None)` and returns raw logits of shape [N] (sigmoids live in the losses, where
they are numerically stable).  `y` holds integer class labels when `model.conditional` is on.
G carries `z_dim`, `num_classes` and `conditional` attributes so samplers need nothing else.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig, unresolved
from gankit.errors import GankitError
from gankit.models import dcgan, evaluator_d, freeze, progan, resnet, stylegan_lite
from gankit.models.evaluator_d import EvaluatorD
from gankit.models.freeze import freeze_d
from gankit.models.pack import Packed
from gankit.models.spec import ModelSpec
from gankit.models.tutorial_nets import TUTORIAL_MODELS

# one entry per model: its builder, its own config rules and its line in `gankit options`
MODELS: dict[str, ModelSpec] = {"dcgan": dcgan.SPEC, "resnet": resnet.SPEC, "progan": progan.SPEC,
                                "stylegan-lite": stylegan_lite.SPEC, **TUTORIAL_MODELS}


def check_model(cfg: ModelConfig) -> str | None:
    """The first problem of a model config (the model's, then the evaluator D's and FreezeD's own
    rules), as a sentence; None when there is none.  launch/validate.py keeps the rules that
    read other sections."""
    if cfg.g_cbn and cfg.name != "dcgan":  # resnet's conditional G is always this; the others have no BN tables
        return (f"model.g_cbn applies to model.name=dcgan; {cfg.name}'s G "
                f"{'always uses conditional batch norm when conditional' if cfg.name == 'resnet' else 'has no such option'}")
    for check in (MODELS[cfg.name].check, evaluator_d.check if cfg.d_init == "evaluator" else None, freeze.check):
        problem = check(cfg) if check else None
        if problem:
            return problem
    return None


def resolve_auto_model(cfg: ModelConfig, num_classes: int) -> None:
    """model.conditional=auto becomes true on labelled data (>= 2 classes), false on an unlabelled
    folder, in place; then model.d_width=auto becomes 64 for a conditional model and 32 for an
    unconditional one.  Called once, by the pre-flight (launch/resolve.py), before config.json
    records the choice; builders take resolved configs only."""
    if cfg.conditional == "auto":  # a packed D (model.pack) judges stacks of samples: no labels
        cfg.conditional = num_classes >= 2 and cfg.pack == 1
    if cfg.d_width == "auto":  # a conditional G's class signal lets D be wider; an unconditional G's steps suffer
        cfg.d_width = 64 if cfg.conditional else 32


def build_models(cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G and D for `cfg` (a resolved config: no `auto` left) on images of img_shape."""
    pending = unresolved(cfg, "model")
    if pending:
        raise ValueError(f"build_models needs a resolved model config, got {', '.join(pending)}: resolve it first "
                         "(launch.start.resolve, which the pre-flight runs)")
    # for every model: conditioning on a one-class (unlabelled) dataset is a config mistake
    if cfg.conditional and num_classes < 2:
        raise GankitError(f"model.conditional=true needs a labelled dataset with >= 2 classes, got "
                          f"{num_classes}; set model.conditional=false or pick labelled data")
    G, D = MODELS[cfg.name](cfg, img_shape, num_classes)
    if cfg.pack > 1:  # PacGAN: the model's own D, built for k stacked images (its G discarded)
        _, inner = MODELS[cfg.name](cfg, (img_shape[0] * cfg.pack, *img_shape[1:]), num_classes)
        D = Packed(inner, cfg.pack)
    if cfg.d_init == "evaluator":  # D = an evaluator classifier's body + a fresh head (evaluator_d.py)
        D = EvaluatorD(cfg, img_shape, num_classes)
    freeze_d(D, cfg.freeze_d_layers, img_shape[1])  # FreezeD: out of D's optimiser (freeze.py)
    return G, D


def check_buildable(cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int) -> None:
    """Build G and D once and run them on two samples, so a model that cannot be built for the
    data, or built but not run on its shape (non-square images), fails before anything is
    written.  (On the CPU: milliseconds for these sizes, where the meta device costs seconds of
    one-off set-up.)  Leaves torch's RNG state as it found it."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        G, D = build_models(cfg, img_shape, num_classes)
        G.eval()
        D.eval()
        n = 2 * cfg.pack  # two of D's stacks
        y = torch.zeros(n, dtype=torch.long) if cfg.conditional else None
        try:
            fake = G(torch.randn(n, G.z_dim), y)
            D(fake, y)
            ok = tuple(fake.shape[1:]) == tuple(img_shape)
        except (RuntimeError, ValueError) as e:
            ok, why = False, str(e).splitlines()[0][:120]
        else:
            why = f"G makes {'x'.join(map(str, fake.shape[1:]))} images"
    if not ok:
        c, h, w = img_shape
        square = "" if h == w else f"; the images are {w}x{h}: set data.resolution=N to resize and centre-crop them to N x N"
        raise GankitError(f"model.name={cfg.name} cannot run on {c}x{h}x{w} images ({why}){square}")
