"""Each loss against values computed by hand from fixed logits."""

import math

import pytest
import torch

from gankit.training.losses import LOSSES, accuracy, generator_loss, mirror, top_k


def sp(v: float) -> float:
    """softplus(v) = log(1 + e^v)"""
    return math.log1p(math.exp(v))


REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([-2.0, 0.5])


def close(t: torch.Tensor, expected: float) -> None:
    assert t.dim() == 0
    assert t.item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_registry_flags():
    assert set(LOSSES) == {"bce", "ns", "ns-sigmoid", "hinge", "wgan", "wgan-gp", "lsgan", "rpgan"}
    assert {k for k, v in LOSSES.items() if v.pair is not None} == {"rpgan"}
    assert {k for k, v in LOSSES.items() if not v.zero_centred} == {"wgan", "wgan-gp"}
    assert {k for k, v in LOSSES.items() if v.uses_targets} == {"bce", "ns", "ns-sigmoid", "lsgan"}
    assert LOSSES["lsgan"].threshold == 0.5
    assert all(LOSSES[k].threshold == 0.0 for k in ("bce", "ns", "ns-sigmoid", "hinge", "wgan-gp"))
    assert all(v.description for v in LOSSES.values())
    assert LOSSES["wgan"].clip == 0.01 and all(v.clip is None for k, v in LOSSES.items() if k != "wgan")


@pytest.mark.parametrize("name", ["bce", "ns", "ns-sigmoid"])
def test_bce_d_hard_targets(name):
    # real target 1: -log sigmoid(l) = softplus(-l); fake target 0: -log(1 - sigmoid(l)) = softplus(l)
    expected = (sp(-2.0) + sp(1.0)) / 2 + (sp(-2.0) + sp(0.5)) / 2
    close(LOSSES[name].d_loss(REAL, FAKE, 1.0, 0.0), expected)


@pytest.mark.parametrize("name", ["bce", "ns", "ns-sigmoid"])
def test_bce_d_soft_targets(name):
    # target t: t*softplus(-l) + (1-t)*softplus(l)
    def bce(l, t):
        return t * sp(-l) + (1 - t) * sp(l)

    expected = (bce(2.0, 0.9) + bce(-1.0, 0.9)) / 2 + (bce(-2.0, 0.1) + bce(0.5, 0.1)) / 2
    close(LOSSES[name].d_loss(REAL, FAKE, 0.9, 0.1), expected)
    # per-sample targets, as label noise / flips produce
    rt, ft = torch.tensor([0.8, 0.0]), torch.tensor([0.15, 1.0])
    expected = (bce(2.0, 0.8) + bce(-1.0, 0.0)) / 2 + (bce(-2.0, 0.15) + bce(0.5, 1.0)) / 2
    close(LOSSES[name].d_loss(REAL, FAKE, rt, ft), expected)


def test_logits_shape_n1_same_as_n():
    for loss in LOSSES.values():
        a = loss.d_loss(REAL, FAKE, 0.9, 0.1)
        b = loss.d_loss(REAL[:, None], FAKE[:, None], torch.tensor([0.9, 0.9]), 0.1)
        assert a.item() == pytest.approx(b.item(), rel=1e-6)
        g = generator_loss(loss, FAKE, real_logits=REAL)  # a pairing loss reads the real partners too
        assert g.item() == pytest.approx(generator_loss(loss, FAKE[:, None], real_logits=REAL[:, None]).item(), rel=1e-6)


def test_bce_minimax_g():
    # G minimises mean log(1 - sigmoid(l)) = -mean softplus(l)
    direct = (math.log(1 - 1 / (1 + math.exp(2.0))) + math.log(1 - 1 / (1 + math.exp(-0.5)))) / 2
    close(LOSSES["bce"].g_loss(FAKE), direct)
    close(LOSSES["bce"].g_loss(FAKE), -(sp(-2.0) + sp(0.5)) / 2)
    # stable where 1 - sigmoid(l) rounds to 0 in float32: -softplus(100) = -100
    close(LOSSES["bce"].g_loss(torch.tensor([100.0])), -100.0)


def test_ns_g():
    close(LOSSES["ns"].g_loss(FAKE), (sp(2.0) + sp(-0.5)) / 2)


def test_ns_does_not_saturate_where_minimax_does():
    # D confidently rejects the fake (l = -5): d/dl of minimax G loss = -sigmoid(-5) ~ -0.0067,
    # of the non-saturating one = -sigmoid(5) ~ -0.9933
    for name, expected in (("bce", -1 / (1 + math.exp(5))), ("ns", -1 / (1 + math.exp(-5)))):
        l = torch.tensor([-5.0], requires_grad=True)
        LOSSES[name].g_loss(l).backward()
        assert l.grad.item() == pytest.approx(expected, rel=1e-5)


def test_ns_sigmoid_is_sigmoid_then_bceloss_with_its_clamp():
    # nn.Sigmoid() + nn.BCELoss() as the MNIST study's D and loss: equal to the fused ns loss
    # for moderate logits ...
    bceloss, sig = torch.nn.BCELoss(), torch.nn.Sigmoid()
    real, fake = torch.tensor([3.0, -1.0]), torch.tensor([-2.0, 0.5])
    expected = bceloss(sig(real), torch.ones(2)) + bceloss(sig(fake), torch.zeros(2))
    close(LOSSES["ns-sigmoid"].d_loss(real, fake), expected.item())
    close(LOSSES["ns-sigmoid"].g_loss(fake), bceloss(sig(fake), torch.ones(2)).item())
    close(LOSSES["ns-sigmoid"].d_loss(real, fake), LOSSES["ns"].d_loss(real, fake).item())
    # ... but where D is confident the probability is exactly 0 in float32: BCELoss clamps the
    # log at -100 and G gets no gradient, where BCEWithLogitsLoss's G still learns
    for name, has_gradient in (("ns-sigmoid", False), ("ns", True)):
        fake = torch.tensor([-120.0], requires_grad=True)
        g = LOSSES[name].g_loss(fake)
        g.backward()
        assert (fake.grad.abs().item() > 0.5) is has_gradient, name
        if name == "ns-sigmoid":
            assert g.item() == pytest.approx(100.0)  # the clamp: -log(0) read as 100
            assert g.item() == pytest.approx(bceloss(sig(fake.detach()), torch.ones(1)).item())


def test_ns_sigmoid_under_bf16_autocast_is_computed_in_float32():
    logits = torch.tensor([1.0, -2.0], dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = LOSSES["ns-sigmoid"].d_loss(logits, logits)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_hinge():
    # real: relu(1-2)=0, relu(1+1)=2 -> 1; fake: relu(1-2)=0, relu(1+0.5)=1.5 -> 0.75
    close(LOSSES["hinge"].d_loss(REAL, FAKE, 1.0, 0.0), 1.75)
    close(LOSSES["hinge"].d_loss(REAL, FAKE, 0.3, 0.7), 1.75)  # targets ignored
    close(LOSSES["hinge"].g_loss(FAKE), 0.75)  # -mean(-2, 0.5)


def test_wgan():
    # mean(fake) - mean(real) = -0.75 - 0.5
    close(LOSSES["wgan-gp"].d_loss(REAL, FAKE, 1.0, 0.0), -1.25)
    close(LOSSES["wgan-gp"].d_loss(REAL, FAKE, torch.tensor([0.2, 0.1]), 0.9), -1.25)
    close(LOSSES["wgan-gp"].g_loss(FAKE), 0.75)


def test_lsgan():
    # b=1: 0.5*mean((2-1)^2, (-1-1)^2) = 1.25; a=0: 0.5*mean(4, 0.25) = 1.0625
    close(LOSSES["lsgan"].d_loss(REAL, FAKE, 1.0, 0.0), 2.3125)
    # b=0.9: 0.5*mean(1.1^2, 1.9^2) = 1.205; a=0.1: 0.5*mean(2.1^2, 0.4^2) = 1.1425
    close(LOSSES["lsgan"].d_loss(REAL, FAKE, 0.9, 0.1), 2.3475)
    close(LOSSES["lsgan"].d_loss(REAL, FAKE, torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])),
          0.5 * (1 + 1) / 2 + 0.5 * (4 + 0.25) / 2)
    close(LOSSES["lsgan"].g_loss(FAKE), 0.5 * (9 + 0.25) / 2)  # c = 1


def test_accuracy():
    real = torch.tensor([2.0, -1.0, 3.0, 0.2])
    fake = torch.tensor([-2.0, 0.5, -0.1, -3.0])
    assert accuracy(real, fake, 0.0) == pytest.approx((0.75, 0.75, 0.25))
    # lsgan threshold 0.5: real > 0.5 for 2, 3; no fake above 0.5 (0.5 itself is not)
    assert accuracy(real, fake, 0.5) == pytest.approx((0.5, 1.0, 0.0))
    # swapped convention: low output means real
    assert accuracy(-real, -fake, 0.0, swap=True) == pytest.approx((0.75, 0.75, 0.25))
    assert accuracy(real[:, None], fake[:, None], 0.0) == pytest.approx((0.75, 0.75, 0.25))


@pytest.mark.parametrize("name", ["bce", "ns", "lsgan"])
def test_swapped_labels_are_the_mirror_image(name):
    loss = LOSSES[name]
    thr = loss.threshold
    normal = loss.d_loss(REAL, FAKE, 0.9, 0.1)
    swapped = loss.d_loss(mirror(REAL, thr), mirror(FAKE, thr), 0.1, 0.9)
    assert swapped.item() == pytest.approx(normal.item(), rel=1e-6)
    g = generator_loss(loss, mirror(FAKE, thr), swap=True)
    assert g.item() == pytest.approx(loss.g_loss(FAKE).item(), rel=1e-6)
    assert generator_loss(loss, FAKE).item() == loss.g_loss(FAKE).item()


def test_ns_swapped_g_targets_zero():
    # with real=0 the generator wants D(G(z)) -> 0: BCE against 0 = mean softplus(l)
    close(generator_loss(LOSSES["ns"], FAKE, swap=True), (sp(-2.0) + sp(0.5)) / 2)


def test_d_parts_split_real_and_fake():
    hinge = LOSSES["hinge"].d_parts(REAL, FAKE)
    assert [t.item() for t in hinge] == pytest.approx([1.0, 0.75])
    wgan = LOSSES["wgan-gp"].d_parts(REAL, FAKE)
    assert [t.item() for t in wgan] == pytest.approx([-0.5, -0.75])
    ns = LOSSES["ns"].d_parts(REAL, FAKE, 1.0, 0.0)
    assert [t.item() for t in ns] == pytest.approx([(sp(-2.0) + sp(1.0)) / 2, (sp(-2.0) + sp(0.5)) / 2])
    ls = LOSSES["lsgan"].d_parts(REAL, FAKE, 0.9, 0.1)
    assert [t.item() for t in ls] == pytest.approx([0.5 * (1.21 + 3.61) / 2, 0.5 * (4.41 + 0.16) / 2])
    for loss in LOSSES.values():
        r, f = loss.d_parts(REAL, FAKE, 0.9, 0.1)
        assert loss.d_loss(REAL, FAKE, 0.9, 0.1).item() == pytest.approx((r + f).item())


def test_top_k_keeps_the_most_real_rated_fakes():
    logits = torch.tensor([0.5, -2.0, 3.0, -0.1, 1.0])
    assert torch.equal(top_k(logits, 1.0), logits)  # off: every fake
    assert top_k(logits, 0.5).tolist() == [3.0, 1.0, 0.5]  # ceil(2.5) = 3
    assert top_k(logits, 1e-6).tolist() == [3.0]  # at least one
    assert top_k(logits.view(5, 1), 0.4).tolist() == [3.0, 1.0]


@pytest.mark.parametrize("name", ["ns", "hinge", "lsgan"])
def test_generator_loss_top_k_with_swapped_labels_keeps_the_lowest(name):
    # a swapped-label D says "real" with low outputs: the kept fakes are the lowest ones
    loss, logits = LOSSES[name], torch.tensor([0.5, -2.0, 3.0, -0.1])
    kept = mirror(torch.tensor([-2.0, -0.1]), loss.threshold)
    assert generator_loss(loss, logits, swap=True, keep=0.5).item() == pytest.approx(loss.g_loss(kept).item())
