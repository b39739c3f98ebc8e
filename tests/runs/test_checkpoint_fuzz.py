"""Fuzzing the checkpoint reader: damaged safetensors files, forged metadata and forged training
states give a state (load_state) or a LoadedRun (load_run) or a GankitError, nothing else."""

from __future__ import annotations

import json
import shutil
import struct

import pytest
import torch
from fuzz_helpers import loads_or_refuses, mutated
from hypothesis import example, given
from hypothesis import strategies as st
from safetensors.torch import save_file

from gankit.config import Config
from gankit.data.imagedata import ImageData
from gankit.runs.checkpoint import load_state
from gankit.runs.layout import create_run_dir
from gankit.runs.load import LoadedRun, load_run
from gankit.training.state import TrainingState


@pytest.fixture(scope="module")
def valid_run(tmp_path_factory):
    """A run directory with a real (tiny) training checkpoint: its bytes, skeleton and tensors."""
    cfg = Config()
    cfg.model.g_width, cfg.model.d_width, cfg.model.z_dim = 4, 4, 8
    data = ImageData(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]), ["a", "b"], "t")
    with torch.random.fork_rng(devices=[]):
        state = TrainingState.create(cfg, data, "cpu", 10)
    run = create_run_dir(tmp_path_factory.mktemp("runs"), "valid")
    run.write_config(cfg)
    state.save(run.last_checkpoint)
    from safetensors import safe_open

    with safe_open(str(run.last_checkpoint), framework="pt") as f:
        skeleton = json.loads(f.metadata()["gankit"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return run, run.last_checkpoint.read_bytes(), skeleton, tensors


def fresh_run(tmp_path_factory, valid_run, ckpt_bytes: bytes):
    run = valid_run[0]
    target = tmp_path_factory.mktemp("run") / run.path.name
    shutil.copytree(run.path, target)
    (target / "checkpoints" / "last.safetensors").write_bytes(ckpt_bytes)
    return target


def check_both(tmp_path_factory, valid_run, data: bytes) -> None:
    path = fresh_run(tmp_path_factory, valid_run, data)
    state = loads_or_refuses(load_state, path / "checkpoints" / "last.safetensors")
    assert state is None or isinstance(state, dict)
    loaded = loads_or_refuses(load_run, path)
    assert loaded is None or isinstance(loaded, LoadedRun)


def test_the_valid_checkpoint_loads(valid_run):
    assert isinstance(load_run(valid_run[0].path), LoadedRun)


@given(st.binary(max_size=200))
@example(struct.pack("<Q", 2**63) + b"{}")  # a header length larger than the file
@example(struct.pack("<Q", 2) + b"{}")  # no tensors, no metadata
def test_fuzz_random_bytes(tmp_path_factory, valid_run, data):
    check_both(tmp_path_factory, valid_run, data)


@given(st.data())
def test_fuzz_mutated_file(tmp_path_factory, valid_run, data):
    raw = valid_run[1]
    header = 8 + struct.unpack("<Q", raw[:8])[0]
    check_both(tmp_path_factory, valid_run, data.draw(mutated(raw, header=header)))


# --------------------------------------------------------------------------------------- forged states

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
              st.text(max_size=8), st.just({"__tensor__": "nope"}), st.just({"__tensor__": ["x"]}),
              st.just({"__intkeys__": {"a": 1}}), st.just({"__intkeys__": [1]}), st.just({"__tensor__": "G.main.0.weight"})),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


def paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


@st.composite
def forged_skeletons(draw, skeleton: dict) -> dict:
    """The valid skeleton with 1-3 nodes deleted or replaced (wrong types, bogus tensor refs)."""
    sk = json.loads(json.dumps(skeleton))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = [p for p in paths(sk) if p]
        if not all_paths:
            break
        # prefer the shallow fields load_run reads: config, img_shape, class_names, step, G, D
        p = draw(st.one_of(st.sampled_from([p for p in all_paths if len(p) <= 2] or all_paths),
                           st.sampled_from(all_paths)))
        parent = sk
        for k in p[:-1]:
            parent = parent[k]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[p[-1]]
        else:
            value = draw(st.one_of(json_values, st.sampled_from(
                [[1, 2**40, 2**40], [0, 28, 28], [3, 28], [1, -28, 28], [], "abc", ["a"] * 1000, 2**80])))
            parent[p[-1]] = json.loads(json.dumps(value))  # a copy: never share a node (no cycles)
    return sk


@st.composite
def forged_tensors(draw, tensors: dict) -> dict:
    """Some tensors given another shape or dtype, or dropped."""
    out = dict(tensors)
    for k in draw(st.lists(st.sampled_from(sorted(tensors)), max_size=3, unique=True)):
        kind = draw(st.sampled_from(["drop", "shape", "dtype"]))
        if kind == "drop":
            del out[k]
        elif kind == "shape":
            out[k] = torch.zeros(draw(st.lists(st.integers(0, 3), max_size=3)))
        else:
            out[k] = out[k].to(draw(st.sampled_from([torch.int8, torch.float16, torch.bool, torch.float64])))
    return out


def save(tmp_path_factory, tensors: dict, metadata: dict | None) -> bytes:
    path = tmp_path_factory.mktemp("forged") / "c.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    return path.read_bytes()


@given(st.data())
def test_fuzz_forged_state(tmp_path_factory, valid_run, data):
    _, _, skeleton, tensors = valid_run
    sk = data.draw(forged_skeletons(skeleton))
    ts = data.draw(st.one_of(st.just(tensors), forged_tensors(tensors)))
    check_both(tmp_path_factory, valid_run, save(tmp_path_factory, ts, {"gankit": json.dumps(sk)}))


@given(st.data(), st.one_of(st.text(max_size=30), json_values.map(json.dumps), st.none(),
                            st.sampled_from(["[" * 50_000 + "]" * 50_000, "{", "NaN", '{"format": 99}',
                                             '{"format": true}', '{"format": "1"}'])))
def test_fuzz_forged_metadata(tmp_path_factory, valid_run, data, meta):
    _, _, _, tensors = valid_run
    ts = data.draw(st.one_of(st.just(tensors), forged_tensors(tensors)))
    check_both(tmp_path_factory, valid_run, save(tmp_path_factory, ts, None if meta is None else {"gankit": meta}))
