"""The registry entry point: checks every registered model shares."""

import dataclasses

import pytest
import torch

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models import MODELS, build_models, resolve_auto_model

# an image shape each model builds at (the tutorial nets' presets; dcgan at 28px)
SHAPES = {"dcgan": (1, 28, 28), "resnet": (3, 32, 32), "tf-dcgan": (1, 28, 28), "tf2-fashion": (1, 28, 28), "catdog": (3, 32, 32), "vogue": (1, 28, 28),
          "mlp": (1, 28, 28), "progan": (1, 28, 28),
          "stylegan-lite": (1, 28, 28)}


def test_every_model_has_a_test_shape():
    assert set(MODELS) <= set(SHAPES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_conditional_on_unlabelled_data_is_rejected(name):
    cfg = dataclasses.replace(ModelConfig(), name=name, g_width=8, d_width=8, conditional=True)
    with pytest.raises(GankitError, match="model.conditional"):
        build_models(cfg, SHAPES[name], 1)
    build_models(cfg, SHAPES[name], 2)  # two classes are enough


@pytest.mark.parametrize("classes, conditional", [(10, True), (2, True), (1, False)])
def test_conditional_auto_becomes_true_exactly_on_labelled_data(classes, conditional):
    cfg = dataclasses.replace(ModelConfig(), g_width=8, d_width=8, conditional="auto")
    resolve_auto_model(cfg, classes)
    G, D = build_models(cfg, SHAPES["dcgan"], classes)
    assert cfg.conditional is conditional and G.conditional is conditional  # resolved in place, recorded as a bool
    assert (D.embed is not None) is conditional


@pytest.mark.parametrize("classes, width", [(10, 64), (1, 32)])
def test_d_width_auto_is_the_wide_d_for_a_conditional_model_and_the_narrow_one_otherwise(classes, width):
    cfg = dataclasses.replace(ModelConfig(), g_width=8, d_width="auto", conditional="auto")
    resolve_auto_model(cfg, classes)
    _, D = build_models(cfg, SHAPES["dcgan"], classes)
    first = next(m for m in D.modules() if isinstance(m, torch.nn.Conv2d))
    assert cfg.d_width == width and first.out_channels == width  # resolved in place, and D is built so
    fixed = dataclasses.replace(ModelConfig(), g_width=8, d_width=48, conditional="auto")
    resolve_auto_model(fixed, classes)
    build_models(fixed, SHAPES["dcgan"], classes)
    assert fixed.d_width == 48  # a width the user set is kept


@pytest.mark.parametrize("auto", [{"conditional": "auto"}, {"d_width": "auto"}])
def test_build_models_refuses_an_unresolved_config(auto):
    cfg = dataclasses.replace(ModelConfig(), **{"g_width": 8, "d_width": 8, **auto})
    with pytest.raises(ValueError, match=f"needs a resolved model config, got model.{next(iter(auto))}=auto"):
        build_models(cfg, SHAPES["dcgan"], 10)


def test_each_model_is_one_entry_with_its_own_checks():
    from gankit.models import check_model
    from gankit.models.spec import ModelSpec

    assert all(isinstance(spec, ModelSpec) and callable(spec.build) and spec.description for spec in MODELS.values())
    assert {name for name, spec in MODELS.items() if spec.check} == {"dcgan", "progan", "resnet", "stylegan-lite"}
    plain = ModelConfig()
    assert check_model(plain) is None
    assert "does not apply to progan" in check_model(dataclasses.replace(plain, name="progan", d_dropout=0.3))
    assert "progan's D grows" in check_model(dataclasses.replace(plain, name="progan", d_init="evaluator"))
    assert "stylegan-lite" in check_model(dataclasses.replace(plain, name="stylegan-lite", g_spectral_norm=True))
    assert "as they are" in check_model(dataclasses.replace(plain, d_init="evaluator", mbstd=True))
    assert ">= 0" in check_model(dataclasses.replace(plain, freeze_d_layers=-1))
    assert "other layers" in check_model(dataclasses.replace(plain, name="progan", freeze_d_layers=1))
