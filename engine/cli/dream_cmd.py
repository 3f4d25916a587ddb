"""``inceptionism dream`` and ``inceptionism zoom``.

``dream IN [-o OUT]`` runs the dream loop (defaults = google/deepdream
``dream.ipynb``) and writes the picture with its recipe embedded
(:mod:`inceptionism.engine.recipe`), as is every ``--save-every``
intermediate. ``dream --replay FILE -o AGAIN`` re-makes any output of this
tool from its recipe, pixel for pixel on the same device, or refuses in one
sentence; only ``-o``, ``--weights``, ``--device`` and ``IN`` are taken from
the command line then.

``zoom IN -o FOLDER`` is the notebook's zoom feedback: dream, zoom in by
``--scale`` about the centre, repeat; frames ``frame-0000.png``... (16-bit
with ``--bits 16``), each with its recipe, and optionally ``zoom.gif`` /
``zoom.webp`` with the run's.

Decisions: without ``-o`` the output is ``<stem>-dream.png`` in the current
folder (``-2``, ``-3``... appended rather than overwrite anything; the name is
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
import math
import secrets
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from inceptionism.engine import preflight, remake
from inceptionism.engine import recipe as rcp
from inceptionism.engine.cli.stdio import STDIN_NAME, Stdio
from inceptionism.engine.dream import DEFAULT_OBJECTIVE, DreamConfig
from inceptionism.engine.image import sample_image_path
from inceptionism.engine.models import DEFAULT_MODEL
from inceptionism.engine.progress import SaveEvery
from inceptionism.plugins.spec import quote

DEFAULT_LAYER = DEFAULT_OBJECTIVE.split(":", 1)[1]
T = TypeVar("T")


# -- arguments ---------------------------------------------------------------


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


#: Numeric options: (flag, smallest, largest or None, is the smallest
#: excluded). Checked before any file is read, so the error names the flag.
_RANGES = {
    "octaves": ("--octaves", 1, 10_000, False),
    "octave_scale": ("--octave-scale", 1.0, 100.0, True),
    "steps": ("--steps", 0, 1_000_000, False),
    "step_size": ("--step-size", 0.0, 1e6, False),
    "jitter": ("--jitter", 0, 10_000, False),
    "seed": ("--seed", 0, None, False),
    "scale": ("--scale", 0.0, 1.0, False),
}


def check_numbers(args: argparse.Namespace) -> None:
    """``ValueError`` naming the first numeric option that is NaN, infinite
    or out of its range (``--step-size inf`` used to dream noise)."""
    for name, (flag, low, high, above) in _RANGES.items():
        v = getattr(args, name, None)
        if v is None or (name == "octave_scale" and args.octaves == 1):
            continue
        ok = math.isfinite(v) and (v > low if above else v >= low)
        if high is not None:  # a zoom --scale of 1 would leave nothing to see
            ok = ok and (v < high if name == "scale" else v <= high)
        if not ok:
            kind = "an integer" if isinstance(low, int) else "a finite number"
            rule = f"> {low}" if above else f">= {low}"
            if high is not None:
                rule += f" and {'<' if name == 'scale' else '<='} {high:g}"
            raise ValueError(f"{flag} must be {kind} {rule}, got {v}")
    for flag, v, e in (
        ("--objective", args.objective, DEFAULT_OBJECTIVE),
        ("--layer", args.layer, DEFAULT_LAYER),
    ):
        if v is not None and not v.strip():
            raise ValueError(f"{flag} is empty; give one (e.g. {flag} {e}) or omit it")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "input", nargs="?", metavar="IN", help="input image; - reads it from stdin"
    )
    p.add_argument(
        "--sample", action="store_true", help="dream on the shipped sample picture"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--model",
        metavar="NAME",
        help="registry model from the cache; `inceptionism weights fetch NAME` "
        f"gets one (default: {DEFAULT_MODEL})",
    )
    src.add_argument(
        "--weights", metavar="FILE", help="an inceptionism .h5 file (default: none)"
    )
    p.add_argument(
        "--layer",
        metavar="BLOB",
        help="DeepDream (or --guide) at this blob; `inceptionism layers` lists "
        f"them (default: {DEFAULT_LAYER})",
    )
    p.add_argument(
        "--objective",
        metavar="SPEC",
        help="objective spec, e.g. channel:inception_4c/output:7; "
        "`inceptionism plugins` lists them (default: deepdream at --layer)",
    )
    p.add_argument(
        "--guide",
        metavar="IMG",
        help="steer toward this image's features at --layer; the path is taken "
        "as it is (default: none)",
    )
    d = DreamConfig()
    p.add_argument(
        "--octaves", type=int, default=d.octaves, metavar="N", help="octaves (scales)"
    )
    p.add_argument(
        "--octave-scale",
        type=float,
        default=d.octave_scale,
        metavar="S",
        help="size ratio between octaves",
    )
    p.add_argument(
        "--steps", type=int, default=d.steps, metavar="N", help="steps per octave"
    )
    p.add_argument(
        "--step-size",
        type=float,
        default=d.step_size,
        metavar="S",
        help="step length, in pixel values per mean |gradient|",
    )
    p.add_argument(
        "--jitter",
        type=int,
        default=d.jitter,
        metavar="N",
        help="random shift of at most N pixels per step (0: none)",
    )
    p.add_argument("--no-clip", action="store_true", help="do not clip pixels")
    p.add_argument(
        "--regularizer",
        action="append",
        default=[],
        metavar="SPEC",
        help="penalty such as tv:0.01; repeatable (default: none)",
    )
    p.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="SPEC",
        help="image prior such as smooth:0.5; repeatable (default: none)",
    )
    p.add_argument("--seed", type=int, help="random seed (default: drawn and recorded)")
    p.add_argument(
        "--device", choices=("cpu", "cuda"), help="compute device (default: cpu)"
    )
    p.add_argument(
        "--max-size",
        type=_positive_int,
        metavar="PX",
        help="downsize inputs larger than PX on their long side (default: none)",
    )
    p.add_argument(
        "--mean",
        choices=("file", "notebook"),
        default="file",
        help="mean pixel: the weight file's, or dream.ipynb's 104/116/122",
    )
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG depth")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing -o output"
    )
    _add_tiling(p)
    shown = p.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        action="store_true",
        help="always show progress (default: a bar on a terminal, otherwise a "
        "line every 5 s or 10%% once a job runs longer than 5 s)",
    )
    shown.add_argument("-q", "--quiet", action="store_true", help="no progress")


# -- tiling (issue 11) --------------------------------------------------------


def _add_tiling(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("memory (tiled dreaming, equal to the untiled dream)")
    g.add_argument(
        "--tile",
        default="auto",
        metavar="auto|off|PX",
        help="cut each octave into tiles of PX pixels; auto: only when the "
        "picture would exceed --memory (default: auto)",
    )
    g.add_argument(
        "--tile-halo",
        default="exact",
        metavar="exact|auto|PX",
        help="margin each tile computes beyond its interior: exact = the "
        "receptive field's reach, equal to untiled; auto = half of it, or PX: "
        "cheaper, approximate at tile borders (default: exact)",
    )
    g.add_argument(
        "--memory",
        metavar="SIZE",
        help="memory budget such as 2GB (default: half the available memory)",
    )


def _with_tiling(job: remake.Job, args: argparse.Namespace, pm: Any) -> remake.Job:
    """``job`` with the tile size ``--tile``/``--memory`` give for its
    picture recorded in its recipe (none when it runs untiled)."""
    from inceptionism.engine.tiling_budget import (
        Tiling,
        choose_tile,
        parse_halo,
        parse_memory,
        parse_tile,
    )
    from inceptionism.plugins.spec import parse_objective

    try:
        memory = None if args.memory is None else parse_memory(args.memory)
    except ValueError as exc:
        raise ValueError(f"--memory: {exc}") from None
    halo = parse_halo(args.tile_halo)
    config = Tiling(tile=parse_tile(args.tile), halo=halo, memory=memory)
    objective = parse_objective(job.recipe.config.objective, pm)
    layers = [job.net.resolve(name) for name in objective.layers]
    hw = (int(job.rgb.shape[0]), int(job.rgb.shape[1]))
    tile = choose_tile(job.net, hw, layers, config, objective.pointwise)
    return _with(job, tiling=None if tile is None else {"tile": tile, "halo": halo})


DREAM_DESCRIPTION = """\
Dream an image with google/deepdream's dream.ipynb loop (its defaults):
gradient ascent on a layer's activations, octave by octave. The output
carries its recipe, so `dream --replay OUT -o AGAIN` re-makes it pixel for
pixel; only -o, --weights, --device and IN are read from the command line
then. Without -o the output is IN's name with -dream.png, in the current
folder, never replacing a file."""

DREAM_EXAMPLES = """\
examples:
  inceptionism dream photo.jpg                  # writes photo-dream.png
  inceptionism dream photo.jpg -o out.png --layer inception_3b/5x5_reduce
  inceptionism dream photo.jpg --guide flowers.jpg -o guided.png
  inceptionism dream photo.jpg --objective channel:inception_4c/output:7
  inceptionism dream --sample --seed 1 --steps 20 -o sample.png
  inceptionism dream - -o - < photo.jpg > out.png   # stdin to stdout
  inceptionism dream --replay out.png -o again.png  # re-make from the recipe"""

ZOOM_DESCRIPTION = """\
Zoom feedback, as in dream.ipynb: dream, zoom in by --scale about the
centre, repeat. Writes FOLDER/frame-0000.png, frame-0001.png, ... (16-bit
with --bits 16), each with its recipe, and with --gif or --webp an
animation of them."""

ZOOM_EXAMPLES = """\
examples:
  inceptionism zoom photo.jpg -o frames --frames 100
  inceptionism zoom --sample -o frames --frames 30 --scale 0.03 --gif
  inceptionism dream --replay frames/zoom.gif -o again.gif"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dream",
        help="dream an image (google/deepdream's notebook by default)",
        description=DREAM_DESCRIPTION,
        epilog=DREAM_EXAMPLES,
    )
    _add_common(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output image; - writes PNG to stdout (default: IN-dream.png)",
    )
    p.add_argument(
        "--save-every",
        type=_positive_int,
        metavar="N",
        help="also save every N steps, as OUT-o<octave>-s<step>.png (default: never)",
    )
    p.add_argument(
        "--replay",
        metavar="FILE",
        help="re-make FILE from its recipe (default: a new dream)",
    )
    p.set_defaults(func=run_dream)

    z = subparsers.add_parser(
        "zoom",
        help="zoom-feedback frames (dream, zoom in, repeat)",
        description=ZOOM_DESCRIPTION,
        epilog=ZOOM_EXAMPLES,
    )
    _add_common(z)
    z.add_argument(
        "-o", "--output", metavar="FOLDER", required=True, help="folder of frames"
    )
    z.add_argument(
        "--frames", type=_positive_int, default=10, metavar="N", help="frames"
    )
    z.add_argument(
        "--scale", type=float, default=0.05, metavar="F", help="zoom per frame"
    )
    anim = z.add_mutually_exclusive_group()
    anim.add_argument("--gif", action="store_true", help="also write zoom.gif")
    anim.add_argument("--webp", action="store_true", help="also write zoom.webp")
    z.set_defaults(func=run_zoom)


# -- building blocks -----------------------------------------------------------


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


def _dream_quietly(fn: Callable[[], T], hw: tuple[int, ...] | None = None) -> T:
    """Run ``fn()``; print each warning (e.g. a skipped octave) as one line.
    While dreaming an ``hw`` image, a GPU out-of-memory error becomes one
    that names the way out."""
    from inceptionism.kernels.backend import is_out_of_memory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except Exception as exc:
            if hw is None or not is_out_of_memory(exc):
                raise
            height, width = hw
            raise RuntimeError(
                f"the GPU ran out of memory dreaming a {width}x{height} image: retry "
                "with a smaller --memory (e.g. --memory 1GB: smaller tiles), a "
                f"smaller --max-size (e.g. --max-size {max(hw) // 2}), or "
                "--device cpu"
            ) from exc  # --debug shows CuPy's error too
    for w in caught:
        print(f"inceptionism: warning: {w.message}", file=sys.stderr)
    return result


def _new_job(args: argparse.Namespace, pm: Any) -> remake.Job:
    """A job from the command line's options, with its recipe."""
    from inceptionism.engine.models import load_named_model

    check_numbers(args)
    config = DreamConfig(
        objective=_objective_spec(args),
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        steps=args.steps,
        step_size=args.step_size,
        jitter=args.jitter,
        clip=not args.no_clip,
        seed=secrets.randbits(32) if args.seed is None else args.seed,
        regularizers=tuple(args.regularizer),
        priors=tuple(args.prior),
    )
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
    from inceptionism.plugins import get_plugin_manager

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


def run_zoom(args: argparse.Namespace) -> int:
    from inceptionism.engine.dream import zoom_frames
    from inceptionism.plugins import get_plugin_manager

    if args.output == "-":
        raise ValueError("zoom writes a folder of frames; give -o FOLDER, not -")
    pm = get_plugin_manager()
    folder = Path(args.output)
    job = _named_stdin(_new_job(args, pm), args)
    preflight.check_frames_folder(folder, overwrite=args.overwrite)
    _dream_quietly(lambda: preflight.check_job(job, pm))
    frames = []
    progress = _progress(args, args.frames, label="zoom")
    gen = zoom_frames(
        job.net, job.rgb, args.frames, args.scale, job.recipe.config, pm=pm,
        observers=[progress], tiling=remake.recorded_tiling(job.recipe),
    )  # fmt: skip
    try:
        for i in range(args.frames):
            frame = _dream_quietly(lambda: next(gen), job.rgb.shape[:2])  # noqa: B023
            zoom = rcp.Zoom(frame=i, frames=args.frames, scale=args.scale)
            remake.write(_with(job, zoom=zoom), folder / f"frame-{i:04d}.png", frame)
            if args.gif or args.webp:
                frames.append(frame)
    finally:
        progress.close()
    if frames:
        anim = folder / ("zoom.gif" if args.gif else "zoom.webp")
        zoom = rcp.Zoom(None, args.frames, args.scale, duration_ms=80)
        remake.write(_with(job, zoom=zoom), anim, frames)
        print(anim)
    print(folder)
    return 0


def _with(job: remake.Job, **changes: Any) -> remake.Job:
    """``job`` whose recipe has ``changes``."""
    return dataclasses.replace(job, recipe=dataclasses.replace(job.recipe, **changes))
