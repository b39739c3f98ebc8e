"""What `gankit app` shows, without the page: a trained generator behind seed, class and truncation
controls, the interpolation between two seeds, and the projection of an uploaded image.

Everything here is plain tensors and files, so it is tested without a browser; app.py only lays
it out.  The image of a seed is the one `gankit generate RUN --n 1 --seed S [--class C]` draws
(the same `sampling.inputs`), and the latent offered for download renders back to it exactly
with `gankit generate RUN --latent FILE` (z, or W+ with the truncation inside it for
stylegan-lite).  One lock serialises the generator: the page's handlers run on threads, and a
stylegan-lite ONNX export takes its truncation as an attribute.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.commands.generate import resolve_class
from gankit.commands.latent import Latent, render
from gankit.commands.project import distance_parts, load_targets, project_batch
from gankit.commands.walk import slerp
from gankit.errors import GankitError
from gankit.models.onnx_graph import OnnxGenerator
from gankit.models.sampling import inputs, trained_classes
from gankit.runs.load import load_generator
from gankit.util.imageio import make_grid, to_uint8

ANY = "any (the training mix)"  # the class choice that draws labels as training saw them
MAX_IMAGES = 64  # one page's grid
MAX_FRAMES = 32


@dataclass
class Projection:
    """One uploaded image found in the generator: target | projection side by side, and its latent."""

    name: str
    pair: np.ndarray  # H x (2W + frames) x C, uint8
    latent: Latent
    pixel_mse: float
    feature_dist: float | None
    cls: str | None
    notes: list[str]

    def summary(self) -> str:
        parts = [f"pixel MSE {self.pixel_mse:.4f}"]
        if self.feature_dist is not None:
            parts.append(f"feature distance {self.feature_dist:.3f}")
        if self.cls:
            parts.append(f"class {self.cls}")
        return f"{self.name}: " + ", ".join(parts) + "".join(f"\nnote: {n}" for n in self.notes)


class Playground:
    """A run's (or an export's) generator and the pictures the page asks of it."""

    def __init__(self, run: str, checkpoint: str | None = None):
        self.run, self.gen = run, load_generator(run, checkpoint)
        G = self.gen.G
        self.style = hasattr(G, "truncation_psi")  # stylegan-lite, PyTorch or ONNX
        self.onnx = isinstance(G, OnnxGenerator)
        present = trained_classes(self.gen.prior) if G.conditional else []
        self.classes = [self.gen.class_names[int(i)] for i in present]
        self._lock = threading.Lock()
        self._distance = None  # (evaluator, notes), loaded at the first projection

    @property
    def projectable(self) -> bool:
        return not self.onnx

    # -- sampling -------------------------------------------------------------------------
    def _inputs(self, seed: int, cls: str | None) -> tuple[Tensor, Tensor | None]:
        if seed < 0:
            raise GankitError(f"seed {seed}: must be 0 or more")
        classes = None
        if cls not in (None, "", ANY) and self.gen.G.conditional:
            classes = torch.tensor([resolve_class(cls, self.gen.class_names, self.gen.prior)])
        return inputs(self.gen.G, 1, torch.Generator().manual_seed(int(seed)), self.gen.prior, classes)

    def _check_psi(self, psi: float) -> float:
        if not 0.0 <= psi <= 1.0:  # NaN fails too
            raise GankitError(f"truncation {psi}: give a psi between 0 (the average image) and 1 (none)")
        return float(psi)

    @torch.no_grad()
    def _draw(self, z: Tensor, y: Tensor | None, psi: float) -> Tensor:
        """uint8 [N, C, H, W] of G at (z, y) with truncation psi (style-based G only; 1 = none)."""
        G = self.gen.G
        with self._lock:
            if self.style and self.onnx:
                G.truncation_psi = psi
                x = G(z, y)
            elif self.style:
                x = G.synthesis(G.ws(z, y, psi))
            else:
                x = G(z, y)
        return to_uint8(x, self.gen.cfg.data.range)

    def images(self, seed: int, count: int = 1, cls: str | None = None, psi: float = 1.0) -> Tensor:
        """uint8 [count, C, H, W]: the images of seeds seed, seed+1, ... (each `generate --n 1 --seed`)."""
        if not 1 <= count <= MAX_IMAGES:
            raise GankitError(f"{count} images: give 1 to {MAX_IMAGES}")
        psi = self._check_psi(psi)
        drawn = [self._inputs(seed + i, cls) for i in range(count)]
        z = torch.cat([d[0] for d in drawn])
        y = torch.cat([d[1] for d in drawn]) if drawn[0][1] is not None else None
        return self._draw(z, y, psi)

    def latent(self, seed: int, cls: str | None = None, psi: float = 1.0) -> Latent:
        """The latent of seed's image, as `gankit project` writes latents (generate --latent renders it)."""
        if self.onnx and self.style:
            raise GankitError(f"{self.run}: an ONNX export of stylegan-lite has no W+ to save; use the run directory")
        z, y = self._inputs(seed, cls)
        label = int(y[0]) if y is not None else -1
        if self.style:
            with torch.no_grad(), self._lock:
                return Latent("w+", self.gen.G.ws(z, y, self._check_psi(psi)), label, self.gen.cfg.model.name)
        return Latent("z", z, label, self.gen.cfg.model.name)

    def interpolation(self, seed_a: int, seed_b: int, frames: int = 8, cls: str | None = None,
                      psi: float = 1.0) -> Tensor:
        """uint8 [frames, C, H, W]: from seed_a's image to seed_b's along the slerp of their z, in one class
        (the chosen one, else seed_a's drawn label), so only the noise changes."""
        if not 2 <= frames <= MAX_FRAMES:
            raise GankitError(f"{frames} frames: give 2 to {MAX_FRAMES}")
        (za, ya), (zb, _) = self._inputs(seed_a, cls), self._inputs(seed_b, cls)
        t = torch.linspace(0, 1, frames, dtype=torch.float64)
        z = slerp(za.expand(frames, -1), zb.expand(frames, -1), t)
        return self._draw(z, ya.expand(frames) if ya is not None else None, self._check_psi(psi))

    # -- projection -----------------------------------------------------------------------
    def project(self, path: str, steps: int = 200, cls: str | None = None, seed: int = 0) -> Projection:
        """Find an image file in the generator (commands/project.py's search, on this G)."""
        if not 1 <= steps <= 5000:
            raise GankitError(f"{steps} steps: give 1 to 5000")
        if self._distance is None:  # an ONNX export is refused here, in one line
            self._distance = distance_parts(self.gen, self.run)
        evaluator, notes = self._distance
        label = None
        if cls not in (None, "", ANY) and self.gen.G.conditional:
            label = resolve_class(cls, self.gen.class_names, self.gen.prior)
        c, h, _ = self.gen.img_shape
        targets, more = load_targets([path], c, h)
        if len(targets) != 1:
            raise GankitError(f"{Path(path).name}: holds {len(targets)} images; the page projects one image "
                              "(`gankit project RUN FILES... --out DIR` takes many)")
        name, target = targets[0]
        with self._lock:
            r = project_batch(self.gen, target[None], evaluator, label, steps, seed)
            with torch.no_grad():
                image = to_uint8(render(self.gen.G, r["latents"][0]), self.gen.cfg.data.range)[0]
        k, feat = r["labels"][0], r["feature_dist"]
        return Projection(name=name, pair=make_grid(torch.stack([target, image]), nrow=2),
                          latent=r["latents"][0], pixel_mse=float(r["pixel_mse"][0]),
                          feature_dist=None if feat is None else float(feat[0]),
                          cls=self.gen.class_names[k] if k >= 0 and self.gen.class_names else None,
                          notes=notes + more)

