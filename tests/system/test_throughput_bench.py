"""bench/throughput.py (`make bench`) at a few steps: the plain loop, gankit's loop and a variant
of it (here bf16 autocast) are timed in the same rounds, at 28 and 64 px, with FLOPs counted and
each loop's share of the matmul peak of its own precision."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))


@pytest.mark.slow
def test_throughput_times_plain_gankit_and_a_variant_side_by_side(tmp_path, shared_cache):
    import throughput

    rows = throughput.main(["--presets", "dcgan,dcgan@64", "--steps", "4", "--rounds", "1",
                            "--variant", "train.amp=bf16", "--json", str(tmp_path / "t.json")])
    assert [r["preset"] for r in rows] == ["dcgan", "dcgan@64"]
    small, large = rows
    assert large["gflop_per_step"] > 5 * small["gflop_per_step"] > 0  # 64 px costs far more a step
    for r in rows:
        assert r["plain_img_s"] > 0 and r["gankit_img_s"] > 0 and r["variant_img_s"] > 0
        assert r["variant_ratio"] == pytest.approx(r["variant_img_s"] / r["gankit_img_s"])
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["variant"] == ["train.amp=bf16"] and saved["peak_bf16_gflop_s"] > 0 and len(saved["rows"]) == 2
