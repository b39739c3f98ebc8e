"""train.amp: what runs in which dtype, and that scaling never changes an update."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.runtime.precision import autocast, backward_and_step, check_amp, make_scaler

CPU = torch.device("cpu")


def test_bf16_autocast_runs_convolutions_in_bf16_and_none_leaves_fp32():
    conv, x = nn.Conv2d(1, 4, 3), torch.randn(2, 1, 8, 8)
    with autocast("bf16", CPU):
        assert conv(x).dtype == torch.bfloat16
    with autocast("none", CPU):
        assert conv(x).dtype == torch.float32
    assert conv.weight.dtype == torch.float32  # the weights themselves stay fp32


def test_fp16_needs_a_gpu():
    with pytest.raises(GankitError, match="train.amp=fp16 needs a CUDA GPU"):
        check_amp("fp16", CPU)
    check_amp("bf16", CPU)


@pytest.mark.parametrize("enabled", [False, True])
def test_a_scaled_step_is_the_plain_step_and_its_norm_is_unscaled(enabled):
    torch.manual_seed(0)
    net = nn.Linear(5, 1)
    ref = copy.deepcopy(net)
    x = torch.randn(8, 5)
    opt, ref_opt = torch.optim.SGD(net.parameters(), lr=0.1), torch.optim.SGD(ref.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=enabled)  # fp16's scaler, exercised on CPU in fp32
    norm = backward_and_step(net(x).pow(2).mean(), opt, scaler,
                             lambda: float(torch.cat([p.grad.flatten() for p in net.parameters()]).norm()))
    ref_opt.zero_grad()
    ref(x).pow(2).mean().backward()
    ref_norm = float(torch.cat([p.grad.flatten() for p in ref.parameters()]).norm())
    ref_opt.step()
    assert norm == pytest.approx(ref_norm, rel=1e-5)
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)
    assert (scaler.get_scale() > 1) == enabled


def test_scalers_are_off_unless_fp16():
    assert not make_scaler("bf16", CPU).is_enabled() and not make_scaler("none", CPU).is_enabled()


def test_auto_is_bf16_exactly_where_the_cpu_has_bf16_matrix_units(monkeypatch):
    from gankit.runtime import precision

    for amx, want in ((True, "bf16"), (False, "none")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        assert precision.native_bf16(CPU) is amx
        assert precision.resolve_amp("auto", CPU) == want
    assert precision.resolve_amp("auto", torch.device("cuda")) == "none"  # a GPU asks for bf16 itself
    for kind in ("none", "bf16", "fp16"):
        assert precision.resolve_amp(kind, CPU) == kind  # only auto is resolved
    with pytest.raises(ValueError, match="train.amp=auto reached the training loop unresolved"):
        check_amp("auto", CPU)


def test_the_default_preset_records_the_resolved_precision(tmp_path, fashion_dir, monkeypatch, reference_cache):
    """The default preset asks for auto; the pre-flight writes bf16 or none into config.json (never
    auto), so a resume or a reader of the run sees what it trained in."""
    from gankit.launch.presets import build_config
    from gankit.launch.start import start_run

    monkeypatch.setenv("GANKIT_CACHE", str(reference_cache))
    for amx in (True, False):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        cfg = build_config(sets=["data.limit=64", "model.g_width=8", "model.d_width=8", "train.batch_size=16",
                                 "train.max_steps=2", "train.progress=false", "train.tensorboard=false",
                                 "train.final_eval_n=0"])
        assert cfg.train.amp == "auto"
        run, _ = start_run(cfg, out=tmp_path, name=f"amx-{amx}", data_dir=str(fashion_dir), announce=False)
        assert run.read_config()["train"]["amp"] == ("bf16" if amx else "none")
