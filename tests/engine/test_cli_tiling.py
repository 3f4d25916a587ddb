"""``--tile``, ``--tile-halo``, ``--memory``: tiled dreams from the CLI, their
recipes and replays, and the one-line refusals (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine import tiling_budget
from inceptionism.engine.image import load_image
from inceptionism.engine.recipe import Recipe
from tests.engine.test_cli_dream import FAST, cli, fails

#: conv2/3x3: stride 4, halo 8 px each side; the 56x40 picture of two
#: octaves (56x40, 43x31) is cut into 16-pixel tiles.
TILED = [*FAST, "--octaves", "2", "--octave-scale", "1.3"]


@pytest.fixture
def run(capsys, googlenet_h5):
    def call(*argv):
        rc, out, err = cli(capsys, *argv, "--weights", googlenet_h5)
        assert rc == 0, err
        return out, err

    return call


@pytest.fixture
def wide(tmp_path):
    """320x240: conv2/3x3 estimated at 185 MB untiled, 120-125 MB in tiles
    of 8-64 px (the process and weights count 111 MB of it)."""
    a = np.random.default_rng(5).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    path = tmp_path / "wide.png"
    Image.fromarray(a).save(path)
    return path


@pytest.fixture
def run_fails(capsys, googlenet_h5):
    return lambda *argv, match: fails(
        capsys, *argv, "--weights", googlenet_h5, match=match
    )


def test_tiled_dream_equals_untiled_and_replays(run, picture, tmp_path):
    plain, tiled, again = (tmp_path / f"{n}.png" for n in ("plain", "tiled", "again"))
    run("dream", picture, "-o", plain, *TILED, "--tile", "off")
    run("dream", picture, "-o", tiled, *TILED, "--tile", "16")
    assert Recipe.read(plain).tiling is None
    assert Recipe.read(tiled).tiling == {"tile": 16, "halo": "exact"}
    a, b = load_image(plain), load_image(tiled)
    assert np.abs(a - b).max() <= 1  # float32 rounding may move a level
    run("dream", "--replay", tiled, "-o", again)
    assert np.array_equal(load_image(again), b)
    assert Recipe.read(again).tiling == {"tile": 16, "halo": "exact"}


def test_auto_tiles_only_above_the_budget(run, wide, tmp_path):
    small, big = tmp_path / "small.png", tmp_path / "big.png"
    run("dream", wide, "-o", small, *TILED)  # default budget: untiled
    assert Recipe.read(small).tiling is None
    run("dream", wide, "-o", big, *TILED, "--memory", "150MB")
    tile = Recipe.read(big).tiling["tile"]
    assert 64 <= tile < 320 and tile % 4 == 0


@pytest.mark.parametrize(
    "flag, value, match",
    [
        ("--memory", "lots", "--memory: memory must be a size such as 2GB"),
        ("--memory", "0GB", "--memory: memory must be a size"),
        ("--memory", "0.5", "--memory: memory must be a size"),
        ("--tile", "big", "--tile must be auto, off or a size in pixels, not"),
        ("--tile", "0", "--tile must be auto, off or a size in pixels, not"),
        ("--tile", "4", "a tile of 4 px is smaller than the halo of conv2/3x3 (8 px"),
        ("--memory", "64KB", "the smallest useful tile (8 px) needs about"),
        ("--tile-halo", "wide", "--tile-halo must be exact, auto or pixels, not"),
    ],
    ids=[
        "memory-word",
        "memory-zero",
        "memory-half-byte",
        "tile-word",
        "tile-zero",
        "halo",
        "budget",
        "halo-word",
    ],  # fmt: skip
)
def test_bad_tiling_is_refused_in_one_line(run_fails, picture, tmp_path, flag, value,
                                           match):  # fmt: skip
    out = tmp_path / "o.png"
    line = run_fails("dream", picture, "-o", out, *TILED, flag, value, match=match)
    if value == "64KB":
        assert "give --memory " in line and "MB or more" in line
    assert not out.exists()


def test_a_tile_is_measured_against_the_halo_it_runs_with(run, run_fails, picture,
                                                          tmp_path):  # fmt: skip
    """conv2/3x3's exact halo is 8 px: a 4-px tile is refused with it, but
    with --tile-halo 2 it is twice that halo and runs; under 2 it is refused
    naming the --tile-halo."""
    out = tmp_path / "o.png"
    run("dream", picture, "-o", out, *TILED, "--tile", "4", "--tile-halo", "2")
    assert Recipe.read(out).tiling == {"tile": 4, "halo": 2}
    refused = "smaller than the --tile-halo at conv2/3x3 (6 px each side)"
    line = run_fails("dream", picture, "-o", tmp_path / "p.png", *TILED, "--tile",
                     "4", "--tile-halo", "6", match=refused)  # fmt: skip
    assert "use --tile 8 or more" in line


def test_the_minimum_budget_named_is_enough(run, run_fails, wide, tmp_path):
    line = run_fails("dream", wide, "-o", tmp_path / "o.png", *TILED,
                     "--memory", "64KB", match="give --memory")  # fmt: skip
    minimum = line.split("give --memory ")[1].split()[0]
    ok = tmp_path / "ok.png"  # the tile is chosen and checked; no steps to run
    run("dream", wide, "-o", ok, *TILED, "--memory", minimum, "--steps", "0")
    assert Recipe.read(ok).tiling["tile"] >= 8


def test_a_cheaper_halo_is_recorded_and_replayed(run, picture, tmp_path):
    out, again = tmp_path / "auto.png", tmp_path / "again.png"
    run("dream", picture, "-o", out, *TILED, "--tile", "16", "--tile-halo", "auto")
    assert Recipe.read(out).tiling == {"tile": 16, "halo": "auto"}
    run("dream", "--replay", out, "-o", again)
    assert np.array_equal(load_image(again), load_image(out))


def test_zoom_frames_record_the_tiling(run, picture, tmp_path):
    run("zoom", picture, "-o", tmp_path / "z", *FAST, "--frames", "2", "--tile", "16")
    assert Recipe.read(tmp_path / "z" / "frame-0001.png").tiling["tile"] == 16


@pytest.mark.parametrize(
    "text, n",
    [("2GB", 2 * 2**30), ("1.5G", 3 * 2**29), ("512MiB", 2**29), ("800", 800)],
)
def test_parse_memory(text, n):
    assert tiling_budget.parse_memory(text) == n


@pytest.fixture
def runs_out_of_memory(monkeypatch):
    """The second tiled gradient of a dream asks NumPy for 4 EiB: a real
    allocation failure in the middle of the dream."""
    from inceptionism.engine import tiling

    real, calls = tiling.tiled_gradient, []

    def tiled_gradient(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            np.empty(2**62, dtype=np.uint8)
        return real(*args, **kwargs)

    monkeypatch.setattr(tiling, "tiled_gradient", tiled_gradient)
    return calls


def test_running_out_of_memory_mid_dream_names_the_way_out(
    run_fails, runs_out_of_memory, picture, tmp_path
):
    out = tmp_path / "o" / "out.png"
    out.parent.mkdir()
    line = run_fails("dream", picture, "-o", out, *TILED, "--tile", "16",
                     "--memory", "300MB",
                     match="memory ran out while dreaming this 56x40")  # fmt: skip
    # smaller than what ran out: half the tile, half the budget
    assert "smaller tiles (--tile 8)" in line and "--memory 150MB" in line
    assert "nothing was written" in line
    assert len(runs_out_of_memory) == 2
    assert list(out.parent.iterdir()) == []  # no output, no temporary file
    # the default name claimed before the dream is given back too
    runs_out_of_memory.clear()
    run_fails("dream", picture, *TILED, "--tile", "16", match="--memory")
    assert sorted(p.name for p in picture.parent.iterdir()) == sorted(["in.png", "o"])


@pytest.mark.parametrize(
    "tile, memory, want",
    [
        (16, None, ["--tile 8)", "--memory 1GB"]),
        (768, 2 * 2**30, ["--tile 384)", "--memory 1GB"]),
        (None, 3 * 2**30, ["--tile 2000)", "--memory 1.5GB"]),  # untiled
    ],
)
def test_out_of_memory_asks_for_less_than_ran_out(tile, memory, want):
    from inceptionism.engine.preflight import out_of_memory

    line = str(out_of_memory((3000, 4000), tile, memory))
    assert line.startswith("memory ran out while dreaming this 4000x3000 image")
    for text in want:
        assert text in line, line


def test_batch_reports_running_out_of_memory(
    runs_out_of_memory, googlenet_h5, picture, tmp_path
):
    from inceptionism.engine.batch import Spec, dream_task
    from inceptionism.engine.dream import DreamConfig
    from inceptionism.engine.tiling_budget import Tiling

    config = DreamConfig("deepdream:conv2/3x3", octaves=1, steps=2, seed=4)
    spec = Spec(config=config, weights=str(googlenet_h5), tiling=Tiling(tile=16))
    out = tmp_path / "b" / "in-dream.png"
    out.parent.mkdir()
    outcome = dream_task(picture, out, spec)
    assert outcome.status == "failed" and "--memory" in outcome.reason
    assert list(out.parent.iterdir()) == []
