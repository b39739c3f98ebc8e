"""bench/gpu_check.py (`make gpu-check`) in its CPU mode, as CI runs it: the CPU parts train,
the CUDA-only parts are named as skipped with the reason, and the table is one JSON.  The
compile row is skipped here (inductor's compilation alone is ~35 s on 2 cores; `train.compile`
is covered by tests/training/test_loop.py), which also checks --skip."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # 15-30 s: `make test-slow` (the default suite stays under 10 minutes)
def test_gpu_check_runs_its_cpu_parts_and_names_what_it_skipped(tmp_path):
    out = tmp_path / "table.json"
    env = {**os.environ, "GANKIT_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--steps", "8", "--skip", "compile",
                           "--json", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    table = json.loads(out.read_text())
    rows = {r["check"]: r for r in table["rows"]}
    assert list(rows) == ["device auto", "default step", "64 px step", "bf16", "fp16 + scaler", "compile",
                          "cudnn", "torchrun"]
    assert "| 64 px step" in done.stdout and table["device"] in done.stdout  # the printed table
    if torch.cuda.is_available():  # on a GPU machine every row runs (torchrun skips with one GPU)
        assert all(r["status"] in ("ok", "skipped") for r in rows.values())
        return
    for name in ("device auto", "default step", "64 px step", "bf16", "torchrun"):
        assert rows[name]["status"] == "ok", rows[name]
    assert rows["compile"]["status"] == "skipped" and rows["compile"]["note"] == "--skip"
    for name in ("default step", "64 px step", "bf16", "torchrun"):
        assert rows[name]["img_per_s"] > 0
    assert "picked cpu" in rows["device auto"]["note"] and "gloo" in rows["torchrun"]["note"]
    for name in ("fp16 + scaler", "cudnn"):
        assert rows[name]["status"] == "skipped" and "needs CUDA" in rows[name]["note"]
    assert "no CUDA GPU" in table["device"]
