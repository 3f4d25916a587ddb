"""``inceptionism layers`` and ``inceptionism classify``.

``layers [--model NAME | --weights FILE] [--size WxH]`` prints every target
name (Caffe layer names with ``forward(end=layer)`` meaning, design section 3)
with its type, channels and spatial size at that input size. Shapes need only
the topology, so for a registry model that is not cached yet the built-in
topology is used (and said so); ``--weights`` reads a file's own graph.

``classify IMG [--model NAME | --weights FILE] [--top 5]`` is Caffe's
classifier example (``python/classify.py --center_only``): resize to 256x256,
take the centre 224x224 crop (``--resize`` squashes straight to 224x224
instead), forward to the last layer (``prob``), print the top classes with
probabilities and labels (class indices where the model has no labels).

Sizes are written ``WxH`` (width first, like image sizes: ``1024x768`` is
landscape) or a single number for a square.
"""

from __future__ import annotations

import argparse

import numpy as np

from inceptionism.engine.cli.argtypes import positive_int
from inceptionism.engine.models import DEFAULT_MODEL


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` or ``"N"`` -> ``(H, W)``."""
    parts = text.lower().replace("\u00d7", "x").split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2 or min(nums) < 1:
        raise argparse.ArgumentTypeError(
            f"size {text!r}: write WIDTHxHEIGHT (e.g. 224x224) or one number"
        )
    return nums[1], nums[0]


def load_cli_model(weights: str | None, model: str | None):
    """The Model of ``--weights FILE`` or of a cached registry model."""
    from inceptionism.engine.models import load_named_model

    return load_named_model(weights, model)[0]


def _topology(args) -> tuple[dict, str]:
    """(graph, where it came from) for ``layers``."""
    if args.weights:
        return load_cli_model(args.weights, None).graph, args.weights
    from inceptionism.weights.files import cached_model

    name = args.model or DEFAULT_MODEL
    path = cached_model(name)
    if path.exists():
        return load_cli_model(None, name).graph, str(path)
    from inceptionism.engine.models import resolve_spec

    return resolve_spec(name).graph(), f"built-in topology of {name} (not cached)"


def cmd_layers(args) -> int:
    from inceptionism.engine.graph import Graph

    graph, where = _topology(args)
    g = Graph(graph)
    h, w = args.size
    problems: dict[str, str] = {}
    shapes = g.shapes((1, 3, h, w), problems)
    rows = []
    for name in g.names:
        type_ = g.nodes[name].type if name in g.nodes else "Input"
        s = shapes.get(name)
        if s is None:
            chans, size = "-", "empty"
        elif len(s) == 4:
            chans, size = str(s[1]), f"{s[3]}x{s[2]}"
        else:
            chans, size = str(s[1] if len(s) > 1 else s[0]), "-"
        rows.append((name, type_, chans, size))
    wn = max(len(r[0]) for r in rows)
    wt = max(len(r[1]) for r in rows)
    print(f"{g.name or 'net'} at {w}x{h} (WxH), from {where}")
    print(f"{'name':<{wn}}  {'type':<{wt}}  {'channels':>8}  size (WxH)")
    for name, type_, chans, size in rows:
        print(f"{name:<{wn}}  {type_:<{wt}}  {chans:>8}  {size}")
    print(
        f"{len(g.names)} targets (the input and every layer); "
        f"{g.blob_count()} distinct Caffe blobs"
    )
    for name, why in problems.items():
        print(f"empty at this size from {name}: {why}")
    return 0


def center_crop_input(rgb: np.ndarray, resize: bool, crop: int = 224, base=256):
    """Caffe classify.py --center_only: resize to base x base, centre crop
    ``crop``; or, with ``resize``, straight to crop x crop. Bilinear
    (align-corners) resampling of float RGB."""
    from inceptionism.engine.resample import resize as resample

    if resize:
        return resample(rgb, (crop, crop), axes=(0, 1))
    big = resample(rgb, (base, base), axes=(0, 1))
    o = (base - crop) // 2
    return big[o : o + crop, o : o + crop]


def cmd_classify(args) -> int:
    from inceptionism.engine.image import load_image
    from inceptionism.engine.net import Net

    model = load_cli_model(args.weights, args.model)
    net = Net(model, device=args.device)
    rgb = load_image(args.image)
    assert isinstance(rgb, np.ndarray)  # for type checkers: no with_alpha
    crop = center_crop_input(rgb, args.resize)
    last = net.blob_names[-1]
    blobs = net.forward(net.preprocess(crop), end=last, keep=False)
    from inceptionism.kernels.backend import to_numpy

    prob = to_numpy(blobs[last]).reshape(-1).astype(np.float64)
    top = np.argsort(-prob, kind="stable")[: args.top]
    labels = model.labels
    if labels is not None and len(labels) != prob.size:
        labels = None  # do not print wrong names
    print(f"{args.image}: top {len(top)} of {prob.size} classes ({last})")
    for rank, i in enumerate(top, 1):
        name = labels[i] if labels is not None else f"class {i}"
        print(f"{rank:>2}. {prob[i]:.4f}  {i:>4}  {name}")
    return 0


def _source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--model",
        metavar="NAME",
        help=f"registry model from the cache (default: {DEFAULT_MODEL})",
    )
    src.add_argument(
        "--weights", metavar="FILE", help="an inceptionism .h5 file (default: none)"
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "layers",
        help="every blob name with channels and size",
        description="List every target blob (Caffe layer names) with its "
        "channels and spatial size for an input size.",
        epilog="examples:\n"
        "  inceptionism layers\n"
        "  inceptionism layers --size 1024x768 --weights synthetic.h5\n"
        "  inceptionism layers | grep inception_4c",
    )
    _source_args(p)
    p.add_argument(
        "--size",
        type=parse_size,
        default=(224, 224),
        metavar="WxH",
        help="input size, WIDTHxHEIGHT or one number (default: 224x224)",
    )
    p.set_defaults(func=cmd_layers)

    c = subparsers.add_parser(
        "classify",
        help="top classes of an image (check a converted model)",
        description="Classify an image as Caffe's classifier example does: "
        "resize to 256x256 and take the centre 224x224 crop.",
        epilog="examples:\n"
        "  inceptionism classify cat.jpg\n"
        "  inceptionism classify cat.jpg --model googlenet_places365 --top 3\n"
        "  inceptionism classify - < cat.jpg",
    )
    c.add_argument("image", help="image file; - reads it from stdin")
    _source_args(c)
    c.add_argument("--top", type=positive_int, default=5, help="classes to print")
    c.add_argument(
        "--resize",
        action="store_true",
        help="squash the image to 224x224 instead of resize 256 + centre crop",
    )
    c.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="compute device"
    )
    c.set_defaults(func=cmd_classify)
