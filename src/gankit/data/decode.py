"""One image file's bytes to pixels: reading a zip member safely, decoding with Pillow to uint8
[C, H, W] at the requested channels, resolution and crop, and one line on why a file is not an
image.  Shared by the folder loader (folder.py) and the decoding workers (decoded.py), which
therefore import this and not each other.
"""

from __future__ import annotations

import io
import lzma
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gankit.errors import GankitWarning

MAX_MEMBER = 256 << 20  # bytes a zip member may unpack to: a "zip bomb" image is skipped, not unpacked
ORIENTATION = 0x0112  # the EXIF tag of how the camera held the picture (1 = upright)
GRAY_MODES = {"1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"}
# what reading or decoding one damaged file raises (zipfile: RuntimeError for an encrypted member,
# NotImplementedError for an unknown compression method, zlib/lzma errors for corrupt compressed data)
# IndexError: Pillow's pure-Python decoders (QOI among them) can index past a truncated buffer
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, zipfile.BadZipFile, Image.DecompressionBombError,
                 RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError, IndexError)


def read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes, read in place; zipfile stops at the declared size, which is checked first."""
    size = zf.getinfo(name).file_size
    if size > MAX_MEMBER:
        raise ValueError(f"declares {size} bytes uncompressed, more than {MAX_MEMBER >> 20} MiB")
    return zf.read(name)


def why_unreadable(parts: tuple[str, ...], e: Exception) -> str:
    """One line on why a file is not an image: no object reprs (Pillow's message names a BytesIO)."""
    if isinstance(e, UnidentifiedImageError):
        fmt = Image.registered_extensions().get(Path(parts[-1]).suffix.lower())
        return f"corrupt, not a valid {fmt} file" if fmt else "not an image file Pillow can read"
    return " ".join(str(e).split()) or type(e).__name__


def to_8bit(a: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] (or [0, 255]) and 16-bit values in 32-bit integers, as uint8; the
    loader says once which files it read this way (GankitWarning)."""
    kind = a.dtype.kind
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(a.max()) if a.size else 0.0
    scale = 255.0 if top <= 1.0 else (1 / 257 if top > 255 else 1.0)
    warnings.warn(GankitWarning(f"{'float' if kind == 'f' else '32-bit integer'} pixels, scaled to 8 bits "
                                "(floats in [0, 1] times 255, 16-bit values divided by 257); check the grid "
                                "(gankit data show) looks right"))
    return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)


CROPS = ("center", "resize", "pad")
DONE = {"center": "centre-cropped", "resize": "resized", "pad": "padded"}
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128)}


def decode_noted(data: bytes, channels: int, resolution: int, crop: str = "center",
                 background: str = "white") -> tuple[np.ndarray, list[str]]:
    """One image as uint8 [C, H, W]; C is 1 or 3 (channels=0: 1 if the file is grayscale); and what
    was converted on the way (for one summary line, never a line per file)."""
    notes = []
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.getexif().get(ORIENTATION, 1) != 1:  # a phone photo stored sideways: upright, as viewers show it
            im = ImageOps.exif_transpose(im)
            notes.append("EXIF-rotated")
        gray = im.mode in GRAY_MODES if channels == 0 else channels == 1
        if im.mode.startswith("I;16"):  # 16-bit grayscale: keep the high byte, not a clipped low one
            im = Image.fromarray((np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8))
            notes.append("16-bit")
        elif im.mode in ("F", "I"):  # float or 32-bit integer pixels: convert("L") would clip them (all black)
            im = Image.fromarray(to_8bit(np.asarray(im)))
        elif im.mode == "CMYK":
            notes.append("CMYK")
        if im.mode == "P":
            notes.append("palette")
            im = im.convert("RGBA")  # palette transparency would otherwise warn
        if im.mode in ("RGBA", "LA", "PA") or (im.mode in ("RGB", "L") and "transparency" in im.info):
            notes.append(f"transparent, composited on {background}")
            rgba = im.convert("RGBA")
            im = Image.new("RGBA", rgba.size, BACKGROUNDS[background] + (255,))
            im.alpha_composite(rgba)
        target = "L" if gray else "RGB"
        if im.mode != target:
            im = im.convert(target)
        if resolution > 0:
            w, h = im.size
            if w != h:
                notes.append(f"non-square, {DONE[crop]}")
            if crop == "pad" and w != h:
                s = max(w, h)
                fill = BACKGROUNDS[background] if target == "RGB" else int(np.mean(BACKGROUNDS[background]))
                square = Image.new(target, (s, s), fill)
                square.paste(im, ((s - w) // 2, (s - h) // 2))
                im = square.resize((resolution, resolution), Image.Resampling.BICUBIC)
            else:
                s = min(w, h)
                box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2) if crop == "center" else None
                im = im.resize((resolution, resolution), Image.Resampling.BICUBIC, box=box)
        arr = np.array(im)  # a writable copy: torch.from_numpy warns on Pillow's read-only view
    return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)), notes
