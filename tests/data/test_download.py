"""Downloads from a local HTTP server: verification, mirror fallback, nothing partial left."""

from __future__ import annotations

import errno
import gzip
import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from gankit.data.download import fetch, file_md5, mirrors_for
from gankit.data.idx import to_idx
from gankit.data.mnist import IdxDataset, IdxFile, load_idx
from gankit.errors import GankitError


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}"


def listing(d):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_good_file(http_root, tmp_path):
    root, url = http_root
    body = b"hello gankit" * 1000
    (root / "f.bin").write_bytes(body)
    dest = fetch("f.bin", tmp_path / "c", [url], md5s=(md5(body),))
    assert dest == tmp_path / "c" / "f.bin" and dest.read_bytes() == body
    assert listing(tmp_path / "c") == ["f.bin"]  # the temp file was renamed, not copied


def test_corrupt_file_is_refused_and_nothing_is_left(http_root, tmp_path):
    root, url = http_root
    (root / "f.bin").write_bytes(b"tampered")
    with pytest.raises(GankitError) as e:
        fetch("f.bin", tmp_path / "c", [url], md5s=("0" * 32,))
    msg = str(e.value)
    assert "f.bin" in msg and "0" * 32 in msg and md5(b"tampered") in msg and "--data-dir" in msg
    assert listing(tmp_path / "c") == []


def test_first_mirror_404_second_refused_third_works(http_root, tmp_path):
    root, url = http_root
    (root / "good").mkdir()
    (root / "good" / "f.bin").write_bytes(b"payload")
    mirrors = [url + "/missing/", closed_port_url(), url + "/good"]
    dest = fetch("f.bin", tmp_path / "c", mirrors, md5s=(md5(b"payload"),))
    assert dest.read_bytes() == b"payload"
    assert listing(tmp_path / "c") == ["f.bin"]


def test_all_mirrors_fail_lists_each_reason(http_root, tmp_path):
    _, url = http_root
    bad = closed_port_url()
    with pytest.raises(GankitError) as e:
        fetch("f.bin", tmp_path / "c", [url, bad], md5s=("0" * 32,), not_found="f.bin not in /x",
              fix="put it in --data-dir")
    msg = str(e.value)
    assert msg.startswith("f.bin not in /x and downloading f.bin failed")
    assert f"{url}/f.bin: HTTP 404" in msg and f"{bad}/f.bin" in msg and msg.endswith("put it in --data-dir")
    assert listing(tmp_path / "c") == []


def test_recompressed_gz_is_accepted_by_decompressed_md5(http_root, tmp_path):
    root, url = http_root
    raw = to_idx(np.arange(100, dtype=np.uint8))
    official, repacked = gzip.compress(raw, 9, mtime=0), gzip.compress(raw, 1, mtime=12345)
    assert official != repacked
    (root / "x.gz").write_bytes(repacked)
    dest = fetch("x.gz", tmp_path / "c", [url], md5s=(md5(official),), raw_md5s=(md5(raw),))
    assert file_md5(dest) == md5(repacked) and file_md5(dest, gunzip=True) == md5(raw)


def test_mirror_override_order(monkeypatch):
    monkeypatch.setenv("GANKIT_MIRROR_FASHION_MNIST", "http://a/, http://b/")
    assert mirrors_for("fashion-mnist", ("http://official/",)) == ["http://a/", "http://b/"]
    assert mirrors_for("fashion-mnist", ("http://official/",), ["http://arg/"]) == ["http://arg/"]
    monkeypatch.delenv("GANKIT_MIRROR_FASHION_MNIST")
    assert mirrors_for("fashion-mnist", ("http://official/",)) == ["http://official/"]


def tiny_idx_dataset(root, n_train=6, n_test=4):
    """A 4x4-pixel, 3-class IDX dataset written as .gz into root; returns its spec."""
    rng = np.random.default_rng(1)
    files = {}
    for split, n in (("train", n_train), ("test", n_test)):
        imgs = rng.integers(0, 256, (n, 4, 4), dtype=np.uint8)
        labels = (np.arange(n) % 3).astype(np.uint8)
        pair = []
        for kind, arr in (("images", imgs), ("labels", labels)):
            base = f"{split}-{kind}-idx-ubyte"
            raw = to_idx(arr)
            gz = gzip.compress(raw, mtime=0)
            (root / f"{base}.gz").write_bytes(gz)
            pair.append(IdxFile(base, md5(raw), md5(gz)))
        files[split] = tuple(pair)
    return IdxDataset(name="tiny", class_names=("a", "b", "c"), train=files["train"], test=files["test"],
                      mirrors=("http://127.0.0.1:9/",), sizes=(n_train, n_test), shape=(4, 4))


def test_load_idx_downloads_into_cache_once(http_root, isolated_env, monkeypatch):
    root, url = http_root
    spec = tiny_idx_dataset(root)
    monkeypatch.setenv("GANKIT_MIRROR_TINY", url)
    data = load_idx(spec, "train")
    assert data.images.shape == (6, 1, 4, 4) and data.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert listing(isolated_env / "tiny") == ["train-images-idx-ubyte.gz", "train-labels-idx-ubyte.gz"]
    for p in root.iterdir():
        p.unlink()  # the server has nothing now: a second load must come from the cache
    again = load_idx(spec, "train")
    assert torch_equal(again.images, data.images)


def torch_equal(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())


class _Truncating(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"only ten b")  # then the connection closes

    def log_message(self, format, *args):
        pass


def test_truncated_transfer_is_a_failure_and_leaves_nothing(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Truncating)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(GankitError, match="f.bin") as e:
            fetch("f.bin", tmp_path / "c", [url], md5s=(md5(b"only ten b"),))  # right md5, short body
        assert "f.bin:" in str(e.value) and "got md5" not in str(e.value)
    finally:
        thread.join(5)
        server.server_close()
    assert listing(tmp_path / "c") == []


def half_then_enospc(path_arg):
    """A writer that gets half way into the file and then finds the disk full."""
    with open(path_arg, "wb") as f:
        f.write(b"\x00half a file")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_download_enospc_mid_write_keeps_previous_file(http_root, tmp_path, monkeypatch):
    root, url = http_root
    (root / "f.bin").write_bytes(b"new payload")
    dest_dir = tmp_path / "c"
    dest_dir.mkdir()
    (dest_dir / "f.bin").write_bytes(b"previous")
    monkeypatch.setattr("gankit.data.download._stream", lambda u, dest, timeout: half_then_enospc(dest))
    with pytest.raises(GankitError, match="No space left"):
        fetch("f.bin", dest_dir, [url], md5s=(md5(b"new payload"),))
    assert (dest_dir / "f.bin").read_bytes() == b"previous"
    assert listing(dest_dir) == ["f.bin"]


def test_download_wrong_bytes_keep_previous_file_then_next_mirror_wins(http_root, tmp_path):
    root, url = http_root
    (root / "bad").mkdir()
    (root / "bad" / "f.bin").write_bytes(b"tampered")
    dest_dir = tmp_path / "c"
    dest_dir.mkdir()
    (dest_dir / "f.bin").write_bytes(b"previous")
    with pytest.raises(GankitError, match="got md5"):
        fetch("f.bin", dest_dir, [url + "/bad"], md5s=(md5(b"good"),))
    assert (dest_dir / "f.bin").read_bytes() == b"previous" and listing(dest_dir) == ["f.bin"]
    (root / "f.bin").write_bytes(b"good")
    assert fetch("f.bin", dest_dir, [url + "/bad", url], md5s=(md5(b"good"),)).read_bytes() == b"good"
    assert listing(dest_dir) == ["f.bin"]
