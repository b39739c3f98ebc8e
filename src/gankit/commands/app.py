"""`gankit app RUN`: a local page to play with a trained generator (Gradio, the `app` extra).

Three tabs over one `Playground` (playground.py, where the pictures are made):
- **Sample**: seed, class and truncation; the images of seeds S, S+1, ... (each one
  `gankit generate RUN --n 1 --seed S` draws), with the PNG and the first seed's latent to download;
- **Interpolate**: two seeds and the slerp between them;
- **Project**: an uploaded image found in the generator (its projection, distances, PNG, latent).

It reads only the run directory or export (ONNX exports too, without projection) and writes
only into a temporary folder removed on exit.  A bad value or upload is a message on the page
(gr.Error), never a traceback; the port is checked before anything loads.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.commands.playground import ANY, MAX_FRAMES, MAX_IMAGES, Playground
from gankit.errors import GankitError
from gankit.util.imageio import make_grid, save_image, to_pil

SEARCH = "every trained class (searched)"  # the projection's class choice that tries each
SHOWN_SIDE = 320  # small images are enlarged (nearest neighbour) to about this many pixels on the page
CSS = "img {image-rendering: pixelated;}"


def check_port(host: str, port: int) -> int:
    """The port to serve on, free now (0: one the system picks); one line when it is taken."""
    if not 0 <= port <= 65535:
        raise GankitError(f"--port {port}: give 1 to 65535 (or 0 for any free port)")
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise GankitError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror or e}); give another "
                              "--port, or 0 for any free one") from None
        return s.getsockname()[1]


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local page tells nobody it ran
    try:
        import gradio
    except ImportError:
        raise GankitError("gankit app needs Gradio, an optional extra: pip install 'gankit[app]'") from None
    return gradio


def shown(picture: np.ndarray) -> Image.Image:
    """A picture for the page: enlarged by a whole factor so 28 px images are not a blur."""
    return to_pil(picture, scale=SHOWN_SIDE // max(picture.shape[:2]))


def build(play: Playground, workdir: Path):
    """The page (a gr.Blocks) for one Playground; its downloads are written under workdir."""
    gr = _gradio()
    gen = play.gen
    c, h, w = gen.img_shape

    def on_page(fn):  # a GankitError is the page's message, not a server traceback
        @functools.wraps(fn)
        def call(*args):
            try:
                return fn(*args)
            except GankitError as e:
                raise gr.Error(str(e), print_exception=False) from None
        return call

    def folder() -> Path:
        return Path(tempfile.mkdtemp(dir=workdir))

    @on_page
    def sample(seed, count, cls, psi):
        seed, count = int(seed or 0), int(count)
        images = play.images(seed, count, cls, float(psi))
        picture = make_grid(images, nrow=math.ceil(math.sqrt(count)))
        out = folder()
        files = [str(save_image(picture, out / f"seeds-{seed}-{seed + count - 1}.png"))]
        if not (play.onnx and play.style):
            files.append(str(play.latent(seed, cls, float(psi)).save(out / f"seed-{seed}.npz")))
        return shown(picture), files

    @on_page
    def interpolate(seed_a, seed_b, frames, cls, psi):
        seed_a, seed_b = int(seed_a or 0), int(seed_b or 0)
        picture = make_grid(play.interpolation(seed_a, seed_b, int(frames), cls, float(psi)), nrow=int(frames))
        path = save_image(picture, folder() / f"seeds-{seed_a}-to-{seed_b}.png")
        return shown(picture), [str(path)]

    @on_page
    def project(upload, steps, cls):
        if not upload:
            raise GankitError("no file: upload an image (PNG, JPEG, WebP, GIF, BMP or TIFF)")
        r = play.project(upload, int(steps), None if cls == SEARCH else cls)
        out = folder()
        files = [str(save_image(r.pair, out / f"{r.name}-projection.png")), str(r.latent.save(out / f"{r.name}.npz"))]
        return shown(r.pair), r.summary(), files

    classes = [ANY] + play.classes
    about = (f"**{play.run}**: {gen.cfg.model.name} at step {gen.step}, {c} x {h} x {w} images"
             + (f", {len(play.classes)} classes" if play.classes else "") + ". The image of seed S is the one "
             "`gankit generate RUN --n 1 --seed S` draws; its latent renders back with `--latent FILE`.")
    with gr.Blocks(title=f"gankit app: {Path(play.run).name}") as page:
        gr.Markdown(about)
        with gr.Tab("Sample"):
            with gr.Row():
                seed = gr.Number(0, label="seed", precision=0, minimum=0, elem_id="seed")
                count = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="images (seeds S, S+1, ...)", elem_id="count")
                cls = gr.Dropdown(classes, value=ANY, label="class", visible=bool(play.classes), elem_id="cls")
                psi = gr.Slider(0, 1, value=1, step=0.05, label="truncation psi (1 = none)", visible=play.style,
                                elem_id="psi")
            picture = gr.Image(label="samples", type="pil", format="png", interactive=False, elem_id="samples")
            files = gr.File(label="download: the PNG, and the latent of seed S", file_count="multiple",
                            elem_id="sample-files")
        with gr.Tab("Interpolate"):
            with gr.Row():
                seed_a = gr.Number(0, label="from seed", precision=0, minimum=0, elem_id="seed-a")
                seed_b = gr.Number(1, label="to seed", precision=0, minimum=0, elem_id="seed-b")
                frames = gr.Slider(2, MAX_FRAMES, value=8, step=1, label="frames", elem_id="frames")
                cls_i = gr.Dropdown(classes, value=ANY, label="class", visible=bool(play.classes))
                psi_i = gr.Slider(0, 1, value=1, step=0.05, label="truncation psi", visible=play.style)
            go = gr.Button("Interpolate", elem_id="interpolate")
            walk = gr.Image(label="from seed to seed", type="pil", format="png", interactive=False, elem_id="walk")
            walk_files = gr.File(label="download", file_count="multiple")
        with gr.Tab("Project"):
            if not play.projectable:
                gr.Markdown("An ONNX export cannot be projected into (no gradients): open the run directory or a "
                            "safetensors export to project images.")
            upload = gr.File(label="an image to find in the generator", type="filepath", elem_id="upload",
                             interactive=play.projectable)
            with gr.Row():
                steps = gr.Slider(10, 1000, value=200, step=10, label="search steps", elem_id="steps")
                cls_p = gr.Dropdown([SEARCH] + play.classes, value=SEARCH, label="class",
                                    visible=bool(play.classes))
            found = gr.Image(label="target | projection", type="pil", format="png", interactive=False,
                             elem_id="projection")
            distance = gr.Textbox(label="distance", interactive=False, elem_id="distance")
            found_files = gr.File(label="download: the pair and the latent", file_count="multiple",
                                  elem_id="projection-files")

        controls = [seed, count, cls, psi]
        for control in (seed, cls):
            control.change(sample, controls, [picture, files])
        for control in (count, psi):
            control.release(sample, controls, [picture, files])
        page.load(sample, controls, [picture, files])
        go.click(interpolate, [seed_a, seed_b, frames, cls_i, psi_i], [walk, walk_files])
        upload.upload(project, [upload, steps, cls_p], [found, distance, found_files])
    return page


def serve(run: str, port: int = 7860, host: str = "127.0.0.1", checkpoint: str | None = None) -> None:
    """Serve the page until Ctrl-C: the port and the run are checked before the server starts."""
    gr = _gradio()
    port = check_port(host, port)
    # a shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: restore it, so that Ctrl-C (or a SIGINT) always stops the page
    signal.signal(signal.SIGINT, signal.default_int_handler)
    play = Playground(run, checkpoint)
    with tempfile.TemporaryDirectory(prefix="gankit-app-") as tmp:
        page = build(play, Path(tmp))
        print(f"gankit app: {run} on http://{host}:{port} (Ctrl-C stops it)", flush=True)
        theme = gr.themes.Base(font=["system-ui", "sans-serif"], font_mono=["monospace"])  # nothing fetched
        try:
            page.launch(server_name=host, server_port=port, quiet=True, ssr_mode=False, footer_links=[],
                        theme=theme, css=CSS, allowed_paths=[tmp])
        finally:
            # launch's Ctrl-C handler closes only the HTTP server; Blocks.close also stops the queue
            # and the event streams' heartbeats, which otherwise outlive the page
            page.close(verbose=False)
    print("gankit app: stopped", file=sys.stderr)
