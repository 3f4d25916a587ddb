"""``inceptionism weights convert|fetch|synthetic`` and ``inceptionism models``."""

from __future__ import annotations

import argparse

from inceptionism.weights import cache_dir, save_model
from inceptionism.weights.files import cached_model

EXAMPLES = """\
examples:
  inceptionism weights fetch bvlc_googlenet
  inceptionism weights synthetic bvlc_googlenet -o synthetic.h5
  inceptionism weights convert net.caffemodel --prototxt deploy.prototxt -o net.h5"""


def _convert(args: argparse.Namespace) -> int:
    from inceptionism.engine.models import resolve_spec
    from inceptionism.weights.convert import convert

    model = resolve_spec(args.model) if args.model else None
    _check_output(args, args.caffemodel, args.prototxt)
    m = convert(args.caffemodel, args.output, prototxt=args.prototxt, model=model)
    n = sum(a.size for blobs in m.params.values() for a in blobs.values())
    print(
        f"wrote {args.output}: {m.name}, {len(m.graph['layers'])} layers, "
        f"{n:,} parameters"
    )
    return 0


def _check_output(args: argparse.Namespace, *inputs: str | None) -> None:
    """-o before the work: its folder, not an input, not replaced unless
    --overwrite."""
    from pathlib import Path

    from inceptionism.engine.preflight import check_file_output

    protect = [Path(p) for p in inputs if p]
    check_file_output(Path(args.output), overwrite=args.overwrite, protect=protect)


def _fetch(args: argparse.Namespace) -> int:
    from inceptionism.engine.models import resolve_spec
    from inceptionism.weights.download import fetch

    path = fetch(resolve_spec(args.name), force=args.force)
    print(path)
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from inceptionism.engine.models import resolve_spec
    from inceptionism.weights.synthetic import synthetic_model

    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    spec = resolve_spec(args.name)
    _check_output(args)
    m = synthetic_model(spec, seed=args.seed)
    save_model(m, args.output)
    print(f"wrote {args.output}: synthetic {m.name} (seed {args.seed})")
    return 0


def _models(args: argparse.Namespace) -> int:
    from inceptionism.engine.models import model_specs

    specs = model_specs()
    root = cache_dir()
    width = max(len(n) for n in specs)
    print(f"{'name':<{width}}  cached  description")
    for name, (spec, plugin) in sorted(specs.items()):
        cached = "yes" if cached_model(name, root).exists() else "no"
        print(f"{name:<{width}}  {cached:<6}  {spec.description} [{plugin}]")
    print(f"cache: {root}")
    return 0


def register(subparsers) -> None:
    """Add ``weights`` (with convert/fetch/synthetic) and ``models``."""
    w = subparsers.add_parser(
        "weights",
        help="convert, fetch or make weight files",
        description="Weight files: convert a Caffe model, fetch a registry "
        "model into the cache, or make seeded synthetic weights.",
        epilog=EXAMPLES,
    )
    wsub = w.add_subparsers(dest="weights_command", metavar="ACTION", required=True)

    c = wsub.add_parser(
        "convert",
        help="convert a Caffe .caffemodel to HDF5",
        description="Convert a Caffe .caffemodel (and deploy prototxt) to an "
        "inceptionism .h5 weight file.",
        epilog="examples:\n"
        "  inceptionism weights convert bvlc_googlenet.caffemodel "
        "--model bvlc_googlenet -o googlenet.h5\n"
        "  inceptionism weights convert net.caffemodel --prototxt deploy.prototxt "
        "-o net.h5",
    )
    c.add_argument("caffemodel", help="input .caffemodel")
    c.add_argument("--prototxt", help="deploy prototxt (default: the registry's "
                   "topology, or the caffemodel's own)")  # fmt: skip
    c.add_argument("--model", help="registry model name: topology, mean, labels "
                   "(default: none)")  # fmt: skip
    c.add_argument("-o", "--output", required=True, help="output .h5 file")
    c.add_argument("--overwrite", action="store_true", help="replace an existing -o")
    c.set_defaults(func=_convert)

    f = wsub.add_parser(
        "fetch",
        help="download, verify and convert a model",
        description="Download a registry model, verify its SHA-1 and convert "
        "it into the cache.",
        epilog="examples:\n"
        "  inceptionism weights fetch bvlc_googlenet\n"
        "  inceptionism weights fetch googlenet_places365 --force",
    )
    f.add_argument("name", help="registry model name (see `inceptionism models`)")
    f.add_argument("--force", action="store_true", help="convert again if cached")
    f.set_defaults(func=_fetch)

    s = wsub.add_parser(
        "synthetic",
        help="seeded synthetic weights (tests, offline)",
        description="Seeded random weights with a registry model's architecture: "
        "for tests and trying the tool offline (the dreams show noise).",
        epilog="examples:\n"
        "  inceptionism weights synthetic bvlc_googlenet -o synthetic.h5\n"
        "  inceptionism dream --sample --weights synthetic.h5",
    )
    s.add_argument("name", help="registry model name (architecture)")
    s.add_argument("-o", "--output", required=True, help="output .h5 file")
    s.add_argument("--overwrite", action="store_true", help="replace an existing -o")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.set_defaults(func=_synthetic)

    m = subparsers.add_parser(
        "models",
        help="known models and what is cached",
        description="Known models (the registry, plugins included) and which "
        "are in the cache.",
        epilog="examples:\n  inceptionism models",
    )
    m.set_defaults(func=_models)
