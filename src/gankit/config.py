"""The typed run configuration: dataclasses, dotted `--set` overrides, presets, validation.

A `Config` is the complete description of a run.  It is written as `config.json` into
every run directory and inside every checkpoint, so `generate`, `evaluate` and `--resume`
rebuild exactly what was trained.  Every field is reachable by a dotted key
(`train.batch_size`, `loss.name`), which is what `--set`, preset files and sweeps use.

This module depends on nothing else in gankit but its errors: presets and config files live in
launch/presets.py, validation against the registries in launch/validate.py (and each model's
own rules beside it in models/).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from gankit.errors import GankitError, did_you_mean


@dataclass
class DataConfig:
    dataset: str = "fashion-mnist"  # key of gankit.data.DATASETS
    split: str = "train"  # train | test
    path: str = ""  # folder or .zip of images (dataset=folder)
    classes: list[str] = field(default_factory=list)  # keep only these classes (names or indices)
    limit: int = 0  # first N images after filtering; 0 = all
    resolution: int = 0  # resize to this size (non-square images as data.crop says); 0 = native
    crop: str = "center"  # non-square images to data.resolution: center (the middle square, scale kept, as DCGAN/StyleGAN data preparation does) | resize (squash: all of it, distorted) | pad (all of it, undistorted, bordered in data.background)
    background: str = "white"  # what transparent pixels (RGBA, LA, palette transparency) and data.crop=pad borders become: white | black | gray
    channels: int = 0  # 1 or 3 to convert; 0 = native
    range: str = "-1,1"  # pixel range the networks see: "-1,1" (tanh G) or "0,1" (sigmoid G)
    strict: bool = False  # folder: error on unreadable files instead of skipping them
    stream: str = "auto"  # folder: feed batches from the memory-mapped decoded-image cache instead of one in-RAM copy: auto (when the images are over a quarter of the free memory, said in one line) | true | false
    augment: list[str] = field(default_factory=list)  # classic augmentation of the real batch each step (not of the fakes): hflip, rotate, translate; it leaks into what G learns (a warning says where)
    augment_degrees: float = 10.0  # rotate: each real image turned by U(-d, d) degrees
    augment_shift: int = 2  # translate: each real image shifted by up to this many pixels in x and y


@dataclass
class ModelConfig:
    name: str = "dcgan"  # key of gankit.models.MODELS
    z_dim: int = 100  # size of the noise vector z
    g_width: int = 64  # base channel count of G
    d_width: int | str = 64  # base channel count of D | auto (64 for a conditional model, 32 for an unconditional one: the narrow D suits the unconditional G; the run's config then says which)
    g_norm: str = "batch"  # batch | none
    d_norm: str = "none"  # batch | none
    d_dropout: float = 0.0  # dropout probability in D
    d_spectral_norm: bool = False  # spectral normalisation of every D layer (Miyato et al. 2018)
    g_spectral_norm: bool = False  # spectral normalisation of every G layer (SAGAN)
    minibatch_disc: int = 0  # Salimans et al. minibatch discrimination: B kernels; 0 = off
    minibatch_disc_dim: int = 5  # ... and C, the size of each kernel
    mbstd: bool = False  # minibatch standard deviation feature before D's last layer
    g_act: str = "relu"  # relu | leaky_relu
    d_act: str = "leaky_relu"  # relu | leaky_relu
    leaky_slope: float = 0.2  # negative slope of leaky_relu
    out_act: str = "tanh"  # tanh | sigmoid (must match data.range)
    g_cbn: bool = False  # conditional G through class-conditional batch norm (each class its own BN gain and bias in every G layer, as SNGAN/BigGAN) instead of a label embedding beside z; dcgan with model.conditional (resnet always does this)
    conditional: bool | str = False  # class-conditional G and D (labels from the dataset): true | false | auto (conditional when the data has >= 2 classes; the run's config then says which)
    w_dim: int = 128  # stylegan-lite: size of the intermediate latent w (the styles)
    mapping_layers: int = 4  # stylegan-lite: FC layers of the mapping network z -> w
    style_mixing: float = 0.9  # stylegan-lite: probability that a training sample mixes two w's at a random layer
    grow_steps: int = 1500  # progan: steps (batches) per resolution stage, the first half fading the new block in; 0 = full resolution from step 0
    d_init: str = "none"  # none | evaluator: D is the shipped evaluator classifier's conv body (widths model.d_width*2^i, loaded from its weights) + a fresh linear head
    pack: int = 1  # PacGAN (Lin et al. 2018): D judges this many samples at once, stacked along channels (unconditional models); 1 = off
    freeze_d_layers: int = 0  # FreezeD: the first K conv blocks of D keep their initial (pretrained) weights; with train.init_from or model.d_init=evaluator


@dataclass
class LossConfig:
    name: str = "ns"  # key of gankit.training.losses.LOSSES
    gp_weight: float = 10.0  # wgan-gp gradient penalty weight
    clip_value: float = 0.0  # clamp D's weights to [-c, c] after each D step (WGAN); 0 = the loss's own (wgan: 0.01, others: none)
    r1_gamma: float = 0.0  # R1 penalty on real data; 0 = off
    r1_every: int = 1  # lazy R1 (and R2): every N-th D step, weighted by N (StyleGAN2 uses 16)
    r2_gamma: float = 0.0  # R2 penalty on fake data, the zero-centred gradient penalty R1 puts on real data; R3GAN uses both with rpgan; 0 = off
    real_label: float = 1.0  # one-sided label smoothing: target for real images
    label_noise: float = 0.0  # uniform jitter of the targets by up to this amount
    label_flip: float = 0.0  # probability of swapping a real/fake target
    swap_labels: bool = False  # train D with real=0, fake=1 (the Vogue tutorial's convention)
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, annealed to 0
    instance_noise_steps: int = 0  # anneal over this many steps; 0 = the whole run
    g_topk: float = 1.0  # top-k G training (Sinha et al. 2020): G's loss uses only this fraction of each fake batch, the ones D rates most real; 1 = all
    g_topk_gamma: float = 0.99  # ... the fraction starts at 1 and is multiplied by this each epoch until it reaches loss.g_topk
    ms_weight: float = 0.0  # mode-seeking term of G (MSGAN, Mao et al. 2019): weight of 1 / (image distance / z distance) over same-label pairs of fakes (bounded with loss.ms_tau); 0 = off
    ms_tau: float = 0.0  # bound of the mode-seeking term: 0 = MSGAN's unbounded 1 / ratio; > 0 = DSGAN's bound: mean over pairs of max(0, 1 - ratio / tau), so pairs are pushed apart only up to tau (real same-class Fashion-MNIST pairs: ~0.33)


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | sgd | rmsprop
    g_lr: float = 2e-4  # learning rate of G
    d_lr: float = 2e-4  # learning rate of D (TTUR: may differ from G)
    beta1: float = 0.5  # adam first-moment decay (DCGAN: 0.5)
    beta2: float = 0.999  # adam second-moment decay
    momentum: float = 0.0  # sgd / rmsprop
    lr_decay: str = "none"  # none | linear (to 0 at the last step, or when train.budget is spent)


@dataclass
class TrainConfig:
    epochs: int = 5  # passes over the data
    batch_size: int = 128  # images per D step
    seed: int = 0  # seeds weights, noise, data order and the fixed sample grid
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    threads: int = 0  # torch CPU threads; 0 = all cores
    amp: str = "none"  # mixed precision of the forward passes: none | bf16 | fp16 (CUDA, with a grad scaler) | auto (bf16 on a CPU with bf16 matrix units (AMX), else none; the run's config then says which)
    compile: bool = False  # torch.compile G and D for the training steps (pays back on long runs)
    n_critic: int = 1  # D steps per G step
    update: str = "alternating"  # alternating: D steps, then G against the updated D | simultaneous: both gradients from one forward pass (TF tutorial)
    ema: bool = False  # keep an exponential moving average of G for sampling
    ema_decay: float = 0.999  # EMA weight of the previous average per G step
    ema_start: int = 0  # step (batch) at which averaging starts (before: EMA copies G)
    diffaugment: list[str] | str = field(default_factory=list)  # DiffAugment ops (color, translation, cutout) on everything D sees | auto (all three on colour images unless train.ada is on; the run's config then says which)
    ada: bool | str = False  # adaptive augmentation (Karras et al. 2020): everything D sees is augmented with a probability p that follows D's overfitting (for small datasets): true | false | auto (on below 10,000 training images where the loss allows it; the run's config then says which)
    ada_target: float = 0.6  # ADA: the value of E[sign(D(real))] p is steered to hold
    ada_kimg: float = 500.0  # ADA: thousands of images over which p can go from 0 to 1
    log_every: int = 50  # steps between stats.jsonl rows
    sample_every: int = 1  # epochs between fixed-noise grids
    checkpoint_every: int = 1  # epochs between checkpoints
    checkpoint_every_steps: int = 0  # also save the last checkpoint every N steps, so a kill costs at most N steps; 0 = off
    checkpoint_every_minutes: float = 0.0  # ... and every M minutes of training; 0 = off
    eval_every: int = 0  # epochs between quick evaluations; 0 = off
    eval_n: int = 2048  # samples per quick evaluation (below 2048 FID/KID are biased: a warning says so)
    eval_evaluator: str = "auto"  # whose features the periodic FID uses: auto (the shipped evaluator, else one made for this data before step 0: a classifier on labelled folders, self-supervised on flat ones) | ssl (the self-supervised one) | none (no evaluator: no periodic FID)
    final_eval_n: int = 10000  # gankit train ends a finished or budgeted run with `gankit evaluate` at this n, where an evaluator for the data exists (its seconds shown apart from training); 0 = off
    keep_best: bool = True  # keep checkpoints/best.safetensors: the lowest FID of the periodic evaluations
    early_stop_patience: int = 0  # stop after this many periodic evaluations without a better FID; 0 = never
    on_divergence: str = "stop"  # NaN/Inf loss, gradient or weight: stop | rollback (last checkpoint, lower lrs, go on)
    on_collapse: str = "warn"  # collapse monitor firing for collapse_patience rows: warn | rollback (best checkpoint + a fix)
    collapse_patience: int = 5  # consecutive log rows a collapse condition must last before on_collapse=rollback acts
    rollback_lr_factor: float = 0.5  # each divergence rollback multiplies both learning rates by this
    max_rollbacks: int = 3  # rollbacks (divergence and collapse together) before the run stops instead
    max_steps: int = 0  # stop after this many steps (batches, i.e. D steps); 0 = run all epochs
    budget: str = ""  # wall-clock training budget (e.g. 90s, 10m, 1.5h): stop when spent; "" = none
    grid_size: int = 64  # images in a sample grid
    progress: bool = True  # progress bar on stderr
    tensorboard: bool = True  # write TensorBoard event files to RUN/tb
    track: str = "none"  # mirror the run into an experiment tracker: none | mlflow (pip install gankit[mlflow])
    track_uri: str = ""  # the MLflow tracking URI (http://host:5000, sqlite:///mlflow.db, ...); "" = mlruns/mlflow.db (SQLite) and mlruns/artifacts beside where gankit runs
    track_required: bool = True  # refuse to start when the tracking server does not answer; false: warn and train anyway
    track_experiment: str = ""  # the MLflow experiment; "" = gankit (a sweep's trials: the study's name)
    init_from: str = ""  # start G, D (and the EMA G) from this run directory's last checkpoint (or a checkpoint file); fresh optimisers, step 0; "" = random init


@dataclass
class Config:
    preset: str = "dcgan"  # where this config started (informational)
    description: str = ""  # one line about this config
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


# ---------------------------------------------------------------------------------------
# building a Config from dicts, files and key=value strings


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# what an "X | str" setting accepts, said when a value is neither X nor "auto"
_AUTO_EXPECTED = {bool: "true, false or auto", int: "a whole number or auto",
                  list[str]: "a list (comma-separated on the command line) or auto"}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a TOML/JSON value or a --set string to the field's type, or explain why not."""
    origin = typing.get_origin(tp)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise GankitError(f"{key}: expected a list (comma-separated on the command line), got {value!r}")
        return [str(v) for v in value]
    if origin is types.UnionType:  # X | str: a setting that may also be "auto"
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        inner = next(a for a in typing.get_args(tp) if a is not str)
        try:
            return _coerce(value, inner, key)
        except GankitError:
            raise GankitError(f"{key}: expected {_AUTO_EXPECTED[inner]}, got {value!r}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise GankitError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise GankitError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            raise GankitError(f"{key}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise GankitError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise GankitError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise GankitError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported field type {tp} for {key}")


def field_types() -> dict[str, Any]:
    """Every dotted key of the config and its type, e.g. {'train.batch_size': int, ...}."""
    out: dict[str, Any] = {}
    for name, tp in _hints(Config).items():
        if dataclasses.is_dataclass(tp):
            for sub, stp in _hints(tp).items():
                out[f"{name}.{sub}"] = stp
        else:
            out[name] = tp
    return out


def unresolved(cfg: Any, section: str | None = None) -> list[str]:
    """The settings of cfg (a Config, or the one `section` of it given as that section's dataclass)
    still at `auto`: those typed `X | str`, which the pre-flight resolves from the data before
    config.json is written.  [] for a resolved config."""
    prefix = f"{section}." if section else ""
    return [f"{key}=auto" for key, tp in field_types().items()
            if key.startswith(prefix) and typing.get_origin(tp) is types.UnionType
            and _get(cfg, key.removeprefix(prefix)) == "auto"]


def _get(obj: Any, dotted_key: str) -> Any:
    for part in dotted_key.split("."):
        obj = getattr(obj, part)
    return obj


def dotted(cfg: Config) -> dict[str, Any]:
    """The config as {dotted key: value}, e.g. {'train.batch_size': 32, ...} (MLflow's params,
    the built-in studies' snapshots)."""
    out: dict[str, Any] = {}
    for name, value in cfg.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def _suggest(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(field_types()), n=1)
    return f" (did you mean {close[0]}?)" if close else " (see `gankit options`)"


def set_value(cfg: Config, key: str, value: Any) -> None:
    """Set one dotted key, coercing the value to the field's type."""
    types = field_types()
    if key not in types:
        raise GankitError(f"unknown config key {key!r}{_suggest(key)}")
    coerced = _coerce(value, types[key], key)
    if "." in key:
        section, name = key.split(".", 1)
        setattr(getattr(cfg, section), name, coerced)
    else:
        setattr(cfg, key, coerced)


def apply_dict(cfg: Config, d: dict[str, Any], where: str = "config") -> Config:
    """Apply a nested dict (from TOML or JSON) onto cfg; unknown keys are errors."""
    for k, v in d.items():
        if isinstance(v, dict):
            if k not in _hints(Config) or not dataclasses.is_dataclass(_hints(Config)[k]):
                sections = [n for n, tp in _hints(Config).items() if dataclasses.is_dataclass(tp)]
                raise GankitError(f"{where}: unknown section [{k}]{did_you_mean(k, sections) or _suggest(k)}")
            for sk, sv in v.items():
                try:
                    set_value(cfg, f"{k}.{sk}", sv)
                except GankitError as e:
                    raise GankitError(f"{where}: {e}") from None
        else:
            try:
                set_value(cfg, k, v)
            except GankitError as e:
                raise GankitError(f"{where}: {e}") from None
    return cfg


def from_dict(d: dict[str, Any]) -> Config:
    return apply_dict(Config(), d)


def budget_seconds(text: str) -> float:
    """`train.budget` in seconds: "90", "90s", "10m", "1.5h"; "" is no budget (0)."""
    text = text.strip().lower()
    if not text:
        return 0.0
    scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1])
    try:
        value = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):  # "inf" and "1e999" parse as floats too
        raise GankitError(f"train.budget={text!r}: expected a duration such as 90s, 10m or 1.5h")
    return value


def parse_set(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise GankitError(f"--set {item!r}: expected key=value, e.g. --set train.batch_size=64")
    k, v = item.split("=", 1)
    return k.strip(), v.strip()
