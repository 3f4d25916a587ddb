"""``inceptionism atlas --channels LAYER``: a layer's channels rendered from
noise into a labelled sheet, through the render cache (see
:mod:`inceptionism.engine.atlas_channels`); the options are ``atlas``'s
(:mod:`inceptionism.engine.cli.atlas_cmd`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np


def run_channels(
    args: argparse.Namespace, spec: Any, sources: list[Any], inp: Path | None
) -> int:
    from inceptionism.engine import atlas_channels as ac
    from inceptionism.engine import batch
    from inceptionism.engine.atlas import describe, flat_layer
    from inceptionism.engine.image import load_image

    if len(sources) > 1:
        raise ValueError(
            "--channels renders one model's layer; give one --model or --weights"
        )
    if inp is not None and not args.top:
        raise ValueError(
            "--channels renders from noise: a picture only ranks channels "
            "(--top K); give --top K, or drop IN"
        )
    if args.top and inp is None:
        raise ValueError(
            "--top K ranks channels by their activation on a "
            "picture; give IN (or --sample)"
        )
    net, wpath, sha1 = batch.loaded_net(sources[0].spec(spec))
    layer = net.resolve(args.channels)
    shape = net.shapes((args.size, args.size)).get(layer)
    flat = flat_layer(net, [layer], (args.size, args.size))
    if flat:
        raise ValueError(
            f"{layer} is {flat[1]}: no channel maps to render; give a convolution "
            "or inception layer (`inceptionism layers` lists them)"
        )
    if shape is None:
        raise ValueError(
            f"{layer} has no channels at {args.size}x{args.size} "
            "px; give a larger --size or another layer"
        )
    count = shape[1]
    if args.top and args.top > count:
        raise ValueError(
            f"--top {args.top}: the layer has {count} channels; give K <= {count} "
            "(or leave --top out for all of them)"
        )
    if args.top:
        rgb = np.asarray(load_image(inp))
        if args.max_size:
            from inceptionism.engine.image import downsize

            rgb = downsize(rgb, args.max_size)[0]
        means = ac.channel_means(net, rgb, layer)
        channels = ac.top_channels(means, args.top)
    elif args.channel_range:
        channels = list(ac.parse_range(args.channel_range, count))
    else:
        channels = list(range(count))
    if args.diverse:
        from inceptionism.engine import atlas_diverse as ad

        nw = (args.diverse, args.diversity_weight)
        cached = ad.cached_count(
            net, sha1, layer, channels, spec.config, args.size, *nw
        )
    else:
        cached = ac.cached_count(net, sha1, layer, channels, spec.config, args.size)
    todo = len(channels) - cached
    dask = None
    if args.scheduler and todo:  # a bad address: one line, before any work
        from inceptionism.engine.batch_dask import connect

        dask = connect(args.scheduler)
    if todo:  # the renders are cached: an unusable cache, before the first one
        from inceptionism.weights.files import make_folder

        try:
            make_folder(ac.cache_path("").parent)
        except ValueError:
            close(dask)
            raise
    what = describe(net, layer, (args.size, args.size))
    print(
        f"atlas: {len(channels)} channel{'s' * (len(channels) != 1)} of {layer} "
        f"({what})"
        + (f", {args.diverse} diverse pictures each" if args.diverse else "")
        + f", {todo} to render, "
        f"{len(channels) - todo} cached",
        file=sys.stderr,
    )
    try:
        result, rc = _render(args, spec, sources[0], net, sha1, layer, channels,
                             todo, dask)  # fmt: skip
    except KeyboardInterrupt:
        print("atlas: stopped; the same command resumes", file=sys.stderr)
        raise
    finally:
        close(dask)
    labels = None
    if args.top:
        labels = [f"ch {k}\nmean {means[k]:.3g}" for k in channels]
    out = ac.write_sheet(
        Path(args.output),
        net,
        wpath,
        sha1,
        layer,
        channels,
        spec.config,
        args.size,
        result.images,
        labels=labels,
        columns=min(args.columns, len(channels)) if args.columns else 8,
        cell=args.cell,
        protect=[inp] if inp else [],
        diverse=nw if args.diverse else None,
    )
    failed = f", {len(result.failed)} failed" if result.failed else ""
    print(
        f"atlas: {result.rendered} rendered, {result.cached} from the cache{failed}",
        file=sys.stderr,
    )
    print(out)
    return rc


def close(dask: tuple[Any, Any] | None) -> None:
    """Close ``connect``'s client, then its local cluster if it made one."""
    for part in dask or ():
        if part is not None:
            part.close()


def _render(
    args: argparse.Namespace,
    spec: Any,
    source: Any,
    net: Any,
    sha1: str,
    layer: str,
    channels: list[int],
    todo: int,
    dask: tuple[Any, Any] | None,
) -> tuple[Any, int]:
    """The channels through the cache, here (a progress bar over every
    step) or with ``dask`` (``(client, cluster)``) as Dask tasks (the
    batch's progress, a line per channel); the exit status (1 when a task
    failed)."""
    from inceptionism.engine import atlas_channels as ac
    from inceptionism.engine import atlas_diverse as ad
    from inceptionism.engine.atlas_tasks import Where
    from inceptionism.engine.progress import Progress

    report = progress = None
    if dask is not None:
        from inceptionism.engine.cli.batch_cmd import _Report

        report = _Report(args.quiet, {}, todo, unit="channel", listing=False)
        where = Where(source.spec(spec), None, dask[0], report.done,
                      report.connected)  # fmt: skip
        observers = []
    else:  # nothing to render on Dask: no cluster to start
        enabled = True if args.progress else False if args.quiet else None
        progress = Progress(sys.stderr, label="channels", enabled=enabled,
                            runs=max(todo, 1), unit="channel")  # fmt: skip
        where, observers = Where(), [progress]
    try:
        if args.diverse:
            result = ad.render(
                net, sha1, layer, channels, spec.config, args.size,
                args.diverse, args.diversity_weight, observers=observers, where=where,
            )  # fmt: skip
        else:
            result = ac.render(
                net, sha1, layer, channels, spec.config, args.size,
                tiling=spec.tiling, observers=observers, where=where,
            )  # fmt: skip
    finally:
        if progress is not None:
            progress.close()
    rc = 0 if report is None else report.summary(todo, "channels")
    return result, rc
