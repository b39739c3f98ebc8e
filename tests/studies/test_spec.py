"""Study files: what each search plans, how a setting becomes a config, and what is rejected."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from study_helpers import tiny_study

from gankit.errors import GankitError
from gankit.studies.spec import builtin_names, load_study, parse_study


def test_a_grid_is_the_product_of_its_axes_with_tied_keys_and_variants():
    study = tiny_study(axes={
        "loss.name": ["ns", "bce", "lsgan"],  # all with targets: the variant smooths them
        "lr": {"keys": ["optim.g_lr", "optim.d_lr"], "values": [1e-4, 2e-4]},
        "v": {"variants": {"base": {}, "smooth": {"loss.real_label": 0.9, "model.d_dropout": 0.3}}},
    })
    settings = study.settings()
    assert len(settings) == 3 * 2 * 2
    assert len({study.label(p) for p in settings}) == 12
    cfg = study.config({"loss.name": "bce", "lr": 1e-4, "v": "base"})
    assert (cfg.loss.name, cfg.optim.g_lr, cfg.optim.d_lr, cfg.loss.real_label) == ("bce", 1e-4, 1e-4, 1.0)
    cfg = study.config({"loss.name": "ns", "lr": 2e-4, "v": "smooth"})
    assert (cfg.optim.g_lr, cfg.optim.d_lr, cfg.loss.real_label, cfg.model.d_dropout) == (2e-4, 2e-4, 0.9, 0.3)
    # the study's base overrides reach every trial
    assert cfg.data.limit == 256 and cfg.model.g_width == 8


def test_repeats_change_only_the_seed():
    study = tiny_study(repeats=3)
    params = study.settings()[0]
    cfgs = [study.config(params, r) for r in range(3)]
    assert [c.train.seed for c in cfgs] == [0, 1, 2]
    a, b = cfgs[0].to_dict(), cfgs[2].to_dict()
    for d in (a, b):
        d["train"].pop("seed")
        d.pop("description")
    assert a == b


def test_random_search_draws_distinct_settings_reproducibly():
    axes = {"loss.name": ["ns", "hinge", "lsgan"], "optim.name": ["adam", "sgd"]}
    study = tiny_study(axes=axes, search="random", trials=4, seed=7)
    picks = study.settings()
    assert len(picks) == 4
    assert len({tuple(sorted(p.items())) for p in picks}) == 4  # no setting twice
    assert picks == tiny_study(axes=axes, search="random", trials=4, seed=7).settings()
    assert picks != tiny_study(axes=axes, search="random", trials=4, seed=8).settings()


def test_random_search_over_a_log_range_stays_inside_it():
    study = tiny_study(axes={"optim.g_lr": {"low": 1e-5, "high": 1e-3, "log": True}}, search="random", trials=50)
    lrs = [p["optim.g_lr"] for p in study.settings()]
    assert all(1e-5 <= v <= 1e-3 for v in lrs)
    # log-uniform: about half of the draws below the geometric mean 1e-4
    below = sum(v < 1e-4 for v in lrs)
    assert 15 <= below <= 35
    assert study.config({"optim.g_lr": lrs[0]}).optim.g_lr == lrs[0]


def test_tpe_plans_nothing_up_front_but_checks_the_range_ends():
    study = tiny_study(axes={"optim.g_lr": {"low": 1e-5, "high": 1e-3, "log": True}}, search="tpe", trials=5)
    assert study.settings() == []
    with pytest.raises(GankitError, match="optim.g_lr"):  # a range end no config accepts
        tiny_study(axes={"optim.g_lr": {"low": 0.0, "high": 1e-3}}, search="tpe", trials=5)


@pytest.mark.parametrize("change, fragment", [
    ({"axes": {"loss.nme": ["ns"]}}, "unknown config key 'loss.nme'"),
    ({"axes": {"loss.name": ["ns", "nope"]}}, "setting loss=nope"),
    ({"axes": {"optim.g_lr": {"low": 1e-5, "high": 1e-3}}}, "a grid needs lists"),
    ({"axes": {"v": {"variants": {"a": {"train.bogus": 1}}}}}, "unknown config key 'train.bogus'"),
    ({"metric": "accuracy"}, "metric='accuracy'"),
    ({"search": "bayes"}, "search='bayes'"),
    ({"search": "random"}, "needs trials >= 1"),
    ({"repeats": 0}, "repeats and eval_n must be >= 1"),
    ({"seeds": 3}, "unknown keys ['seeds']"),
    ({"base": {"model": {"name": "dcgan"}}}, "a preset or a [base] table, not both"),
    ({"base": "dcgan"}, "base = 'dcgan' should be a table of config sections"),
    ({"full": {"base": {"model": {"name": "dcgan"}}}}, "[base] belongs at the top"),
])
def test_mistakes_in_a_study_file_are_named(change, fragment):
    d = {"preset": "dcgan", "axes": {"loss.name": ["ns", "hinge"]}}
    d.update(change)
    with pytest.raises(GankitError) as e:
        parse_study(d, "s", "study s")
    assert fragment in str(e.value)


def test_user_overrides_apply_to_every_trial_but_may_not_fix_an_axis():
    d = {"preset": "dcgan", "axes": {"loss.name": ["ns", "hinge"]}}
    study = parse_study(d, "s", "s", sets=["data.limit=128", "train.epochs=1"])
    assert study.config(study.settings()[1]).data.limit == 128
    with pytest.raises(GankitError, match="the study varies this key"):
        parse_study(d, "s", "s", sets=["loss.name=hinge"])


def test_a_base_table_starts_from_the_dataclass_defaults_not_a_preset():
    d = {"base": {"model": {"name": "dcgan", "d_width": 48}, "train": {"batch_size": 16}},
         "axes": {"loss.name": ["ns", "hinge"]}}
    study = parse_study(d, "s", "study s")
    cfg = study.config(study.settings()[0])
    assert (cfg.model.d_width, cfg.train.batch_size, cfg.loss.name) == (48, 16, "ns")
    assert cfg.train.ema is False and cfg.model.conditional is False  # the dataclass's, not the default preset's
    assert study.to_dict()["base"] == d["base"] and study.preset == "" and cfg.preset == "study s"
    with pytest.raises(GankitError, match=r"study s \[base\]: unknown section \[modle\]"):
        parse_study({"base": {"modle": {"name": "dcgan"}}, "axes": {"loss.name": ["ns"]}}, "s", "study s").config({"loss.name": "ns"})


def test_full_replaces_the_quick_budget():
    quick, full = load_study("fashion-ablations"), load_study("fashion-ablations", full=True)
    assert quick.sets["train.epochs"] < full.sets["train.epochs"]
    assert full.repeats >= quick.repeats and full.full and not quick.full
    assert quick.settings() == full.settings()  # same experiment, other budget


@pytest.mark.parametrize("name", builtin_names())
def test_every_built_in_study_loads_at_both_budgets(name):
    for full in (False, True):
        study = load_study(name, full=full)
        assert study.description and study.settings()


def test_built_in_studies_are_the_seed_projects_experiments():
    assert set(builtin_names()) >= {"mnist-losses", "fashion-ablations", "fashion-lrs", "catdog-budget"}
    mnist = load_study("mnist-losses")
    assert len(mnist.settings()) == 3 * 2 * 2 * 2  # loss x lr x optimiser x net
    # the study's own loss axis: BCELoss on a sigmoid D, BCEWithLogitsLoss, hinge
    assert {p["loss.name"] for p in mnist.settings()} == {"ns-sigmoid", "ns", "hinge"}
    ablations = load_study("fashion-ablations")
    names = [p["ablation"] for p in ablations.settings()]
    assert names[0] == "baseline" and len(names) == 6 and ablations.repeats >= 2
    lrs = load_study("fashion-lrs")
    assert any(math.isclose(c.optim.g_lr, 1e-5) and math.isclose(c.optim.d_lr, 3e-5)
               for c in (lrs.config(p) for p in lrs.settings()))
    budget = load_study("catdog-budget")
    assert all(budget.config(p).train.budget for p in budget.settings())
    assert {budget.config(p).model.name for p in budget.settings()} == {"catdog", "dcgan"}


def test_an_unknown_study_lists_the_built_in_ones():
    with pytest.raises(GankitError, match="mnist-losses"):
        load_study("mnist-loses")


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "lab" / "studies").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_the_lab_rounds_load_by_path(path):
    """The rounds behind the default are not shipped but stay runnable: `gankit sweep lab/studies/X.toml`."""
    study = load_study(str(path))
    assert study.name == path.stem and study.settings()
    assert path.stem not in builtin_names()


def test_a_preset_named_inside_base_is_refused_not_silently_ignored():
    d = {"base": {"preset": "wgan", "model": {"name": "dcgan"}}, "axes": {"loss.name": ["ns", "hinge"]}}
    with pytest.raises(GankitError) as e:
        parse_study(d, "s", "study s")
    assert str(e.value) == ("study s [base]: preset = 'wgan' would apply no preset ([base] spells every setting out "
                            "from the built-in defaults); give preset = NAME at the top instead of [base], or spell "
                            "that preset's settings out in [base]")


def test_the_stacked_mnist_study_compares_the_published_rows_at_equal_steps():
    study = load_study("stacked-mnist-modes")
    assert study.metric == "modes_covered" and study.eval_n == 26_000 and study.repeats == 3
    cfgs = {p["technique"]: study.config(p) for p in study.settings()}
    assert list(cfgs) == ["dcgan", "minibatch", "pack2", "r1", "r1-r2", "rpgan-r1-r2", "wgan-gp"]
    assert {c.train.max_steps for c in cfgs.values()} == {4000}  # equal steps
    assert all(c.data.dataset == "stacked-mnist" and c.model.conditional is False and c.train.diffaugment == []
               and c.train.ada is False for c in cfgs.values())
    assert cfgs["pack2"].model.pack == 2 and cfgs["minibatch"].model.minibatch_disc == 8
    r3 = cfgs["rpgan-r1-r2"].loss
    assert (r3.name, r3.r1_gamma, r3.r2_gamma) == ("rpgan", 0.1, 0.1)
    assert (cfgs["r1-r2"].loss.name, cfgs["r1"].loss.r2_gamma) == ("ns", 0.0)
    assert cfgs["wgan-gp"].train.n_critic == 5


@pytest.mark.parametrize("row, message", [
    ({"setting": "loss=ns", "modes_covered": 99}, "needs source"),
    ({"setting": "loss=bce", "source": "p", "fid": 1}, "setting = 'loss=bce' is none of the study's settings (loss=ns, loss=hinge)"),
    ({"setting": "loss=ns", "source": "p", "modes": 99}, "modes is not a metric value"),
    ({"setting": "loss=ns", "source": "p"}, "no a metric value"),
])
def test_a_published_row_names_a_setting_its_source_and_metric_values(row, message):
    with pytest.raises(GankitError, match=re.escape(message)):
        tiny_study(axes={"loss.name": ["ns", "hinge"]}, published=[row])


def test_published_figures_and_the_description_are_words_not_the_experiment():
    a = tiny_study(axes={"loss.name": ["ns", "hinge"]})
    b = tiny_study(axes={"loss.name": ["ns", "hinge"]}, description="other words",
                   published=[{"setting": "loss=ns", "source": "p, Table 1", "fid": 30.0}])
    assert a.experiment() == b.experiment() and a.to_dict() != b.to_dict()
    assert b.to_dict()["published"] == [{"setting": "loss=ns", "source": "p, Table 1", "fid": 30.0}]
