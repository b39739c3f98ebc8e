"""`gankit project RUN IMAGE... --out DIR`: the latent whose sample is closest to each image.

The distance is the pixels' mean squared error (images in [-1, 1]) plus a tenth of the squared distance of
the run's evaluator features (the perceptual part, from the shipped evaluator of the run's
dataset; pixels alone where there is none, said in one line), averaged over the feature
dimensions.  The search starts from the best of `DRAWS` random latents (for a conditional G
without --class: the best over every class the run trained on), then Adam moves the latent
(its rate warmed up, then ramped down to zero along a cosine):
z for dcgan, resnet and progan (with a soft pull toward the normal shell |z|^2 = z_dim), W+
(one w a layer, started at the drawn z's) for stylegan-lite.  The EMA generator in eval mode
renders every step, so a latent written here renders back exactly (`gankit generate RUN
--latent FILE`).

Per image: NAME.png (the target beside its projection), NAME.npz (the latent), NAME.gif (the
search), and a row of DIR/projection.json (pixel MSE, feature distance, class, steps, seconds).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor

from gankit.commands.evaluate_images import convert_images, load_images
from gankit.commands.generate import resolve_class
from gankit.commands.latent import Latent, image_of, render
from gankit.commands.walk import gif_frames, write_gif
from gankit.data.decode import DECODE_ERRORS, decode_noted
from gankit.errors import GankitError
from gankit.metrics.evaluator import evaluator_for
from gankit.models.onnx_graph import OnnxGenerator
from gankit.models.sampling import trained_classes
from gankit.runs.load import load_generator
from gankit.util.atomic import atomic_write
from gankit.util.imageio import make_grid, save_image, to_uint8
from gankit.util.names import slug
from gankit.util.paths import writable_dir

DRAWS = 64  # random latents tried before the optimisation starts (per class when searching classes)
# the feature term's weight: at 1 its gradient swamps the pixels' and the search wanders; at 0.1
# a generated image's own z is found again (tests/commands/test_project.py)
FEATURE_WEIGHT = 0.1
BATCH = 64  # targets searched at once
ARRAYS = (".npz", ".npy")


def load_targets(paths: list[str], channels: int, size: int) -> tuple[list[tuple[str, Tensor]], list[str]]:
    """(name, uint8 [C, H, W]) for every image named, prepared as the run's training data; notes."""
    targets, notes = [], []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir() or path.suffix.lower() in (*ARRAYS, ".zip"):
            images, note = load_images(str(path), channels, size)
            targets += [(f"{slug(path.stem)}-{i:04d}", im) for i, im in enumerate(images)]
        elif path.is_file():
            try:
                arr, conv = decode_noted(path.read_bytes(), channels, size)
            except DECODE_ERRORS as e:
                raise GankitError(f"{path}: not an image gankit can read ({type(e).__name__}); give a PNG, JPEG, "
                                  "WebP, GIF, BMP or TIFF file, a folder of them, a zip, or an .npz") from None
            images, note = convert_images(torch.from_numpy(arr)[None], channels, size, str(path))
            targets.append((slug(path.stem), images[0]))
            note = "; ".join(filter(None, [note, f"{path}: {', '.join(conv)}" if conv else ""]))
        else:
            raise GankitError(f"{path}: no such file or folder")
        if note:
            notes.append(note)
    seen: dict[str, int] = {}
    for i, (name, image) in enumerate(targets):  # a/x.png and b/x.png: x and x-2, never one file twice
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            targets[i] = (f"{name}-{seen[name]}", image)
    return targets, notes


class Distance:
    """Pixel MSE + a weighted mean squared evaluator-feature difference, on [-1, 1] images; row b
    of the images is compared with target b."""

    def __init__(self, evaluator, targets: Tensor):
        self.ev, self.targets = evaluator, targets
        self.target_f = self.features(targets) if evaluator is not None else None

    def features(self, x: Tensor) -> Tensor:
        return self.ev.net(self.ev.convert(x))[0]

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """(loss, pixel MSE, feature distance), each [B], for images x [B, C, H, W]."""
        pix = ((x - self.targets) ** 2).flatten(1).mean(1)
        if self.ev is None:
            return pix, pix, None
        f = self.features(x)
        sq = ((f - self.target_f) ** 2).sum(1)
        return pix + FEATURE_WEIGHT * sq / f.shape[1], pix, sq.sqrt()

    def table(self, x: Tensor) -> Tensor:
        """[B, K]: the loss of each of K candidate images x [K, C, H, W] for each target."""
        loss = ((x[None] - self.targets[:, None]) ** 2).flatten(2).mean(2)
        if self.ev is not None:
            f = self.features(x)
            loss = loss + FEATURE_WEIGHT * torch.cdist(self.target_f, f) ** 2 / f.shape[1]
        return loss


def _unit(x: Tensor, data_range: str) -> Tensor:
    return x * 2 - 1 if data_range == "0,1" else x


@torch.no_grad()
def _start(gen, dist: Distance, classes: list[int], seed: int) -> tuple[Tensor, Tensor]:
    """Each target's best of DRAWS random z (per class to try): z [B, z_dim] and labels [B] (-1: none)."""
    G, b = gen.G, dist.targets.shape[0]
    rng = torch.Generator().manual_seed(seed)
    best = torch.full((b,), math.inf)
    z0, labels = torch.zeros(b, G.z_dim), torch.full((b,), -1, dtype=torch.long)
    for c in classes:
        z = torch.randn(DRAWS, G.z_dim, generator=rng)
        y = torch.full((DRAWS,), c) if c >= 0 else None
        loss, i = dist.table(_unit(G(z, y), gen.cfg.data.range)).min(1)
        better = loss < best
        best = torch.where(better, loss, best)
        z0[better], labels[better] = z[i[better]], c
    return z0, labels


def project_batch(gen, targets_u8: Tensor, evaluator, cls: int | None, steps: int, seed: int) -> dict:
    """Search every target of a batch at once (each its own latent; their losses are summed, so
    their gradients never mix).  Returns their latents, the search's frames [B, F, C, H, W]
    (in [-1, 1]) and the distances at the best point of each search."""
    G, cfg = gen.G, gen.cfg
    dist = Distance(evaluator, targets_u8.float() / 127.5 - 1)
    classes = [cls] if cls is not None else ([int(c) for c in trained_classes(gen.prior)] if G.conditional else [-1])
    z0, labels = _start(gen, dist, classes, seed)
    y = labels if G.conditional else None
    if cfg.model.name == "stylegan-lite":
        with torch.no_grad():
            value = G.ws(z0, y).clone()
        kind, lr = "w+", 0.02
    else:
        value, kind, lr = z0.clone(), "z", 0.1
    value.requires_grad_(True)
    opt = torch.optim.Adam([value], lr=lr)
    # a short warm-up, then a cosine ramp down to zero, as stylegan2-ada's projector schedules it
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.05 * steps + 1))
                                              * 0.5 * (1 + math.cos(math.pi * s / steps)))
    every = max(1, steps // 24)
    frames = []
    kept_loss = torch.full((len(value),), math.inf)
    kept, kept_pix, kept_feat = value.detach().clone(), torch.zeros(len(value)), None
    for step in range(steps + 1):
        x = _unit(image_of(G, kind, value, y), cfg.data.range)
        loss, pix, feat = dist(x)
        with torch.no_grad():  # the best point of each search, not merely its last
            better = loss < kept_loss
            kept_loss = torch.where(better, loss, kept_loss)
            kept[better], kept_pix = value[better], torch.where(better, pix, kept_pix)
            kept_feat = None if feat is None else feat if kept_feat is None else torch.where(better, feat, kept_feat)
        if step % every == 0 or step == steps:
            frames.append(x.detach())
        if step == steps:
            break
        prior = ((value.pow(2).mean(1) - 1) ** 2).sum() * 1e-3 if kind == "z" else 0.0  # the normal shell
        opt.zero_grad(set_to_none=True)
        (loss.sum() + prior).backward()
        opt.step()
        sched.step()
    latents = [Latent(kind, kept[i:i + 1], int(labels[i]), cfg.model.name) for i in range(len(kept))]
    return {"latents": latents, "frames": torch.stack(frames, 1), "pixel_mse": kept_pix,
            "feature_dist": kept_feat, "labels": labels.tolist()}


def projector(run: str, checkpoint: str | None = None, cls: str | None = None):
    """(the run's generator, the class to search or None, the evaluator or None, notes) for projecting."""
    gen = load_generator(run, checkpoint)
    label = resolve_class(cls, gen.class_names, gen.prior) if cls is not None else None
    if label is not None and not gen.G.conditional:
        raise GankitError(f"--class {cls}: this run's G is unconditional; leave --class out")
    return (gen, label, *distance_parts(gen, run))


def distance_parts(gen, run: str) -> tuple:
    """(the evaluator or None, notes) of a loaded generator that can be projected into; refused for ONNX."""
    if isinstance(gen.G, OnnxGenerator):  # an ONNX graph has no gradients to follow
        raise GankitError(f"{run}: an ONNX export cannot be projected into (no gradients); give the run directory "
                          "or a safetensors export (`gankit export RUN --out DIR`)")
    evaluator = evaluator_for(gen.cfg.data.dataset, gen.class_names) if gen.cfg.data.dataset != "folder" else None
    notes = [] if evaluator is not None else [(f"no shipped evaluator for {gen.cfg.data.dataset}: the distance is "
                                              "pixels alone")]
    if evaluator is not None:
        evaluator.net.eval().requires_grad_(False)
    gen.G.requires_grad_(False)
    return evaluator, notes


def project(run: str, images: list[str], out: str, cls: str | None = None, steps: int = 300, seed: int = 0,
            checkpoint: str | None = None) -> str:
    """Project every image; returns the lines to print."""
    if steps < 1:
        raise GankitError(f"--steps {steps}: must be at least 1")
    gen, label, evaluator, notes = projector(run, checkpoint, cls)
    c, h, _ = gen.img_shape
    targets, more = load_targets(images, c, h)  # every image read before anything is written
    if not targets:
        raise GankitError(f"{', '.join(images)}: no images to project")
    out_dir = writable_dir(out, "--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, lines = [], [f"note: {n}" for n in more + notes]
    for start in range(0, len(targets), BATCH):
        names, batch = zip(*targets[start:start + BATCH])
        t0 = time.time()
        r = project_batch(gen, torch.stack(batch), evaluator, label, steps, seed)
        seconds = (time.time() - t0) / len(batch)
        for i, (name, target) in enumerate(zip(names, batch)):
            with torch.no_grad():  # the very path `generate --latent` takes
                image = to_uint8(render(gen.G, r["latents"][i]), gen.cfg.data.range)[0]
            save_image(make_grid(torch.stack([target, image]), nrow=2), out_dir / f"{name}.png")
            r["latents"][i].save(out_dir / f"{name}.npz")
            frames = to_uint8(r["frames"][i])
            write_gif(gif_frames(torch.stack([torch.stack([target] * len(frames)), frames])), out_dir / f"{name}.gif")
            k, feat = r["labels"][i], r["feature_dist"]
            row = {"image": name, "class": gen.class_names[k] if k >= 0 and gen.class_names else None,
                   "pixel_mse": round(float(r["pixel_mse"][i]), 6),
                   "feature_dist": None if feat is None else round(float(feat[i]), 4), "steps": steps,
                   "seconds": round(seconds, 2)}
            rows.append(row)
            lines.append(f"{name}: pixel MSE {row['pixel_mse']:.4f}" + (
                f", feature distance {row['feature_dist']:.3f}" if row["feature_dist"] is not None else "")
                + (f", class {row['class']}" if row["class"] else "") + f" ({seconds:.1f} s an image)")
    atomic_write(out_dir / "projection.json", json.dumps({"run": str(run), "step": gen.step, "images": rows},
                                                         indent=2) + "\n")
    lines.append(f"written: {out_dir} (IMAGE.png target | projection, IMAGE.npz latent, IMAGE.gif, projection.json)")
    return "\n".join(lines)
