"""`gankit evaluate --images PATH --against REF [--out metrics.json]`: any images, scored honestly.

PATH is a folder or zip of images, or an `.npz` (`images`, as `gankit generate --npz` writes) or
`.npy` array of uint8 images, made by any tool.  REF is a dataset name (`fashion-mnist`), a
folder/zip of real images, or a run directory (its training data, as `gankit evaluate RUN`
uses).  The images get the same metrics, table, floor and provenance as a run's samples;
images of another size or channel count than the reference are converted to it (a folder is
resized and centre-cropped as `data.resolution` does), and the table says so.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gankit.config import Config, DataConfig
from gankit.data import DATASETS
from gankit.data.folder import load_folder_images
from gankit.errors import GankitError
from gankit.metrics import evaluate_samples, format_table, load_test_split
from gankit.metrics.evaluate import reference_data
from gankit.metrics.evaluator_folder import evaluator_or_make
from gankit.runs.layout import RunDir
from gankit.runtime.device import pick_device
from gankit.util.atomic import atomic_write


def reference_config(against: str) -> Config:
    """The data config of REF: a dataset name, a run directory's data, or a folder/zip."""
    cfg = Config()
    if against in DATASETS and against != "folder":
        cfg.data = DataConfig(dataset=against)
        return cfg
    path = Path(against).expanduser()
    if RunDir(path).config_file.is_file():
        run_data = RunDir(path).read_config().get("data", {})
        cfg.data = dataclasses.replace(DataConfig(), **{k: v for k, v in run_data.items()
                                                        if k in DataConfig.__dataclass_fields__})
        return cfg
    if path.exists():
        cfg.data = DataConfig(dataset="folder", path=str(path))
        return cfg
    names = ", ".join(k for k in DATASETS if k != "folder")
    raise GankitError(f"--against {against}: not a dataset ({names}), a run directory or an existing folder/zip")


def load_images(path: str, channels: int, size: int) -> tuple[torch.Tensor, str]:
    """uint8 images [N, C, H, W] from a folder, zip, .npz or .npy, converted to `channels` x `size`
    px; and what the conversion did ("" when nothing)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise GankitError(f"--images {p}: no such file or folder")
    if p.suffix.lower() in (".npz", ".npy"):
        images = _array(p)
    else:
        try:
            images = load_folder_images(p).images  # native size and channels
        except GankitError as e:
            if "images differ in size" not in str(e):
                raise
            # mixed sizes: each resized and centre-cropped to the reference's size, said once
            images = load_folder_images(p, resolution=size, channels=channels).images
            return images, f"{p}: images of mixed sizes resized and centre-cropped to the reference's {channels}x{size}x{size}"
    return convert_images(images, channels, size, str(p))


CHANNELS = (1, 2, 3, 4)  # grey, grey + alpha, RGB, RGBA


def _array(p: Path) -> torch.Tensor:
    try:
        loaded = np.load(p, allow_pickle=False)  # never unpickles
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arr = np.asarray(loaded["images"])
        else:
            arr = np.asarray(loaded)
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise GankitError(f"--images {p}: not a readable array of images ({type(e).__name__}: {e}); an .npz needs "
                          "an 'images' array [N, H, W, C] (as `gankit generate --npz` writes)") from None
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4):
        raise GankitError(f"--images {p}: expected uint8 images [N, H, W(, C)], got {arr.dtype} {list(arr.shape)}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.shape[-1] not in CHANNELS and arr.shape[1] in CHANNELS:  # [N, C, H, W] already
        arr = arr.transpose(0, 2, 3, 1)
    if arr.shape[-1] not in CHANNELS:
        raise GankitError(f"--images {p}: {arr.shape[-1]} channels in {list(arr.shape)}; expected 1 (grey), 2 (grey + "
                          "alpha), 3 (RGB) or 4 (RGBA) as the last or second axis")
    if arr.shape[-1] in (2, 4):  # transparent pixels on white, as the folder loader composites them by default
        alpha = arr[..., -1:].astype(np.float32) / 255.0
        arr = np.rint(arr[..., :-1] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def convert_images(images: torch.Tensor, channels: int, size: int, where: str) -> tuple[torch.Tensor, str]:
    n, c, h, w = images.shape
    if (c, h, w) == (channels, size, size):
        return images, ""
    x = images.float()
    if c != channels:
        x = x.mean(1, keepdim=True) if channels == 1 else x.expand(n, 3, h, w)
    if (h, w) != (size, size):
        s = min(h, w)  # centre crop to a square, then resize (as data.resolution does)
        top, left = (h - s) // 2, (w - s) // 2
        x = F.interpolate(x[:, :, top:top + s, left:left + s], size=(size, size), mode="bicubic",
                          align_corners=False, antialias=True)
    note = f"{where}: {c}x{h}x{w} images converted to the reference's {channels}x{size}x{size}"
    return x.round().clamp(0, 255).to(torch.uint8), note


def evaluate_images(images: str, against: str, out: str | None = None, n: int | None = None, seed: int = 0,
                    data_dir: str | None = None, inception_weights: str | None = None) -> str:
    cfg = reference_config(against)
    real = reference_data(cfg, data_dir)
    c, h, w = (int(v) for v in real.images.shape[1:])
    fake, note = load_images(images, c, h)
    if fake.shape[0] < 2:
        raise GankitError(f"--images {images}: {fake.shape[0]} image(s); the metrics need at least 2 (10 for any "
                          "figure, 2048 for comparable FID)")
    n = min(n or fake.shape[0], fake.shape[0])
    test = load_test_split(cfg.data, data_dir)
    evaluator = evaluator_or_make(cfg.data.dataset, real)
    metrics = evaluate_samples(fake, cfg.data.dataset, real, n=n, test=test, seed=seed, device=pick_device("auto"),
                               reference_split=cfg.data.split, evaluator=evaluator,
                               with_inception=inception_weights is not None, inception_weights=inception_weights)
    metrics.update({"images": str(Path(images).expanduser()), "against": against})
    if note:
        metrics["notes"] = [note, *metrics.get("notes", [])]
    table = format_table(metrics)
    if out:
        atomic_write(Path(out), json.dumps(metrics, indent=2) + "\n")
        return f"{table}\nwritten: {out}"
    return table
