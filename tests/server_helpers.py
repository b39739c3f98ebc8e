"""Real servers the integration tests start on 127.0.0.1 (optuna-dashboard, mlflow server): a
free port, and waiting until the server answers (or failing with the end of its stderr)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args[0]} exited: {proc.stderr.read()[-800:] if proc.stderr else ''}")
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s")
