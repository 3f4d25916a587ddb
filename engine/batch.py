"""Many pictures (issue 12): one dream per picture, the net loaded once.

- :func:`dream_many`: map a dream over many inputs (image files or arrays),
  in this process or on a Dask cluster; returns one :class:`Outcome` per
  input, with the image (``out=None``) or the path of the output written,
  with its recipe, into the folder ``out``.
- :class:`Spec`: everything of a job except its input (config, weights,
  mean, size, device, bits): small, so it travels to workers with each task;
  the weights travel by path (a shared filesystem), never pickled.
- :func:`dream_task`: one picture, the unit of work on any worker: it loads
  the net through a per-process cache keyed by the weights' identity (path
  and SHA-1), so a worker loads it once (:data:`LOADS` counts the loads),
  then builds, renders and atomically writes the job with
  :mod:`inceptionism.engine.remake`. An existing output is skipped unless
  ``overwrite``, so a rerun (or Dask's retry of a task whose worker died)
  never writes a picture twice; a bad input becomes a failed outcome.

Every task seeds its own generator from ``config.seed``, so a picture is the
same alone, in a batch, or on any worker. Dask lives in
:mod:`inceptionism.engine.batch_dask`, imported only for a scheduler.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.recipe import Mean

#: Suffixes taken from a folder given as input.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class Spec:
    """A job without its input. ``weights`` is a file path (or None with
    ``model`` for the registry's cached file); it is read where the task runs."""

    config: DreamConfig = field(default_factory=DreamConfig)
    weights: str | None = None
    model: str | None = None
    mean: Mean = "file"
    max_size: int | None = None
    device: str = "cpu"
    bits: int = 8
    overwrite: bool = False
    #: a :class:`~inceptionism.engine.tiling_budget.Tiling`; None: untiled
    tiling: Any = None


@dataclass
class Outcome:
    """What became of one input: ``status`` done / skipped / failed, the
    output written (or the image, when nothing is written), the reason of a
    failure or skip, the warnings of its dream and its seconds."""

    input: str
    status: Status
    output: Path | None = None
    image: np.ndarray | None = None
    reason: str = ""
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    #: its place in the tasks given to the runner (set by the runners)
    task: int = -1


def output_name(inp: str | Path, folder: Path) -> Path:
    """``<stem>-dream.png`` in ``folder``: the batch's predictable name."""
    return folder / f"{Path(inp).stem}-dream.png"


# -- the per-process network cache ----------------------------------------------

#: Networks loaded by this process (a Dask worker counts its own).
LOADS = 0
_NETS: dict[tuple, tuple[Any, Path, str]] = {}
_LOCK = threading.Lock()


def loaded_net(spec: Spec, pm: Any = None) -> tuple[Any, Path, str]:
    """``(net, weights path, weights SHA-1)`` for ``spec``, loaded once per
    process for each weight file (path and SHA-1), mean and device."""
    global LOADS
    from inceptionism.engine.models import load_named_model
    from inceptionism.engine.net import Net
    from inceptionism.engine.remake import with_mean
    from inceptionism.weights.files import cached_model, sha1_file

    path = Path(spec.weights) if spec.weights else None
    if path is None:
        from inceptionism.engine.models import DEFAULT_MODEL

        path = cached_model(spec.model or DEFAULT_MODEL)
    with _LOCK:
        sha1 = _sha1(path, sha1_file)
        key = (str(path.resolve()), sha1, spec.mean, spec.device)
        if key not in _NETS:
            model, wpath = load_named_model(spec.weights, spec.model, pm)
            net = Net(with_mean(model, spec.mean), device=spec.device)
            _NETS[key] = (net, wpath, sha1)
            LOADS += 1
        return _NETS[key]


_SHA1S: dict[tuple, str] = {}


def _sha1(path: Path, sha1_file: Callable[[Path], str]) -> str:
    """The file's SHA-1, hashed again only when its size or mtime changes
    (a task must not re-read 50 MB of weights to find its net)."""
    try:
        st = path.stat()
    except OSError:
        return ""  # loading it will say what is wrong
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA1S:
        _SHA1S[key] = sha1_file(path)
    return _SHA1S[key]


def _plugins() -> Any:
    from inceptionism.plugins import get_plugin_manager

    return get_plugin_manager()


# -- one picture ----------------------------------------------------------------


def _dream_file(inp: Path, out: Path | None, spec: Spec, pm: Any) -> Outcome:
    from inceptionism.engine import preflight, remake

    net, wpath, sha1 = loaded_net(spec, pm)
    if not inp.is_file():
        raise ValueError(f"{inp}: no such file")
    job = remake.create(
        spec.config, inp, net.model, wpath, mean=spec.mean, max_size=spec.max_size,
        device=spec.device, bits=spec.bits, pm=pm, net=net, weights_sha1=sha1,
    )  # fmt: skip
    if spec.tiling is not None:  # the tile size depends on each picture's size
        job = remake.with_tiling(job, spec.tiling, pm)
    preflight.check_job(job, pm)
    try:
        result = remake.render(job, pm=pm)
    except MemoryError as exc:  # host memory, mid-dream: how to ask for less
        from inceptionism.kernels.backend import is_out_of_memory

        if is_out_of_memory(exc):  # CuPy's error is a MemoryError too
            raise
        tile = (job.recipe.tiling or {}).get("tile")
        memory = getattr(spec.tiling, "memory", None)
        raise preflight.out_of_memory(job.rgb.shape[:2], tile, memory) from exc
    if out is None:
        return Outcome(str(inp), "done", image=np.asarray(result))
    remake.write(job, out, result)
    return Outcome(str(inp), "done", output=out)


def dream_task(inp: str | Path | np.ndarray, out: Path | None, spec: Spec) -> Outcome:
    """Dream one input (a file, or an RGB array or a batch of them when
    ``out`` is None: ``spec.tiling`` goes to the dream loop as it is) with
    ``spec``; write it to ``out`` with its recipe, or return the image.
    Never raises for a bad input: the outcome says what went wrong."""
    t0 = time.perf_counter()
    name = "<array>" if isinstance(inp, np.ndarray) else str(inp)
    if out is not None and out.exists() and not spec.overwrite:
        return Outcome(name, "skipped", output=out, reason=_kept(out, spec.config))
    pm = _plugins()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if isinstance(inp, np.ndarray):
                from inceptionism.engine.dream import run

                net = loaded_net(spec, pm)[0]
                image = run(net, inp, spec.config, pm=pm, tiling=spec.tiling)
                outcome = Outcome(name, "done", image=image)
            else:
                outcome = _dream_file(Path(inp), out, spec, pm)
        except Exception as exc:
            outcome = Outcome(name, "failed", output=out, reason=_reason(exc))
    outcome.warnings = tuple(str(w.message) for w in caught)
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _kept(out: Path, config: DreamConfig) -> str:
    """Why an existing output is kept: ``"exists"`` when its recipe holds
    this dream (the seed aside: a rerun without one draws another),
    ``"other settings"`` when it holds another dream or none."""
    from inceptionism.engine.image import read_recipe

    def unseeded(d: Any) -> Any:
        return {k: v for k, v in d.items() if k != "seed"} if isinstance(d, dict) else d

    try:
        old = (read_recipe(out) or {}).get("config")
    except Exception:  # not a picture any more: still not ours to replace
        old = None
    return "exists" if unseeded(old) == unseeded(config.to_dict()) else "other settings"


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# -- many pictures --------------------------------------------------------------


def dream_many(
    inputs: Iterable[str | Path | np.ndarray],
    config: DreamConfig | None = None,
    *,
    out: str | Path | None = None,
    weights: str | Path | None = None,
    model: str | None = None,
    mean: Mean = "file",
    max_size: int | None = None,
    device: str = "cpu",
    bits: int = 8,
    overwrite: bool = False,
    scheduler: str | None = None,
    client: Any = None,
    on_done: Callable[[Outcome, int, int], None] | None = None,
) -> list[Outcome]:
    """Dream every input with ``config`` (one net, loaded once per process).

    inputs : image files, or float RGB arrays (H, W, 3) in 0..255.
    out : a folder (created if missing): each file input is written there
        as ``<stem>-dream.png`` with its recipe (existing ones skipped
        unless ``overwrite``); None: the images are returned in the outcomes.
    scheduler / client : run on Dask (``"local"``, ``"local:N"`` or
        ``"tcp://HOST:PORT"``, or a ``distributed.Client``); default: here,
        one picture after another.
    on_done : called as ``on_done(outcome, finished, total)`` per input.

    Returns one :class:`Outcome` per input, in input order.
    """
    spec = Spec(
        config=config or DreamConfig(),
        weights=None if weights is None else str(weights),
        model=model, mean=mean, max_size=max_size, device=device, bits=bits,
        overwrite=overwrite,
    )  # fmt: skip
    items = list(inputs)
    folder = None if out is None else Path(out)
    if folder is not None:
        if any(isinstance(i, np.ndarray) for i in items):
            raise ValueError("arrays have no file name to write; pass out=None to "
                             "get their images back")  # fmt: skip
        check_names(items, folder)
        folder.mkdir(parents=True, exist_ok=True)
    outs = [None if folder is None else output_name(i, folder) for i in items]  # type: ignore[arg-type]
    tasks = list(zip(items, outs))
    if scheduler is None and client is None:
        return run_here(tasks, spec, on_done)
    from inceptionism.engine.batch_dask import run_on_dask

    return run_on_dask(tasks, spec, scheduler=scheduler, client=client,
                       on_done=on_done)  # fmt: skip


def check_names(inputs: Sequence[Any], folder: Path) -> None:
    """``ValueError`` if two inputs would write the same output."""
    seen: dict[Path, Any] = {}
    for inp in inputs:
        out = output_name(inp, folder)
        if out in seen:
            raise ValueError(
                f"{seen[out]} and {inp} would both be written to {out}; rename "
                "one, or dream them in two runs with different -o folders"
            )
        seen[out] = inp


def task_spec(task: tuple, spec: Spec) -> Spec:
    """A task is ``(input, output)`` or ``(input, output, its own spec)``
    (a sweep's cells and an atlas's cells differ in their configs)."""
    return task[2] if len(task) > 2 else spec


def run_here(
    tasks: Sequence[tuple],
    spec: Spec,
    on_done: Callable[[Outcome, int, int], None] | None = None,
) -> list[Outcome]:
    """The tasks (see :func:`task_spec`) one after another in this process
    (Ctrl-C stops between or inside a dream; what is written stays, nothing
    is half written)."""
    outcomes = []
    for i, task in enumerate(tasks):
        outcomes.append(dream_task(task[0], task[1], task_spec(task, spec)))
        outcomes[-1].task = i
        if on_done is not None:
            on_done(outcomes[-1], len(outcomes), len(tasks))
    return outcomes
