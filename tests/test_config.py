"""Config: dotted keys, coercion, presets, file round trip, validation errors."""

import json

import pytest

from gankit.config import Config, apply_dict, field_types, from_dict, set_value
from gankit.errors import GankitError
from gankit.launch.presets import build_config, validate


def test_defaults_validate_and_round_trip_through_json():
    cfg = build_config()
    again = from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    assert cfg.model.name == "dcgan" and cfg.loss.name == "hinge"  # fashion-speed-7
    assert cfg.optim.g_lr == 5e-4 and cfg.optim.d_lr == 5e-4 and cfg.optim.beta1 == 0.5  # fashion-speed studies
    assert cfg.model.conditional == "auto" and (cfg.loss.ms_weight, cfg.loss.ms_tau) == (1.0, 0.2)  # rounds 9-15, 18
    assert cfg.train.ema_decay == 0.999  # fashion-speed-16
    assert cfg.train.batch_size == 32
    assert cfg.model.d_width == "auto"  # 64 conditional (fashion-speed-17), 32 unconditional (-6, emoji-64)


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("48", 48), (48.0, 48)])
def test_d_width_takes_a_whole_number_or_auto(text, value):
    assert apply_dict(build_config(), {"model": {"d_width": text}}).model.d_width == value
    with pytest.raises(GankitError, match="model.d_width: expected a whole number or auto, got 'wide'"):
        build_config(sets=["model.d_width=wide"])
    with pytest.raises(GankitError, match="model.d_width"):
        build_config(sets=["model.d_width=0"])  # auto or a width: 0 is neither


def test_set_coerces_types_by_field():
    cfg = build_config(sets=["train.batch_size=64", "optim.d_lr=3e-5", "model.d_spectral_norm=true",
                             "data.classes=cat,dog", "train.diffaugment=color,translation"])
    assert cfg.train.batch_size == 64 and isinstance(cfg.train.batch_size, int)
    assert cfg.optim.d_lr == pytest.approx(3e-5)
    assert cfg.model.d_spectral_norm is True
    assert cfg.data.classes == ["cat", "dog"]
    assert cfg.train.diffaugment == ["color", "translation"]


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("AUTO", "auto"), ("true", True), ("off", False)])
def test_conditional_takes_true_false_or_auto(text, value):
    assert build_config(sets=[f"model.conditional={text}"]).model.conditional == value
    with pytest.raises(GankitError, match="model.conditional: expected true, false or auto, got 'maybe'"):
        build_config(sets=["model.conditional=maybe"])


def test_diffaugment_takes_a_list_or_auto():
    assert build_config(sets=["train.diffaugment=Auto"]).train.diffaugment == "auto"
    assert build_config(sets=["train.diffaugment="]).train.diffaugment == []
    with pytest.raises(GankitError, match="train.diffaugment: expected a list .* or auto, got 3"):
        apply_dict(build_config(), {"train": {"diffaugment": 3}})


@pytest.mark.parametrize("item, fragment", [
    ("train.batchsize=3", "did you mean train.batch_size"),
    ("train.batch_size=many", "expected an integer"),
    ("model.mbstd=maybe", "expected true or false"),
    ("nonsense", "expected key=value"),
])
def test_bad_set_items_name_the_problem(item, fragment):
    with pytest.raises(GankitError, match=fragment):
        build_config(sets=[item])


@pytest.mark.parametrize("sets, fragment", [
    (["loss.name=wgan-gp", "model.d_norm=batch"], "model.d_norm=batch makes D's output"),
    (["loss.name=wgan-gp", "model.mbstd=true"], "model.mbstd=true makes D's output"),
    (["loss.name=wgan-gp", "model.minibatch_disc=8"], "model.minibatch_disc>0 makes D's output"),
    (["model.mbstd=true", "train.batch_size=1"], "batch_size must be >= 2"),
    (["model.minibatch_disc=8", "train.batch_size=1"], "batch_size must be >= 2"),
    (["loss.name=hinge", "loss.real_label=0.9"], "label smoothing"),
    (["model.out_act=sigmoid"], "different range"),
    (["loss.name=focal"], "choose one of"),
    (["train.ema_decay=1.5"], "ema_decay"),
    (["loss.g_topk=0"], "loss.g_topk=0.0"),
    (["loss.r1_every=0"], "loss.r1_every=0"),
    (["loss.ms_weight=-1"], "loss.ms_weight=-1.0"),
    (["loss.ms_tau=-0.1"], "loss.ms_tau=-0.1"),
    (["loss.g_topk_gamma=1.5"], "g_topk_gamma=1.5"),
    (["data.dataset=folder"], "data.path"),
])
def test_incompatible_combinations_are_rejected_with_a_reason(sets, fragment):
    with pytest.raises(GankitError, match=fragment):
        build_config(sets=sets)


def test_config_file_then_set_precedence(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[train]\nbatch_size = 32\nepochs = 2\n[loss]\nname = "hinge"\n')
    cfg = build_config(config_file=str(f), sets=["train.epochs=7"])
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.loss.name) == (32, 7, "hinge")


def test_config_file_errors(tmp_path):
    with pytest.raises(GankitError, match="no such file"):
        build_config(config_file=str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(GankitError, match="not valid TOML"):
        build_config(config_file=str(bad))
    unknown = tmp_path / "u.toml"
    unknown.write_text("[trian]\nepochs = 1\n")
    with pytest.raises(GankitError, match="unknown section"):
        build_config(config_file=str(unknown))


def test_every_field_is_addressable_by_a_dotted_key():
    types = field_types()
    cfg = Config()
    for key in types:
        if "." in key:
            section, name = key.split(".")
            set_value(cfg, key, getattr(getattr(cfg, section), name))
    assert validate(cfg) is cfg
    assert {"train.batch_size", "loss.name", "model.z_dim", "data.limit", "optim.g_lr"} <= set(types)


def test_unknown_preset_lists_choices():
    with pytest.raises(GankitError, match="dcgan"):
        build_config(preset="nope")


def test_apply_dict_rejects_wrong_types():
    with pytest.raises(GankitError, match="train.epochs: expected an integer"):
        apply_dict(Config(), {"train": {"epochs": "ten"}})


@pytest.mark.parametrize("text, seconds", [("", 0.0), ("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0)])
def test_budget_durations(text, seconds):
    from gankit.config import budget_seconds

    assert budget_seconds(text) == seconds


@pytest.mark.parametrize("text", ["ten minutes", "-5m", "0", "m"])
def test_a_malformed_budget_is_rejected_before_anything_runs(text):
    with pytest.raises(GankitError, match="train.budget"):
        build_config(sets=[f"train.budget={text}"])
