"""Starting from trained weights: --init-from (MNIST test split -> Fashion-MNIST, both real),
FreezeD (model.freeze_d_layers) and the evaluator D (model.d_init=evaluator)."""

import html
import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.launch.start import resolve
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.launch.presets import build_config
from gankit.metrics.evaluator import evaluator_for
from gankit.models import build_models, resolve_auto_model
from gankit.runs.checkpoint import load_state
from gankit.runs.layout import create_run_dir
from gankit.runs.load import load_run
from tiny_runs import resolved_train as train
from gankit.training.state import TrainingState
from gankit.training.transfer import initialise

# unconditional (the default would make both MNIST and Fashion-MNIST runs conditional): the
# conditional-vs-unconditional mismatch below needs an unconditional source
TINY = ["data.limit=64", "model.z_dim=16", "model.g_width=8", "model.d_width=8", "train.batch_size=16",
        "train.epochs=1", "train.progress=false", "train.tensorboard=false", "train.log_every=1",
        "model.conditional=false"]


def sets(*extra: str) -> list[str]:
    return [x for s in (*TINY, *extra) for x in ("--set", s)]


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, shared_datasets):
    """A tiny real MNIST run (test split, 64 digits, 4 steps) with an EMA G: the source, trained
    once for this file's tests (they only read it)."""
    mnist = shared_datasets / "mnist"
    if not (mnist / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST test split not in {shared_datasets}")
    root = tmp_path_factory.mktemp("source")
    with pytest.MonkeyPatch.context() as mp:  # conftest's per-test cache isolation, for this module fixture
        mp.setenv("GANKIT_CACHE", str(root / "cache"))
        mp.delenv("GANKIT_DATA", raising=False)
        assert main(["train", "--out", str(root / "src"), "--name", "mnist", "--data-dir", str(mnist),
                     *sets("data.dataset=mnist", "data.split=test", "train.ema=true")]) == 0
    return root / "src" / "0001-mnist"


def test_init_from_copies_g_d_and_ema_but_not_optimisers_or_step(mnist_run, fashion_dir):
    cfg = build_config(sets=TINY + ["train.ema=true", f"train.init_from={mnist_run}"])
    data = load_dataset(cfg.data, str(fashion_dir))
    state = TrainingState.create(resolve(cfg, data), data, "cpu", 4)
    source = load_state(mnist_run / "checkpoints" / "last.safetensors")
    assert not torch.equal(state.D.features[0].weight, source["D"]["features.0.weight"])  # random before
    events = []
    initialise(state, cfg, data, log=lambda kind, **f: events.append((kind, f)))
    for name, net in (("G", state.G), ("D", state.D), ("G_ema", state.ema.model)):
        own = net.state_dict()
        assert own.keys() == source[name].keys()
        for k, v in source[name].items():
            assert torch.equal(own[k], v), f"{name}.{k}"
    assert state.step == 0 and state.opt_g.state_dict()["state"] == {} and state.opt_d.state_dict()["state"] == {}
    assert source["step"] == 4 and source["opt_D"]["state"]  # the source's Adam moments were not taken
    assert events == [("init_from", {"step": 0, "source": str((mnist_run / "checkpoints" / "last.safetensors").resolve()),
                                     "source_step": 4, "source_dataset": "mnist", "frozen_d_blocks": 0})]


def test_train_init_from_with_frozen_d_blocks(mnist_run, fashion_dir, tmp_path):
    runs = tmp_path / "runs"
    assert main(["train", "--out", str(runs), "--name", "fashion", "--init-from", str(mnist_run),
                 *sets("model.freeze_d_layers=1")]) == 0
    run = runs / "0001-fashion"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["init_from"] == str(mnist_run.resolve()) and cfg["model"]["freeze_d_layers"] == 1
    first = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()][0]
    assert first["event"] == "init_from" and first["source_step"] == 4
    assert first["source"] == str((mnist_run / "checkpoints" / "last.safetensors").resolve())
    src, now = load_state(mnist_run / "checkpoints" / "last.safetensors"), load_state(run / "checkpoints" / "last.safetensors")
    assert now["step"] == 4
    for k in ("features.0.weight", "features.0.bias"):  # the frozen first conv block: bit for bit the source's
        assert torch.equal(now["D"][k], src["D"][k]), k
    for k in ("features.2.weight", "out.weight"):  # the rest of D trained
        assert not torch.equal(now["D"][k], src["D"][k]), k
    assert not torch.equal(now["G"]["fc.weight"], src["G"]["fc.weight"])
    n_params = len(list(build_models(build_config(sets=TINY).model, (1, 28, 28), 10)[1].parameters()))
    assert len(now["opt_D"]["param_groups"][0]["params"]) == n_params - 2  # the frozen weight and bias left out
    # the report's Events section says where the weights came from
    report = (run / "report.html").read_text()
    source = str((mnist_run / "checkpoints" / "last.safetensors").resolve())
    assert f"<li>step 0: G and D from {html.escape(source)} (its step 4, mnist), 1 D blocks frozen</li>" in report


def test_a_source_that_does_not_fit_is_one_line_naming_the_layers_and_writes_nothing(mnist_run, fashion_dir,
                                                                                    tmp_path, capsys):
    runs = tmp_path / "runs"
    src = mnist_run.resolve()

    def err(*argv: str) -> str:
        capsys.readouterr()
        assert main(["train", "--out", str(runs), *argv]) == 2
        text = capsys.readouterr().err
        assert text.count("\n") == 1 and not runs.exists()  # one line; no run directory was made
        return text.strip()

    assert err("--init-from", str(mnist_run), *sets("data.channels=3")) == (
        f"gankit: error: --init-from {src}: 2 layers do not fit (source vs this run): G.blocks.3.weight [8,1,4,4] vs "
        "[8,3,4,4], G.blocks.3.bias [1] vs [3], D.features.0.weight [8,1,4,4] vs [8,3,4,4]; the source has 1x28x28 "
        "images, this run 3x28x28; use the same model, widths and channels as the source (data.channels=1/3, "
        "data.resolution)")
    assert "the source has model.d_width=8 (this run 16)" in err("--init-from", str(mnist_run), *sets("model.d_width=16"))
    assert err("--init-from", str(mnist_run), *sets("model.conditional=true")) == (
        f"gankit: error: --init-from {src}: the source run is unconditional (model.conditional=false) and this run "
        "is conditional; set model.conditional=false, or start from a conditional run")
    assert err("--init-from", str(mnist_run), *sets("model.freeze_d_layers=3")) == (
        "gankit: error: model.freeze_d_layers=3: D has 2 conv blocks at 28x28; use 1 to 2")
    assert "no such run directory or checkpoint file" in err("--init-from", str(tmp_path / "nope"), *sets())
    assert "--resume continues a run with its own config" in err("--resume", str(mnist_run), "--init-from",
                                                                 str(mnist_run))


@pytest.mark.parametrize("extra, fragment", [
    (["model.freeze_d_layers=1"], "needs pretrained ones: add --init-from RUN"),
    (["model.freeze_d_layers=1", "train.init_from=x", "model.name=progan"], "model.name=progan has other layers"),
    (["model.d_init=evaluator", "loss.name=wgan-gp"], "keeps the classifier's batch norm"),
    (["model.d_init=evaluator", "model.name=progan"], "progan's D grows with its G"),
    (["model.d_init=evaluator", "model.mbstd=true"], "model.mbstd=true would change them"),
])
def test_settings_that_cannot_work_are_rejected(extra, fragment):
    with pytest.raises(GankitError, match=fragment):
        build_config(sets=extra)


EV = ["model.d_init=evaluator", "model.d_width=32"]


def test_evaluator_d_loads_the_evaluators_body_and_trains(fashion_dir, tmp_path):
    cfg = build_config(sets=TINY + EV)
    data = load_dataset(cfg.data, str(fashion_dir))
    state = TrainingState.create(resolve(cfg, data), data, "cpu", 4)
    events = []
    initialise(state, cfg, data, log=lambda kind, **f: events.append((kind, f)))
    ev = evaluator_for("fashion-mnist", data.class_names)
    body = state.D.body.state_dict()
    assert body.keys() == ev.net.body.state_dict().keys() and len(body) == 14  # 2 conv+BN blocks, the 128-d layer
    for k, v in ev.net.body.state_dict().items():
        assert torch.equal(body[k], v), k
    assert events[0][0] == "d_init" and events[0][1]["evaluator"] == "fashion-mnist"
    assert events[0][1]["evaluator_sha256"] == ev.sha256

    run = create_run_dir(tmp_path, "evd")
    run.write_config(cfg)
    train(cfg, run, data=data)
    rows = run.stats()
    assert len(rows) == 4 and all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    trained = load_run(run.path).D  # rebuilt from the config alone, then loaded
    moved = [k for k, v in ev.net.body.state_dict().items()
             if v.is_floating_point() and not torch.equal(trained.body.state_dict()[k], v)]
    assert "0.weight" in moved and "9.weight" in moved  # the first conv and the feature layer trained


def test_evaluator_d_with_freeze_keeps_the_conv_blocks():
    cfg = build_config(sets=EV + ["model.freeze_d_layers=2"])
    resolve_auto_model(cfg.model, 10)
    _, D = build_models(cfg.model, (1, 28, 28), 10)
    frozen = sorted(k for k, p in D.named_parameters() if not p.requires_grad)
    assert frozen == ["body.0.weight", "body.1.bias", "body.1.weight", "body.4.weight", "body.5.bias", "body.5.weight"]


def test_evaluator_d_without_an_evaluator_or_of_another_width_is_refused(tmp_path, fashion_dir, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    runs = tmp_path / "runs"
    argv = ["train", "--out", str(runs), *sets(*EV, "data.dataset=folder", f"data.path={folder}", "data.limit=0")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: model.d_init=evaluator: there is no evaluator classifier for "
                          "data.dataset=folder") and err.count("\n") == 1 and "use model.d_init=none" in err
    assert main(["train", "--out", str(runs), *sets("model.d_init=evaluator")]) == 2
    assert ("the fashion-mnist evaluator's conv widths are 32,64 and D's would be 8,16 (model.d_width=8); "
            "set model.d_width=32") in capsys.readouterr().err
    assert not runs.exists()
