"""imageio: range conversions, grid layout and PNG files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.util.imageio import make_grid, save_grid, save_pngs, to_float, to_pil, to_uint8


def test_to_uint8_closed_forms():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])
    assert to_uint8(x, "-1,1").tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds to even 128
    assert to_uint8(torch.tensor([0.0, 0.5, 1.0, 1.5]), "0,1").tolist() == [0, 128, 255, 255]
    with pytest.raises(ValueError):
        to_uint8(x, "0,255")


@pytest.mark.parametrize("rng", ["-1,1", "0,1"])
def test_float_round_trip_on_all_levels(rng):
    levels = torch.arange(256, dtype=torch.uint8)
    f = to_float(levels, rng)
    assert float(f.min()) == (-1.0 if rng == "-1,1" else 0.0) and float(f.max()) == 1.0
    assert torch.equal(to_uint8(f, rng), levels)


def test_make_grid_layout():
    imgs = torch.stack([torch.full((1, 2, 3), v, dtype=torch.uint8) for v in (10, 20, 30)])
    grid = make_grid(imgs, nrow=2, padding=1, pad_value=255)
    # 2 rows x 2 cols of 2x3 cells, 1 px frame: height 1 + 2*(2+1) = 7, width 1 + 2*(3+1) = 9
    assert grid.shape == (7, 9, 1)
    assert grid[1, 1, 0] == 10 and grid[1, 5, 0] == 20 and grid[4, 1, 0] == 30
    assert grid[4, 5, 0] == 255 and grid[0, 0, 0] == 255  # empty last cell and frame


def test_default_nrow_is_square():
    assert make_grid(torch.zeros(9, 3, 4, 4, dtype=torch.uint8), padding=0).shape == (12, 12, 3)


def test_make_grid_rejects_floats():
    with pytest.raises(ValueError):
        make_grid(torch.zeros(1, 3, 2, 2))


def test_save_grid_and_pngs(tmp_path):
    imgs = torch.randint(0, 256, (3, 3, 5, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    p = save_grid(imgs, tmp_path / "g.png", nrow=3, padding=0)
    np.testing.assert_array_equal(np.asarray(Image.open(p))[:, 4:8], imgs[1].permute(1, 2, 0).numpy())
    paths = save_pngs(imgs, tmp_path / "pngs", prefix="s", start=7)
    assert [q.name for q in paths] == ["s000007.png", "s000008.png", "s000009.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(paths[2])), imgs[2].permute(1, 2, 0).numpy())


def test_to_pil_drops_the_grey_channel_and_enlarges_by_whole_pixels():
    grey = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    im = to_pil(grey)
    assert im.mode == "L" and im.size == (3, 2)
    big = np.asarray(to_pil(grey, scale=3))
    assert big.shape == (6, 9)
    # each source pixel becomes a 3 x 3 block of the same value (nearest neighbour, no blur)
    assert (big[3:6, 6:9] == grey[1, 2, 0]).all() and (big[0:3, 0:3] == grey[0, 0, 0]).all()
    colour = np.zeros((2, 2, 3), dtype=np.uint8)
    assert to_pil(colour, scale=0).mode == "RGB" and to_pil(colour, scale=0).size == (2, 2)
