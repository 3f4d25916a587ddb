"""``inceptionism dream`` on many pictures (issue 12).

``dream photos/ -o out/``, ``dream "photos/*.jpg" -o out/`` or ``dream a.jpg
b.png -o out/`` dream each input with all of ``dream``'s options into
``out/<stem>-dream.png`` with its recipe (:mod:`inceptionism.engine.batch`).
Existing outputs are skipped (``--overwrite`` redoes them), so rerunning a
stopped batch resumes it; a bad input is reported and skipped; the run ends
with a summary and exits 1 if any input failed. ``--scheduler local[:N]`` or
``tcp://HOST:PORT`` runs the pictures on Dask.

Decisions: a batch needs ``-o FOLDER`` (created if missing) and refuses the
inputs' own folder (a rerun would dream the dreams); without ``--seed`` one
seed is drawn for the whole batch and recorded in every recipe; a folder
gives its image files (by suffix, not recursive, sorted); a pattern is
expanded here, sorted, so quoting it works on every shell; each written
output's path goes to stdout, progress and the summary to stderr.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine import batch

_FORBIDDEN = (
    ("replay", "--replay"),
    ("save_every", "--save-every"),
    ("sample", "--sample"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``dream``'s batch arguments: more inputs and ``--scheduler``."""
    p.add_argument(
        "more",
        nargs="*",
        metavar="IN",
        help="more inputs: with several files, a folder or a quoted pattern "
        '("photos/*.jpg") IN, -o is a folder of IN-dream.png (default: none)',
    )
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="dream IN once per value (repeatable: every combination) into -o "
        "FOLDER, with a contact sheet IN-sweep.png; KEY: layer, objective, seed, "
        "steps, octaves, octave-scale, step-size, jitter (default: no sweep)",
    )
    p.add_argument(
        "--scheduler",
        metavar="WHERE",
        help="dream the inputs on Dask: local (a worker per core), local:N, or "
        "tcp://HOST:PORT of a running scheduler (default: in this process)",
    )


def _is_pattern(text: str) -> bool:
    return glob.has_magic(text) and not Path(text).exists()


def is_batch(args: argparse.Namespace) -> bool:
    """Does this ``dream`` command line ask for a batch?"""
    first = args.input
    return bool(
        getattr(args, "more", None)
        or getattr(args, "sweep", None)
        or getattr(args, "scheduler", None)
        or (first and first != "-" and (Path(first).is_dir() or _is_pattern(first)))
    )


def collect_inputs(items: list[str]) -> list[Path]:
    """Files named by ``items``: files as given, a folder's image files, a
    pattern's matches (``ValueError`` when a folder or pattern has none)."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in batch.IMAGE_SUFFIXES
            )
            if not found:
                raise ValueError(f"{path}: is a folder with no image files; give "
                                 "an image file, or a folder of them")  # fmt: skip
        elif _is_pattern(item):
            found = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
            if not found:
                raise ValueError(f"{item}: no file matches this pattern")
        else:
            found = [path]
        paths.extend(p for p in found if p not in paths)
    return paths


def _output_folder(args: argparse.Namespace, inputs: list[Path]) -> Path:
    if not args.output or args.output == "-":
        raise ValueError("a batch writes one picture per input into a folder; "
                         "give -o FOLDER")  # fmt: skip
    folder = Path(args.output)
    if folder.suffix.lower() in batch.IMAGE_SUFFIXES and not folder.is_dir():
        raise ValueError(f"-o {folder}: a batch writes one picture per input into "
                         "a folder; give -o FOLDER")  # fmt: skip
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"-o {folder}: a batch writes into a folder, and this "
                         "is a file; choose a folder")  # fmt: skip
    if any(p.parent.resolve() == folder.resolve() for p in inputs):
        raise ValueError(f"-o {folder} holds inputs, so a rerun would dream the "
                         "outputs too; choose another folder")  # fmt: skip
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"-o {folder}: cannot create it ({exc.strerror})") from None
    return folder


class _Report:
    """Progress (one bar, or a line per picture, with done / total and an
    ETA: :class:`~inceptionism.engine.progress.BatchProgress`) and the
    final summary."""

    def __init__(
        self,
        quiet: bool,
        names: dict[str, str],
        total: int,
        by_output: bool = False,
        *,
        unit: str | None = None,
        listing: bool = True,
    ):
        from inceptionism.engine.progress import BatchProgress

        self.t0, self.names = time.monotonic(), names
        self.by_output = by_output  # a sweep: one input, many outputs
        self.listing = listing  # each output on stdout as it is written
        unit = unit or ("cell" if by_output else "picture")
        self.progress = BatchProgress(total, sys.stderr, unit=unit, enabled=not quiet)
        self.outcomes: list[batch.Outcome] = []

    def done(self, outcome: batch.Outcome, n: int, total: int) -> None:
        name = outcome.input = self.names.get(outcome.input, outcome.input)
        for prefix in (name, str(Path(name).resolve())):  # errors name the file
            outcome.reason = outcome.reason.removeprefix(f"{prefix}: ")
        self.outcomes.append(outcome)
        for w in outcome.warnings:
            self.progress.message(f"inceptionism: warning: {outcome.input}: {w}")
        if outcome.status == "done" and self.listing:
            print(outcome.output, flush=True)
        kept = "already there" + (
            ", made with other settings" if outcome.reason == "other settings" else ""
        )
        what = {"done": f"{outcome.seconds:.1f} s", "skipped": kept,
                "failed": outcome.reason}[outcome.status]  # fmt: skip
        shown = outcome.output if self.by_output else outcome.input
        if outcome.status == "failed" and self.progress.tty:  # above the bar
            self.progress.message(f"batch: failed {shown}: {what}")
        self.progress.update(outcome.status, str(shown), what)

    def connected(self, client: Any) -> None:
        info = client.scheduler_info()
        workers = len(info.get("workers", {}))
        board = client.dashboard_link if "dashboard" in info.get("services", {}) else (
            "off (pip install bokeh)")  # fmt: skip
        print(f"batch: Dask scheduler {client.scheduler.address}, {workers} workers, "
              f"dashboard {board}", file=sys.stderr)  # fmt: skip

    def summary(self, total: int, what: str = "inputs") -> int:
        self.progress.close()
        count = {s: [o for o in self.outcomes if o.status == s]
                 for s in ("done", "skipped", "failed")}  # fmt: skip
        parts = [f"{len(count['done'])} done"]
        other = sum(o.reason == "other settings" for o in count["skipped"])
        if count["skipped"]:
            some = f", {other} made with other settings" if other else ""
            parts.append(f"{len(count['skipped'])} skipped (already there{some}; "
                         "--overwrite redoes them)")  # fmt: skip
        parts.append(f"{len(count['failed'])} failed")
        seconds = time.monotonic() - self.t0
        if total == 1 and what.endswith("s"):  # 1 input, 1 atlas cell
            what = what[:-1]
        print(f"batch: {total} {what}: {', '.join(parts)} in {seconds:.1f} s",
              file=sys.stderr)  # fmt: skip
        for o in count["failed"]:
            print(f"batch: failed {o.input}: {o.reason}", file=sys.stderr)
        return 1 if count["failed"] else 0


def run_batch(args: argparse.Namespace) -> int:
    from inceptionism.engine.cli.dream_cmd import dream_config, tiling_settings

    for name, flag in _FORBIDDEN:
        if getattr(args, name, None):
            raise ValueError(f"{flag} makes one picture; give one IN, not a batch")
    items = [args.input, *args.more] if args.input else list(args.more)
    if "-" in items:
        raise ValueError("- (stdin) is one picture; give files or a folder to batch")
    inputs = collect_inputs(items)
    fresh = args.output and not Path(args.output).exists()
    folder = _output_folder(args, inputs)
    if args.sweep:
        try:
            return _run_sweep(args, inputs, folder)
        except BaseException:
            if fresh and not any(folder.iterdir()):  # refused before any cell
                folder.rmdir()
            raise
    spec = batch.Spec(
        config=dream_config(args),
        weights=None if args.weights is None else str(Path(args.weights).resolve()),
        model=args.model, mean=args.mean, max_size=args.max_size,
        device=args.device or "cpu", bits=args.bits, overwrite=args.overwrite,
        tiling=tiling_settings(args),
    )  # fmt: skip
    names = {str(p): str(p) for p in inputs}
    if args.scheduler:  # workers may run elsewhere: absolute paths
        names = {str(p.resolve()): str(p) for p in inputs}
        inputs, folder = [p.resolve() for p in inputs], folder.resolve()
    batch.check_names(inputs, folder)
    tasks = [(p, batch.output_name(p, folder)) for p in inputs]
    report = _Report(args.quiet, names, len(tasks))
    try:
        if args.scheduler:
            from inceptionism.engine.batch_dask import run_on_dask

            if spec.weights and not Path(spec.weights).is_file():
                raise ValueError(f"{args.weights}: no such weight file")
            run_on_dask(tasks, spec, scheduler=args.scheduler,
                        on_done=report.done, on_connect=report.connected)  # fmt: skip
        else:
            batch.loaded_net(spec)  # a bad --weights fails once, up front
            batch.run_here(tasks, spec, on_done=report.done)
    except KeyboardInterrupt:
        report.progress.close()
        print(f"batch: stopped after {len(report.outcomes)} of {len(tasks)}; "
              "the same command resumes", file=sys.stderr)  # fmt: skip
        raise
    except BaseException:
        if fresh and not any(folder.iterdir()):  # e.g. no scheduler answered
            folder.rmdir()
        raise
    return report.summary(len(tasks))


def _check_cells(cells: list[tuple[str, Any]], net: Any) -> None:
    """Every cell's objective, regularizers, priors and (with ``net``) layers,
    before the first cell is dreamed: a typo in the last value of a sweep
    failed only after the others were made."""
    from inceptionism.engine.dream import resolve
    from inceptionism.plugins import get_plugin_manager

    pm = get_plugin_manager()
    for _, config in cells:
        objective = resolve(config, pm)[0]
        for layer in objective.layers if net is not None else ():
            net.resolve(layer)


def _run_sweep(args: argparse.Namespace, inputs: list[Path], folder: Path) -> int:
    """``--sweep``: one input over a grid, then its contact sheet."""
    from inceptionism.engine import sweep
    from inceptionism.engine.cli.dream_cmd import dream_config, tiling_settings
    from inceptionism.engine.image import load_image, save_image

    if len(inputs) != 1:
        raise ValueError("--sweep dreams one IN over a grid; give one file")
    axes = dict(sweep.parse(text) for text in args.sweep)
    if "layer" in axes and (args.objective or args.guide):
        raise ValueError("--sweep layer= sets a DeepDream objective; drop "
                         "--objective and --guide, or sweep objective=")  # fmt: skip
    cells = sweep.grid(dream_config(args), axes)
    spec = batch.Spec(
        weights=None if args.weights is None else str(Path(args.weights).resolve()),
        model=args.model, mean=args.mean, max_size=args.max_size,
        device=args.device or "cpu", bits=args.bits, overwrite=args.overwrite,
        tiling=tiling_settings(args),
    )  # fmt: skip
    report = _Report(args.quiet, {}, len(cells), by_output=True)
    inp = inputs[0]
    if args.scheduler:  # workers may run elsewhere: absolute paths
        inp, folder = inp.resolve(), folder.resolve()
        if spec.weights and not Path(spec.weights).is_file():
            raise ValueError(f"{args.weights}: no such weight file")
    net = None if args.scheduler else batch.loaded_net(spec)[0]  # bad --weights
    _check_cells(cells, net)
    try:
        outcomes = sweep.run_sweep(
            inp, folder, spec, cells, report.done,
            scheduler=args.scheduler, on_connect=report.connected,
        )  # fmt: skip
    except KeyboardInterrupt:
        report.progress.close()
        print(f"batch: stopped after {len(report.outcomes)} of {len(cells)} sweep "
              "cells; the same command resumes", file=sys.stderr)  # fmt: skip
        raise
    images: list[np.ndarray | None] = [
        np.asarray(load_image(o.output)) if o.output and o.output.is_file() else None
        for o in outcomes
    ]
    if any(i is not None for i in images):
        columns = len(list(axes.values())[-1]) if len(axes) > 1 else min(len(cells), 6)
        sheet = sweep.contact_sheet(images, [c[0] for c in cells], columns)
        path = folder / f"{inputs[0].stem}-sweep.png"
        save_image(path, sheet.astype(np.float32), protect=[inputs[0]])
        print(path)
    return report.summary(len(cells), "sweep cells")
