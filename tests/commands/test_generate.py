"""generate.py: the latent walk (`--interpolate K --gif FILE`) from a tiny real conditional run,
and the options that belong to --dataset or --gif given without it."""

import pytest
from PIL import Image
from tiny_runs import tiny_run

from gankit.cli import main


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), True, reference_cache)


def test_latent_walk_gif_strip_and_report(cond_run, tmp_path):
    gif = tmp_path / "walk.gif"
    assert main(["generate", str(cond_run.path), "--interpolate", "3", "--gif", str(gif), "--seed", "1"]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 3 * 4  # K frames per leg, 4 keyframes on a closed path
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(im.convert("L").tobytes())
    assert len(set(frames)) > 1  # the images move along the path
    with Image.open(tmp_path / "walk.png") as strip:
        # one row per trained class (10), one column per frame, 28 px cells with 2 px padding
        assert strip.size == (2 + 12 * 30, 2 + 10 * 30)
    assert (cond_run.samples / "walk.png").is_file()
    page = (cond_run.path / "report.html").read_text()
    assert "<h2>Latent walk</h2>" in page


def test_walk_of_one_class_has_one_row(cond_run, tmp_path):
    gif = tmp_path / "bag.gif"
    assert main(["generate", str(cond_run.path), "--interpolate", "2", "--gif", str(gif), "--class", "Bag"]) == 0
    with Image.open(tmp_path / "bag.png") as strip:
        assert strip.size == (2 + 8 * 30, 2 + 30)


@pytest.mark.parametrize("args, message", [
    (["--per-class", "3", "--grid", "x.png"], "--per-class belongs to --dataset"),
    (["--format", "idx", "--out", "d"], "--format belongs to --dataset"),
    (["--interpolate", "3", "--grid", "x.png"], "give --gif FILE"),
    (["--gif", "walk.png"], "must end in .gif"),
    (["--dataset", "d", "--n", "10", "--class", "Bag"], "balanced over all trained classes"),
])
def test_misplaced_options_are_one_line_errors(cond_run, tmp_path, capsys, args, message):
    args = [a if a not in ("x.png", "d", "walk.png") else str(tmp_path / a) for a in args]
    assert main(["generate", str(cond_run.path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
