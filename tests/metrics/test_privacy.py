"""metrics/privacy.py on real Fashion-MNIST tensors: a "generator" that returns training images
verbatim is caught (memorisation rate 1), noise and unseen real images are not; and
`gankit evaluate --privacy` on a tiny real run writes its metrics, its pairs image and its
report section."""

import json

import pytest
import torch
from tiny_runs import FASHION, tiny_run

from gankit.cli import main
from gankit.metrics import evaluator_for, format_table
from gankit.metrics import privacy as pv


def test_chunked_nearest_neighbours_match_brute_force():
    g = torch.Generator().manual_seed(0)
    ref, query = torch.randn(300, 20, generator=g) + 50.0, torch.randn(70, 20, generator=g) + 50.0
    query[:5] = ref[[7, 8, 9, 10, 11]]  # exact copies: distance exactly 0 after the float64 recompute
    dist, idx = pv.nearest_neighbours(query, ref, max_block=600)  # 2 rows per block
    full = torch.cdist(query.double(), ref.double())
    assert torch.equal(idx, full.argmin(1))
    assert torch.allclose(dist, full.min(1).values, atol=1e-9)
    assert dist[:5].tolist() == [0.0] * 5 and idx[:5].tolist() == [7, 8, 9, 10, 11]


@pytest.fixture(scope="module")
def split(fashion_train, fashion_test):
    """2,000 training images; 1,000 unseen test images for the threshold, 400 more to check it."""
    return fashion_train.images[:2000], fashion_test.images[:1000], fashion_test.images[1000:1400]


@pytest.mark.parametrize("space", ["pixel", "feature"])
def test_copies_are_memorised_noise_and_unseen_images_are_not(split, space):
    train, test, held_out = split
    if space == "pixel":
        to_space = pv.pixel_vectors
    else:
        ev = evaluator_for("fashion-mnist", [])
        to_space = lambda u8: ev.embed(u8)[0]  # noqa: E731
    ref = to_space(train)
    unseen = pv.unseen_stats(pv.nearest_neighbours(to_space(test), ref)[0])

    def report(gen):
        return pv.space_report(pv.nearest_neighbours(to_space(gen), ref)[0], unseen)

    copies = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(1))[:200]]
    noise = torch.randint(0, 256, (200, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    copied = report(copies)
    assert copied["memorisation_rate"] == 1.0
    if space == "pixel":
        assert copied["exact_copies"] == 200 and copied["generated"]["p50"] == 0.0 < copied["threshold"]
    else:  # features of one image may differ in the last bits with the batch it was embedded in
        assert copied["generated"]["mean"] < 1e-3 * copied["threshold"]
    assert report(noise)["memorisation_rate"] == 0.0
    real = report(held_out)
    assert real["memorisation_rate"] < 0.05  # about 0.01 by construction of the threshold
    assert real["generated"]["p50"] == pytest.approx(real["test"]["p50"], rel=0.15)


def test_closest_pairs_put_each_sample_beside_its_nearest_training_image(split):
    train, _, held_out = split
    gen = torch.cat([held_out[:20], train[100:101]])  # one verbatim copy among them
    dist, idx = pv.nearest_neighbours(pv.pixel_vectors(gen), pv.pixel_vectors(train))
    grid, dists = pv.closest_pairs(gen, train, dist, idx, k=4, per_row=2)
    assert dists[0] == 0.0 and dists == sorted(dists)
    assert tuple(grid.shape) == (4 + 2 * 32, 4 + 2 * (56 + 4), 1)  # 2 x 2 cells of 28 x 56 pairs, 4 px padding
    first = grid[4:32, 4:60, 0]
    assert torch.equal(first[:, :28], first[:, 28:])  # the copy and its training image, side by side


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), True, reference_cache)


def test_evaluate_privacy_writes_metrics_pairs_and_report(cond_run, capsys):
    (cond_run.path / "metrics.json").write_text(json.dumps({"fid": 99.0}))  # from an earlier `gankit evaluate`
    assert main(["evaluate", str(cond_run.path), "--privacy", "--n", "200", "--data-dir", str(FASHION)]) == 0
    out = capsys.readouterr().out
    m = json.loads((cond_run.path / "metrics.json").read_text())
    assert m["fid"] == 99.0  # the other metrics stay
    p = m["privacy"]
    assert p["n"] == 200 and p["train_size"] == 256 and p["test_size"] == 10000  # G's own 256 images
    for space in ("pixel", "feature"):
        s = p[space]
        assert 0.0 <= s["memorisation_rate"] <= 1.0 and s["threshold"] == pytest.approx(s["test"]["p01"])
        assert set(s["generated"]) == {"min", "p01", "p05", "p50", "mean"}
    assert p["step"] == 4 and "1st percentile" in p["threshold_definition"]
    assert (cond_run.path / "samples" / "privacy_pairs.png").is_file() and len(p["pairs_distances"]) == 8
    assert "Privacy: nearest-training-image distance" in out and "memorisation rate" in format_table(m)
    page = (cond_run.path / "report.html").read_text()
    assert "<h2>Privacy: nearest training images</h2>" in page and "Closest pairs" in page
