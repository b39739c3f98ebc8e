"""data.crop and data.background (data/folder.py): non-square images cropped, squashed or
padded; transparent, palette, 16-bit and CMYK images converted, said in one summary line."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.data.decode import decode_noted
from gankit.data.folder import load_folder_images


def png(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def wide() -> bytes:
    """8x4: a red left half and a blue right half."""
    a = np.zeros((4, 8, 3), np.uint8)
    a[:, :4, 0], a[:, 4:, 2] = 255, 255
    return png(Image.fromarray(a))


def test_center_keeps_the_middle_resize_keeps_all_pad_adds_borders():
    center, notes = decode_noted(wide(), 3, 4, "center")
    assert notes == ["non-square, centre-cropped"]
    assert center[0, :, 0].max() == 255 and center[2, :, 3].max() == 255  # the middle: red, then blue
    squashed, _ = decode_noted(wide(), 3, 4, "resize")
    assert squashed.shape == (3, 4, 4) and squashed[0, 2, 0] == 255 and squashed[2, 2, 3] == 255
    padded, notes = decode_noted(wide(), 3, 8, "pad", "black")
    assert notes == ["non-square, padded"]
    assert padded[:, 0].max() == 0 and padded[:, 7].max() == 0  # black rows above and below
    assert padded[0, 4, 0] > 200 and padded[2, 4, 7] > 200  # all of the image in between


@pytest.mark.parametrize("background, value", [("white", 255), ("black", 0), ("gray", 128)])
def test_transparent_pixels_take_the_background(background, value):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    rgba[0, 0] = (10, 200, 30, 255)  # one opaque pixel
    img, notes = decode_noted(png(Image.fromarray(rgba, "RGBA")), 0, 0, background=background)
    assert notes == [f"transparent, composited on {background}"]
    assert tuple(img[:, 0, 0]) == (10, 200, 30) and set(np.unique(img[:, 1:, :])) == {value}


def test_palette_16_bit_and_cmyk_are_converted():
    pal = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).convert("P")
    assert "palette" in decode_noted(png(pal), 0, 0)[1]
    deep = Image.fromarray((np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000))  # mode I;16
    img, notes = decode_noted(png(deep), 0, 0)
    assert notes == ["16-bit"] and img.shape == (1, 4, 4) and img.max() == (15 * 4000) >> 8
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # red
    img, notes = decode_noted(png(cmyk, "JPEG"), 0, 0)
    assert notes == ["CMYK"] and img[0].mean() > 200 and img[1].mean() < 60


def test_a_folder_says_what_it_converted_in_one_line(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(3):
        (folder / f"w{i}.png").write_bytes(wide())
    (folder / "t.png").write_bytes(png(Image.new("RGBA", (4, 4))))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_folder_images(folder, resolution=4)
    lines = [str(w.message) for w in said]
    assert lines == [f"{folder}: converted non-square, centre-cropped (3 files), transparent, composited on white "
                     "(1 files)"]


def test_an_unknown_crop_is_one_line(tmp_path, capsys):
    assert main(["train", "--set", "data.crop=stretch", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == ("gankit: error: invalid config: data.crop='stretch'; choose one of: "
                                               "center, pad, resize")
