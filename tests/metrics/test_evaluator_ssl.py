"""SimCLR's pieces (metrics/evaluator_ssl.py): the loss, the views, the held-out quality."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gankit.metrics.evaluator_ssl import PROJECTION_DIM, fit_ssl, nt_xent, ssl_quality, views
from gankit.models.evaluator_net import EvalNet


def test_nt_xent_is_low_for_matching_views_and_chance_for_random_ones():
    torch.manual_seed(0)
    z = torch.randn(64, 16)
    same, acc = nt_xent(z, z + 0.01 * torch.randn_like(z))
    assert acc == 1.0 and same < 0.5 * math.log(127)
    rand, _ = nt_xent(z, torch.randn(64, 16), temperature=1.0)
    assert abs(float(rand) - math.log(127)) < 0.5  # about log(2B-1): no pair found


def test_views_change_the_images_and_keep_their_shape():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    v1, v2 = views(x), views(x)
    assert v1.shape == x.shape and not torch.equal(v1, x) and not torch.equal(v1, v2)


def test_fit_ssl_is_seeded_and_learns_to_find_pairs():
    g = torch.Generator().manual_seed(0)
    blobs = torch.randint(0, 256, (256, 1, 4, 4), generator=g).float()  # coarse patterns a view keeps
    x = F.interpolate(blobs, size=(16, 16), mode="bilinear").to(torch.uint8)
    a, b = fit_ssl(x, (8, 16), 30, seed=3, batch_size=64), fit_ssl(x, (8, 16), 30, seed=3, batch_size=64)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)
    torch.manual_seed(3)
    untrained = ssl_quality(EvalNet(1, 16, PROJECTION_DIM, [8, 16]), x, batch_size=64)
    trained = ssl_quality(a, x, batch_size=64)
    assert trained["ssl_loss"] < untrained["ssl_loss"]
    assert trained["ssl_pair_accuracy"] > max(untrained["ssl_pair_accuracy"], 3 * trained["ssl_chance_accuracy"])
