"""``inceptionism dream`` (and the helpers ``zoom`` shares).

``dream IN [-o OUT]`` runs the dream loop (defaults = google/deepdream
``dream.ipynb``) and writes the picture with its recipe embedded
(:mod:`inceptionism.engine.recipe`), as is every ``--save-every``
intermediate. ``dream --replay FILE -o AGAIN`` re-makes any output of this
tool from its recipe, pixel for pixel on the same device, or refuses in one
sentence; only ``-o``, ``--weights``, ``--device`` and ``IN`` are taken from
the command line then.

``zoom IN -o FOLDER`` (:mod:`inceptionism.engine.cli.zoom_cmd`, built on
this module's job and progress helpers) is the notebook's zoom feedback.

Decisions: without ``-o`` the output is ``<stem>-dream.png`` in the current
folder (``-1``, ``-2``... appended rather than overwrite anything; the name is
claimed with ``O_EXCL`` before the dream, so runs started together never
share one); ``-o`` onto an existing file, ``--save-every`` over earlier
intermediates and ``zoom`` into a non-empty folder need ``--overwrite``; the
output, its format, the guides and the memory are checked before the first
step (:mod:`inceptionism.engine.preflight`); without
``--seed`` a random seed is drawn and recorded; ``--mean notebook`` uses the
notebook's 104/116/122 instead of the weight file's.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from inceptionism.engine import preflight, remake
from inceptionism.engine import recipe as rcp
from inceptionism.engine.cli.dream_args import (
    DEFAULT_LAYER,
    add_parsers,
    check_numbers,
)
from inceptionism.engine.cli.stdio import STDIN_NAME, Stdio
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.image import sample_image_path
from inceptionism.engine.progress import SaveEvery
from inceptionism.plugins.spec import quote

T = TypeVar("T")


def register(subparsers) -> None:
    from inceptionism.engine.cli import batch_cmd

    dream_p, zoom_p = add_parsers(subparsers)
    batch_cmd.add_arguments(dream_p)  # several inputs, --scheduler
    dream_p.set_defaults(func=run_dream)
    from inceptionism.engine.cli.zoom_cmd import run_zoom

    zoom_p.set_defaults(func=run_zoom)


# -- building blocks -----------------------------------------------------------


def tiling_settings(args: argparse.Namespace) -> Any:
    """The :class:`~inceptionism.engine.tiling_budget.Tiling` that ``--tile``,
    ``--tile-halo`` and ``--memory`` ask for."""
    from inceptionism.engine.tiling_budget import (
        Tiling,
        parse_halo,
        parse_memory,
        parse_tile,
    )

    try:
        memory = None if args.memory is None else parse_memory(args.memory)
    except ValueError as exc:
        raise ValueError(f"--memory: {exc}") from None
    halo = parse_halo(args.tile_halo)
    return Tiling(tile=parse_tile(args.tile), halo=halo, memory=memory)


def _with_tiling(job: remake.Job, args: argparse.Namespace, pm: Any) -> remake.Job:
    """``job`` with the tile size ``--tile``/``--memory`` give for its
    picture recorded in its recipe (none when it runs untiled)."""
    return remake.with_tiling(job, tiling_settings(args), pm)


def _input_path(args) -> Path:
    if args.sample and args.input:
        raise ValueError("give either IN or --sample, not both")
    if args.sample:
        return sample_image_path()
    if not args.input:
        raise ValueError("no input image: give IN, or --sample for the shipped one")
    if args.input == "-":
        return _stdio(args).read_input()
    return Path(args.input)


def _stdio(args: argparse.Namespace) -> Stdio:
    """The command's stand-ins for stdin/stdout (``IN`` or ``-o`` is ``-``)."""
    if getattr(args, "stdio", None) is None:
        args.stdio = Stdio()
    return args.stdio


def _named_stdin(job: remake.Job, args: argparse.Namespace) -> remake.Job:
    """A job read from stdin records ``<stdin>``, not the temporary copy."""
    if args.input != "-":
        return job
    return _with(job, input=rcp.FileRef(STDIN_NAME, job.recipe.input.sha1))


def _objective_spec(args) -> str:
    chosen = [n for n in ("objective", "guide") if getattr(args, n)]
    if len(chosen) > 1:
        raise ValueError("give either --objective or --guide, not both")
    if args.objective and args.layer:
        raise ValueError("--layer applies to DeepDream and --guide; put the layer "
                         "in the --objective spec instead")  # fmt: skip
    layer = args.layer or DEFAULT_LAYER
    if args.guide:
        guide = Path(args.guide)
        if not guide.is_file():
            raise ValueError(f"{guide}: no such guide image")
        # the path is taken verbatim: quoted, the spec grammar never splits it
        return f"guide:{layer}:{quote(str(guide.resolve()))}"
    return args.objective or f"deepdream:{layer}"


def _progress(args: argparse.Namespace, runs: int = 1, label: str = "dream") -> Any:
    """The progress display ``--progress`` / ``--quiet`` ask for."""
    from inceptionism.engine.progress import Progress

    enabled = True if args.progress else False if args.quiet else None
    return Progress(sys.stderr, label=label, enabled=enabled, runs=runs)


def _dream_quietly(
    fn: Callable[[], T],
    hw: tuple[int, ...] | None = None,
    tile: int | None = None,
    memory: int | None = None,
) -> T:
    """Run ``fn()``; print each warning (e.g. a skipped octave) as one line.
    While dreaming an ``hw`` image (in ``tile``-pixel tiles, under a
    ``--memory`` of ``memory`` bytes if given), running out of host or GPU
    memory becomes an error that names the way out."""
    from inceptionism.kernels.backend import is_out_of_memory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except Exception as exc:
            if hw is None:  # e.g. preflight's refusal: it says what to do
                raise
            if isinstance(exc, MemoryError) and not is_out_of_memory(exc):
                raise preflight.out_of_memory(hw, tile, memory) from exc  # host
            if not is_out_of_memory(exc):
                raise
            height, width = hw
            raise RuntimeError(
                f"the GPU ran out of memory dreaming a {width}x{height} image: retry "
                f"with a smaller --memory (e.g. {preflight.smaller_memory(memory)}: "
                "smaller tiles), a "
                f"smaller --max-size (e.g. --max-size {max(hw) // 2}), or "
                "--device cpu"
            ) from exc  # --debug shows CuPy's error too
    for w in caught:
        print(f"inceptionism: warning: {w.message}", file=sys.stderr)
    return result


def dream_config(args: argparse.Namespace) -> DreamConfig:
    """The dream the command line's options ask for (a seed drawn if none)."""
    check_numbers(args)
    objective = _objective_spec(args)
    _check_mask_options(args, objective)
    return DreamConfig(
        objective=objective,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        steps=args.steps,
        step_size=args.step_size,
        jitter=args.jitter,
        clip=not args.no_clip,
        seed=secrets.randbits(32) if args.seed is None else args.seed,
        regularizers=tuple(args.regularizer),
        priors=tuple(args.prior),
        param=args.param,
        transforms=args.transforms,
        mask=_mask_path(args.mask),
        mask_mode=args.mask_mode,
        mask_blur=args.mask_blur,
    )


def _check_mask_options(args: argparse.Namespace, objective: str) -> None:
    """``--mask-mode``/``--mask-blur`` shape a mask: refused without one
    rather than ignored (a ``TERM@MASK`` mask takes ``--mask-blur`` but only
    ever weights its term's objective)."""
    if args.mask is not None:
        return
    if args.mask_mode != "objective":
        raise ValueError(
            f"--mask-mode {args.mask_mode} weights the --mask; give --mask IMG "
            "(a TERM@MASK mask in --objective weights only that term's objective)"
        )
    if args.mask_blur > 0:
        from inceptionism.plugins import get_plugin_manager, registry
        from inceptionism.plugins.spec import iter_factors

        names = registry(get_plugin_manager(), "objectives")
        if all(mask is None for _, mask in iter_factors(objective, names)):
            raise ValueError(
                "--mask-blur softens a mask; give --mask IMG "
                "(or TERM@MASK in --objective)"
            )


def _mask_path(mask: str | None) -> str | None:
    """``--mask``, checked and made absolute (the recipe names it)."""
    if mask is None:
        return None
    path = Path(mask)
    if not path.is_file():
        raise ValueError(f"{path}: no such mask image (--mask)")
    return str(path.resolve())


def _new_job(args: argparse.Namespace, pm: Any) -> remake.Job:
    """A job from the command line's options, with its recipe."""
    from inceptionism.engine.models import load_named_model

    config = dream_config(args)
    inp = _input_path(args)
    model, wpath = load_named_model(args.weights, args.model, pm)
    job = remake.create(
        config,
        inp,
        model,
        wpath,
        mean=args.mean,
        max_size=args.max_size,
        device=args.device or "cpu",
        bits=args.bits,
        pm=pm,
    )
    return _with_tiling(job, args, pm)


def _replay_job(args: argparse.Namespace, pm: Any) -> remake.Job:
    """The job that re-makes ``--replay FILE``, checked against its recipe."""
    recipe = rcp.Recipe.read(args.replay)
    inp = _input_path(args) if args.input or args.sample else None
    return _dream_quietly(
        lambda: remake.prepare(
            recipe,
            args.replay,
            inp=inp,
            weights=args.weights,
            device=args.device,
            pm=pm,
        )
    )


class _SaveEvery(SaveEvery):
    """``--save-every``: each intermediate carries the recipe of its step."""

    def __init__(self, every: int, out: Path, job: remake.Job, protect: list[Path]):
        super().__init__(every, out.parent, out.stem, self._write)
        self.job, self.protect = job, protect
        self.state: Any = None

    def _save(self, net: Any, state: Any, x: Any) -> None:
        self.state = state
        super()._save(net, state, x)

    def _write(self, path: Path, rgb: Any) -> None:
        stop = rcp.Stop(self.state.octave, self.state.step)
        job = dataclasses.replace(
            self.job, recipe=dataclasses.replace(self.job.recipe, stop=stop)
        )
        remake.write(job, path, rgb, protect=self.protect)


# -- commands ------------------------------------------------------------------


def run_dream(args: argparse.Namespace) -> int:
    from inceptionism.engine.cli import batch_cmd
    from inceptionism.plugins import get_plugin_manager

    if batch_cmd.is_batch(args):  # a folder, a glob, several files, --scheduler
        return batch_cmd.run_batch(args)
    pm = get_plugin_manager()
    job = _replay_job(args, pm) if args.replay else _new_job(args, pm)
    job = _named_stdin(job, args)
    zoom = job.recipe.zoom
    if getattr(args, "save_every", None) and zoom is not None:
        raise ValueError("--save-every applies to a dream, not to zoom frames")
    animation = zoom is not None and zoom.frame is None
    protect = [job.input_path] + ([Path(args.replay)] if args.replay else [])
    to_stdout = args.output == "-"
    if to_stdout and (animation or args.save_every):
        raise ValueError("-o - writes one PNG to stdout; give -o FILE for this")
    if to_stdout and sys.stdout.isatty():
        raise ValueError("-o - writes PNG bytes, but stdout is a terminal; "
                         "redirect it (> out.png) or give -o FILE")  # fmt: skip
    if to_stdout:
        out, claimed = _stdio(args).output_path(), False
    elif args.output:
        out, claimed = Path(args.output), False
    else:  # an empty placeholder, so a run started meanwhile takes the next name
        suffix = Path(args.replay).suffix if animation else ".png"
        out, claimed = preflight.claim_default(job.input_path, suffix), True
    runs = 1
    if zoom is not None:
        runs = zoom.frames if zoom.frame is None else zoom.frame + 1
    progress = _progress(args, runs)
    try:
        preflight.check_output(
            out, bits=job.recipe.bits, animation=animation,
            overwrite=claimed or args.overwrite, protect=protect,
        )  # fmt: skip
        _dream_quietly(lambda: preflight.check_job(job, pm))
        observers: list[Any] = [progress]
        if getattr(args, "save_every", None):
            preflight.check_intermediates(out, args.overwrite)
            observers.append(_SaveEvery(args.save_every, out, job, protect))
        try:
            result = _dream_quietly(
                lambda: remake.render(job, pm=pm, observers=observers),
                job.rgb.shape[:2],
                (job.recipe.tiling or {}).get("tile"),
                None if args.replay else tiling_settings(args).memory,
            )
        finally:
            progress.close()
        remake.write(job, out, result, protect=protect)
    except BaseException:
        if claimed:
            preflight.release(out)
        raise
    if to_stdout:
        _stdio(args).send(out)  # nothing else goes to stdout
    else:
        print(out)
    return 0


def _with(job: remake.Job, **changes: Any) -> remake.Job:
    """``job`` whose recipe has ``changes``."""
    return dataclasses.replace(job, recipe=dataclasses.replace(job.recipe, **changes))
