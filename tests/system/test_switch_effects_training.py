"""The effect of each loss, optimiser, target, view and EMA switch, measured against the preset
without it, through the training code path (d_objective, g_objective, d_targets, DView, EMA)."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.data.diffaugment import resolve as resolve_diffaugment
from gankit.models import build_models
from gankit.runs.layout import create_run_dir
from tiny_runs import resolved_train as train
from gankit.training.losses import LOSSES, accuracy, generator_loss
from gankit.training.objectives import DView, d_objective, g_objective, topk_keep, with_mode_seeking
from gankit.training.penalties import mode_seeking
from gankit.training.targets import d_targets
from tests.switch_cases import CLASSES, SHAPE, cfg_for, fake_data, state_for


class Scaled(nn.Module):
    """A 'discriminator' whose logit is c * (sum of its input): feed it logits / c."""

    def __init__(self, c: float = 1.0):
        super().__init__()
        self.c = c

    def forward(self, x, y=None):
        return self.c * x.flatten(1).sum(1)


REAL_L, FAKE_L = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -2.0])


def objective_values(cfg, c: float = 1.0) -> tuple[float, float, float, float]:
    """(D real part, D fake part, D total, G loss) on the fixed logits REAL_L / FAKE_L, through
    the training code path: the config's loss, its targets, d_objective and g_objective."""
    lo = cfg.loss
    loss = LOSSES[lo.name]
    D = Scaled(c)
    real_t, fake_t = d_targets(2, lo.real_label, lo.label_noise, lo.label_flip, lo.swap_labels,
                               generator=torch.Generator().manual_seed(0))
    d = d_objective(D, loss, lo, (REAL_L / c)[:, None], (FAKE_L / c)[:, None], None, real_t, fake_t)
    g, _ = g_objective(D, loss, (FAKE_L / c)[:, None], None, lo.swap_labels)
    return d.real.item(), d.fake.item(), d.total.item(), g.item()


def test_bce_loss_values():
    r, f, total, g = objective_values(cfg_for("bce"))
    assert r == pytest.approx(F.softplus(-REAL_L).mean().item())  # -log sigmoid(l)
    assert f == pytest.approx(F.softplus(FAKE_L).mean().item())  # -log(1 - sigmoid(l))
    assert total == pytest.approx(r + f)
    assert g == pytest.approx(-F.softplus(FAKE_L).mean().item())  # minimax G: log(1 - D(G(z)))
    # the default (ns) G loss is the non-saturating one, a different number on the same logits
    assert objective_values(cfg_for(None))[3] == pytest.approx(F.softplus(-FAKE_L).mean().item())
    assert g != pytest.approx(objective_values(cfg_for(None))[3])


def test_hinge_loss_values():
    r, f, total, g = objective_values(cfg_for("hinge"))
    assert r == pytest.approx(F.relu(1 - REAL_L).mean().item()) and r == pytest.approx(1.0)
    assert f == pytest.approx(F.relu(1 + FAKE_L).mean().item()) and f == pytest.approx(0.75)
    assert total == pytest.approx(1.75)
    assert g == pytest.approx(-FAKE_L.mean().item())
    assert (r, f) != pytest.approx(objective_values(cfg_for(None))[:2])


def test_wgan_gp_loss_values_and_penalty():
    cfg = cfg_for("wgan-gp")
    assert cfg.train.n_critic == 2 and cfg.loss.gp_weight == 10
    # D = 2 * x: the input gradient has norm 2 at every interpolate, penalty (2 - 1)^2 = 1
    r, f, total, g = objective_values(cfg, c=2.0)
    assert r == pytest.approx(-REAL_L.mean().item()) and f == pytest.approx(FAKE_L.mean().item())
    assert total == pytest.approx(r + f + 10 * 1.0, rel=1e-5)
    assert g == pytest.approx(-FAKE_L.mean().item())
    # D = x: gradient norm 1, no penalty
    assert objective_values(cfg, c=1.0)[2] == pytest.approx(r + f, abs=1e-5)
    assert objective_values(cfg_for(None), c=2.0)[2] != pytest.approx(total)


def test_wgan_clips_every_critic_parameter_after_each_d_step(tmp_path):
    cfg = cfg_for("wgan", extra=("train.max_steps=3", "train.ema=false"))
    r, f, total, g = objective_values(cfg, c=2.0)  # the critic loss, no penalty
    assert total == pytest.approx(-REAL_L.mean().item() + FAKE_L.mean().item()) and g == -FAKE_L.mean().item()
    runs = {}
    for name, extra in (("wgan", ()), ("wider", ("loss.clip_value=0.05",)), ("wgan-gp", None)):
        c = cfg_for(name if extra is None else "wgan", extra=("train.max_steps=3", "train.ema=false", *(extra or ())))
        run = create_run_dir(tmp_path, name)
        run.write_config(c)
        train(c, run, data=fake_data())
        from gankit.runs.checkpoint import load_state

        runs[name] = max(v.abs().max().item() for v in load_state(run.last_checkpoint)["D"].values()
                         if v.is_floating_point() and v.dim() > 0)
    eps = 1e-6  # the bounds in float32
    assert runs["wgan"] <= 0.01 + eps and 0.01 + eps < runs["wider"] <= 0.05 + eps
    assert runs["wgan-gp"] > 0.05  # nothing clips the gradient-penalty critic


def test_lsgan_loss_values():
    r, f, total, g = objective_values(cfg_for("lsgan"))
    assert r == pytest.approx(0.5 * ((REAL_L - 1) ** 2).mean().item()) and r == pytest.approx(1.25)
    assert f == pytest.approx(0.5 * (FAKE_L ** 2).mean().item()) and f == pytest.approx(1.0625)
    assert g == pytest.approx(0.5 * ((FAKE_L - 1) ** 2).mean().item()) and g == pytest.approx(2.3125)
    assert LOSSES[cfg_for("lsgan").loss.name].threshold == 0.5  # D says "real" above 0.5, not 0
    assert (r, f, g) != pytest.approx(objective_values(cfg_for(None))[:2] + objective_values(cfg_for(None))[3:])


def test_r1_adds_half_gamma_mean_squared_input_gradient():
    cfg, base = cfg_for("r1"), cfg_for(None)
    gamma = cfg.loss.r1_gamma
    assert gamma == 1.0 and base.loss.r1_gamma == 0
    torch.manual_seed(0)
    _, D = build_models(cfg.model, SHAPE, CLASSES)
    D = D.double()
    real, fake = torch.randn(4, *SHAPE, dtype=torch.float64), torch.randn(4, *SHAPE, dtype=torch.float64)
    rt, ft = torch.ones(4), torch.zeros(4)
    loss = LOSSES[cfg.loss.name]
    with_r1 = d_objective(D, loss, cfg.loss, real, fake, None, rt, ft).total
    without = d_objective(D, loss, base.loss, real, fake, None, rt, ft).total
    # ||grad_x D(x)||^2, one sample at a time
    sq = []
    for i in range(4):
        x = real[i:i + 1].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).sum(), x)
        sq.append(grad.pow(2).sum())
    expected = 0.5 * gamma * torch.stack(sq).mean()
    assert expected.item() > 1e-12
    assert (with_r1 - without).item() == pytest.approx(expected.item(), rel=1e-6)
    # lazy R1 (loss.r1_every=4): nothing at steps 1-3, four times the penalty at step 4
    lazy = dataclasses.replace(cfg.loss, r1_every=4)
    assert [d_objective(D, loss, lazy, real, fake, None, rt, ft, step).total.item() for step in (1, 2, 3)] == \
        pytest.approx([without.item()] * 3, rel=1e-9)
    at_4 = d_objective(D, loss, lazy, real, fake, None, rt, ft, 4).total
    assert (at_4 - without).item() == pytest.approx(4 * expected.item(), rel=1e-6)


def test_sgd_optimizer_with_momentum():
    st, base = state_for("sgd"), state_for(None)
    assert isinstance(base.opt_g, torch.optim.Adam)
    for opt in (st.opt_g, st.opt_d):
        assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    # two steps with gradient 1: p moves by lr, then by lr * (0.9 + 1) (the momentum buffer)
    p = next(st.D.parameters())
    lr, p0 = st.opt_d.param_groups[0]["lr"], p.detach().clone()
    for _ in range(2):
        for q in st.D.parameters():
            q.grad = torch.ones_like(q)
        st.opt_d.step()
    assert torch.allclose(p.detach(), p0 - lr * (1 + 1.9), atol=1e-7)


def test_rmsprop_optimizer():
    st, base = state_for("rmsprop"), state_for(None)
    assert isinstance(base.opt_d, torch.optim.Adam)
    assert isinstance(st.opt_g, torch.optim.RMSprop) and isinstance(st.opt_d, torch.optim.RMSprop)
    # first step with gradient g: mean square 0.01 g^2, so p moves by lr * g / (0.1 |g|) = 10 lr
    # (Adam's first step moves it by lr)
    p = next(st.D.parameters())
    lr, p0 = st.opt_d.param_groups[0]["lr"], p.detach().clone()
    for q in st.D.parameters():
        q.grad = torch.full_like(q, 0.5)
    st.opt_d.step()
    assert torch.allclose(p.detach(), p0 - 10 * lr, atol=1e-7)


def test_ttur_and_decay_lrs():
    st, base = state_for("ttur+decay", total_steps=4), state_for(None, total_steps=4)
    assert base.schedulers == [] and base.opt_g.param_groups[0]["lr"] == pytest.approx(5e-4)  # the default's
    assert base.opt_d.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert st.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert st.opt_d.param_groups[0]["lr"] == pytest.approx(4e-4)
    assert len(st.schedulers) == 2
    for k in range(1, 5):
        st.opt_g.step(), st.opt_d.step()  # no gradients: no-ops, keep the scheduler order warning away
        for s in st.schedulers:
            s.step()
        assert st.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4 * (1 - k / 4), abs=1e-12)
        assert st.opt_d.param_groups[0]["lr"] == pytest.approx(4e-4 * (1 - k / 4), abs=1e-12)


def targets_for(switch: str | None, n: int, seed: int = 0):
    lo = cfg_for(switch).loss
    return d_targets(n, lo.real_label, lo.label_noise, lo.label_flip, lo.swap_labels,
                     generator=torch.Generator().manual_seed(seed))


def test_smoothing_sets_real_targets_and_bce_real_part():
    real, fake = targets_for("smoothing", 8)
    assert torch.equal(real, torch.full((8,), 0.9)) and torch.equal(fake, torch.zeros(8))  # one-sided
    assert torch.equal(targets_for(None, 8)[0], torch.ones(8))
    r, f, _, _ = objective_values(cfg_for("smoothing"))
    assert r == pytest.approx((0.9 * F.softplus(-REAL_L) + 0.1 * F.softplus(REAL_L)).mean().item())
    assert r != pytest.approx(objective_values(cfg_for(None))[0])
    assert f == pytest.approx(F.softplus(FAKE_L).mean().item())


def test_label_noise_jitters_targets():
    real, fake = targets_for("label-noise", 4000)
    assert real.min() >= 0.85 and real.max() <= 1.0 and fake.min() >= 0.0 and fake.max() <= 0.15
    assert real.min() < 0.86 and real.max() > 0.99 and fake.max() > 0.14  # the whole range is used
    assert real.mean().item() == pytest.approx(1 - 0.075, abs=0.005)
    assert fake.mean().item() == pytest.approx(0.075, abs=0.005)
    base_real, base_fake = targets_for(None, 4000)
    assert torch.all(base_real == 1) and torch.all(base_fake == 0)


def test_label_flip_swaps_about_the_rate():
    n = 20000
    real, fake = targets_for("label-flip", n)
    flipped = real == 0
    assert 0.04 < flipped.float().mean().item() < 0.06  # label_flip=0.05 (6 sigma)
    assert torch.all(fake[flipped] == 1) and torch.all(real[~flipped] == 1) and torch.all(fake[~flipped] == 0)
    assert not torch.any(targets_for(None, n)[0] == 0)


def test_swap_labels_targets_generator_loss_and_accuracy():
    real, fake = targets_for("swap", 8)
    assert torch.all(real == 0) and torch.all(fake == 1)
    cfg = cfg_for("swap")
    assert cfg.loss.swap_labels
    loss = LOSSES[cfg.loss.name]
    # D is told real = 0: its real part is the BCE against 0, i.e. what 'fake' was
    r, f, _, g = objective_values(cfg)
    assert r == pytest.approx(F.softplus(REAL_L).mean().item())
    assert f == pytest.approx(F.softplus(-FAKE_L).mean().item())
    # G sees D's output mirrored: low logits now mean "real"
    assert g == pytest.approx(loss.g_loss(-FAKE_L).item())
    assert generator_loss(loss, FAKE_L, swap=True).item() == pytest.approx(loss.g_loss(-FAKE_L).item())
    assert g != pytest.approx(objective_values(cfg_for(None))[3])
    lsgan = LOSSES["lsgan"]
    assert generator_loss(lsgan, FAKE_L, swap=True).item() == pytest.approx(lsgan.g_loss(1 - FAKE_L).item())
    # accuracy: with swapped labels a real image with logit -1 counts as judged real
    assert accuracy(torch.tensor([-1.0]), torch.tensor([1.0]), 0.0, swap=True) == (1.0, 1.0, 0.0)
    assert accuracy(torch.tensor([-1.0]), torch.tensor([1.0]), 0.0, swap=False) == (0.0, 0.0, 1.0)


def test_top_k_g_learns_only_from_the_fakes_d_rates_most_real():
    lo = cfg_for("top-k").loss
    assert (lo.g_topk, lo.g_topk_gamma) == (0.5, 0.5) and cfg_for(None).loss.g_topk == 1.0
    keep = [topk_keep(e, lo.g_topk, lo.g_topk_gamma) for e in (0, 0.5, 1, 3)]
    assert keep == pytest.approx([1.0, 0.5 ** 0.5, 0.5, 0.5])  # annealed from all to half, then held
    loss = LOSSES[lo.name]
    fake = torch.tensor([[0.5], [-2.0], [3.0], [-0.1]]).requires_grad_(True)  # Scaled D: logit = value
    g, _ = g_objective(Scaled(), loss, fake, None, False, keep=keep[-1])
    g.backward()
    # only the two fakes D rates most real (3.0 and 0.5) pull on G; off (keep 1) all four do
    assert (fake.grad.flatten() != 0).tolist() == [True, False, True, False]
    assert g.item() == pytest.approx(loss.g_loss(torch.tensor([3.0, 0.5])).item())
    all_four, _ = g_objective(Scaled(), loss, fake.detach(), None, False)
    assert all_four.item() == pytest.approx(loss.g_loss(fake.detach().flatten()).item()) != g.item()


def test_mode_seeking_adds_its_weighted_term_to_g_loss():
    lo, base = cfg_for("mode-seeking").loss, cfg_for(None).loss
    assert lo.ms_weight == 1.0 and base.ms_weight == 0.0
    torch.manual_seed(0)
    z, y = torch.randn(8, 4), torch.tensor([0, 1] * 4)
    fake = torch.randn(8, *SHAPE).requires_grad_(True)
    g = torch.tensor(0.25)
    assert with_mode_seeking(g, base, fake, z, y) is g  # off: G's loss untouched
    with_ms = with_mode_seeking(g, lo, fake, z, y)
    assert with_ms.item() == pytest.approx(0.25 + mode_seeking(fake, z, y).item()) and with_ms.item() > 0.25
    with_ms.backward()  # G's images get a gradient that pushes same-label fakes apart
    assert fake.grad.abs().sum().item() > 0


def test_mode_seeking_bound_swaps_in_the_per_pair_form():
    lo = cfg_for("mode-seeking-bound").loss
    assert (lo.ms_weight, lo.ms_tau) == (1.0, 0.33) and cfg_for(None).loss.ms_tau == 0.0
    torch.manual_seed(0)
    z, y = torch.randn(8, 4), torch.tensor([0, 1] * 4)
    fake = torch.randn(8, *SHAPE)
    g = torch.tensor(0.25)
    bounded = with_mode_seeking(g, lo, fake, z, y).item()
    assert bounded == pytest.approx(0.25 + mode_seeking(fake, z, y, tau=0.33).item())
    assert bounded != pytest.approx(0.25 + mode_seeking(fake, z, y).item())  # not MSGAN's 1 / ratio
    # one garment per label whatever z is: the bounded term is at its maximum, 1
    assert with_mode_seeking(g, lo, fake[y], z, y).item() == pytest.approx(1.25)


def dview_for(switch: str | None, total_steps: int) -> DView:
    cfg = cfg_for(switch)
    resolve_diffaugment(cfg.train, SHAPE[0])  # the default's auto, as the pre-flight resolves it
    return DView(tuple(cfg.train.diffaugment), cfg.loss.instance_noise, cfg.loss.instance_noise_steps, total_steps)


def test_instance_noise_std_and_anneal():
    torch.manual_seed(0)
    x = torch.rand(64, *SHAPE) * 2 - 1
    view = dview_for("instance-noise", total_steps=10)
    assert (view(x, 0) - x).std().item() == pytest.approx(0.1, rel=0.1)
    assert (view(x, 5) - x).std().item() == pytest.approx(0.05, rel=0.1)  # linear anneal
    assert torch.equal(view(x, 10), x)  # 0 at the end of the anneal
    assert dview_for(None, 10)(x, 0) is x


def test_diffaugment_changes_what_d_sees_differentiably():
    torch.manual_seed(0)
    x = (torch.rand(16, *SHAPE) * 2 - 1).requires_grad_(True)
    view = dview_for("diffaugment", total_steps=10)
    assert view.policy == ("color", "translation", "cutout")
    out = view(x, 0)
    assert out.shape == x.shape and not torch.allclose(out, x)
    # cutout zeroes at least a 7x7 corner of the 14x14 box in every image
    assert ((out == 0).flatten(1).sum(1) >= 49).all()
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.abs().sum() > 0  # G gets gradients through the augmentation
    assert dview_for(None, 10)(x, 0) is x


def _d_inputs_in_training(switch, monkeypatch, tmp_path):
    """(G's output, the fakes D sees in the D step, the fakes D sees in the G step) of a one-step run."""
    import gankit.training.objectives
    import gankit.training.state

    events: list[tuple[str, torch.Tensor]] = []
    build = gankit.training.state.build_models

    def build_hooked(*a, **k):
        G, D = build(*a, **k)
        G.register_forward_hook(lambda m, i, o: events.append(("G", o.detach().clone())))
        return G, D

    d_obj, g_obj = gankit.training.objectives.d_objective, gankit.training.objectives.g_objective

    def d_rec(D, loss, lo, real, fake, *rest):
        events.append(("D", fake.detach().clone()))
        return d_obj(D, loss, lo, real, fake, *rest)

    def g_rec(D, loss, fake, *rest):
        events.append(("Gstep", fake.detach().clone()))
        return g_obj(D, loss, fake, *rest)

    monkeypatch.setattr(gankit.training.state, "build_models", build_hooked)
    monkeypatch.setattr(gankit.training.objectives, "d_objective", d_rec)
    monkeypatch.setattr(gankit.training.objectives, "g_objective", g_rec)
    cfg = cfg_for(switch, extra=("train.max_steps=1", "train.ema=false"))
    run = create_run_dir(tmp_path, switch or "default")
    run.write_config(cfg)
    train(cfg, run, data=fake_data())
    first_d = next(i for i, (kind, _) in enumerate(events) if kind == "D")
    g_out = [t for kind, t in events[:first_d] if kind == "G"][-1]
    d_step = events[first_d][1]
    g_step = next(t for kind, t in events if kind == "Gstep")
    return g_out, d_step, g_step


@pytest.mark.parametrize("switch", [None, "instance-noise", "diffaugment"])
def test_d_sees_the_same_view_in_d_and_g_steps(switch, monkeypatch, tmp_path):
    g_out, d_step, g_step = _d_inputs_in_training(switch, monkeypatch, tmp_path)
    if switch is None:
        assert torch.equal(d_step, g_out) and torch.equal(g_step, g_out)
    elif switch == "instance-noise":
        for seen in (d_step, g_step):  # step 0 of 1: the full std
            assert (seen - g_out).std().item() == pytest.approx(0.1, rel=0.1)
        assert not torch.equal(d_step, g_step)  # fresh noise each time
    else:
        for seen in (d_step, g_step):
            assert ((seen == 0).flatten(1).sum(1) >= 49).all() and not torch.allclose(seen, g_out)
        assert ((g_out == 0).flatten(1).sum(1) < 49).all()


def test_ema_decay_and_start():
    st = state_for("ema")
    assert st.ema is not None and st.ema.decay == 0.9 and st.ema.start_step == 1
    assert state_for(None, "fashion-tf2").ema is None  # the preset itself has no EMA ...
    dflt = state_for(None)  # ... dcgan has one, with decay 0.999 from step 0
    assert (dflt.ema.decay, dflt.ema.start_step) == (0.999, 0)

    def bump(G):
        with torch.no_grad():
            for p in G.parameters():
                p.add_(torch.randn_like(p))

    old = {k: v.clone() for k, v in st.ema.model.named_parameters()}
    bump(st.G)
    st.ema.update(st.G, 0)  # before ema_start: a plain copy
    for k, p in st.G.named_parameters():
        assert torch.equal(dict(st.ema.model.named_parameters())[k], p)
    old = {k: v.clone() for k, v in st.ema.model.named_parameters()}
    bump(st.G)
    st.ema.update(st.G, 1)
    for k, p in st.G.named_parameters():
        expected = 0.9 * old[k] + 0.1 * p.detach()
        assert torch.allclose(dict(st.ema.model.named_parameters())[k], expected, atol=1e-6)
        assert not torch.allclose(expected, p.detach())
