"""The studio's jobs: one dream each, run by one worker thread per device.

:class:`Studio` holds the work folder (``uploads/``, ``results/``), the
models the page may choose, and the jobs of this session in the order they
were made (the page's history). :meth:`Studio.submit` queues a job on its
device's :class:`Worker`; a worker dreams one job at a time, so a device
never runs two dreams at once, and the rest wait in its queue.

A job is exactly a batch picture (:mod:`inceptionism.engine.batch`): the
net loaded once per weights, mean and device
(:func:`~inceptionism.engine.batch.loaded_net`), then
:func:`inceptionism.engine.remake.create`, ``with_tiling`` (tiles only when
the picture would not fit in memory), :func:`~inceptionism.engine.preflight.check_job`,
:func:`~inceptionism.engine.remake.render` and
:func:`~inceptionism.engine.remake.write`: the one dream loop, with an
observer (:class:`Follow`) that records progress and a small intermediate
picture, and stops the dream when the job is cancelled (it raises
:class:`Cancelled` from the step hook, which unwinds the loop; nothing is
written). A failure becomes the job's one-sentence ``error``; the worker
goes on with the next job.

The dream's warnings (a skipped octave) become the job's ``notes``, caught
with :func:`warnings.catch_warnings` as batches do; before Python 3.14 that
switch is process-wide, so a warning raised meanwhile by the server thread
may land in a job's notes too (harmless; the studio's own code warns only
inside dreams). One studio per process: its workers share batch's net cache.
"""

from __future__ import annotations

import base64
import io
import itertools
import queue
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from inceptionism.engine.batch import Spec
from inceptionism.engine.progress import Progress
from inceptionism.engine.studio.settings import Model
from inceptionism.engine.studio.thumbs import Thumbs
from inceptionism.plugins import hookimpl

State = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED = ("done", "failed", "cancelled")
#: Seconds between intermediate pictures; their longest side in pixels.
PREVIEW_EVERY = 0.4
PREVIEW_SIDE = 512
#: progress updates a job keeps for event streams that poll between them
PROGRESS_LOG = 512


class Cancelled(Exception):
    """Raised inside the dream loop to stop a cancelled job."""


@dataclass(eq=False)
class Job:
    """One dream of the session. ``version`` grows with every change, so a
    watcher knows when to send the job again."""

    id: str
    input: Path
    input_name: str
    spec: Spec
    settings: dict[str, Any]
    state: State = "queued"
    progress: dict[str, Any] = field(default_factory=dict)
    preview: str | None = None  # data: URL of the latest intermediate picture
    previews: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    result: Path | None = None
    recipe: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    seconds: float | None = None
    version: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    #: every progress update as ``(version, progress)``, the latest last: the
    #: event stream polls, and a fast dream would otherwise skip steps
    progress_log: deque = field(default_factory=lambda: deque(maxlen=PROGRESS_LOG))

    def update(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self.version += 1
        if "progress" in changes:
            self.progress_log.append((self.version, changes["progress"]))

    def progress_since(self, version: int) -> list[tuple[int, dict[str, Any]]]:
        """The progress updates made after ``version``, oldest first."""
        return [(v, p) for v, p in list(self.progress_log) if v > version]

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def download_name(self) -> str:
        """The result's file name in the browser: ``<input's stem>-dream.png``."""
        return f"{Path(self.input_name).stem}-dream.png"

    def snapshot(self) -> dict[str, Any]:
        """The job as the page shows it (without the intermediate picture)."""
        return {
            "id": self.id,
            "state": self.state,
            "input_name": self.input_name,
            "settings": self.settings,
            "progress": self.progress,
            "error": self.error,
            "notes": list(self.notes),
            "result": f"api/jobs/{self.id}/result" if self.result else None,
            "download_name": self.download_name,
            "recipe": self.recipe,
            "created": self.created,
            "seconds": self.seconds,
        }


def preview(rgb: np.ndarray) -> str:
    """A JPEG ``data:`` URL of ``rgb`` (float RGB), at most
    :data:`PREVIEW_SIDE` pixels on its longest side."""
    a = np.nan_to_num(np.asarray(rgb, dtype=np.float32), nan=0.0)
    img = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
    img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


class Follow:
    """Observer of one job's dream: progress (done/total units as
    :meth:`Progress.units` counts them, octave, step, elapsed, ETA), the
    intermediate picture every :data:`PREVIEW_EVERY` seconds and at each
    octave's end, and the stop when the job is cancelled."""

    def __init__(self, job: Job, clock: Callable[[], float] = time.monotonic):
        self.job, self.clock = job, clock
        self.t0 = clock()
        self.last_preview = -float("inf")

    def _count(self, state: Any) -> None:
        done, total = Progress.units(state)
        elapsed = self.clock() - self.t0
        eta = elapsed / done * (total - done) if done else None
        self.job.update(
            progress={
                "done": done,
                "total": total,
                "octave": state.octave + 1,
                "octaves": state.n_octaves,
                "step": state.step + 1,
                "steps": state.n_steps,
                "elapsed": round(elapsed, 2),
                "eta": None if eta is None else round(eta, 2),
            }
        )
        if self.job.cancel.is_set():
            raise Cancelled

    def _show(self, net: Any, x: Any) -> None:
        self.last_preview = self.clock()
        self.job.update(
            preview=preview(net.deprocess(x)), previews=self.job.previews + 1
        )

    @hookimpl
    def inceptionism_dream_start(self, net: Any, config: Any, rgb: Any) -> None:
        self.t0 = self.clock()

    @hookimpl
    def inceptionism_step_end(self, net: Any, state: Any, x: Any, value: Any) -> None:
        if self.clock() - self.last_preview >= PREVIEW_EVERY:
            self._show(net, x)
        self._count(state)

    @hookimpl
    def inceptionism_tile_end(self, net: Any, state: Any) -> None:
        if state.tile + 1 < state.n_tiles:
            self._count(state)

    @hookimpl
    def inceptionism_octave_end(self, net: Any, state: Any, x: Any) -> None:
        self._show(net, x)


def reason(exc: BaseException, hw: tuple[int, ...]) -> str:
    """One sentence for the page."""
    from inceptionism.kernels.backend import is_out_of_memory

    if isinstance(exc, MemoryError) or is_out_of_memory(exc):
        h, w = hw[:2]
        return (
            f"out of memory dreaming a {w}x{h} picture: choose a smaller max size "
            f"(e.g. {max(1, max(w, h) // 2)}), a shallower layer or fewer octaves"
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (ValueError, RuntimeError, OSError)) and text:
        return text
    return f"unexpected error ({type(exc).__name__}: {text or 'no message'})"


def dream_job(job: Job, results: Path) -> None:
    """Dream ``job`` and write its result into ``results`` (see the module
    docstring); never raises: the job's state says what happened."""
    from inceptionism.engine import preflight, remake
    from inceptionism.engine.batch import loaded_net
    from inceptionism.engine.tiling_budget import Tiling
    from inceptionism.plugins import get_plugin_manager

    if job.cancel.is_set():
        job.update(state="cancelled")
        return
    t0 = time.perf_counter()
    job.update(state="running")
    spec, hw = job.spec, (0, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pm = get_plugin_manager()
            net, wpath, sha1 = loaded_net(spec, pm)
            made = remake.create(
                spec.config,
                job.input,
                net.model,
                wpath,
                mean=spec.mean,
                max_size=spec.max_size,
                device=spec.device,
                pm=pm,
                net=net,
                weights_sha1=sha1,
            )
            hw = made.rgb.shape
            made = remake.with_tiling(made, Tiling(), pm)
            preflight.check_job(made, pm)
            result = remake.render(made, pm=pm, observers=[Follow(job)])
            results.mkdir(parents=True, exist_ok=True)
            out = remake.write(made, results / f"{job.id}.png", result)
            state, done = "done", {"result": out, "recipe": made.recipe.to_dict()}
        except Cancelled:
            state, done = "cancelled", {}
        except Exception as exc:
            if not isinstance(exc, (ValueError, MemoryError)):
                traceback.print_exc(file=sys.stderr)  # the server's log
            state, done = "failed", {"error": reason(exc, hw)}
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    job.update(state=state, notes=notes, seconds=time.perf_counter() - t0, **done)


class Worker(threading.Thread):
    """Dreams the jobs of one device, one at a time, in queue order."""

    def __init__(self, device: str, run: Callable[[Job], None]):
        super().__init__(name=f"studio-{device}", daemon=True)
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.run_job = run

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            self.run_job(job)


class Studio:
    """The state of one studio server (see the module docstring).

    work : the work folder (``uploads/``, ``results/``).
    models : the models offered, by id.
    devices : the devices offered, the default first.
    thumbs : the layer thumbnails (:mod:`~inceptionism.engine.studio.thumbs`).
    """

    def __init__(
        self,
        work: Path,
        models: dict[str, Model],
        devices: tuple[str, ...] = ("cpu",),
        *,
        max_bytes: int | None = None,
        max_pixels: int | None = None,
        thumbs: Thumbs | None = None,
    ):
        from inceptionism.engine.studio import uploads

        if not any(m.available for m in models.values()):
            raise ValueError(
                "no model to dream with: fetch one (`inceptionism weights fetch "
                "bvlc_googlenet`) or pass --weights FILE (offline: `inceptionism "
                "weights synthetic bvlc_googlenet -o synth.h5`)"
            )
        self.work = Path(work).resolve()
        self.uploads, self.results = self.work / "uploads", self.work / "results"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.models, self.devices = models, devices
        self.max_bytes = max_bytes or uploads.MAX_BYTES
        self.max_pixels = max_pixels or uploads.MAX_PIXELS
        #: the layer thumbnails (none unless folders are given)
        self.thumbs = thumbs or Thumbs()
        self.jobs: dict[str, Job] = {}
        #: the first name each upload came with (this session), for the page
        self.names: dict[str, str] = {}
        self._workers: dict[str, Worker] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._session = f"{int(time.time()):x}"

    def submit(self, inp: Path, input_name: str, spec: Spec, settings: dict) -> Job:
        """Queue a dream on its device's worker; returns the job."""
        with self._lock:
            job_id = f"{self._session}-{next(self._ids)}"
            settings = {**settings, "config": spec.config.to_dict()}  # the seed drawn
            job = Job(job_id, inp, input_name, spec, settings)
            self.jobs[job_id] = job
            worker = self._workers.get(spec.device)
            if worker is None:
                worker = Worker(spec.device, lambda j: dream_job(j, self.results))
                self._workers[spec.device] = worker
                worker.start()
        worker.jobs.put(job)
        return job

    def cancel(self, job: Job) -> None:
        """Stop ``job``: a queued one never starts, a running one stops at
        its next step (or tile)."""
        job.cancel.set()
        if job.state == "queued":
            job.update(state="cancelled")

    def close(self, timeout: float = 10.0) -> None:
        """Cancel every job and end the workers."""
        for job in list(self.jobs.values()):
            if not job.finished:
                self.cancel(job)
        for worker in self._workers.values():
            worker.jobs.put(None)
        for worker in self._workers.values():
            worker.join(timeout)
