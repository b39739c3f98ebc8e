"""`gankit export RUN --out DIR [--format safetensors|onnx]`: the generator alone, for inference,
as diffusers ships a model.

    DIR/config.json             {"format": "gankit-generator", "format_version", "gankit_version",
                                 "config": the run's Config, "img_shape", "class_names",
                                 "label_prior", "step", "source", "weights": the file below,
                                 and for ONNX "onnx": its inputs, output and the output's range}
    DIR/generator.safetensors   the sampling generator's weights (the EMA G with its
                                re-estimated batch-norm statistics when the run kept one), or
    DIR/generator.onnx          that generator as an ONNX graph (models/onnx_graph.py), which
                                onnxruntime runs without gankit or PyTorch

`load_generator(path)` (runs/load.py) rebuilds the generator from such a folder or from a run directory,
so `gankit generate` takes either.  No optimiser, no D: a few hundred KB instead of a
training checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from gankit import __version__
from gankit.errors import GankitError
from gankit.runs.load import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ONNX_WEIGHTS, WEIGHTS, load_run
from gankit.util.atomic import atomic_path, atomic_write

FORMATS = ("safetensors", "onnx")  # the CLI's --format choices


def export_run(run_dir: str | Path, out: str | Path, checkpoint: str | None = None, fmt: str = "safetensors") -> str:
    if fmt not in FORMATS:
        raise GankitError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise GankitError(f"--out {out}: exists and is not empty; choose a new folder")
    loaded = load_run(run_dir, checkpoint)
    meta = {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION, "gankit_version": __version__,
            "config": loaded.cfg.to_dict(), "img_shape": list(loaded.state["img_shape"]),
            "class_names": loaded.class_names, "label_prior": [float(p) for p in loaded.prior],
            "step": loaded.step, "source": str(Path(run_dir).resolve()),
            "sampler": loaded.sampler, "weights": ONNX_WEIGHTS if fmt == "onnx" else WEIGHTS}
    if fmt == "onnx":
        from gankit.models.onnx_graph import OPSET, export_onnx

        low, high = loaded.cfg.data.range.split(",")
        with atomic_path(out / ONNX_WEIGHTS) as tmp:
            names = export_onnx(loaded.G, tmp)
        meta["onnx"] = {"opset": OPSET, "inputs": names, "output": "images",
                        "output_shape": ["batch", *meta["img_shape"]], "output_range": [float(low), float(high)],
                        "z": "float32 [batch, z_dim] standard normal", "class": "int64 [batch] index into class_names",
                        "truncation": "float32 scalar psi (1 = none)"}
    else:
        weights = {k: v.detach().cpu().contiguous().clone() for k, v in loaded.G.state_dict().items()}
        with atomic_path(out / WEIGHTS) as tmp:
            save_file(weights, str(tmp))
    atomic_write(out / "config.json", json.dumps(meta, indent=2) + "\n")  # last: marks the folder complete
    return f"exported the generator of {run_dir} (step {loaded.step}) to {out} ({fmt})"
