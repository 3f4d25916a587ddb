"""``inceptionism dream`` and ``inceptionism zoom``.

``dream IN [-o OUT]`` runs the dream loop (defaults = google/deepdream
``dream.ipynb``) and writes the picture with its full recipe embedded (model
name and weight identity, objective, every parameter, seed, input SHA-1,
version). ``dream --replay OUT.png -o AGAIN.png`` reads that recipe and makes
the same picture again, pixel for pixel on the same device; only ``-o``,
``--weights``, ``--device`` and ``IN`` are taken from the command line then.

``zoom IN -o FOLDER`` is the notebook's zoom feedback: dream, zoom in by
``--scale`` about the centre, repeat; frames ``frame-0000.png``... and
optionally ``zoom.gif`` / ``zoom.webp``.

Decisions: without ``-o`` the output is ``<stem>-dream.png`` in the current
folder (``-2``, ``-3``... appended rather than overwrite anything); without
``--seed`` a random seed is drawn and recorded; ``--mean notebook`` uses the
notebook's 104/116/122 instead of the weight file's mean.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import secrets
import sys
import warnings
from functools import partial
from importlib import metadata
from pathlib import Path

from inceptionism.engine.dream import DEFAULT_OBJECTIVE, DreamConfig, run
from inceptionism.engine.image import (
    downsize,
    load_image,
    read_recipe,
    sample_image_path,
    save_animation,
    save_image,
)
from inceptionism.engine.models import DEFAULT_MODEL

DEFAULT_LAYER = DEFAULT_OBJECTIVE.split(":", 1)[1]
#: The mean ``dream.ipynb`` hard-codes (BGR), for ``--mean notebook``.
NOTEBOOK_MEAN = (104.0, 116.0, 122.0)
SAMPLE = "sample"


def _version() -> str:
    try:
        return metadata.version("inceptionism")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# -- arguments ---------------------------------------------------------------


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", metavar="IN", help="input image")
    p.add_argument(
        "--sample", action="store_true", help="dream on the shipped sample picture"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--model",
        metavar="NAME",
        help=f"registry model from the cache (default {DEFAULT_MODEL}; "
        "`inceptionism weights fetch NAME`)",
    )
    src.add_argument("--weights", metavar="FILE", help="an inceptionism .h5 file")
    p.add_argument(
        "--layer", metavar="BLOB", help=f"DeepDream at this blob ({DEFAULT_LAYER})"
    )
    p.add_argument("--objective", metavar="SPEC", help="objective spec, see plugins")
    p.add_argument(
        "--guide", metavar="IMG", help="steer toward this image's features at --layer"
    )
    d = DreamConfig()
    p.add_argument("--octaves", type=int, default=d.octaves, metavar="N")
    p.add_argument("--octave-scale", type=float, default=d.octave_scale, metavar="S")
    p.add_argument("--steps", type=int, default=d.steps, metavar="N")
    p.add_argument("--step-size", type=float, default=d.step_size, metavar="S")
    p.add_argument("--jitter", type=int, default=d.jitter, metavar="N")
    p.add_argument("--no-clip", action="store_true", help="do not clip pixels")
    p.add_argument(
        "--regularizer", action="append", default=[], metavar="SPEC", help="repeatable"
    )
    p.add_argument(
        "--prior", action="append", default=[], metavar="SPEC", help="repeatable"
    )
    p.add_argument("--seed", type=int, help="random seed (default: drawn, recorded)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default cpu")
    p.add_argument(
        "--max-size", type=_positive_int, metavar="PX", help="downsize larger inputs"
    )
    p.add_argument(
        "--mean",
        choices=("file", "notebook"),
        default="file",
        help="mean pixel: the weight file's (default) or dream.ipynb's 104/116/122",
    )
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG depth")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dream",
        help="dream an image (google/deepdream's notebook by default)",
        description=__doc__.split("\n\n")[1],
    )
    _add_common(p)
    p.add_argument("-o", "--output", metavar="OUT", help="output image")
    p.add_argument(
        "--save-every", type=_positive_int, metavar="N", help="also save every N steps"
    )
    p.add_argument("--replay", metavar="FILE", help="re-make FILE from its recipe")
    p.set_defaults(func=run_dream)

    z = subparsers.add_parser(
        "zoom",
        help="zoom-feedback frames (dream, zoom in, repeat)",
        description=__doc__.split("\n\n")[2],
    )
    _add_common(z)
    z.add_argument("-o", "--output", metavar="FOLDER", required=True)
    z.add_argument("--frames", type=_positive_int, default=10, metavar="N")
    z.add_argument("--scale", type=float, default=0.05, help="zoom per frame")
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
    return Path(args.input)


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
        return f"guide:{layer}:{guide.resolve()}"
    return args.objective or f"deepdream:{layer}"


def _load_model(weights: str | None, model: str | None):
    from inceptionism.engine.models import load_named_model

    return load_named_model(weights, model)


def _with_mean(model, mean: str):
    if mean == "notebook":
        pre = {**model.preprocess, "mean": list(NOTEBOOK_MEAN)}
        model = dataclasses.replace(model, preprocess=pre)
    return model


def _default_output(inp: Path) -> Path:
    base = Path.cwd() / f"{inp.stem}-dream"
    out, n = base.with_suffix(".png"), 1
    while out.exists():
        n += 1
        out = Path(f"{base}-{n}.png")
    return out


def _dream_quietly(fn, hw):
    """Run ``fn()``; print each warning (e.g. a skipped octave) as one line.
    A GPU out-of-memory error becomes one that names the way out."""
    from inceptionism.kernels.backend import is_out_of_memory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            height, width = hw
            raise RuntimeError(
                f"the GPU ran out of memory dreaming a {width}x{height} image: retry "
                f"with a smaller --max-size (e.g. --max-size {max(hw) // 2}), or "
                "--device cpu"
            ) from exc  # --debug shows CuPy's error too
    for w in caught:
        print(f"inceptionism: warning: {w.message}", file=sys.stderr)
    return result


def _prepare(args, recipe: dict | None = None):
    """Everything a dream needs: ``(net, rgb, alpha, config, recipe, inp)``."""
    from inceptionism.engine.net import Net

    if recipe is None:
        inp = _input_path(args)
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
        model, wpath = _load_model(args.weights, args.model)
        mean, max_size, device = args.mean, args.max_size, args.device or "cpu"
    else:
        inp, config, model, wpath, mean, max_size, device = _from_recipe(args, recipe)
    rgb, alpha = load_image(inp, with_alpha=True)
    if max_size:
        rgb, alpha = downsize(rgb, max_size, alpha)
    net = Net(_with_mean(model, mean), device=device)
    is_sample = inp.resolve() == sample_image_path().resolve()
    recipe = {
        "inceptionism": _version(),
        "config": config.to_dict(),
        "model": {
            "name": model.name,
            "source": model.source,
            "weights": str(wpath.resolve()),
            "weights_sha1": _sha1(wpath),
        },
        "input": {
            "path": SAMPLE if is_sample else str(inp.resolve()),
            "sha1": _sha1(inp),
        },
        "max_size": max_size,
        "mean": mean,
        "preprocess": net.model.preprocess,
        "device": device,
        "size": list(rgb.shape[:2]),
    }
    return net, rgb, alpha, config, recipe, inp


def _from_recipe(args, recipe: dict):
    """Inputs of a replay, each checked against what the recipe recorded."""
    try:
        config = DreamConfig.from_dict(recipe["config"])
        rec_model, rec_input = recipe["model"], recipe["input"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{args.replay}: incomplete recipe (missing {exc})") from None
    if args.input or args.sample:
        inp = _input_path(args)
    elif rec_input["path"] == SAMPLE:
        inp = sample_image_path()
    else:
        inp = Path(rec_input["path"])
    if not inp.is_file():
        raise ValueError(
            f"{args.replay} was made from {inp}, which is missing; give the input as IN"
        )
    if _sha1(inp) != rec_input["sha1"]:
        raise ValueError(
            f"{inp} is not the image {args.replay} was made from (SHA-1 differs)"
        )
    weights = args.weights
    if weights is None and Path(rec_model.get("weights", "")).is_file():
        weights = rec_model["weights"]
    model, wpath = _load_model(weights, rec_model["name"])
    if model.name != rec_model["name"] or model.source != rec_model["source"]:
        raise ValueError(
            f"{wpath} holds {model.name} {model.source}, but {args.replay} was made "
            f"with {rec_model['name']} {rec_model['source']}; pass the right "
            "--weights"
        )
    if recipe.get("inceptionism") != _version():
        print(
            f"inceptionism: warning: {args.replay} was made by inceptionism "
            f"{recipe.get('inceptionism')}, this is {_version()}; pixels may differ",
            file=sys.stderr,
        )
    device = args.device or recipe.get("device", "cpu")
    return (
        inp,
        config,
        model,
        wpath,
        recipe.get("mean", "file"),
        recipe.get("max_size"),
        device,
    )


# -- commands ------------------------------------------------------------------


def run_dream(args) -> int:
    from inceptionism.engine.progress import ProgressBar, SaveEvery
    from inceptionism.plugins import get_plugin_manager

    recipe_in = None
    if args.replay:
        recipe_in = read_recipe(args.replay)
        if recipe_in is None:
            raise ValueError(f"{args.replay}: no inceptionism recipe in this file")
    net, rgb, alpha, config, recipe, inp = _prepare(args, recipe_in)
    out = Path(args.output) if args.output else _default_output(inp)
    protect = [inp] + ([Path(args.replay)] if args.replay else [])
    save = partial(save_image, protect=protect)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"):
        raise ValueError(f"{out}: write .png, .jpg, .webp or .tif")
    for p in protect:  # fail before the work, not after
        if out.resolve() == p.resolve():
            raise ValueError(f"{out}: refusing to overwrite the input; choose -o")
    observers: list = [ProgressBar(sys.stderr)]
    if getattr(args, "save_every", None):
        observers.append(SaveEvery(args.save_every, out.parent, out.stem, save))
    pm = get_plugin_manager()
    result = _dream_quietly(
        lambda: run(net, rgb, config, pm=pm, observers=observers), rgb.shape[:2]
    )
    bits = recipe_in.get("bits", 8) if recipe_in else args.bits
    save(out, result, alpha=alpha, recipe={**recipe, "bits": bits}, bits=bits)
    print(out)
    return 0


def run_zoom(args) -> int:
    from inceptionism.engine.dream import zoom_frames
    from inceptionism.engine.progress import ProgressBar
    from inceptionism.plugins import get_plugin_manager

    if not 0.0 <= args.scale < 1.0:
        raise ValueError(f"--scale must be in [0, 1), got {args.scale}")
    net, rgb, _, config, recipe, inp = _prepare(args)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    pm = get_plugin_manager()
    frames = []
    gen = zoom_frames(
        net, rgb, args.frames, args.scale, config, pm=pm,
        observers=[ProgressBar(sys.stderr)],
    )  # fmt: skip
    for i in range(args.frames):
        frame = _dream_quietly(lambda: next(gen), rgb.shape[:2])  # noqa: B023
        rec = {**recipe, "zoom": {"frame": i, "frames": args.frames,
                                  "scale": args.scale}}  # fmt: skip
        save_image(folder / f"frame-{i:04d}.png", frame, recipe=rec, protect=[inp])
        if args.gif or args.webp:
            frames.append(frame)
    if frames:
        anim = folder / ("zoom.gif" if args.gif else "zoom.webp")
        save_animation(anim, frames, protect=[inp])
        print(anim)
    print(folder)
    return 0
