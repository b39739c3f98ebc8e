"""Images from a folder or a .zip (read in place, never extracted): dataset key "folder".

Layout rules, applied to the relative paths of all non-hidden files (`__MACOSX/` and
dot-files ignored):
- single wrapper directories that hold only directories are stepped into
  (`archive.zip: photos/{cat,dog}/...` has classes cat and dog);
- if the level then has `train/` and/or `test/` directories, `data.split` picks one;
- sub-folders of that level are the classes (sorted names, files at any depth below
  belong to them); files directly in it, with no sub-folders, are one unlabelled class.
Samples are ordered round-robin over classes so that `data.limit` keeps the mix.
Unreadable files are skipped with one counted warning, or are an error under data.strict.
The images are decoded once (in parallel for large folders) and then read from the gankit
cache (decoded.py) until the files or the decoding options change.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from gankit.data.decoded import check_unchanged, decode_files, load_entry, save_entry, source_key
from gankit.data.imagedata import ImageData, class_indices
from gankit.errors import GankitError, GankitWarning

SPLITS = ("train", "test")


def _visible(parts: tuple[str, ...]) -> bool:
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _loops(target: str, here: str) -> bool:
    """Whether a folder link from `here` points at `here` or one of the folders above it."""
    return here == target or here.startswith(target.rstrip(os.sep) + os.sep)


def list_files(src: Path) -> tuple[list[tuple[str, ...]], zipfile.ZipFile | None]:
    """Relative paths (as part tuples) of all visible files, sorted; plus the open zip if any."""
    if src.is_dir():  # os.walk, not pathlib: a 50,000-file folder is listed in a fraction of the time
        paths = []
        # linked folders are followed (a class sub-folder may be a link), except a link to the folder
        # it is in or above it, which would loop; links to nothing are listed and skipped as unreadable
        for root, dirs, files in os.walk(src, followlinks=True):
            here = os.path.realpath(root)
            dirs[:] = [d for d in dirs if not _loops(os.path.realpath(os.path.join(root, d)), here)]
            rel = tuple(Path(os.path.relpath(root, src)).parts) if root != str(src) else ()
            paths += [rel + (f,) for f in files]
        return sorted(p for p in paths if _visible(p)), None
    if not src.is_file():
        raise GankitError(f"data.path={src}: no such folder or .zip file")
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError) as e:  # ValueError: a "UTF-8" member name that is not
        raise GankitError(f"data.path={src}: not a folder or a readable .zip ({e})") from None
    names = [n for n in zf.namelist() if not n.endswith("/")]
    unsafe = [n for n in names if n.startswith("/") or ".." in n.replace("\\", "/").split("/")]
    if unsafe:  # read in place, so harmless here; but an extractor would write them outside its folder
        warnings.warn(f"{src}: ignored {len(unsafe)} member{'s' if len(unsafe) > 1 else ''} with an unsafe path "
                      f"(first: {unsafe[0]!r}); nothing is extracted, gankit reads the zip in place", stacklevel=3)
    paths = [tuple(n.split("/")) for n in names if n not in unsafe]
    return sorted(p for p in paths if _visible(p) and "" not in p), zf


def _level(paths, prefix):
    rest = [p[len(prefix):] for p in paths if p[:len(prefix)] == prefix]
    return rest, any(len(r) == 1 for r in rest), sorted({r[0] for r in rest if len(r) > 1})


def _strip_wrappers(paths, prefix: tuple[str, ...]) -> tuple[str, ...]:
    while True:
        rest, has_files, dirs = _level(paths, prefix)
        if has_files or len(dirs) != 1 or dirs[0] in SPLITS:
            return prefix
        if any(len(r) == 2 for r in rest):  # the only directory holds files: it is a class
            return prefix
        prefix = prefix + (dirs[0],)


def layout(paths, split: str, where: str):
    """-> (prefix, class_names, [(path, label)], loose_files, split_used)."""
    prefix = _strip_wrappers(paths, ())
    _, _, dirs = _level(paths, prefix)
    split_used = any(d in SPLITS for d in dirs)
    if split_used:
        if split not in dirs:
            raise GankitError(f"{where}: has {'/'.join(d for d in dirs if d in SPLITS)}/ but no {split}/ "
                              f"directory; set data.split to one that exists")
        prefix = _strip_wrappers(paths, prefix + (split,))
    rest, _, dirs = _level(paths, prefix)
    full = [prefix + r for r in rest]
    if not dirs:
        return prefix, [], [(p, 0) for p in full], 0, split_used
    index = {d: i for i, d in enumerate(dirs)}
    samples = [(p, index[p[len(prefix)]]) for p in full if len(p) - len(prefix) > 1]
    return prefix, dirs, samples, len(full) - len(samples), split_used


def interleave(samples: list[tuple[tuple[str, ...], int]], n_classes: int):
    per = [[s for s in samples if s[1] == c] for c in range(max(n_classes, 1))]
    out = []
    for i in range(max((len(p) for p in per), default=0)):
        out += [p[i] for p in per if i < len(p)]
    return out


def load_folder_images(path, split: str = "train", classes: list[str] | None = None, limit: int = 0,
                       resolution: int = 0, channels: int = 0, strict: bool = False, crop: str = "center",
                       background: str = "white", stream: str = "false") -> ImageData:
    src = Path(path).expanduser()
    paths, zf = list_files(src)
    try:  # what to decode: the layout, the class filter, the order
        prefix, names, samples, loose, split_used = layout(paths, split, str(src))
        where = "/".join((str(src),) + prefix)
        if not samples:
            raise GankitError(f"{where}: no files found; put images in it (one sub-folder per class, or all of "
                              "them directly in it for one class)")
        if loose:
            warnings.warn(f"{where}: ignored {loose} files outside the class folders", stacklevel=2)
        if classes:
            keep = set(class_indices(classes, names, where))
            samples = [s for s in samples if s[1] in keep]
        samples = interleave(samples, len(names))
        options = {"split": split, "classes": list(classes or []), "limit": limit, "resolution": resolution,
                   "channels": channels, "strict": strict, "crop": crop, "background": background}
        key = source_key(src, zf, [p for p, _ in samples], options)
    finally:
        if zf:
            zf.close()
    hit = load_entry(key, stream)
    if hit is not None:  # decoded before: the same files with the same options
        images, meta = hit
        for message in meta["warnings"]:
            warnings.warn(GankitWarning(message), stacklevel=2)
        return ImageData(torch.from_numpy(images), torch.tensor(meta["labels"], dtype=torch.long),
                         list(meta["class_names"]), meta["name"])
    images, labels, said = _decode_all(src, zf is not None, samples, where, limit, resolution, channels, strict,
                                       crop, background)
    for message in said:
        warnings.warn(GankitWarning(message), stacklevel=2)
    name = f"folder:{src.name}" + (f"/{split}" if split_used else "")
    check_unchanged(key, src, [p for p, _ in samples], options)
    save_entry(key, images, {"labels": labels.tolist(), "class_names": list(names), "name": name, "warnings": said})
    if stream != "false":  # streamed: from the file just written (the decoded copy is then freed)
        hit = load_entry(key, stream)
        images = hit[0] if hit is not None else images
    return ImageData(torch.from_numpy(images), torch.from_numpy(labels), list(names), name)


def _decode_all(src: Path, is_zip: bool, samples, where: str, limit: int, resolution: int, channels: int,
                strict: bool, crop: str, background: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8 [N,C,H,W], labels, warning lines): the first `limit` readable files (all: 0),
    decoded in rounds so that a small limit on a large folder decodes little more than it keeps."""
    want = min(limit, len(samples)) if limit > 0 else len(samples)
    buf: np.ndarray | None = None
    labels = np.zeros(want, dtype=np.int64)
    all_gray, n, skipped, at = True, 0, [], 0
    notes: dict[str, list] = {}  # a warning while decoding -> [the first file, how many files]
    converted: dict[str, int] = {}  # what was converted -> how many files
    while n < want and at < len(samples):
        batch = samples[at : at + max(want - n, 64)]
        at += len(batch)
        label_of = dict(batch)
        for p, img, error, messages, conversions in decode_files(src, is_zip, [q for q, _ in batch], channels,
                                                                 resolution, crop, background):
            if n == want:
                break
            for message in messages:
                notes.setdefault(message, [p, 0])[1] += 1
            for c in conversions:
                converted[c] = converted.get(c, 0) + 1
            if img is None:
                if strict:
                    raise GankitError(f"{'/'.join(p)} in {src}: unreadable image ({error}); remove it or set "
                                      "data.strict=false to skip such files")
                skipped.append((p, error))
                continue
            if buf is None:
                c = 3 if channels in (0, 3) else 1
                buf = np.empty((want, c, *img.shape[1:]), dtype=np.uint8)
                first = p
            elif img.shape[1:] != buf.shape[2:]:
                raise GankitError(
                    f"{src}: images differ in size ({'/'.join(first)} is {buf.shape[3]}x{buf.shape[2]}, "
                    f"{'/'.join(p)} is {img.shape[2]}x{img.shape[1]}); set data.resolution=N to resize "
                    "and centre-crop them all to NxN")
            all_gray &= img.shape[0] == 1
            buf[n] = img  # a 1-channel image broadcasts into all 3 channels when channels=0
            labels[n] = label_of[p]
            n += 1
    if buf is None:
        p, error = skipped[0]
        raise GankitError(f"{where}: none of the {len(samples)} files is a readable image (first: "
                          f"{'/'.join(p)}: {error}); put PNG, JPEG, ... images there or fix data.path")
    said = [f"{src}: {'/'.join(p)}: {message}" + (f" (and {count - 1} more files)" if count > 1 else "")
            for message, (p, count) in notes.items()]  # each once, with the file it came from
    if converted:  # one line for all files, never one per file
        said.append(f"{src}: converted " + ", ".join(f"{k} ({v} files)" for k, v in sorted(converted.items())))
    if skipped:
        p, error = skipped[0]
        said.append(f"{src}: skipped {len(skipped)} unreadable files (first: {'/'.join(p)}: {error})")
    images = buf[:n, :1] if (channels == 0 and all_gray) else buf[:n]
    return np.ascontiguousarray(images), labels[:n].copy(), said


def load_folder(cfg, data_dir=None) -> ImageData:
    """data.path is taken as given (relative to the working directory), not searched in data_dir."""
    if not cfg.path:
        raise GankitError("data.dataset=folder needs data.path=DIR_OR_ZIP")
    return load_folder_images(cfg.path, cfg.split, cfg.classes, cfg.limit, cfg.resolution,
                              cfg.channels, cfg.strict, cfg.crop, cfg.background, cfg.stream)
