"""CollapseMonitor: each signal fires once when its condition starts, with cause and remedies."""

from __future__ import annotations

import torch

from gankit.metrics import evaluator_for
from gankit.training.collapse import CollapseMonitor


def noise_images(n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_d_saturation_while_g_loss_climbs_warns_once():
    mon = CollapseMonitor(None, noise_images(64, 0), window=5)
    warnings = []
    for step in range(5):  # D balanced, G loss flat
        warnings += mon.update(step, 0.6, 0.6, 1.0)
    assert warnings == []
    for step in range(5, 12):  # D near-perfect, G loss climbing
        warnings += mon.update(step, 0.99, 0.995, 1.0 + step)
    assert len(warnings) == 1
    w = warnings[0]
    assert "D accuracy" in w and "likely cause" in w and "(1)" in w and "(2)" in w and "loss.real_label" in w


def test_d_saturation_with_flat_g_loss_is_not_a_warning():
    mon = CollapseMonitor(None, noise_images(64, 0), window=5)
    assert sum((mon.update(s, 0.99, 0.99, 2.0) for s in range(20)), []) == []


def test_diversity_drop_warns_and_rearms():
    real = noise_images(256, 1)
    mon = CollapseMonitor(None, real, window=5)
    assert mon.update(0, None, None, None, noise_images(64, 2)) == []
    assert mon.stats["diversity_ratio"] > 0.9  # noise vs noise: the same diversity
    same = noise_images(1, 3).repeat(64, 1, 1, 1)  # every sample identical
    warnings = sum((mon.update(s, None, None, None, same) for s in range(1, 6)), [])
    assert len(warnings) == 1 and "diversity" in warnings[0] and "model.mbstd" in warnings[0]


def test_class_coverage_drop_names_missing_classes(fashion_test):
    ev = evaluator_for("fashion-mnist", fashion_test.class_names)
    mon = CollapseMonitor(ev, fashion_test.images[:512], coverage_samples=256)
    images, labels = fashion_test.images, fashion_test.labels
    warnings = []
    for step in range(4):  # all classes
        warnings += mon.update(step, None, None, None, images[step * 64:(step + 1) * 64])
    assert warnings == [] and mon.stats["classes_covered"] == 10
    only = images[(labels == 1) | (labels == 8)]  # trousers and bags only
    for step in range(4, 10):
        warnings += mon.update(step, None, None, None, only[(step - 4) * 64:(step - 3) * 64])
    coverage = [w for w in warnings if "classes" in w]
    assert len(coverage) == 1 and "Sneaker" in coverage[0] and "Trouser" not in coverage[0].split("missing:")[1]


def test_saturation_hint_offers_label_smoothing_only_for_losses_with_targets():
    from gankit.training.health import SATURATION_HINT
    from gankit.training.losses import LOSSES

    named = SATURATION_HINT.split("loss.real_label=0.9 (", 1)[1].split(")", 1)[0].split(", ")
    assert set(named) == {k for k, v in LOSSES.items() if v.uses_targets} == {"bce", "ns", "ns-sigmoid", "lsgan"}
