"""Command-line arguments of ``inceptionism dream`` and ``zoom``: their
definitions, help texts and range checks (the commands themselves are in
:mod:`inceptionism.engine.cli.dream_cmd`)."""

from __future__ import annotations

import argparse
import math

from inceptionism.engine.cli.argtypes import positive_int
from inceptionism.engine.dream import (
    DEFAULT_OBJECTIVE,
    LIMITS,
    MAX_FRAMES,
    DreamConfig,
)
from inceptionism.engine.models import DEFAULT_MODEL

DEFAULT_LAYER = DEFAULT_OBJECTIVE.split(":", 1)[1]


# -- arguments ---------------------------------------------------------------


#: Numeric options: (flag, smallest, largest or None, is the smallest
#: excluded). Checked before any file is read, so the error names the flag.
_RANGES = {
    "octaves": ("--octaves", 1, LIMITS["octaves"], False),
    "octave_scale": ("--octave-scale", 1.0, LIMITS["octave_scale"], True),
    "steps": ("--steps", 0, LIMITS["steps"], False),
    "step_size": ("--step-size", 0.0, LIMITS["step_size"], False),
    "jitter": ("--jitter", 0, LIMITS["jitter"], False),
    "seed": ("--seed", 0, None, False),
    "scale": ("--scale", 0.0, 1.0, False),
    "frames": ("--frames", 1, MAX_FRAMES, False),
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


class AddSource(argparse.Action):
    """``--model``/``--weights``/``--compare`` of a command that takes several
    models: each appends ``(flag, value)`` to ``sources``, in command-line
    order."""

    def __call__(self, parser, namespace, values, option_string=None):
        sources = list(getattr(namespace, "sources", None) or [])
        sources.append((option_string, values))
        namespace.sources = sources


def add_common(
    p: argparse.ArgumentParser, many_models: bool = False, seed: int | None = None
) -> None:
    """The options of ``dream`` and of commands built on it (``zoom``,
    ``atlas``). ``many_models``: ``--model`` and ``--weights`` may repeat
    (and mix), collected in ``sources`` by :class:`AddSource`. ``seed``: the
    default seed (None: one is drawn per run)."""
    p.add_argument(
        "input", nargs="?", metavar="IN", help="input image; - reads it from stdin"
    )
    p.add_argument(
        "--sample", action="store_true", help="dream on the shipped sample picture"
    )
    model_help = (
        "registry model from the cache; `inceptionism weights fetch "
        f"NAME` gets one (default: {DEFAULT_MODEL})"
    )
    weights_help = "an inceptionism .h5 file (default: none)"
    if many_models:
        p.set_defaults(sources=[], model=None, weights=None)
        more = "; repeat (or mix with --{}) for one row per model"
        p.add_argument(
            "--model",
            metavar="NAME",
            action=AddSource,
            dest="sources",
            help=model_help + more.format("weights"),
        )
        p.add_argument(
            "--weights",
            metavar="FILE",
            action=AddSource,
            dest="sources",
            help=weights_help + more.format("model"),
        )
    else:
        src = p.add_mutually_exclusive_group()
        src.add_argument("--model", metavar="NAME", help=model_help)
        src.add_argument("--weights", metavar="FILE", help=weights_help)
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
    p.add_argument(
        "--seed",
        type=int,
        default=seed,
        help="random seed (default: drawn and recorded)"
        if seed is None
        else f"random seed (default: {seed}, the same pictures every time)",
    )
    p.add_argument(
        "--device", choices=("cpu", "cuda"), help="compute device (default: cpu)"
    )
    p.add_argument(
        "--max-size",
        type=positive_int,
        metavar="PX",
        help="downsize inputs larger than PX on their long side (default: none)",
    )
    p.add_argument(
        "--mean",
        choices=("file", "notebook"),
        default="file",
        help="mean pixel: the weight file's, or dream.ipynb's 104/116/122 "
        "(BGR models taking 0..255 pixels only)",
    )
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG depth")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing -o output"
    )
    _add_tiling(p)
    _add_fvis(p)
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
        "cheaper, approximate at tile borders, tiles moved each step so no "
        "seam builds up (default: exact)",
    )
    g.add_argument(
        "--memory",
        metavar="SIZE",
        help="memory budget such as 2GB (default: half the available memory)",
    )


# -- feature visualisation (issue 15) -------------------------------------------


def _add_fvis(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("feature visualisation (Olah et al. 2017, Distill; lucid)")
    g.add_argument(
        "--param",
        default="pixel",
        metavar="pixel|fft[:DECAY]",
        help="what the step climbs: the pixels, or a 1/f-scaled Fourier "
        "spectrum in decorrelated colour (lucid's fft_image) (default: pixel)",
    )
    g.add_argument(
        "--transforms",
        default="",
        metavar="standard|affine:J:S:D",
        help="random warps of the net's input each step, seeded: lucid's "
        "standard (pad, jitter 8, scale 0.9-1.1, rotate +-10 deg, jitter 4) "
        "(default: none)",
    )
    g.add_argument(
        "--mask",
        metavar="IMG",
        help="weights over space from the image's grey levels (white = 1); "
        "per objective term: TERM@IMG (default: none)",
    )
    g.add_argument(
        "--mask-mode",
        choices=("objective", "update", "both"),
        default="objective",
        help="weight the objective, the update (nothing moves where the mask "
        "is black) or both (default: objective)",
    )
    g.add_argument(
        "--mask-blur",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="soften the mask's edges by a Gaussian of SIGMA pixels (default: 0)",
    )


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
  inceptionism dream --sample --param fft --transforms standard -o fv.png
  inceptionism dream --sample --mask sky.png --mask-mode update -o sky.png
  inceptionism dream - -o - < photo.jpg > out.png   # stdin to stdout
  inceptionism dream --replay out.png -o again.png  # re-make from the recipe"""

ZOOM_DESCRIPTION = """\
Zoom feedback, as in dream.ipynb: dream, zoom in by --scale about the
centre, repeat. Writes FOLDER/frame-0000.png, frame-0001.png, ... (16-bit
with --bits 16), each with its recipe, and with --gif, --webp or --mp4 an
animation of them (12.5 frames/s)."""

ZOOM_EXAMPLES = """\
examples:
  inceptionism zoom photo.jpg -o frames --frames 100
  inceptionism zoom --sample -o frames --frames 30 --scale 0.03 --gif
  inceptionism dream --replay frames/zoom.gif -o again.gif"""


def add_parsers(subparsers) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``dream`` and ``zoom`` parsers (the caller sets their ``func``)."""
    p = subparsers.add_parser(
        "dream",
        help="dream an image (google/deepdream's notebook by default)",
        description=DREAM_DESCRIPTION,
        epilog=DREAM_EXAMPLES,
    )
    add_common(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output image; - writes PNG to stdout (default: IN-dream.png)",
    )
    p.add_argument(
        "--save-every",
        type=positive_int,
        metavar="N",
        help="also save every N steps, as OUT-o<octave>-s<step>.png (default: never)",
    )
    p.add_argument(
        "--replay",
        metavar="FILE",
        help="re-make FILE from its recipe (default: a new dream)",
    )

    z = subparsers.add_parser(
        "zoom",
        help="zoom-feedback frames (dream, zoom in, repeat)",
        description=ZOOM_DESCRIPTION,
        epilog=ZOOM_EXAMPLES,
    )
    add_common(z)
    z.add_argument(
        "-o", "--output", metavar="FOLDER", required=True, help="folder of frames"
    )
    z.add_argument(
        "--frames", type=positive_int, default=10, metavar="N", help="frames"
    )
    z.add_argument(
        "--scale", type=float, default=0.05, metavar="F", help="zoom per frame"
    )
    anim = z.add_mutually_exclusive_group()
    anim.add_argument("--gif", action="store_true", help="also write zoom.gif")
    anim.add_argument("--webp", action="store_true", help="also write zoom.webp")
    anim.add_argument(
        "--mp4",
        action="store_true",
        help='also write zoom.mp4 (H.264; pip install "inceptionism[video]")',
    )
    return p, z
