"""The collapse monitor: what measure() reads off a batch, and when CollapseJudge warns (once a
condition starts, with cause and remedies, never during the warm-up)."""

from __future__ import annotations

import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.metrics import evaluator_for
from gankit.training.collapse import CollapseJudge, CollapseMonitor


def noise_images(n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def rows(start: int, n: int, every: int = 50, **values) -> list[dict]:
    return [{"step": start + i * every, **values} for i in range(n)]


def judge_all(judge: CollapseJudge, rs: list[dict]) -> list[str]:
    return sum((judge.update(r) for r in rs), [])


# -- measure -------------------------------------------------------------------------------

def test_repeated_samples_show_as_near_duplicates_though_their_spread_looks_real():
    mon = CollapseMonitor(None, noise_images(600, 0))
    fresh = mon.measure(noise_images(32, 1))
    assert fresh["diversity_ratio"] > 0.9 and fresh["nn_ratio"] > 0.9 and fresh["near_duplicates"] == 0
    # eight distinct images, each four times: the mean distance stays near the real one's,
    # only the nearest neighbours see the collapse
    few = mon.measure(noise_images(8, 2).repeat(4, 1, 1, 1))
    assert few["diversity_ratio"] > 0.85
    assert few["nn_ratio"] == 0 and few["near_duplicates"] == 1


def test_nearest_neighbour_reference_is_taken_at_the_samples_batch_size():
    mon = CollapseMonitor(None, noise_images(600, 0))
    assert mon.measure(noise_images(8, 1))["nn_ratio"] > 0.9
    assert mon.measure(noise_images(64, 1))["nn_ratio"] > 0.9
    assert set(mon.real_nn) == {8, 64} and mon.real_nn[64] < mon.real_nn[8]


def test_a_freshly_initialised_generator_looks_collapsed_hence_the_warm_up(fashion_dir):
    # why nothing is judged before step 1,000: an untrained G's samples are near-copies of each other
    from gankit.config import ModelConfig
    from gankit.models import build_models
    from gankit.util.imageio import to_uint8

    test = load_dataset(DataConfig(dataset="fashion-mnist", split="test"), str(fashion_dir))
    mon = CollapseMonitor(evaluator_for("fashion-mnist", test.class_names), test.images[:512])
    assert mon.measure(test.images[512:544])["near_duplicates"] == 0  # real images: none
    torch.manual_seed(0)
    G, _ = build_models(ModelConfig(conditional=True), (1, 28, 28), 10)
    with torch.no_grad():
        fresh = mon.measure(to_uint8(G(torch.randn(32, 100), torch.arange(32) % 10), "-1,1"))
    assert fresh["near_duplicates"] > 0.3 and fresh["nn_ratio"] < 0.5
    judge = CollapseJudge(n_classes=10, conditional=True, warmup=0)
    assert judge_all(judge, rows(0, 5, **fresh)) != []  # judged from step 0, a new run would be "collapsed"


def test_class_coverage_counts_recent_samples_and_names_missing_classes(fashion_dir):
    test = load_dataset(DataConfig(dataset="fashion-mnist", split="test"), str(fashion_dir))
    ev = evaluator_for("fashion-mnist", test.class_names)
    mon = CollapseMonitor(ev, test.images[:512], coverage_samples=256)
    images, labels = test.images, test.labels
    assert "classes_covered" not in mon.measure(images[:64])  # fewer than half the window so far
    assert mon.measure(images[64:128])["classes_covered"] == 10 and mon.missing == []
    only = images[(labels == 1) | (labels == 8)]  # trousers and bags only
    for k in range(4):
        m = mon.measure(only[k * 64:(k + 1) * 64])
    assert m["classes_covered"] == 2 and "Sneaker" in mon.missing and "Trouser" not in mon.missing


def test_stacked_mnist_modes_are_counted_over_a_window_that_can_hold_them(shared_datasets):
    from gankit.metrics.evaluator_folder import find_evaluator

    data = load_dataset(DataConfig(dataset="stacked-mnist", split="test", limit=12_000), str(shared_datasets / "mnist"))
    mon = CollapseMonitor(find_evaluator("stacked-mnist", data), data.images)
    # a window of 2,000 samples for 1,000 modes; real images cover ~86 % of them in one window
    assert mon.preds.maxlen == 2000 and mon.n_present > 990
    assert 800 < mon.expected_covered < 900 and 700 < mon.expected_effective < 900
    judge = CollapseJudge(n_classes=mon.n_present, expected_effective=mon.expected_effective, warmup=0, rows=1)
    fresh = data.images[10_000:12_000]  # real stacks the reference did not see: healthy
    for k, chunk in enumerate(fresh.split(500)):
        m = mon.measure(chunk)
        assert judge.update({"step": k, **m}) == []
    assert m["classes_covered"] > 800
    # a generator that draws only digits 0 and 1 in each channel: 8 of the 1,000 modes
    digits = load_dataset(DataConfig(dataset="mnist", split="test"), str(shared_datasets / "mnist"))
    zeros_ones = digits.images[digits.labels <= 1][:2000, 0]
    collapsed = torch.stack([zeros_ones, zeros_ones.roll(1, 0), zeros_ones.roll(2, 0)], 1)
    warned = [judge.update({"step": 10 + k, **mon.measure(chunk)}) for k, chunk in enumerate(collapsed.split(500))]
    # (a few more than 8: the classifier misreads about 1 % of digits)
    assert mon.measure(collapsed[:500])["classes_covered"] < 30 and len(mon.missing) == 11  # ten names, "... more"
    # the first collapsed chunk already skews the window below what real images show over one
    assert warned[0][0].startswith("step 10: a few classes dominate the samples")
    assert "(real images: " in warned[0][0]


# -- judge ---------------------------------------------------------------------------------

def test_d_saturation_while_g_loss_climbs_warns_once():
    judge = CollapseJudge(warmup=0, window=5)
    assert judge_all(judge, rows(0, 5, d_acc_real=0.6, d_acc_fake=0.6, g_loss=1.0)) == []
    climbing = [{"step": s, "d_acc_real": 0.99, "d_acc_fake": 0.995, "g_loss": 1.0 + s} for s in range(5, 12)]
    warnings = judge_all(judge, climbing)
    assert len(warnings) == 1
    w = warnings[0]
    assert "D accuracy" in w and "likely cause" in w and "(1)" in w and "(2)" in w and "loss.real_label" in w


def test_d_saturation_with_flat_g_loss_is_not_a_warning():
    judge = CollapseJudge(warmup=0, window=5)
    assert judge_all(judge, rows(0, 20, d_acc_real=0.99, d_acc_fake=0.99, g_loss=2.0)) == []


def test_saturation_hint_offers_label_smoothing_only_for_losses_with_targets():
    from gankit.training.health import SATURATION_HINT
    from gankit.training.losses import LOSSES

    named = SATURATION_HINT.split("loss.real_label=0.9 (", 1)[1].split(")", 1)[0].split(", ")
    assert set(named) == {k for k, v in LOSSES.items() if v.uses_targets} == {"bce", "ns", "ns-sigmoid", "lsgan"}


def test_class_coverage_drop_warns_once_and_rearms():
    judge = CollapseJudge(n_classes=10, warmup=0)
    assert judge_all(judge, rows(0, 4, classes_covered=10)) == []
    assert judge_all(judge, rows(200, 1, classes_covered=9)) == []  # one class: within the tolerance
    warnings = judge.update({"step": 250, "classes_covered": 8}, missing=["Sneaker", "Bag"])
    assert len(warnings) == 1 and "8 of 10" in warnings[0] and "missing: Sneaker, Bag" in warnings[0]
    assert judge_all(judge, rows(300, 3, classes_covered=7)) == []  # still on: said once
    assert judge_all(judge, rows(450, 1, classes_covered=10)) == []  # cleared
    assert len(judge_all(judge, rows(500, 1, classes_covered=6))) == 1  # re-armed


def test_nothing_is_judged_during_the_warm_up():
    judge = CollapseJudge(n_classes=10, warmup=1000)
    collapsed = rows(0, 20, classes_covered=1, diversity_ratio=0.0, nn_ratio=0.0, near_duplicates=1.0,
                     d_acc_real=1.0, d_acc_fake=1.0, g_loss=9.0)
    assert judge_all(judge, collapsed) == []
    assert judge_all(judge, rows(1000, 12, diversity_ratio=0.0, nn_ratio=0.0, near_duplicates=1.0)) != []
