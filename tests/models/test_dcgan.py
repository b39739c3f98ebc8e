"""DCGAN shapes, ranges and switches at 28, 32 and 64 pixels."""

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models import MODELS
from gankit.models.dcgan import build_dcgan
from gankit.models.layers import Dropout


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_shapes_and_output_range(shape):
    G, D = build_dcgan(ModelConfig(g_width=8, d_width=8), shape, 1)
    x = G(torch.randn(6, 100))
    assert x.shape == (6, *shape)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (6,)


def test_default_28px_layout():
    G, D = build_dcgan(ModelConfig(), (1, 28, 28), 1)
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    # 7x7x128 -> 14x14x64 -> 28x28x1
    assert [(m.in_channels, m.out_channels) for m in convs] == [(128, 64), (64, 1)]
    assert G.fc.out_features == 128 * 7 * 7
    dconvs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in dconvs] == [(1, 64), (64, 128)]
    assert D.out.in_features == 128 * 7 * 7
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())  # d_norm=none default


def test_conditional_uses_labels_and_projection():
    cfg = ModelConfig(g_width=8, d_width=8, conditional=True)
    G, D = build_dcgan(cfg, (1, 28, 28), 10)
    z = torch.randn(4, 100)
    a = G(z, torch.zeros(4, dtype=torch.long))
    b = G(z, torch.full((4,), 3, dtype=torch.long))
    assert not torch.allclose(a, b)
    with torch.no_grad():
        D.embed.weight.normal_()
    assert not torch.allclose(D(a, torch.zeros(4, dtype=torch.long)), D(a, torch.ones(4, dtype=torch.long)))
    with pytest.raises(ValueError):
        G(z)


def test_switches_change_the_network():
    cfg = ModelConfig(g_width=8, d_width=8, d_dropout=0.3, d_norm="batch", mbstd=True, minibatch_disc=4,
                      d_spectral_norm=True, g_norm="none", g_act="leaky_relu")
    G, D = build_dcgan(cfg, (1, 28, 28), 1)
    assert any(isinstance(m, Dropout) and m.p == 0.3 for m in D.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert D.out.in_features == (16 + 1) * 7 * 7 + 4  # mbstd channel, then B minibatch features
    assert hasattr(D.out, "parametrizations")
    assert any(isinstance(m, nn.LeakyReLU) for m in G.modules())
    assert D(G(torch.randn(4, 100))).shape == (4,)


def test_unsupported_size_is_a_clear_error():
    with pytest.raises(GankitError, match="resolution"):
        build_dcgan(ModelConfig(), (1, 30, 30), 1)


def test_registry_holds_dcgan():
    assert MODELS["dcgan"].build is build_dcgan


@pytest.mark.parametrize("conditional", [False, True])
def test_spectral_norm_vectors_belong_to_the_initialised_weights(conditional):
    # spectral norm must be applied after DCGAN's N(0, 0.02) re-draw: its stored power-iteration
    # vectors u, v must estimate the top singular value of the *current* weight
    from torch.nn.utils import parametrize

    from gankit.models import build_models

    torch.manual_seed(0)
    cfg = ModelConfig(name="dcgan", g_width=8, d_width=8, d_spectral_norm=True, g_spectral_norm=True,
                      conditional=conditional)
    G, D = build_models(cfg, (1, 28, 28), 10 if conditional else 1)
    sn_modules = [m for net in (G, D) for m in net.modules() if parametrize.is_parametrized(m, "weight")]
    # G: fc + 2 deconvs; D: 2 convs + out (+ projection embedding when conditional)
    assert len(sn_modules) == 6 + (1 if conditional else 0)
    for m in sn_modules:
        p = m.parametrizations.weight[0]
        w = p._reshape_weight_to_matrix(m.parametrizations.weight.original.detach())
        # the last power-iteration step sets v = normalize(W^T u): exact iff u, v came from this W
        wtu = torch.mv(w.T, p._u)
        assert float(torch.dot(wtu, p._v) / wtu.norm()) == pytest.approx(1.0, abs=1e-4), type(m).__name__
        # and u^T W v estimates sigma_max(W) (torch's 15 registration iterations on these small
        # random matrices land within ~12% of it; vectors of discarded weights give ~0)
        sigma_est = torch.dot(p._u, torch.mv(w, p._v))
        sigma = torch.linalg.matrix_norm(w, ord=2)
        assert float(sigma_est) == pytest.approx(float(sigma), rel=0.15), type(m).__name__


def test_conditional_batch_norm_replaces_the_label_embedding():
    from gankit.models import check_model
    from gankit.models.layers import CondBatchNorm2d

    cfg = ModelConfig(g_width=8, d_width=8, conditional=True, g_cbn=True)
    G, D = build_dcgan(cfg, (1, 28, 28), 10)
    assert G.embed is None and G.fc.in_features == 100  # z alone enters the projection
    cbns = [m for m in G.modules() if isinstance(m, CondBatchNorm2d)]
    assert len(cbns) == 2 and all(m.gain.num_embeddings == 10 for m in cbns)  # after fc and after the hidden conv
    assert D.embed is not None  # D is the same projection D
    G.eval()
    z = torch.randn(4, 100)
    zeros, threes = torch.zeros(4, dtype=torch.long), torch.full((4,), 3, dtype=torch.long)
    assert torch.equal(G(z, zeros), G(z, threes))  # every class starts as plain BN ...
    with torch.no_grad():
        cbns[0].bias.weight[3].add_(0.5)
    assert not torch.allclose(G(z, zeros), G(z, threes))  # ... and its own table moves it
    with pytest.raises(ValueError, match="labels"):
        G(z)
    # unconditional: the switch changes nothing (plain BN, same keys as without it)
    plain = build_dcgan(ModelConfig(g_width=8, d_width=8), (1, 28, 28), 1)[0].state_dict().keys()
    assert build_dcgan(ModelConfig(g_width=8, d_width=8, g_cbn=True), (1, 28, 28), 1)[0].state_dict().keys() == plain
    assert "g_norm=batch" in check_model(ModelConfig(g_cbn=True, g_norm="none"))
    assert "applies to model.name=dcgan" in check_model(ModelConfig(name="progan", g_cbn=True))
