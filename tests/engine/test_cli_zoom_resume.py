"""``inceptionism zoom`` after Ctrl-C: the same command continues, and its
frames and animation are byte for byte an uninterrupted run's."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine import remake
from inceptionism.engine.cli import zoom_cmd
from inceptionism.engine.image import read_recipe

# jitter on: each frame draws from the one generator the run shares; 16-bit
# frames: the GIF is made from the frames as read back
ZOOM = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--frames", "4",
        "--scale", "0.1", "--gif", "--bits", "16"]  # fmt: skip


def files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def interrupted(run, monkeypatch, argv, after, where=zoom_cmd, name="write_state"):
    """Run ``argv``, stopped as by Ctrl-C at the call ``after + 1`` of
    ``where.name`` (by default: once ``after`` frames' states are saved)."""
    calls = []
    real = getattr(where, name)

    def stop(*a, **k):
        if len(calls) == after:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(where, name, stop)
        rc, _, err = run(*argv)
    assert rc == 130, err


@pytest.mark.parametrize("at", ["state", "png"])
@pytest.mark.parametrize("after", [2, 0])
def test_the_same_command_continues_where_it_stopped(
    run, picture, tmp_path, monkeypatch, after, at
):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run("zoom", picture, "-o", whole, *ZOOM, "--seed", "3")[0] == 0
    argv = ["zoom", picture, "-o", cut, *ZOOM, "--seed", "3"]
    if at == "state":  # frame `after` is dreamed again
        interrupted(run, monkeypatch, argv, after)
    else:  # frame `after`'s state is saved, its PNG is not: made from the state
        interrupted(run, monkeypatch, argv, after, remake, "write")
    saved = after + (at == "png")
    names = [f"frame-{i:04d}.png" for i in range(after)]
    assert sorted(files(cut)) == sorted([*names, *[zoom_cmd.STATE] * (saved > 0)])
    rc, _, err = run(*argv)
    assert rc == 0, err
    assert (f"holds {saved} of this zoom's 4 frames" in err) == (saved > 0)
    assert files(cut) == files(whole)  # the GIF too; the state is gone


def test_without_seed_it_continues_with_the_interrupted_runs(
    run, picture, tmp_path, monkeypatch
):
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    interrupted(run, monkeypatch, ["zoom", picture, "-o", cut, *ZOOM], 1)
    seed = read_recipe(cut / "frame-0000.png")["config"]["seed"]
    assert run("zoom", picture, "-o", cut, *ZOOM)[0] == 0
    assert run("zoom", picture, "-o", whole, *ZOOM, "--seed", seed)[0] == 0
    assert files(cut) == files(whole)


def test_another_command_is_refused_and_overwrite_starts_again(
    run, run_fails, picture, tmp_path, monkeypatch
):
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    argv = ["zoom", picture, "-o", cut, *ZOOM, "--seed", "3"]
    interrupted(run, monkeypatch, argv, 1)
    before = files(cut)
    run_fails(*argv, "--steps", "3", match="cut is not empty; pass --overwrite")
    assert files(cut) == before
    assert run(*argv, "--steps", "3", "--overwrite")[0] == 0
    again = ["zoom", picture, "-o", whole, *ZOOM, "--seed", "3", "--steps", "3"]
    assert run(*again)[0] == 0
    assert files(cut) == files(whole)


def test_a_damaged_state_is_not_resumed(run, run_fails, picture, tmp_path, monkeypatch):
    cut = tmp_path / "cut"
    argv = ["zoom", picture, "-o", cut, *ZOOM, "--seed", "3"]
    interrupted(run, monkeypatch, argv, 1)
    (cut / zoom_cmd.STATE).write_bytes(b"not a zip")
    run_fails(*argv, match="is not empty")


def test_the_state_holds_the_float_frame(run, picture, tmp_path, monkeypatch):
    """The PNG is rounded; what the next frame starts from is not."""
    cut = tmp_path / "cut"
    interrupted(run, monkeypatch, ["zoom", picture, "-o", cut, *ZOOM, "--seed", "3"], 1)
    found = zoom_cmd.read_state(cut)
    assert found is not None
    state = found[1]
    assert state.done == 1 and state.frame.dtype == np.float32
    assert not np.array_equal(state.frame, np.rint(state.frame))
