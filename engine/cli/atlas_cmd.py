"""``inceptionism atlas``: pictures to choose a layer by (issue 15).

``atlas IN -o atlas.png`` dreams IN at a set of layers (default
:data:`inceptionism.engine.atlas.DEFAULT_LAYERS`; ``--layers a,b``;
``--all``) with every ``dream`` option, writes each single image with its
recipe into the folder ``atlas/`` beside the sheet and the labelled contact
sheet ``atlas.png`` (its recipe names the singles). ``--compare MODEL`` (a
registry name or an .h5 file), or ``--model``/``--weights`` given twice,
adds a row per model. ``--scheduler`` dreams the cells on Dask.

``atlas --channels LAYER -o sheet.png`` renders every channel of LAYER
(``--range A:B``, or ``--top K`` channels by mean activation on IN) from
noise, ``--size`` pixels square, cached (see
:mod:`inceptionism.engine.atlas_channels`); ``--diverse N`` renders N
different pictures of each channel in one batched dream with
``channel + W * diversity`` (``--diversity-weight W``), a row per channel
(:mod:`inceptionism.engine.atlas_diverse`).

Decisions: the seed defaults to 0, not a random one, so an atlas is the
same every time; the sheet needs ``--overwrite`` to be replaced; singles
already in the folder are kept when their recipes match the cells (a
stopped atlas resumes) and refused otherwise; channel sheets render in this
process, or with ``--scheduler`` the channels the cache lacks as Dask tasks
returning pixels that this process caches
(:mod:`inceptionism.engine.atlas_tasks`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from inceptionism.engine.cli.argtypes import positive_int
from inceptionism.engine.cli.dream_args import AddSource, add_common

DESCRIPTION = """\
Choose a layer by looking: dream one picture at many layers (a labelled
contact sheet, one row per model with --compare), or render a layer's
channels from noise (--channels). Every dream option applies to each cell."""

EXAMPLES = """\
examples:
  inceptionism atlas photo.jpg -o atlas.png
  inceptionism atlas photo.jpg -o atlas.png --compare googlenet_places205
  inceptionism atlas photo.jpg -o atlas.png --layers conv2/3x3,inception_4c/output
  inceptionism atlas --channels inception_4c/output -o channels.png --range 0:32
  inceptionism atlas photo.jpg --channels inception_4c/output --top 16 -o top.png
  inceptionism atlas --channels inception_4c/output --range 0:8 --diverse 4 -o d.png"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "atlas",
        help="one picture dreamed at many layers, or a layer's channels",
        description=DESCRIPTION,
        epilog=EXAMPLES,
    )
    add_common(p, many_models=True, seed=0)
    p.set_defaults(func=run_atlas)
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        help="the contact sheet (.png); singles go in the folder "
        "beside it named like it without the suffix",
    )
    p.add_argument(
        "--compare",
        metavar="MODEL",
        action=AddSource,
        dest="sources",
        help="add a row for this registry model or .h5 file, after "
        "the default model or the --model/--weights given (default: none)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--layers",
        metavar="A,B",
        help="layers to dream at "
        "(default: one or two per stage, conv2 to inception_5b)",
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="every layer with channels (over a hundred dreams)",
    )
    which.add_argument(
        "--channels",
        metavar="LAYER",
        help="render LAYER's channels from noise (default: dream IN at layers)",
    )
    pick = p.add_mutually_exclusive_group()
    pick.add_argument(
        "--range",
        metavar="A:B",
        dest="channel_range",
        help="--channels: only channels A..B-1 (default: all)",
    )
    pick.add_argument(
        "--top",
        type=positive_int,
        metavar="K",
        help="--channels: the K channels most active on IN (default: all)",
    )
    p.add_argument(
        "--size",
        type=positive_int,
        default=128,
        metavar="PX",
        help="--channels: side of each noise picture",
    )
    p.add_argument(
        "--diverse",
        type=int,
        metavar="N",
        help="--channels: N different pictures per channel, dreamed together "
        "with a diversity term, one row per channel (default: one picture)",
    )
    p.add_argument(
        "--diversity-weight",
        type=float,
        metavar="W",
        help="--diverse: objective channel + W * diversity "
        "(default: 100, lucid's; 0: no diversity term)",
    )
    p.add_argument(
        "--cell",
        type=positive_int,
        default=256,
        metavar="PX",
        help="largest side of each picture on the sheet",
    )
    p.add_argument(
        "--columns",
        type=positive_int,
        metavar="N",
        help="pictures per row with one model (default: 5; channel sheets: 8)",
    )
    p.add_argument(
        "--scheduler",
        metavar="WHERE",
        help="dream the cells (or the channels not cached) on Dask: "
        "local, local:N or tcp://HOST:PORT (default: in this process)",
    )


def _sources(args: argparse.Namespace) -> list[Any]:
    from inceptionism.engine.atlas import Source

    given = list(args.sources or ())
    base = [f for f in given if f[0] != "--compare"] or [("--model", None)]
    # --compare rows come after the --model/--weights rows (or the default
    # model's) wherever the flags stand on the command line
    flagged = base + [f for f in given if f[0] == "--compare"]
    out = []
    for flag, value in flagged:
        if flag == "--weights" or (
            flag == "--compare" and (value.endswith(".h5") or Path(value).is_file())
        ):
            if not Path(value).is_file():
                raise ValueError(f"{flag} {value}: no such weight file")
            out.append(Source(weights=str(Path(value).resolve())))
        else:
            from inceptionism.engine.models import DEFAULT_MODEL, resolve_spec

            resolve_spec(value or DEFAULT_MODEL)  # unknown names: the known ones
            out.append(Source(model=value or DEFAULT_MODEL))
    return out


def _check(args: argparse.Namespace) -> None:
    for name, flag, instead in (
        ("layer", "--layer", "--layers A,B"),
        ("objective", "--objective", "--channels LAYER"),
        ("guide", "--guide", "dream --guide"),
    ):
        if getattr(args, name):
            raise ValueError(
                f"atlas sets each cell's objective; give {instead} instead of {flag}"
            )
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise ValueError(
            f"-o {out}: the atlas is a PNG contact sheet; give -o NAME.png"
        )
    if out.exists() and not args.overwrite:
        raise ValueError(f"-o {out} exists; --overwrite replaces it")
    if not out.parent.is_dir():
        raise ValueError(f"-o {out}: folder {out.parent} does not exist")
    if args.channels is not None and args.bits != 8:
        raise ValueError(
            f"--bits {args.bits}: channel renders are 8-bit PNGs (cached and laid "
            "out as such); drop --bits"
        )
    if args.channels is not None and args.tile_halo != "exact":
        raise ValueError(
            f"--tile-halo {args.tile_halo}: channel renders take the exact halo "
            "(cached as equal to the untiled render); drop --tile-halo"
        )
    if args.channels is None and (args.channel_range or args.top):
        raise ValueError("--range and --top choose channels; give --channels LAYER")
    from PIL import Image

    if args.size**2 > Image.MAX_IMAGE_PIXELS:  # else numpy's "cannot allocate"
        raise ValueError(
            f"--size {args.size}: a picture of {args.size}x{args.size} px is "
            f"larger than inceptionism reads ({Image.MAX_IMAGE_PIXELS} pixels); "
            "give a smaller --size"
        )
    _check_diverse(args)
    if args.scheduler:
        from inceptionism.engine.batch_dask import _distributed, parse_local

        parse_local(args.scheduler)  # local:N with a bad N: before any work
        _distributed()  # Dask missing: how to install it, before any work


def _check_diverse(args: argparse.Namespace) -> None:
    from inceptionism.engine.atlas_diverse import DEFAULT_WEIGHT, check

    if args.diverse is None:
        if args.diversity_weight is not None:
            raise ValueError("--diversity-weight weighs --diverse N; give --diverse")
        return
    if args.channels is None:
        raise ValueError("--diverse N renders channels; give --channels LAYER")
    w = DEFAULT_WEIGHT if args.diversity_weight is None else args.diversity_weight
    check(args.diverse, w)
    args.diversity_weight = w
    if args.columns:
        raise ValueError("--diverse N lays out N pictures per row; drop --columns")
    if args.tile not in ("auto", "off"):
        raise ValueError(
            "--diverse dreams each channel's N pictures as one untiled batch; "
            "drop --tile (or give a smaller --size)"
        )


def _spec(args: argparse.Namespace) -> Any:
    from inceptionism.engine.batch import Spec
    from inceptionism.engine.cli.dream_cmd import dream_config, tiling_settings

    return Spec(
        config=dream_config(args),
        mean=args.mean,
        max_size=args.max_size,
        device=args.device or "cpu",
        bits=args.bits,
        overwrite=args.overwrite,
        tiling=tiling_settings(args),
    )


def run_atlas(args: argparse.Namespace) -> int:
    from inceptionism.engine.cli.dream_cmd import _input_path

    _check(args)
    spec = _spec(args)  # checks the numbers before any file is read
    sources = _sources(args)
    if args.channels is not None:
        from inceptionism.engine.cli.atlas_channels_cmd import run_channels

        inp = _input_path(args) if args.input or args.sample else None
        return run_channels(args, spec, sources, inp)
    return _run_layers(args, spec, sources, _input_path(args))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _run_layers(
    args: argparse.Namespace, spec: Any, sources: list[Any], inp: Path
) -> int:
    from inceptionism.engine import atlas
    from inceptionism.engine.cli.atlas_channels_cmd import close
    from inceptionism.engine.cli.batch_cmd import _Report

    layers = None if args.layers is None else [x for x in args.layers.split(",") if x]
    p = atlas.prepare(inp, Path(args.output), sources, spec, layers, args.all)
    dask = None
    if args.scheduler:  # a bad address: one line, before the first dream
        from inceptionism.engine.batch_dask import connect

        dask = connect(args.scheduler)
    report = _Report(args.quiet, {}, len(p.cells), by_output=True)
    print(
        f"atlas: {_n(len(p.cells), 'dream')} ({_n(len(p.sources), 'model')} x "
        f"{_n(len(p.layers), 'layer')}) of {inp} at {p.hw[1]}x{p.hw[0]}",
        file=sys.stderr,
    )
    try:
        outcomes = atlas.run(
            inp.resolve() if args.scheduler else inp,
            p.cells,
            p.sources,
            spec,
            on_done=report.done,
            on_connect=report.connected,
            client=None if dask is None else dask[0],
        )
    except KeyboardInterrupt:
        print("atlas: stopped; the same command resumes", file=sys.stderr)
        raise
    finally:
        close(dask)
    sheet = atlas.finish(p, outcomes, spec, cell=args.cell, columns=args.columns)
    if sheet is not None:
        print(sheet)
    return report.summary(len(p.cells), "atlas cells")
