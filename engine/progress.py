"""Progress of a dream, as observer plugins of the dream loop's events.

:class:`Progress` follows a whole job: one dream (octaves x steps) or a zoom
sequence (frames x octaves x steps), with tiles counted too once the dream
loop reports them (``StepState.tile`` / ``n_tiles``; see :meth:`Progress.units`).

- On a terminal it draws one bar, redrawn after every step::

    dream [######......]  45%  18/40  octave 2/4  value 1.2e+04  2.30 steps/s  ETA 0:08

- Without one (logs, pipes) it writes a short line to the stream at each 10%
  and at least every ``interval`` seconds, so a long job's log shows life;
  jobs shorter than ``interval`` stay silent unless progress was asked for
  (``enabled=True``: ``--progress``).
- ``enabled=False`` (``--quiet``) writes nothing.

The step's value is a 0-d device array; it is turned into a float only when a
line is actually written, so a bar with nowhere to draw never waits for the
GPU. :class:`SaveEvery` writes the current image every N steps (and at the end
of each octave). Both are plain objects with ``@hookimpl`` methods that the
dream loop registers on its plugin manager for one call (``dream(...,
observers=[...])``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inceptionism.plugins import hookimpl

BAR_WIDTH = 24


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _value(value: Any) -> str:
    return "value ..." if value is None else f"value {float(value):.3g}"


class _Lines:
    """A stream of progress lines whose last one may be a bar still being
    redrawn (``_open``): what both displays below write through."""

    stream: Any
    _open = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        """End a bar's line (at the end, or when the job stops)."""
        if self._open:
            self._open = False
            self._write("\n")


class Progress(_Lines):
    """One progress display over a dream or a sequence of ``runs`` dreams.

    stream : where to write (default ``sys.stderr``); a bar is drawn when
        ``stream.isatty()``, log lines otherwise.
    enabled : None (default) decides by the stream as above; True forces
        output (log lines from the start when not a terminal); False: nothing.
    runs : dreams in the job (``zoom``: frames).
    label : first word of each line.
    unit : what one of the ``runs`` is called (``frame``; ``channel``).
    interval : seconds between log lines (and of silence before the first
        one when ``enabled`` is None).
    clock : monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        stream: Any = None,
        force: bool = False,
        label: str = "dream",
        *,
        enabled: bool | None = None,
        runs: int = 1,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "frame",
    ):
        self.stream = sys.stderr if stream is None else stream
        if force:
            enabled = True
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.tty = bool(isatty())
        self.enabled = enabled is not False
        self.quiet_start = enabled is None and not self.tty
        self.label, self.runs, self.interval, self.clock = label, runs, interval, clock
        self.unit = unit
        self.run = -1  # index of the dream in progress
        self.done = self.total = 0
        self._t0 = self._last_line = 0.0
        self._last_tenth = 0
        self._open = False  # a bar is drawn and its line not yet ended
        self._value: Any = None  # the last step's value (tiles show it)
        self._unit = "step"  # what the count counts: "tile" once the loop tiles
        self.lines = 0  # log lines written

    # -- counting ----------------------------------------------------------

    @staticmethod
    def units(state: Any) -> tuple[int, int]:
        """``(done, total)`` work units of one dream after ``state``'s step.

        A unit is one step of one octave, or, once the loop tiles, one tile
        of a step (``state.tile`` of ``state.n_tiles``, 0-based; absent = 1
        tile): the hook where tiles join the count.
        """
        n_tiles = getattr(state, "n_tiles", 1)
        tile = getattr(state, "tile", n_tiles - 1)
        octave_tiles = tuple(getattr(state, "octave_tiles", ()) or ())
        if octave_tiles:  # octaves of different sizes have different counts
            before = sum(octave_tiles[: state.octave]) * state.n_steps
            # a shifting plan (approximate halo) cuts a few more tiles on
            # some steps: count its nominal share, so steps stay equal
            nominal = octave_tiles[state.octave]
            done = before + state.step * nominal + (tile + 1) * nominal // n_tiles
            return done, sum(octave_tiles) * state.n_steps
        per_octave = state.n_steps * n_tiles
        done = state.octave * per_octave + state.step * n_tiles + tile + 1
        return done, state.n_octaves * per_octave

    def update(self, state: Any, value: Any) -> None:
        """Count the unit ``state`` finished; draw if it is time."""
        done, per_run = self.units(state)
        if getattr(state, "octave_tiles", ()) or getattr(state, "n_tiles", 1) > 1:
            self._unit = "tile"
        self.total = per_run * self.runs
        self.done = max(self.run, 0) * per_run + done
        if not self.enabled:
            return  # nothing to draw: leave the value on the device
        now = self.clock()
        if self.tty:
            self._draw_bar(state, value, now)
            return
        tenth = 10 * self.done // max(self.total, 1)
        if self.quiet_start and now - self._t0 < self.interval:
            self._last_tenth = tenth
            return
        if tenth > self._last_tenth or now - self._last_line >= self.interval:
            self._last_tenth, self._last_line = tenth, now
            self._write(self._line(state, value, now) + "\n")
            self.lines += 1

    # -- drawing -----------------------------------------------------------

    def _stats(self, now: float) -> str:
        seconds = now - self._t0
        if self.done == 0 or seconds <= 0:
            return f"{_clock(seconds)}"
        rate = self.done / seconds
        eta = (self.total - self.done) / rate
        unit = self._unit
        speed = f"{rate:.2f} {unit}s/s" if rate >= 1 else f"{1 / rate:.1f} s/{unit}"
        if self.done >= self.total:
            return f"{speed}  {_clock(seconds)}"
        return f"{speed}  ETA {_clock(eta)}"

    def _where(self, state: Any) -> str:
        frame = f"{self.unit} {self.run + 1}/{self.runs}  " if self.runs > 1 else ""
        n_tiles = getattr(state, "n_tiles", 1)
        tiles = f"  tile {state.tile + 1}/{n_tiles}" if n_tiles > 1 else ""
        if self._unit == "tile":  # tiles within steps within octaves
            tiles = f"  step {state.step + 1}/{state.n_steps}{tiles}"
        return f"{frame}octave {state.octave + 1}/{state.n_octaves}{tiles}"

    def _line(self, state: Any, value: Any, now: float) -> str:
        pct = 100 * self.done // max(self.total, 1)
        return (
            f"{self.label}: {pct:3d}%  {self.done}/{self.total}  {self._where(state)}"
            f"  {_value(value)}  {self._stats(now)}"
        )

    def _draw_bar(self, state: Any, value: Any, now: float) -> None:
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        pct = 100 * self.done // max(self.total, 1)
        self._write(
            f"\r{self.label} [{bar}] {pct:3d}%  {self.done}/{self.total}  "
            f"{self._where(state)}  {_value(value)}  {self._stats(now)}\x1b[K"
        )
        self._open = True
        if self.done >= self.total:
            self.close()

    # -- hooks -------------------------------------------------------------

    @hookimpl
    def inceptionism_dream_start(self, net, config, rgb):
        self.run += 1
        if self.run == 0:
            self._t0 = self._last_line = self.clock()

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        self._value = value
        self.update(state, value)

    @hookimpl
    def inceptionism_tile_end(self, net, state):
        if state.tile + 1 < state.n_tiles:  # the last one ends the step
            self.update(state, self._value)


#: The name of :class:`Progress` before it followed whole jobs.
ProgressBar = Progress


class BatchProgress(_Lines):
    """Progress of a batch (pictures, sweep cells): done / total and an ETA.

    On a terminal one bar, redrawn as each picture finishes; messages (a
    failure, a warning) are printed above it::

        batch [####....]  40%  4/10  3 done, 1 skipped  12.1 s/picture  ETA 1:13

    Elsewhere one line per finished picture, with the same counts and ETA.
    The ETA is the wall time per picture dreamed so far (skipped ones cost
    nothing; on Dask the workers' pictures overlap, so this is the cluster's
    rate) times the pictures left. ``enabled=False`` (``--quiet``): nothing.
    """

    def __init__(
        self,
        total: int,
        stream: Any = None,
        *,
        label: str = "batch",
        unit: str = "picture",
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.label, self.unit = total, label, unit
        self.enabled, self.clock = enabled, clock
        self.t0 = clock()
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self._open = False

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def _stats(self) -> str:
        parts = [f"{self.counts['done']} done"]
        parts += [
            f"{self.counts[k]} {k}" for k in ("skipped", "failed") if self.counts[k]
        ]
        text = ", ".join(parts)
        dreamed = self.counts["done"] + self.counts["failed"]
        seconds = self.clock() - self.t0
        if dreamed and seconds > 0:
            per = seconds / dreamed
            text += f"  {per:.1f} s/{self.unit}"
            if self.finished < self.total:
                text += f"  ETA {_clock(per * (self.total - self.finished))}"
        return text + (f"  {_clock(seconds)}" if self.finished >= self.total else "")

    def _bar(self) -> str:
        n, total = self.finished, max(self.total, 1)
        filled = BAR_WIDTH * n // total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return (f"\r{self.label} [{bar}] {100 * n // total:3d}%  {n}/{self.total}  "
                f"{self._stats()}\x1b[K")  # fmt: skip

    def update(self, status: str, name: str, detail: str = "") -> None:
        """Count one finished item (``status`` done / skipped / failed)."""
        self.counts[status] += 1
        if not self.enabled:
            return
        n = self.finished
        if self.tty:
            self._write(self._bar())
            self._open = True
            if n >= self.total:
                self.close()
            return
        pct = 100 * n // max(self.total, 1)
        what = f" ({detail})" if detail else ""
        self._write(f"{self.label}: {n}/{self.total} ({pct}%)  {status} {name}{what}"
                    f"  {self._stats()}\n")  # fmt: skip

    def message(self, text: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        if not self._open:
            self._write(text + "\n")
            return
        self._write(f"\r\x1b[K{text}\n")
        self._write(self._bar())


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
