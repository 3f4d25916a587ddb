"""engine/sheet.py: the labelled grid shared by sweeps and atlases."""

from __future__ import annotations

import numpy as np

from inceptionism.engine.sheet import PAD, TEXT, contact_sheet


def _images(n, h=20, w=30):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3)).astype(np.float32) for _ in range(n)]


def test_plain_grid_is_the_sweeps():
    images = _images(5)
    boxes = []
    sheet = contact_sheet(images, list("abcde"), 3, boxes=boxes)
    assert sheet.shape == (2 * (20 + TEXT + PAD) + PAD, 3 * (30 + PAD) + PAD, 3)
    assert boxes[4] == (PAD + 30 + PAD, PAD + 20 + TEXT + PAD, 30, 20)
    for image, (x, y, w, h) in zip(images, boxes):
        np.testing.assert_array_equal(sheet[y : y + h, x : x + w], image)
    assert (sheet[-20:, -30:] == 255).all()  # the sixth place stays white


def test_title_rows_cells_and_missing_pictures():
    images = _images(4, 40, 60)
    images[1] = None
    boxes = []
    long_title = " ".join(["octaves=4"] * 40)
    sheet = contact_sheet(
        images,
        ["a\n1 ch", "b", "c", "d"],
        2,
        title=long_title,
        row_labels=["model one", "two"],
        cell=30,
        fit_labels=True,
        boxes=boxes,
    )
    x, y, w, h = boxes[0]
    assert (w, h) == (30, 20)  # shrunk to fit 30 px, aspect kept
    assert x > PAD + 30  # after the row labels' margin
    assert y > 3 * 11  # under a title wrapped to several lines
    assert sheet.shape[1] < 400  # the title wrapped instead of widening the sheet
    gx, gy, gw, gh = boxes[1]
    assert (sheet[gy : gy + gh, gx : gx + gw] == 128).all()  # a grey tile
    assert boxes[2][1] > boxes[0][1] + h + TEXT  # two-line labels: taller rows
