"""A generator as an ONNX graph, and one run by onnxruntime that samples like a PyTorch G.

`export_onnx(G, path, z_dim)` writes G's inference graph with named inputs: `z` [batch, z_dim]
float32, `class` [batch] int64 for a conditional G, `truncation` (a float32 scalar, psi) for a
style-based G; the output `images` [batch, C, H, W] in the data range.  The batch is dynamic.
`OnnxGenerator(path)` is the other half: an nn.Module with no parameters whose forward runs the
graph in onnxruntime, with the attributes the sampler reads (z_dim, num_classes, conditional,
truncation_psi), so `gankit generate` samples an ONNX export with the same code and the same
noise as a PyTorch one, without building a PyTorch model.

onnx (to write a graph) and onnxruntime (to run one) are optional (`pip install gankit[onnx]`):
imported when used, with one line naming the extra when missing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

OPSET = 17


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise GankitError(f"ONNX export needs the {module} package: pip install 'gankit[onnx]' (onnx, onnxruntime)") from None


class _Inference(nn.Module):
    """G's sampling call with the graph's inputs in order: (z[, class][, truncation])."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G, self.conditional, self.truncation = G, bool(G.conditional), hasattr(G, "truncation_psi")

    def forward(self, z: Tensor, *rest: Tensor) -> Tensor:
        y = rest[0] if self.conditional else None
        if self.truncation:
            return self.G(z, y, psi=rest[-1])
        return self.G(z, y)


def input_names(G: nn.Module) -> list[str]:
    return ["z"] + (["class"] if G.conditional else []) + (["truncation"] if hasattr(G, "truncation_psi") else [])


def export_onnx(G: nn.Module, path: Path) -> list[str]:
    """Write G (eval mode) as an ONNX graph at `path`; returns its input names."""
    _need("onnx")  # torch's exporter checks the graph with it
    if getattr(G, "noise_mode", "auto") == "random":  # a graph is one fixed function of its inputs
        raise GankitError("cannot export a stylegan-lite G with noise_mode=random: the ONNX graph takes the "
                          "constant noise inputs eval mode uses")
    G = G.eval()
    names = input_names(G)
    z = torch.randn(2, G.z_dim)
    args: list[Tensor] = [z]
    if G.conditional:
        args.append(torch.zeros(2, dtype=torch.long))
    if "truncation" in names:
        args.append(torch.tensor(1.0))
    dynamic = {n: {0: "batch"} for n in names if n != "truncation"} | {"images": {0: "batch"}}
    with warnings.catch_warnings():
        # the TorchScript-based exporter: a second for these nets, where the dynamo one takes ten
        # and needs onnxscript; torch is pinned, so its deprecation cannot surprise a user
        warnings.simplefilter("ignore")
        # the wrapper in eval mode too: the exporter restores the mode it found, recursively into G
        torch.onnx.export(_Inference(G).eval(), tuple(args), str(path), input_names=names, output_names=["images"],
                          dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    return names


class OnnxGenerator(nn.Module):
    """An exported G run by onnxruntime: `G(z, y=None)` -> images (a CPU tensor), as a PyTorch G."""

    def __init__(self, path: Path, z_dim: int, num_classes: int, conditional: bool):
        super().__init__()
        ort = _need("onnxruntime")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for a damaged file
            raise GankitError(f"{path}: not a readable ONNX graph ({str(e).splitlines()[0][:160]}); "
                              "export the run again") from None
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        self.names = list(inputs)
        self.z_dim, self.num_classes, self.conditional = z_dim, num_classes, conditional
        graph_z = (inputs.get("z") or [None, None])[-1]
        if "z" not in inputs or (isinstance(graph_z, int) and graph_z != z_dim) or ("class" in inputs) != conditional:
            takes = ", ".join(f"{k} {list(v)}" for k, v in inputs.items())
            raise GankitError(f"{path.parent / 'config.json'}: says model.z_dim={z_dim}, model.conditional="
                              f"{str(conditional).lower()}, but {path.name} takes {takes}; the config and the graph "
                              "do not belong together: export the run again")
        if "truncation" in self.names:
            self.truncation_psi = 1.0  # generate --truncation sets it, as on a PyTorch stylegan-lite

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.conditional and y is None:
            raise ValueError("conditional generator needs labels y")
        feed = {"z": z.detach().cpu().float().numpy()}
        if "class" in self.names:
            feed["class"] = y.detach().cpu().long().numpy()
        if "truncation" in self.names:
            feed["truncation"] = torch.tensor(float(self.truncation_psi)).numpy()
        return torch.from_numpy(self.session.run(["images"], feed)[0])
