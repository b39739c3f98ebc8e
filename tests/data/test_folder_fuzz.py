"""Fuzzing the folder/zip image reader: damaged images, damaged archives, hostile member names
and forged sizes give images (unreadable files skipped with the counted warning) or a
GankitError, nothing else; and nothing is ever written."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import loads_or_refuses, mutated
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from gankit.data import decode
from gankit.data.folder import load_folder_images
from gankit.data.imagedata import ImageData
from gankit.errors import GankitError


def encode(fmt: str, mode: str, size=(6, 5), **kw) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(np.arange(size[0] * size[1] * 3, dtype=np.uint8).reshape(size[1], size[0], 3)).convert(mode)
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


SEEDS = [encode("PNG", "L"), encode("PNG", "RGB"), encode("PNG", "RGBA"), encode("PNG", "P"),
         encode("PNG", "I;16"), encode("PNG", "1"), encode("JPEG", "RGB"), encode("JPEG", "L"),
         encode("GIF", "P"), encode("BMP", "RGB"), encode("TIFF", "RGB"), encode("TIFF", "L", compression="tiff_lzw"),
         encode("PPM", "RGB"), encode("WEBP", "RGB"), encode("ICO", "RGBA", size=(16, 16)), encode("TGA", "RGB"),
         encode("PCX", "RGB"), encode("DIB", "RGB"), encode("QOI", "RGB") if "QOI" in Image.SAVE else b"",
         encode("SGI", "RGB"), b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4 4\n"]
images = st.one_of(st.sampled_from(SEEDS), st.sampled_from(SEEDS).flatmap(lambda b: mutated(b, header=64)),
                   st.binary(max_size=64))
options = st.fixed_dictionaries({"channels": st.sampled_from([0, 1, 3]), "resolution": st.sampled_from([0, 4]),
                                 "strict": st.booleans(), "limit": st.sampled_from([0, 1, 3]),
                                 "split": st.sampled_from(["train", "test"])})


def check_loaded(out) -> None:
    if out is not None:
        assert isinstance(out, ImageData)
        n, c = out.images.shape[:2]
        assert out.images.dtype.itemsize == 1 and c in (1, 3) and n == len(out.labels) > 0
        assert int(out.labels.max()) < max(len(out.class_names), 1)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*"))


@given(st.lists(images, min_size=1, max_size=4), options)
def test_fuzz_damaged_images_in_a_folder(tmp_path_factory, blobs, opts):
    root = tmp_path_factory.mktemp("folder")
    for i, blob in enumerate(blobs):
        (root / ("a" if i % 2 else "b")).mkdir(exist_ok=True)
        (root / ("a" if i % 2 else "b") / f"{i}.img").write_bytes(blob)
    before = files_under(root)
    check_loaded(loads_or_refuses(load_folder_images, root, **opts))
    assert files_under(root) == before


# --------------------------------------------------------------------------------------- zips

NAMES = ["cat/\u00e9.png", "d\u00fcg/1.png", "../evil.png", "/abs/evil.png", "a/../../evil.png", "..", ".", "a/b/c.png", "cat/1.png", "dog/2.png",
         "train/cat/1.png", "test/dog/1.png", "__MACOSX/cat/._1.png", "cat/.hidden.png", "C:\\evil.png",
         "a\\..\\..\\evil.png", "cat//x.png", "cat/", "x" * 300 + ".png", "ünï/ċödé.png", "cat/\x00.png"]
member_names = st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=16))


def build_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are welcome here
        for name, data in members:
            try:
                zf.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data)
            except (ValueError, IndexError):  # names zipfile itself cannot write ("/", NUL bytes)
                zf.writestr(name.replace("\x00", "_").lstrip("/") or "x", data)
    return buf.getvalue()


VALID_ZIP = build_zip([("photos/cat/1.png", SEEDS[1]), ("photos/dog/1.png", SEEDS[1]),
                       ("photos/dog/2.jpg", SEEDS[6])])
VALID_DEFLATED = build_zip([("cat/1.png", SEEDS[0]), ("dog/1.png", SEEDS[0])], zipfile.ZIP_DEFLATED)


def forge_sizes(data: bytes, file_size: int | None = None, compress_size: int | None = None, flags: int | None = None,
                method: int | None = None) -> bytes:
    """Rewrite fields of every central-directory and local header: what a hostile zip declares."""
    b = bytearray(data)
    for sig, off_flags, off_method, off_csize, off_size in ((b"PK\x01\x02", 8, 10, 20, 24),
                                                            (b"PK\x03\x04", 6, 8, 18, 22)):
        i = b.find(sig)
        while i >= 0:
            if flags is not None:
                struct.pack_into("<H", b, i + off_flags, flags)
            if method is not None:
                struct.pack_into("<H", b, i + off_method, method)
            if compress_size is not None:
                struct.pack_into("<I", b, i + off_csize, compress_size)
            if file_size is not None:
                struct.pack_into("<I", b, i + off_size, file_size)
            i = b.find(sig, i + 4)
    return bytes(b)


@st.composite
def hostile_zips(draw) -> bytes:
    members = draw(st.lists(st.tuples(member_names, images), min_size=1, max_size=6))
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
    data = build_zip(members, method)
    if draw(st.booleans()):  # names flagged UTF-8 whose bytes are not
        data = data.replace("\u00e9".encode(), b"\xff\xfe").replace("\u00fc".encode(), b"\xc3(")
    if draw(st.booleans()):
        data = forge_sizes(data, file_size=draw(st.sampled_from([None, 0, 1, 2**31, 2**32 - 1])),
                           compress_size=draw(st.sampled_from([None, 0, 1, 2**32 - 1])),
                           flags=draw(st.sampled_from([None, 0x1, 0x800, 0x8, 0x41])),
                           method=draw(st.sampled_from([None, 0, 8, 12, 14, 99, 6])))
    return data


def load_zip(tmp_path_factory, data: bytes, opts: dict):
    root = tmp_path_factory.mktemp("zip")
    src = root / "photos.zip"
    src.write_bytes(data)
    out = loads_or_refuses(load_folder_images, src, **opts)
    check_loaded(out)
    assert files_under(root) == [src], "reading a zip must write nothing"  # read in place, never extracted
    return out


@given(st.binary(max_size=300), options)
def test_fuzz_zip_random_bytes(tmp_path_factory, data, opts):
    load_zip(tmp_path_factory, data, opts)


@given(st.one_of(mutated(VALID_ZIP, header=64), mutated(VALID_DEFLATED, header=64)), options)
def test_fuzz_mutated_zip(tmp_path_factory, data, opts):
    load_zip(tmp_path_factory, data, opts)


@given(hostile_zips(), options)
@example(forge_sizes(VALID_DEFLATED, file_size=2**32 - 1), {})  # a zip bomb's declared size
@example(build_zip([("cat/\xe9.png", SEEDS[0])]).replace(b"\xc3\xa9", b"\xff\xfe"), {})  # a "UTF-8" name that is not
@example(forge_sizes(VALID_ZIP, flags=0x1), {})  # encrypted members
@example(forge_sizes(VALID_ZIP, method=99), {})  # a compression method zipfile does not know
@example(forge_sizes(VALID_DEFLATED, compress_size=2**32 - 1), {})
def test_fuzz_hostile_zip_members(tmp_path_factory, data, opts):
    load_zip(tmp_path_factory, data, opts)


def test_fuzz_zip_bomb_is_skipped_unread(tmp_path, monkeypatch):
    """A member that declares more than decode.MAX_MEMBER bytes is skipped (counted warning) or,
    under data.strict, an error naming it; it is never unpacked."""
    src = tmp_path / "bomb.zip"
    src.write_bytes(build_zip([("cat/1.png", SEEDS[0]), ("cat/2.png", bytes(2 << 20))], zipfile.ZIP_DEFLATED))
    monkeypatch.setattr(decode, "MAX_MEMBER", 1 << 20)  # 2 MiB of zeros stands for a 1 TB bomb
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable files \(first: cat/2.png: declares 2097152 bytes"):
        assert len(load_folder_images(src)) == 1
    with pytest.raises(GankitError, match="cat/2.png in .*declares 2097152 bytes uncompressed, more than 1 MiB"):
        load_folder_images(src, strict=True)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["bomb.zip"]  # nothing unpacked


def test_a_damaged_qoi_whose_decoder_indexes_past_its_buffer_is_skipped(tmp_path):
    """Pillow's pure-Python QOI decoder raises IndexError on some damaged files (found by the fuzz
    test above): the file is skipped with the unreadable-file warning like any other."""
    if "QOI" not in Image.SAVE:
        pytest.skip("this Pillow cannot write QOI")
    data = bytearray(encode("QOI", "RGB", size=(28, 28)))
    rng = np.random.default_rng(1)
    for _ in range(3000):  # damage it until the decoder itself fails inside its loop
        d = bytearray(data)
        for i in rng.integers(14, len(d), 3):
            d[i] = rng.integers(0, 256)
        d = bytes(d[:rng.integers(20, len(d))])
        try:
            Image.open(io.BytesIO(d)).load()
        except IndexError:
            break
        except Exception:  # noqa: BLE001 (other damage is the fuzz test's)
            continue
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.qoi").write_bytes(d)
    (tmp_path / "a" / "ok.png").write_bytes(encode("PNG", "RGB", size=(28, 28)))
    with pytest.warns(Warning, match="bad.qoi"):
        out = load_folder_images(tmp_path, channels=3, resolution=28)
    assert len(out) == 1
