"""`gankit generate RUN --dataset OUT`: a labelled synthetic dataset written from a generator.

    OUT/manifest.json                          what made the data (written last: marks OUT complete)
    OUT/train/<class>/000000.png ...           --format png: one folder per trained class
    OUT/train-images-idx3-ubyte.gz             --format idx: [N, H, W] uint8 (colour: idx4, [N, H, W, C])
    OUT/train-labels-idx1-ubyte.gz             the run's label indices (conditional runs only)

The PNG layout is one gankit's folder loader reads as it is (`--set data.dataset=folder --set
data.path=OUT`): the class folders sit under `train/` so that the manifest beside them is not
taken for a stray image.  Folder names are the run's class names with characters no file
system allows in a name (`/` in Fashion-MNIST's "T-shirt/top") replaced by `_`; the folder
loader's class lookup ignores punctuation, so `data.classes=T-shirt/top` still finds it.
The folder loader numbers classes by sorted name; the IDX labels keep the run's numbering,
and the manifest maps each folder to the run's class name and label index.

Labels are balanced over the classes the run trained on (`--n` split as evenly as possible, or
`--per-class K` each), not drawn from the training label prior: a dataset to train on is
usually wanted balanced.  An unconditional run writes one folder, `unlabelled`.

Everything is written into a hidden staging folder beside OUT and renamed into place at the
end, so OUT is either absent (or still empty) or complete; an existing non-empty OUT is refused.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from gankit import __version__
from gankit.data.idx import write_idx
from gankit.errors import GankitError
from gankit.models.sampling import sample, trained_classes
from gankit.util.atomic import atomic_write
from gankit.util.imageio import to_pil, to_uint8
from gankit.util.names import file_sha256

FORMATS = ("png", "idx")
UNLABELLED = "unlabelled"
MANIFEST = "manifest.json"
# characters Windows, macOS or Linux refuse in a file name, and control characters
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def folder_names(class_names: list[str]) -> list[str]:
    """A file-system-safe, unique, visible folder name per class name (same order)."""
    out: list[str] = []
    for name in class_names:
        # leading dots would make the folder hidden (the folder loader skips dot-files)
        safe = _UNSAFE.sub("_", name).strip().lstrip(".") or "class"
        base, k = safe, 2
        while safe.lower() in (o.lower() for o in out):  # case-insensitive file systems
            safe, k = f"{base}_{k}", k + 1
        out.append(safe)
    return out


def balanced_counts(n: int, labels: list[int]) -> dict[int, int]:
    """n split over `labels` as evenly as possible (the first n % len(labels) get one more)."""
    q, r = divmod(n, len(labels))
    return {c: q + (i < r) for i, c in enumerate(labels)}


def class_counts(prior: torch.Tensor, n: int | None, per_class: int | None) -> dict[int, int]:
    """Images per trained class (label index -> count) for --n or --per-class."""
    present = [int(c) for c in trained_classes(prior)]
    if per_class is not None:
        if n is not None and n != per_class * len(present):
            raise GankitError(f"--n {n} and --per-class {per_class}: give one of them (--per-class {per_class} "
                              f"makes {per_class * len(present)} images over {len(present)} classes)")
        if per_class < 1:
            raise GankitError(f"--per-class {per_class}: must be at least 1")
        return {c: per_class for c in present}
    if n is None:
        raise GankitError("--dataset: say how many images, --n N (balanced over the classes) or --per-class K")
    if n < len(present):
        raise GankitError(f"--n {n}: fewer images than the run's {len(present)} classes; use --n >= {len(present)}")
    return balanced_counts(n, present)


def balanced_labels(counts: dict[int, int]) -> torch.Tensor:
    """Label indices in class order, counts[c] of each class c."""
    return torch.cat([torch.full((k,), c, dtype=torch.long) for c, k in counts.items()])


def weights_file(source: str | Path, checkpoint: str | None) -> Path:
    """The file the generator's weights came from: an export's generator.safetensors, or the checkpoint."""
    from gankit.runs.layout import RunDir
    from gankit.runs.load import WEIGHTS, is_export

    if is_export(source):
        return Path(source) / WEIGHTS
    return Path(checkpoint) if checkpoint else RunDir(Path(source)).last_checkpoint


def check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GankitError(f"--dataset {out}: exists and is not an empty folder; choose a new folder "
                          "(a synthetic dataset never overwrites files)")


def _write_pngs(images: np.ndarray, folder: Path) -> None:
    """One PNG per image [N, H, W, C].  No fsync per file: the folder becomes visible only by the
    final rename of the staging folder, after one sync of everything."""
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        to_pil(img).save(folder / f"{i:06d}.png", format="PNG")


def write_dataset(gen, source: str | Path, out: str | Path, *, n: int | None = None, per_class: int | None = None,
                  fmt: str = "png", seed: int = 0, checkpoint: str | None = None) -> dict:
    """Sample a balanced labelled dataset from `gen` (export.Generator) into OUT; returns the manifest.

    `source` (the run directory or export folder) and `checkpoint` are recorded in the manifest
    with the SHA-256 of the weights file; labels follow `class_counts`.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise GankitError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    check_out_dir(out)
    conditional = bool(gen.cfg.model.conditional)
    if conditional:
        counts = class_counts(gen.prior, n, per_class)
        labels = balanced_labels(counts)
    else:
        if per_class is not None:
            raise GankitError(f"--per-class: {source} is an unconditional run (model.conditional=false), so its "
                              "images have no classes; use --n N (written to one folder, unlabelled)")
        if n is None or n < 1:
            raise GankitError("--dataset: say how many images with --n N (at least 1)")
        counts, labels = {0: n}, None
    weights = weights_file(source, checkpoint)
    sha = file_sha256(weights)
    x, y = sample(gen.G, int(sum(counts.values())), seed, gen.prior, labels)
    images = to_uint8(x, gen.cfg.data.range).permute(0, 2, 3, 1).numpy()  # [N, H, W, C]
    del x
    names = [gen.class_names[c] if c < len(gen.class_names) else str(c) for c in counts] if conditional \
        else [UNLABELLED]
    folders = folder_names(names) if conditional else [UNLABELLED]
    classes = [{"label": int(c) if conditional else None, "name": name, "folder": folder, "count": int(k)}
               for (c, k), name, folder in zip(counts.items(), names, folders)]

    psi = getattr(gen.G, "truncation_psi", None)
    psi = float(psi) if psi is not None else None
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        staging.mkdir(parents=True)
        if fmt == "png":
            start = 0
            for cls in classes:
                _write_pngs(images[start:start + cls["count"]], staging / "train" / cls["folder"])
                start += cls["count"]
            files = {"images": "train/<folder>/NNNNNN.png"}
        else:
            gray = images.shape[3] == 1
            # IDX has no channel convention: gray is MNIST's [N, H, W]; colour keeps [N, H, W, C]
            arr = images[..., 0] if gray else images
            image_file = f"train-images-idx{arr.ndim}-ubyte.gz"
            write_idx(np.ascontiguousarray(arr), staging / image_file, gz=True)
            files = {"images": image_file}
            if conditional:
                write_idx(y.numpy().astype(np.uint8), staging / "train-labels-idx1-ubyte.gz", gz=True)
                files["labels"] = "train-labels-idx1-ubyte.gz"
        manifest = {
            "format": "gankit-synthetic-dataset",
            "gankit_version": __version__,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "source": str(Path(source).resolve()),
            "checkpoint": str(weights.resolve()),
            "checkpoint_sha256": sha,
            "step": int(gen.step),
            "seed": int(seed),
            "n": int(images.shape[0]),
            "image_format": fmt,
            "image_shape": [int(images.shape[3]), int(images.shape[1]), int(images.shape[2])],  # C, H, W
            "conditional": conditional,
            "labels": "balanced over the trained classes" if conditional else "none (unconditional run)",
            "per_class": {cls["name"]: cls["count"] for cls in classes},
            "classes": classes,
            # a style-based G truncates toward its average w when psi < 1 (generate --truncation)
            "truncation_psi": psi,
            "files": files,
            "command": f"gankit generate {source} --dataset {out} --n {int(images.shape[0])} --format {fmt} "
                       f"--seed {seed}" + (f" --checkpoint {checkpoint}" if checkpoint else "")
                       + (f" --truncation {psi}" if psi not in (None, 1.0) else ""),
        }
        atomic_write(staging / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if hasattr(os, "sync"):
            os.sync()  # the files are on disk before the rename publishes them
        if out.exists():
            out.rmdir()  # empty (checked above); rename cannot replace a directory everywhere
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
