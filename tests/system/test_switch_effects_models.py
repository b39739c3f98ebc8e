"""The effect of each architecture switch on the networks it builds, in dcgan and fashion-tf2:
the layers inserted or removed, batch dependence, label dependence."""

import pytest
import torch
from torch import nn

from gankit.models.layers import Dropout, MinibatchDiscrimination, MinibatchStd
from tests.switch_cases import PRESETS, SHAPE, cfg_for, nets


def modules(net, cls):
    return [m for m in net.modules() if isinstance(m, cls)]


@pytest.mark.parametrize("preset", PRESETS)
def test_bn_d_inserts_batch_norm_in_d(preset):
    _, D = nets("bn-d", preset)
    _, D0 = nets(None, preset)
    assert modules(D, nn.BatchNorm2d) and not modules(D0, nn.modules.batchnorm._BatchNorm)


@pytest.mark.parametrize("preset", PRESETS)
def test_no_bn_g_removes_batch_norm_from_g(preset):
    G, _ = nets("no-bn-g", preset)
    G0, _ = nets(None, preset)
    assert modules(G0, nn.modules.batchnorm._BatchNorm)
    assert not modules(G, nn.modules.batchnorm._BatchNorm)


def _train_mode_stochastic(D) -> bool:
    D.train()
    x = torch.randn(4, *SHAPE)
    with torch.no_grad():
        return not torch.equal(D(x), D(x))


@pytest.mark.parametrize("preset", PRESETS)
def test_dropout_in_d(preset):
    _, D = nets("dropout", preset)
    drops = modules(D, Dropout)
    assert drops and all(m.p == 0.3 for m in drops)
    assert _train_mode_stochastic(D)
    _, D0 = nets(None, preset)
    if preset == "dcgan":
        assert not modules(D0, Dropout) and not _train_mode_stochastic(D0)
    else:  # the TF2 tutorial's D already has Dropout(0.3): the switch restates the preset
        assert [m.p for m in modules(D0, Dropout)] == [m.p for m in drops]


@pytest.mark.parametrize("preset", PRESETS)
def test_sn_normalises_every_layer(preset):
    G, D = nets("sn", preset)
    G0, D0 = nets(None, preset)
    for net, types in ((D, (nn.Linear, nn.Conv2d)), (G, (nn.Linear, nn.ConvTranspose2d))):
        layers = modules(net, types)
        assert layers and all(hasattr(m, "parametrizations") for m in layers)
    assert not any(hasattr(m, "parametrizations") for m in [*G0.modules(), *D0.modules()])
    # D's one-unit output layer: a row vector, whose spectral norm the power iteration gets exactly
    head = [m for m in modules(D, nn.Linear) if m.out_features == 1][-1]
    assert torch.linalg.matrix_norm(head.weight.detach(), 2).item() == pytest.approx(1.0, abs=1e-4)
    head0 = [m for m in modules(D0, nn.Linear) if m.out_features == 1][-1]
    assert torch.linalg.matrix_norm(head0.weight.detach(), 2).item() != pytest.approx(1.0, abs=1e-2)


def _batch_dependent(D) -> bool:
    """Does D's output for sample 0 change when sample 1 of the batch changes?  (eval mode)"""
    D.eval().double()
    torch.manual_seed(1)
    x = torch.randn(4, *SHAPE, dtype=torch.float64)
    x2 = x.clone()
    x2[1] = torch.randn(*SHAPE, dtype=torch.float64)
    with torch.no_grad():
        a, b = D(x)[0], D(x2)[0]
    return abs((a - b).item()) > 1e-9 * max(1.0, abs(a.item()))


@pytest.mark.parametrize("preset", PRESETS)
def test_mbd_makes_d_batch_dependent(preset):
    _, D = nets("mbd", preset)
    mbd = modules(D, MinibatchDiscrimination)
    assert len(mbd) == 1 and (mbd[0].num_kernels, mbd[0].kernel_dim) == (8, 3)
    assert _batch_dependent(D)
    assert not _batch_dependent(nets(None, preset)[1])


@pytest.mark.parametrize("preset", PRESETS)
def test_mbstd_makes_d_batch_dependent(preset):
    _, D = nets("mbstd", preset)
    assert len(modules(D, MinibatchStd)) == 1
    assert _batch_dependent(D)
    assert not _batch_dependent(nets(None, preset)[1])


@pytest.mark.parametrize("preset", PRESETS)
def test_activations(preset):
    G, D = nets("activations", preset)
    g_leaky = modules(G, nn.LeakyReLU)
    assert g_leaky and all(m.negative_slope == 0.1 for m in g_leaky) and not modules(G, nn.ReLU)
    assert modules(D, nn.ReLU) and not modules(D, nn.LeakyReLU)
    G0, D0 = nets(None, preset)
    assert modules(D0, nn.LeakyReLU) and not modules(D0, nn.ReLU)
    assert not any(m.negative_slope == 0.1 for m in modules(G0, nn.LeakyReLU))


@pytest.mark.parametrize("preset", PRESETS)
def test_conditional_outputs_depend_on_labels(preset):
    z = torch.randn(4, cfg_for(None, preset).model.z_dim)
    x = torch.randn(4, *SHAPE)
    y1, y2 = torch.tensor([0, 1, 2, 3]), torch.tensor([5, 6, 7, 8])

    def label_effect(G, D):
        G.eval(), D.eval()
        with torch.no_grad():
            return (not torch.allclose(G(z, y1), G(z, y2)), not torch.allclose(D(x, y1), D(x, y2)))

    G, D = nets("conditional", preset)
    assert G.conditional and label_effect(G, D) == (True, True)
    assert label_effect(*nets(None, preset)) == (False, False)
