"""EMA follows its formula; batch-norm statistics are re-estimated from the model's outputs."""

import pytest
import torch
from torch import nn

from gankit.training.ema import EMA, recompute_bn_stats


def tiny_bn_g() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))


def test_update_matches_formula_and_copies_before_start():
    G = tiny_bn_g()
    ema = EMA(G, decay=0.9, start_step=2)
    assert not ema.model.training
    assert not any(p.requires_grad for p in ema.model.parameters())
    assert all(p.requires_grad for p in G.parameters())

    with torch.no_grad():
        G[0].weight.add_(1.0)
    ema.update(G, step=1)  # before start_step: plain copy
    assert torch.equal(ema.model[0].weight, G[0].weight)

    old = {k: v.clone() for k, v in ema.model.named_parameters()}
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(-2.0).add_(0.5)
    ema.update(G, step=2)
    for name, p in G.named_parameters():
        expected = 0.9 * old[name] + 0.1 * p
        assert torch.allclose(dict(ema.model.named_parameters())[name], expected, atol=1e-6)


def test_buffers_are_copied_not_averaged():
    G = tiny_bn_g()
    ema = EMA(G, decay=0.99)
    G.train()
    G(torch.randn(16, 2) * 3 + 5)
    ema.update(G, step=10)
    assert torch.equal(ema.model[1].running_mean, G[1].running_mean)
    assert torch.equal(ema.model[1].num_batches_tracked, G[1].num_batches_tracked)


def test_state_dict_roundtrip_plain_tensors():
    G = tiny_bn_g()
    ema = EMA(G, 0.999)
    sd = ema.state_dict()
    assert all(type(v) is torch.Tensor for v in sd.values())
    other = EMA(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)), 0.999)
    other.load_state_dict(sd)
    for k, v in other.model.state_dict().items():
        assert torch.equal(v, sd[k])


def test_recompute_bn_stats_matches_batch_means():
    G = tiny_bn_g()
    G.eval()
    bn = G[1]
    bn.momentum = 0.3
    weight_before = G[0].weight.clone()
    g = torch.Generator().manual_seed(1)
    zs = [torch.randn(32, 2, generator=g) + torch.tensor([2.0, -1.0]) for _ in range(5)]
    it = iter(zs)
    recompute_bn_stats(G, lambda n: next(it), n_batches=5, batch_size=32)

    with torch.no_grad():
        feats = [G[0](z) for z in zs]
    # momentum=None: the cumulative average of per-batch means (unbiased variances)
    expected_mean = torch.stack([f.mean(0) for f in feats]).mean(0)
    expected_var = torch.stack([f.var(0, unbiased=True) for f in feats]).mean(0)
    assert torch.allclose(bn.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(bn.running_var, expected_var, atol=1e-5)
    # equal batch sizes: also the mean over all samples
    assert torch.allclose(bn.running_mean, torch.cat(feats).mean(0), atol=1e-5)
    assert not G.training and not bn.training  # modes restored
    assert bn.momentum == 0.3
    assert torch.equal(G[0].weight, weight_before)


def test_recompute_bn_stats_tuple_input_and_fixes_copied_stats():
    class CondG(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(3, 2)
            self.body = tiny_bn_g()

        def forward(self, z, y):
            return self.body(z + self.emb(y))

    G = CondG()
    G.train()
    ema = EMA(G, 0.5)
    for _ in range(3):  # raw G trains on inputs with a very different mean
        G(torch.randn(16, 2) + 10, torch.zeros(16, dtype=torch.long))
    ema.update(G, 1)
    sampler = lambda n: (torch.randn(n, 2), torch.randint(0, 3, (n,)))  # noqa: E731
    stale = ema.model.body[1].running_mean.clone()
    recompute_bn_stats(ema.model, sampler, n_batches=4, batch_size=64)
    fresh = ema.model.body[1].running_mean
    torch.manual_seed(5)
    with torch.no_grad():
        z, y = sampler(4096)
        actual = ema.model.body[0](z + ema.model.emb(y)).mean(0)
    assert (fresh - actual).abs().max().item() < 0.2
    assert (stale - actual).abs().max().item() > 1.0
    assert not ema.model.training


def test_recompute_without_bn_is_noop():
    G = nn.Linear(2, 2)
    calls = []
    recompute_bn_stats(G, lambda n: calls.append(n) or torch.zeros(n, 2))
    assert calls == []


@pytest.mark.parametrize("sn", [False, True])
def test_ema_of_spectral_norm_model(sn):
    from gankit.models.layers import maybe_sn

    G = nn.Sequential(maybe_sn(nn.Linear(4, 4), sn))
    ema = EMA(G, 0.5)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    before = {k: v.clone() for k, v in ema.model.named_parameters()}
    ema.update(G, 0)
    for k, p in G.named_parameters():
        assert torch.allclose(dict(ema.model.named_parameters())[k], 0.5 * before[k] + 0.5 * p)
