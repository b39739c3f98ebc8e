"""show_dataset: a PNG grid of the first images and counts per class."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gankit.data import ImageData
from gankit.data.show import UNLABELLED, show_dataset


def test_grid_png_and_counts(tmp_path):
    images = torch.arange(5, dtype=torch.uint8).mul(50).view(5, 1, 1, 1).expand(5, 3, 3, 3).contiguous()
    data = ImageData(images, torch.tensor([0, 2, 2, 0, 2]), ["x", "y", "z"], "t")
    counts = show_dataset(data, tmp_path / "sub" / "grid.png", n=4)
    assert counts == {"x": 2, "y": 0, "z": 3}
    grid = np.asarray(Image.open(tmp_path / "sub" / "grid.png"))
    # 4 images, 2 per row, 3x3 cells with 2 px padding: 2 + 2 * (3 + 2) = 12 per side
    assert grid.shape == (12, 12, 3)
    assert grid[2, 2].tolist() == [0, 0, 0] and grid[2, 7].tolist() == [50, 50, 50]
    assert grid[7, 7].tolist() == [150, 150, 150]  # image 3; image 4 is beyond n


def test_unlabelled_counts(tmp_path):
    data = ImageData(torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64), [], "u")
    assert show_dataset(data, tmp_path / "g.png") == {UNLABELLED: 3}
    assert Image.open(tmp_path / "g.png").mode == "L"
