"""StackedMNIST mode coverage (metrics/modes.py): the counts and the KL by hand, and the shipped
MNIST classifier reading real stacked digits back."""

import math

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.modes import MODES, kl_uniform_floor, mode_metrics, modes_of


def test_modes_covered_and_kl_by_hand():
    assert mode_metrics(torch.arange(MODES)) == {"modes_covered": 1000, "modes_kl": pytest.approx(0.0, abs=1e-12)}
    one = mode_metrics(torch.full((500,), 7))  # total collapse onto one mode
    assert one["modes_covered"] == 1 and one["modes_kl"] == pytest.approx(math.log(1000))
    half = mode_metrics(torch.tensor([1, 1, 2, 2]))  # two modes, half each: log(0.5 * 1000)
    assert half == {"modes_covered": 2, "modes_kl": pytest.approx(math.log(500))}


def test_a_perfect_generator_still_scores_a_small_kl_at_finite_n():
    floor = kl_uniform_floor(26_000, trials=5)
    assert 0.01 < floor < 0.03  # ~ (1000 - 1) / (2 * 26,000): the sampling floor printed beside a run's


def test_the_classifier_reads_stacked_digits_back(shared_datasets):
    from gankit.config import DataConfig
    from gankit.data.mnist import load_mnist

    digits = load_mnist(DataConfig(dataset="mnist", split="test"), str(shared_datasets / "mnist"))
    idx = torch.randint(0, len(digits), (2000, 3), generator=torch.Generator().manual_seed(1))
    images = digits.images[:, 0][idx]
    truth = digits.labels[idx[:, 0]] * 100 + digits.labels[idx[:, 1]] * 10 + digits.labels[idx[:, 2]]
    read = modes_of(images)
    assert float((read == truth).float().mean()) > 0.96  # ~0.99^3 for three digits at once
    with pytest.raises(GankitError, match=r"needs uint8 RGB images \[N, 3, H, W\] \(StackedMNIST\)"):
        modes_of(images[:, :1])


def test_the_stacked_evaluator_is_the_mnist_classifier_per_channel(shared_datasets):
    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics.evaluator_folder import find_evaluator
    from gankit.metrics.modes import StackedMnistEvaluator

    data = load_dataset(DataConfig(dataset="stacked-mnist", split="test", limit=300), str(shared_datasets / "mnist"))
    ev = find_evaluator("stacked-mnist", data)
    assert isinstance(ev, StackedMnistEvaluator) and len(ev.class_names) == MODES
    feats, logits = ev.embed(data.images)
    assert feats.shape == (300, 3 * ev.clf.num_features) and logits.shape == (300, MODES)
    assert torch.allclose(torch.logsumexp(logits, 1), torch.zeros(300), atol=1e-4)  # log-probabilities of modes
    assert torch.equal(logits.argmax(1), modes_of(data.images, ev.clf))  # the most likely mode = the digits read


def test_a_runs_mode_figures_come_from_the_evaluations_mode_histograms():
    from gankit.metrics.modes import stacked_mnist_modes

    hist, floor = [0] * MODES, [1] * MODES
    hist[7] = 500  # total collapse
    m = stacked_mnist_modes({"class_hist": hist, "floor_class_hist": floor})
    assert m == {"modes_covered": 1, "modes_kl": pytest.approx(math.log(1000)), "floor_modes_covered": 1000,
                 "floor_modes_kl": pytest.approx(0.0, abs=1e-12), "modes_n": 500}
