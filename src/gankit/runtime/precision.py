"""How the training step runs fast: mixed precision (`train.amp`) and compilation (`train.compile`).

`train.amp` picks autocast's dtype; `auto` (the default preset's) is resolved once in the pre-flight
by `resolve_amp`: bf16 on a processor with bf16 matrix units, else none.
bf16 (CPUs with bf16 support, recent GPUs) needs nothing else; fp16 (older GPUs) also needs
a gradient scaler per network, so small gradients do not underflow.  The scalers' state is
part of the TrainingState, so a resumed fp16 run keeps its loss scale.

`train.compile` hands the networks the steps call to torch.compile.  The compiled wrappers
share the modules' parameters, so optimisers, EMA and checkpoints keep the plain modules
(no `_orig_mod.` keys); the first steps pay the compilation.
"""

from __future__ import annotations

import contextlib

import torch

from gankit.errors import GankitError

AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(kind: str, device: torch.device):
    """The forward passes' context: autocast to the chosen dtype, or nothing."""
    dtype = AMP[kind]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def native_bf16(device: torch.device) -> bool:
    """Whether this processor has bf16 matrix units that oneDNN's convolutions use (a CPU with AMX
    tiles): there bf16 autocast makes the step markedly faster; elsewhere it may make it slower."""
    if device.type != "cpu":
        return False  # GPUs: bf16 is asked for explicitly (train.amp=bf16); auto keeps fp32 there
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe is not None and probe())


def resolve_amp(kind: str, device: torch.device) -> str:
    """train.amp=auto as a value: bf16 where `native_bf16`, else none; other values unchanged."""
    if kind != "auto":
        return kind
    return "bf16" if native_bf16(device) else "none"


def check_amp(kind: str, device: torch.device) -> None:
    if kind not in AMP:  # `auto` is the pre-flight's to resolve (launch.start.resolve)
        raise ValueError(f"train.amp={kind} reached the training loop unresolved: start runs through "
                         "launch.start_run, whose pre-flight resolves it")
    if kind == "fp16" and device.type != "cuda":
        raise GankitError(f"train.amp=fp16 needs a CUDA GPU (this run is on {device.type}); "
                          "use train.amp=bf16 or none")


def make_scaler(kind: str, device: torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for fp16 only (disabled it passes everything through)."""
    return torch.amp.GradScaler(device.type, enabled=kind == "fp16")


def backward_and_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                      grad_norm=None) -> float | None:
    """zero_grad, backward (scaled for fp16), then the optimiser step; `grad_norm()` is read
    on unscaled gradients just before the step, when given."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    norm = grad_norm() if grad_norm is not None else None
    scaler.step(opt)
    scaler.update()
    return norm


def simultaneous_step(d_loss: torch.Tensor, g_loss: torch.Tensor, opt_d: torch.optim.Optimizer,
                      opt_g: torch.optim.Optimizer, scalers: tuple, grad_norms=(None, None)) -> tuple:
    """Both networks' updates from one forward pass (train.update=simultaneous): D's gradient
    of D's loss and G's gradient of G's loss, each taken before either network changes.
    Returns (D's, G's) gradient norms when asked for."""
    sc_g, sc_d = scalers
    params_d = [p for g in opt_d.param_groups for p in g["params"]]
    params_g = [p for g in opt_g.param_groups for p in g["params"]]
    grads_d = torch.autograd.grad(sc_d.scale(d_loss), params_d, retain_graph=True, allow_unused=True)
    grads_g = torch.autograd.grad(sc_g.scale(g_loss), params_g, allow_unused=True)
    norms = []
    for opt, scaler, params, grads, norm in ((opt_d, sc_d, params_d, grads_d, grad_norms[0]),
                                             (opt_g, sc_g, params_g, grads_g, grad_norms[1])):
        for p, g in zip(params, grads):
            p.grad = g
        scaler.unscale_(opt)
        norms.append(norm() if norm is not None else None)
        scaler.step(opt)
        scaler.update()
    return tuple(norms)


def compiled(nets: tuple, on: bool) -> tuple:
    """The networks as the steps call them: torch.compile'd when `train.compile` is on."""
    return tuple(torch.compile(net) for net in nets) if on else nets
