"""`gankit app RUN` in a real headless browser (Debian's chromium through Playwright, never its own
download) against the real Gradio server the command starts on a free port: the first images
appear, moving a control changes them, the interpolation draws, an uploaded image is projected with
its distance, a file that is not an image is a message on the page (and no traceback on the
server), and Ctrl-C stops it.  Bad command lines are one line with exit 2, before any server."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_input_helpers import fails
from PIL import Image
from server_helpers import free_port, wait_until_up
from tiny_runs import tiny_run

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="the app extra (gradio) is not installed")


@pytest.fixture(scope="module")
def run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), True, reference_cache).path


def test_bad_command_lines_are_one_line_before_any_server(run, tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = fails(["app", str(run), "--port", str(port)], capsys)
    assert line.startswith(f"--port {port}: cannot listen on 127.0.0.1:{port} (") and "give another --port" in line
    assert fails(["app", str(run), "--port", "70000"], capsys) == "--port 70000: give 1 to 65535 (or 0 for any free port)"
    (tmp_path / "empty").mkdir()
    assert fails(["app", str(tmp_path / "empty"), "--port", "0"], capsys) == (
        f"{tmp_path / 'empty'}: not a gankit run directory (no config.json)")
    (tmp_path / "untrained").mkdir()  # a run directory whose training never saved a checkpoint
    (tmp_path / "untrained" / "config.json").write_bytes((run / "config.json").read_bytes())
    assert fails(["app", str(tmp_path / "untrained"), "--port", "0"], capsys).startswith(
        f"{tmp_path / 'untrained'}: no checkpoint yet at ")


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no system chromium at /usr/bin/chromium")
def test_the_page_samples_interpolates_and_projects_in_a_browser(run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from gankit.runs.load import load_run
    from gankit.util.imageio import to_uint8
    import torch

    G = load_run(run)
    with torch.no_grad():
        z = torch.randn(1, G.G.z_dim, generator=torch.Generator().manual_seed(3))
        target = to_uint8(G.G(z, torch.tensor([8])), G.cfg.data.range)[0, 0].numpy()
    Image.fromarray(target).save(tmp_path / "bag.png")
    (tmp_path / "notes.png").write_text("not an image")

    port, tmp = free_port(), tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    server = subprocess.Popen([sys.executable, "-m", "gankit", "app", str(run), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/config", server, seconds=120)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#samples img", timeout=60_000)
            assert "dcgan at step 4" in page.locator("body").inner_text()
            first = page.get_attribute("#samples img", "src")

            seed = page.locator("#seed input")  # a control moved: the images change
            seed.fill("7")
            seed.press("Enter")
            page.wait_for_function("s => document.querySelector('#samples img')?.src !== s", arg=first,
                                   timeout=60_000)
            files = page.locator("#sample-files").inner_text().replace("\n", "")  # Gradio splits name and suffix
            assert "seeds-7-22.png" in files and "seed-7.npz" in files

            page.get_by_role("tab", name="Interpolate").click()
            page.locator("#interpolate").click()
            page.wait_for_selector("#walk img", timeout=60_000)

            page.get_by_role("tab", name="Project").click()
            page.set_input_files("#upload input[type=file]", str(tmp_path / "bag.png"))
            page.wait_for_function("() => document.querySelector('#distance textarea')?.value.length > 0",
                                   timeout=120_000)
            said = page.locator("#distance textarea").input_value()
            assert said.startswith("bag: pixel MSE ") and "feature distance" in said and ", class " in said
            mse = float(said.split("pixel MSE ")[1].split(",")[0])
            assert mse < 0.01  # a generated image is found again
            assert "bag-projection.png" in page.locator("#projection-files").inner_text().replace("\n", "")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)

            page.locator("#upload").get_by_label("Clear").click()  # another upload, not an image
            page.set_input_files("#upload input[type=file]", str(tmp_path / "notes.png"))
            page.get_by_text("not an image gankit can read").first.wait_for(timeout=60_000)
            assert errors == []
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode in (0, 130), err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert f"on http://127.0.0.1:{port}" in out
    assert not any(tmp.glob("gankit-app-*"))  # the downloads' folder goes with the server
    assert np.asarray(Image.open(tmp_path / "bag.png")).shape == (28, 28)  # the upload itself untouched
