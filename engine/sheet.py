"""Contact sheets: pictures laid out in a labelled grid (sweeps, atlases).

:func:`contact_sheet` puts images of one size in rows of ``columns`` on
white, each with its label beneath (labels may have several lines); an
optional ``title`` (lines above the grid, e.g. the dream's parameters) and
``row_labels`` (a left margin naming each row, e.g. the model) and ``cell``
(shrink each picture to fit a square of that many pixels) serve the atlas.
Without them the layout is the sweep's: 4 px gaps, 14 px per label line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAD = 4
#: Height of the first label line; each further line adds :data:`LINE`.
TEXT = 14
LINE = 11


def _fit(image: np.ndarray, cell: int | None) -> np.ndarray:
    """``image`` as uint8, shrunk (bilinear) to fit ``cell`` x ``cell``."""
    from PIL import Image

    tile = np.clip(np.rint(np.asarray(image, np.float64)), 0, 255).astype(np.uint8)
    h, w = tile.shape[:2]
    if cell is None or max(h, w) <= cell:
        return tile
    k = cell / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return np.asarray(Image.fromarray(tile).resize(size, Image.Resampling.BILINEAR))


def contact_sheet(
    images: Sequence[np.ndarray | None],
    labels: Sequence[str],
    columns: int,
    *,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    cell: int | None = None,
    fit_labels: bool = False,
    boxes: list[tuple[int, int, int, int]] | None = None,
) -> np.ndarray:
    """The images (uint8 or float (H, W, 3), same size; None: a grey tile) in
    rows of ``columns``, each with its label beneath, on white.

    title : text above the grid (``\\n`` separates lines).
    row_labels : one per row, written in a left margin.
    cell : largest side of each picture on the sheet (None: as they are).
    fit_labels : widen the columns to the longest label line (else labels
        wider than a picture run into the next one).
    boxes : if given, gets each picture's ``(x, y, width, height)``.
    Returns uint8 (H, W, 3); the title is wrapped at spaces to its width.
    """
    from PIL import Image, ImageDraw

    tiles = [None if i is None else _fit(i, cell) for i in images]
    h, w = next(t.shape[:2] for t in tiles if t is not None)
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    text = TEXT + LINE * (lines - 1)
    rows = -(-len(tiles) // columns)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = 0
    if row_labels:
        left = max(int(probe.textlength(r)) for r in row_labels) + 2 * PAD
    if fit_labels:
        widest = max(probe.textlength(x) for lb in labels for x in lb.split("\n"))
        w = max(w, int(widest) + PAD)
    width = left + columns * (w + PAD) + PAD
    if title:
        title = _wrap(title, width - 2 * PAD, probe.textlength)
    top = 0 if not title else LINE * (title.count("\n") + 1) + PAD
    size = (width, top + rows * (h + text + PAD) + PAD)
    sheet = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.multiline_text((PAD, PAD), title, fill="black", spacing=1)
    for r, label in enumerate(row_labels or ()):
        y = top + PAD + r * (h + text + PAD) + h // 2 - LINE // 2
        draw.text((PAD, y), label, fill="black")
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        x = left + PAD + (i % columns) * (w + PAD)
        y = top + PAD + (i // columns) * (h + text + PAD)
        if tile is None:
            tile = np.full(
                (*next(t.shape[:2] for t in tiles if t is not None), 3), 128, np.uint8
            )
        sheet.paste(Image.fromarray(tile), (x, y))
        if boxes is not None:
            boxes.append((x, y, tile.shape[1], tile.shape[0]))
        draw.multiline_text((x, y + h + 1), label, fill="black", spacing=1)
    return np.asarray(sheet)


def _wrap(text: str, width: float, length) -> str:
    """``text`` with its lines broken at spaces to fit ``width`` pixels
    (``length(str)``: a string's width)."""
    out = []
    for line in text.split("\n"):
        words, cur = line.split(" "), ""
        for word in words:
            trial = f"{cur} {word}" if cur else word
            if cur and length(trial) > width:
                out.append(cur)
                cur = word
            else:
                cur = trial
        out.append(cur)
    return "\n".join(out)
