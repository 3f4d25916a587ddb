"""Checks before the work (issue 10): a mistake costs a second, not an hour.

One place for what ``dream``, ``zoom`` and ``dream --replay`` verify after
the job is built and before its first step:

- :func:`check_output`: the output's format takes the requested bits (a bad
  ``bits`` in a recipe used to fail after the dream), its folder exists and
  is writable (a probe file is made and removed), it is not the input, and
  it does not exist unless ``overwrite``;
- :func:`check_file_output`: the same for a file that is not a picture
  (``weights convert|synthetic -o``);
- :func:`claim_default`: the default output name, claimed with ``O_EXCL``
  so two runs never pick the same file;
- :func:`check_intermediates`: ``--save-every``'s files likewise;
- :func:`check_frames_folder`: ``zoom`` into a non-empty folder needs
  ``overwrite``;
- :func:`check_guides`: each guide image exists and decodes;
- :func:`check_memory`: the estimated memory of the largest octave
  (:func:`dream_bytes`) against what is available
  (:func:`available_memory`): refused above it, warned within 20% of it.
"""

from __future__ import annotations

import glob
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inceptionism.weights.files import check_writable_folder, claim

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
ANIMATION_SUFFIXES = (".gif", ".webp")
#: Warn when the estimate is above this share of the available memory.
WARN_SHARE = 0.8
#: What the kernels keep beside the activations (pooling indices, LRN
#: scales, jitter's rolled copy...): measured peak / counted bytes on
#: GoogLeNet, CPU, tracemalloc, one step: 1.63 at 160x120 (conv2/3x3), 1.49
#: at 224x224 and 1.32 at 600x448 (inception_4c/output). With it, 4000x3000
#: at inception_4c/output comes to 14.7 GiB; issue 10 measured 14.3 GiB.
OVERHEAD = 1.5


class MemoryWarning(UserWarning):
    """The dream will use most of the available memory."""


def _writable(folder: Path, what: Path) -> None:
    if not folder.is_dir():
        kind = "is not a folder" if folder.exists() else "does not exist"
        raise ValueError(f"{what}: the folder {folder} {kind}; create it first")
    try:
        check_writable_folder(folder)
    except OSError as exc:
        raise ValueError(
            f"{what}: cannot write in {folder} ({exc.strerror or exc}); "
            "choose another -o"
        ) from None


def check_output(
    out: Path,
    *,
    bits: int = 8,
    animation: bool = False,
    overwrite: bool = False,
    protect: Iterable[Path] = (),
) -> None:
    """``ValueError`` (one line, with the way out) if ``out`` cannot or
    should not be written; see the module docstring."""
    if bits not in (8, 16):
        raise ValueError(f"{out}: bits must be 8 or 16, not {bits!r}")
    if str(out) == "-":  # standard output (PNG): no file to check
        return
    suffixes = ANIMATION_SUFFIXES if animation else IMAGE_SUFFIXES
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"{out}: write {', '.join(suffixes)}")
    if bits == 16 and out.suffix.lower() != ".png":
        raise ValueError(f"{out}: 16-bit output is written as PNG only; use .png")
    check_file_output(out, overwrite=overwrite, protect=protect)


def check_file_output(
    out: Path, *, overwrite: bool = False, protect: Iterable[Path] = ()
) -> None:
    """:func:`check_output` for a file that is not a picture (a weight file):
    its folder, not a folder itself, not an input, not replaced unless
    ``overwrite``."""
    for p in protect:
        if out.resolve() == Path(p).resolve():
            raise ValueError(f"{out}: refusing to overwrite the input; choose -o")
    _writable(out.parent, out)
    if out.is_dir():
        raise ValueError(f"{out} is a folder; give a file name to -o")
    if out.exists() and not overwrite:
        raise ValueError(
            f"{out} already exists; pass --overwrite to replace it, or choose "
            "another -o"
        )


def check_intermediates(out: Path, overwrite: bool = False) -> None:
    """``--save-every``: refuse when files it would write (``<stem>-o*-s*.png``
    beside ``out``) exist, unless ``overwrite``."""
    old = sorted(out.parent.glob(f"{glob.escape(out.stem)}-o*-s*.png"))
    if old and not overwrite:
        raise ValueError(
            f"{old[0]} (and {len(old) - 1} more) would be replaced by --save-every; "
            "pass --overwrite, or choose another -o"
        )


def claim_default(inp: Path, suffix: str = ".png", folder: Path | None = None) -> Path:
    """``<stem>-dream.png`` in ``folder`` (default: the current one), else
    ``-1``, ``-2``...: created empty with ``O_EXCL``, so a second run at the
    same moment takes the next name. The caller writes over it (or removes
    it if the dream fails: :func:`release`)."""
    folder = Path.cwd() if folder is None else folder
    _writable(folder, folder / f"{inp.stem}-dream{suffix}")
    base = folder / f"{inp.stem}-dream"
    for n in range(10_000):
        out = Path(f"{base}{suffix}") if n == 0 else Path(f"{base}-{n}{suffix}")
        if claim(out):
            return out
    raise ValueError(f"{folder}: 10000 {inp.stem}-dream files already; use -o")


def release(claimed: Path) -> None:
    """Remove a claimed default output that nothing was written to."""
    try:
        if claimed.stat().st_size == 0:
            claimed.unlink()
    except OSError:
        pass


def check_frames_folder(folder: Path, overwrite: bool = False) -> None:
    """``zoom -o FOLDER``: refuse a non-empty folder unless ``overwrite``;
    create a missing one; check it is writable."""
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ValueError(
            f"{folder} is not empty; pass --overwrite to write frames into it, "
            "or choose another -o"
        )
    if not folder.exists():
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise ValueError(f"{folder}: cannot create it ({exc.strerror})") from None
    _writable(folder, folder)


def check_guides(paths: Iterable[Path]) -> None:
    """Each guide image exists and decodes (``ImageError`` naming it)."""
    from inceptionism.engine.image import load_image

    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path}: no such guide image")
        load_image(path)


# -- memory --------------------------------------------------------------------


def dream_bytes(net: Any, hw: tuple[int, int], layers: Iterable[str]) -> int:
    """Bytes one step needs at input size ``hw`` up to ``layers`` (resolved
    names): every activation kept for backward (in-place layers share their
    input's), two gradients of the largest blob in flight, and the largest
    convolution's im2col columns and their gradient (transient scratch),
    times :data:`OVERHEAD`."""
    shapes = net.shapes(hw)
    graph = net.graph
    acts = largest = math.prod(shapes[graph.input_name])
    cols = 0
    for name in graph.order(graph.ancestors(layers)):
        node = graph.nodes[name]
        size = math.prod(shapes.get(name, (0,)))
        acts += 0 if node.in_place else size
        largest = max(largest, size)
        kernel = getattr(node.params, "kernel", None)
        if node.type == "Convolution" and kernel and name in shapes:
            c_in = shapes[node.inputs[0]][1]
            cols = max(cols, c_in * kernel[0] * kernel[1] * math.prod(shapes[name][2:]))
    counted = acts + 2 * largest + 2 * cols
    return int(OVERHEAD * net.dtype.itemsize * counted)


def available_memory(device: str) -> int | None:
    """Bytes free for a dream on ``device``: on CUDA the device's free memory
    plus CuPy's pool, at most what the pool's limit (``CUPY_GPU_MEMORY_LIMIT``
    or ``set_limit``) still lets it hand out; on a CPU Linux's
    ``MemAvailable``, else the free physical pages; None if unknown."""
    if device == "cuda":
        try:
            import cupy

            pool = cupy.get_default_memory_pool()
            free = int(cupy.cuda.Device().mem_info[0]) + int(pool.free_bytes())
            limit = int(pool.get_limit())  # 0: no limit
            if limit:
                free = min(free, max(0, limit - int(pool.used_bytes())))
            return free
        except Exception:
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(
    net: Any,
    hw: tuple[int, int],
    layers: Iterable[str],
    device: str,
    tile: int | None = None,
    pointwise: bool = True,
):
    """Refuse (``MemoryError``) a dream of an ``hw`` image whose largest octave
    needs more than the available memory; warn (:class:`MemoryWarning`) above
    80% of it. With ``tile``, the estimate is that of a tiled step
    (:func:`inceptionism.engine.tiling_budget.step_bytes`). Returns
    ``(needed, available)`` in bytes."""
    layers = [net.resolve(name) for name in layers]
    if tile is None:
        need = dream_bytes(net, hw, layers)
    else:
        from inceptionism.engine.tiling_budget import step_bytes

        need = step_bytes(net, hw, layers, tile, pointwise)
    have = available_memory(device)
    if have is None or need <= WARN_SHARE * have:
        return need, have
    if tile is not None:
        raise MemoryError(
            f"dreaming this {hw[1]}x{hw[0]} image in {tile}-pixel tiles needs "
            f"about {_gib(need)} and {_gib(have)} is available; retry with a "
            "smaller --memory or --tile auto"
        )
    side = max(hw)
    fit = max(32, int(side * math.sqrt(WARN_SHARE * have / need)) // 16 * 16)
    what = (
        f"dreaming this {hw[1]}x{hw[0]} image at {', '.join(layers)} needs about "
        f"{_gib(need)} of {'GPU ' if device == 'cuda' else ''}memory and "
        f"{_gib(have)} is available"
    )
    if need > have:
        raise MemoryError(
            f"{what}; retry with --max-size {fit} or a shallower layer, or in "
            f"tiles at full size: --tile auto with --memory {_budget_below(have)}"
        )
    warnings.warn(
        f"{what}; if it fails, retry with --max-size {fit}", MemoryWarning, stacklevel=2
    )
    return need, have


def smaller_memory(memory: int | None) -> str:
    """An example of a smaller ``--memory`` than the ``memory`` budget
    (bytes) a dream ran out with: half of it, or 1GB when it is not known."""
    if memory is None:
        return "--memory 1GB"
    from inceptionism.engine.tiling_budget import _size

    return f"--memory {_size(memory // 2)}"


def _budget_below(have: int) -> str:
    """A ``--memory`` that the ``have`` bytes available hold with room."""
    from inceptionism.engine.tiling_budget import _size

    return _size(max(2**20, int(have * WARN_SHARE)) // 2**20 * 2**20)


def out_of_memory(
    hw: tuple[int, ...], tile: int | None = None, memory: int | None = None
) -> MemoryError:
    """The one-line error for host memory running out in the middle of
    dreaming an ``hw`` image (``tile``: the tile size it ran with, None
    untiled; ``memory``: the ``--memory`` budget given, if any): the
    estimate was too low for this machine's moment, so say how to ask for
    less: half the budget, half the tile (or half the picture's long side)."""
    height, width = int(hw[0]), int(hw[1])
    smaller = f"--tile {max(1, (tile or max(height, width)) // 2)}"
    return MemoryError(
        f"memory ran out while dreaming this {width}x{height} image; nothing was "
        f"written. Retry with a smaller --memory (e.g. {smaller_memory(memory)}) "
        f"or smaller tiles ({smaller}), or a smaller --max-size"
    )


def check_job(job: Any, pm: Any = None) -> None:
    """The job's guides, the size of each octave
    (:func:`~inceptionism.engine.octaves.check_octaves`) and memory (the
    output is checked apart): call it after building a job and before
    rendering it."""
    from inceptionism.engine.recipe import guide_paths
    from inceptionism.plugins.spec import parse_objective

    config = job.recipe.config
    check_guides(guide_paths(config.objective, pm))
    objective = parse_objective(config.objective, pm)
    from inceptionism.engine.fvis import Extras

    Extras.build(config, objective, job.net, pm)  # --param, --transforms, masks
    hw = (int(job.rgb.shape[0]), int(job.rgb.shape[1]))
    from inceptionism.engine.octaves import check_octaves, octave_sizes

    layers = [job.net.resolve(name) for name in objective.layers]
    sizes = octave_sizes(hw, config.octaves, config.octave_scale)
    check_octaves(job.net, sizes, layers)  # each octave the dream will run
    tile = (job.recipe.tiling or {}).get("tile")
    check_memory(
        job.net, hw, objective.layers, job.recipe.device, tile, objective.pointwise
    )
