"""Shared fixtures for the data tests: an isolated cache, no internet, a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Cache in tmp, no $GANKIT_DATA, and every mirror pointed at a closed local port."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    for ds in ("FASHION_MNIST", "MNIST", "CIFAR10"):
        monkeypatch.setenv(f"GANKIT_MIRROR_{ds}", "http://127.0.0.1:9/")
    return tmp_path / "cache"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """(directory served, base URL) of an HTTP server on 127.0.0.1 running in a thread."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

