"""Folders and zips of images: layout rules, conversions, skipped files, the real cat/dog zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.folder import load_folder_images
from gankit.errors import GankitError

CATDOG = Path("/work/shared/datasets/cifar10-catdog.zip")


def png(value, size=(4, 4), mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, value).save(buf, format="PNG")
    return buf.getvalue()


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path


def test_class_folders_sorted_and_interleaved(tmp_path):
    src = make_tree(tmp_path / "d", {"b/1.png": png(11), "b/2.png": png(12), "b/3.png": png(13),
                                     "a/x/1.png": png(1)})  # nested files belong to their top folder
    data = load_folder_images(src)
    assert data.class_names == ["a", "b"]
    assert data.labels.tolist() == [0, 1, 1, 1]  # round-robin: a1 b1, then b's rest
    assert data.images[:, 0, 0, 0].tolist() == [1, 11, 12, 13]
    assert data.images.shape == (4, 1, 4, 4) and data.name == "folder:d"


def test_images_in_root_are_unlabelled(tmp_path):
    src = make_tree(tmp_path / "d", {"1.png": png(5), "2.png": png(6)})
    data = load_folder_images(src)
    assert data.class_names == [] and data.labels.tolist() == [0, 0]


def test_unreadable_files_one_counted_warning_or_strict_error(tmp_path):
    src = make_tree(tmp_path / "d", {"a/ok.png": png(1), "a/bad.jpg": b"\xff\xd8 not really", "a/notes.txt": b"hi",
                                     "a/.hidden.png": b"junk", "b/ok.png": png(2)})
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable files \(first: a/bad.jpg") as rec:
        data = load_folder_images(src)
    assert len([w for w in rec if "unreadable" in str(w.message)]) == 1
    # round-robin over a/{bad.jpg, notes.txt, ok.png} and b/{ok.png}: a/bad, b/ok, a/notes, a/ok
    assert data.labels.tolist() == [1, 0] and data.images[:, 0, 0, 0].tolist() == [2, 1]
    with pytest.raises(GankitError, match="a/bad.jpg .*data.strict=false"):
        load_folder_images(src, strict=True)


def test_zip_wrapper_macosx_and_split(tmp_path):
    files = {"pets/train/cat/1.png": png(1), "pets/train/dog/1.png": png(2), "pets/train/dog/2.png": png(3),
             "pets/test/cat/1.png": png(4), "pets/test/dog/1.png": png(5),
             "__MACOSX/pets/train/cat/._1.png": b"resource fork", "pets/.DS_Store": b"x"}
    z = make_zip(tmp_path / "pets.zip", files)
    train = load_folder_images(z, split="train")
    assert train.class_names == ["cat", "dog"] and train.labels.tolist() == [0, 1, 1]
    assert train.images[:, 0, 0, 0].tolist() == [1, 2, 3] and train.name == "folder:pets.zip/train"
    test = load_dataset(DataConfig(dataset="folder", path=str(z), split="test", classes=["dog"]))
    assert test.labels.tolist() == [1] and test.images[0, 0, 0, 0] == 5


def test_missing_split_dir(tmp_path):
    src = make_tree(tmp_path / "d", {"train/a/1.png": png(1)})
    with pytest.raises(GankitError, match="has train/ but no test/"):
        load_folder_images(src, split="test")


def test_single_class_folder_is_a_class_not_a_wrapper(tmp_path):
    data = load_folder_images(make_tree(tmp_path / "d", {"cat/1.png": png(1)}))
    assert data.class_names == ["cat"]


def test_sizes_must_match_without_resolution(tmp_path):
    src = make_tree(tmp_path / "d", {"1.png": png(1, (4, 4)), "2.png": png(2, (6, 2))})
    with pytest.raises(GankitError, match="differ in size .*2.png is 6x2.*data.resolution"):
        load_folder_images(src)
    data = load_folder_images(src, resolution=2)
    assert data.images.shape == (2, 1, 2, 2)


def test_resize_crops_the_centre(tmp_path):
    # 6 wide x 2 high: columns 0,0 | 255,255 | 0,0 -> the centre 2x2 square is all 255
    arr = np.zeros((2, 6), np.uint8)
    arr[:, 2:4] = 255
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    data = load_folder_images(make_tree(tmp_path / "d", {"x.png": buf.getvalue()}), resolution=2)
    assert data.images.flatten().tolist() == [255] * 4


def test_channel_inference_and_conversion(tmp_path):
    gray = make_tree(tmp_path / "g", {"1.png": png(7), "2.png": png(9)})
    assert load_folder_images(gray).images.shape[1] == 1
    mixed = make_tree(tmp_path / "m", {"1.png": png(7), "2.png": png((255, 0, 0), mode="RGB")})
    data = load_folder_images(mixed)
    assert data.images.shape[1] == 3
    assert data.images[0, :, 0, 0].tolist() == [7, 7, 7] and data.images[1, :, 0, 0].tolist() == [255, 0, 0]
    # to gray: Pillow's luma, (255*19595 + 32768) >> 16 = 76 for pure red
    assert load_folder_images(mixed, channels=1).images[:, 0, 0, 0].tolist() == [7, 76]


def test_limit_stops_decoding_and_keeps_the_mix(tmp_path):
    src = make_tree(tmp_path / "d", {f"{c}/{i}.png": png(i) for c in "ab" for i in range(3)})
    data = load_folder_images(src, limit=4)
    assert data.labels.tolist() == [0, 1, 0, 1]


def test_missing_path_and_not_a_zip(tmp_path):
    with pytest.raises(GankitError, match="no such folder or .zip"):
        load_folder_images(tmp_path / "nope")
    (tmp_path / "f.zip").write_bytes(b"not a zip")
    with pytest.raises(GankitError, match="not a folder or a readable .zip"):
        load_folder_images(tmp_path / "f.zip")


@pytest.mark.skipif(not CATDOG.exists(), reason="cifar10-catdog.zip not present")
def test_real_catdog_zip_train_split():
    data = load_dataset(DataConfig(dataset="folder", path=str(CATDOG), split="train", classes=["cat", "dog"]))
    assert data.images.shape == (10000, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.class_names == ["cat", "dog"] and torch.bincount(data.labels).tolist() == [5000, 5000]
    assert data.labels[:4].tolist() == [0, 1, 0, 1]
    assert 60 < data.images.float().mean() < 200  # real photos, not blank decodes


def test_loose_files_beside_class_folders_are_ignored_with_a_warning(tmp_path):
    src = make_tree(tmp_path / "d", {"a/1.png": png(1), "stray.png": png(2), "readme.txt": b"x"})
    with pytest.warns(UserWarning, match="ignored 2 files outside the class folders"):
        data = load_folder_images(src)
    assert data.class_names == ["a"] and data.images[:, 0, 0, 0].tolist() == [1]


def test_float_images_are_scaled_not_black_and_the_file_is_named(tmp_path):
    """A float TIFF (values in [0, 1]) used to read as all black without a word."""
    import warnings as w

    import numpy as np
    from PIL import Image

    from gankit.data.folder import load_folder_images

    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32), mode="F").save(folder / f"{i}.tif")
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        data = load_folder_images(folder)
    assert int(data.images.min()) == int(data.images.max()) == 128  # 0.5 * 255, rounded
    said = [str(c.message) for c in caught]
    assert len(said) == 1 and "0.tif: float pixels, scaled to 8 bits" in said[0] and "(and 2 more files)" in said[0]


def test_pillows_decompression_bomb_warning_names_the_file(tmp_path, monkeypatch):
    import warnings as w

    import numpy as np
    from PIL import Image

    from gankit.data.folder import load_folder_images

    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(folder / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 784 pixels: over the limit, under twice it
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        load_folder_images(folder)
    said = [str(c.message) for c in caught]
    assert len(said) == 1 and said[0].startswith(f"{folder}: huge.png: Image size (784 pixels) exceeds limit")


def test_links_a_class_folder_link_is_a_class_and_broken_links_are_skipped_as_docs_data_say(tmp_path):
    """docs/data.md: unreadable entries are skipped with one counted warning (an error under
    data.strict); a linked class folder is a class; a link back up the tree does not loop."""
    real = make_tree(tmp_path / "elsewhere", {"1.png": png(21), "2.png": png(22)})
    src = make_tree(tmp_path / "d", {"cat/1.png": png(1), "cat/2.png": png(2)})
    (src / "dog").symlink_to(real, target_is_directory=True)
    (src / "cat" / "loop-a.png").symlink_to("loop-b.png")
    (src / "cat" / "loop-b.png").symlink_to("loop-a.png")
    (src / "cat" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (src / "cat" / "up").symlink_to(src, target_is_directory=True)  # would list the tree again, forever
    with pytest.warns(UserWarning, match=r"skipped 3 unreadable files \(first: cat/gone.png: ") as rec:
        data = load_folder_images(src)
    assert len([w for w in rec if "unreadable" in str(w.message)]) == 1
    assert data.class_names == ["cat", "dog"]
    assert sorted(data.images[:, 0, 0, 0].tolist()) == [1, 2, 21, 22]  # each image once, the linked ones too
    with pytest.raises(GankitError, match="cat/gone.png .*data.strict=false"):
        load_folder_images(src, strict=True)


def test_exif_orientation_is_applied_as_a_viewer_shows_the_photo(tmp_path):
    img = Image.new("L", (4, 2), 0)
    img.putpixel((0, 0), 255)  # top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: viewers rotate it 90 degrees clockwise
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes(), quality=100)
    plain = io.BytesIO()
    img.save(plain, format="JPEG", quality=100)
    from gankit.data.decode import decode_noted

    turned, notes = decode_noted(buf.getvalue(), 1, 0)
    upright, plain_notes = decode_noted(plain.getvalue(), 1, 0)
    assert turned.shape == (1, 4, 2) and upright.shape == (1, 2, 4)  # H x W swapped by the rotation
    assert turned[0, 0, -1] > 200 and upright[0, 0, 0] > 200  # the bright corner moved to the top right
    assert notes == ["EXIF-rotated"] and plain_notes == []
    src = make_tree(tmp_path / "d", {"turned.jpg": buf.getvalue()})
    with pytest.warns(UserWarning, match=r"converted EXIF-rotated \(1 files\)"):  # said once for the folder
        assert load_folder_images(src).images.shape == (1, 1, 4, 2)


@pytest.mark.parametrize("wanted", ["-1", "+1", " -3 "])
def test_a_signed_class_index_is_no_class_even_where_its_digits_name_one(wanted):
    from gankit.data.imagedata import class_index

    digits = [str(i) for i in range(10)]  # MNIST's class names
    assert class_index(wanted, digits) is None
    assert class_index("1", digits) == 1 and class_index("ankle-boot", ["Ankle boot"]) == 0
