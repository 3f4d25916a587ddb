"""Progress of a dream, as observer plugins of the dream loop's events.

:class:`ProgressBar` draws one bar per octave on a terminal (steps done,
objective value, seconds) and prints nothing when the stream is not a TTY
(logs, pipes, tests), unless ``force=True``. :class:`SaveEvery` writes the
current image every N steps (and at the end of each octave). Both are plain
objects with ``@hookimpl`` methods; the dream loop registers them on its
plugin manager for one call (``dream(..., observers=[...])``). Only the
step's value (a 0-d device array, turned into a float once per step and only
by a bar that draws) and, for saving, the image at the chosen steps leave the
device.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from inceptionism.plugins import hookimpl

BAR_WIDTH = 30


class ProgressBar:
    """``octave 2/4 [#########.....]  6/10  value 1.23e+04  3.1s`` on a TTY."""

    def __init__(self, stream=None, force: bool = False, label: str = ""):
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = force or bool(isatty())
        self.label = label
        self._t0 = time.perf_counter()

    def _write(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()

    @hookimpl
    def inceptionism_dream_start(self, net, config, rgb):
        self._t0 = time.perf_counter()

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        if not self.enabled:
            return  # nothing to draw: leave the value on the device
        done = state.step + 1
        filled = round(BAR_WIDTH * done / max(state.n_steps, 1))
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        seconds = time.perf_counter() - self._t0
        self._write(
            f"\r{self.label}octave {state.octave + 1}/{state.n_octaves} [{bar}] "
            f"{done:>3}/{state.n_steps}  value {float(value):.3g}  {seconds:.1f}s"
        )

    @hookimpl
    def inceptionism_octave_end(self, net, state, x):
        self._write("\n")


class SaveEvery:
    """Save the image every ``every`` steps and after each octave.

    Files are ``<stem>-o<octave>-s<step>.png`` in ``folder`` (``save`` is
    called as ``save(path, rgb)``, e.g. a partial of
    :func:`inceptionism.engine.image.save_image`).
    """

    def __init__(self, every: int, folder, stem: str, save):
        if every < 1:
            raise ValueError(f"--save-every must be >= 1, got {every}")
        self.every, self.folder, self.stem, self.save = every, Path(folder), stem, save
        self.written: list[Path] = []

    def _save(self, net, state, x):
        path = self.folder / f"{self.stem}-o{state.octave}-s{state.step:03d}.png"
        self.save(path, net.deprocess(x))
        self.written.append(path)

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        last = state.step + 1 == state.n_steps
        if (state.step + 1) % self.every == 0 and not last:
            self._save(net, state, x)

    @hookimpl
    def inceptionism_octave_end(self, net, state, x):
        self._save(net, state, x)
