"""``inceptionism video`` end to end on real clips and synthetic weights:
coherence, cuts, resume, replay, recipes, progress."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.video_clips import (
    audio_packets,
    moving_frames,
    read_frames,
    write_clip,
)

pytest.importorskip("av")
pytest.importorskip("cv2")

from inceptionism.engine.dream import DreamConfig, run  # noqa: E402
from inceptionism.engine.image import load_image, read_recipe  # noqa: E402
from inceptionism.engine.net import Net  # noqa: E402
from inceptionism.engine.video import flow as fl  # noqa: E402
from inceptionism.engine.video import io, runner  # noqa: E402

LAYER = ["--layer", "conv2/3x3", "--octaves", "1"]
FAST = [*LAYER, "--steps", "2", "--seed", "4", "-q"]


def frames_of(folder, n):
    return [load_image(folder / f"{k:06d}.png") for k in range(n)]


@pytest.fixture
def cut_clip(tmp_path):
    """8 frames at 10 fps, a cut before frame 5, an AAC tone."""
    return write_clip(tmp_path / "clip.mp4", moving_frames(8, cut_at=5), fps=10)


def test_video_keeps_count_rate_size_audio_and_records_recipes(cut_clip, tmp_path, run):
    out = tmp_path / "out.mp4"
    rc, stdout, err = run("video", cut_clip, "-o", out, *FAST)
    assert rc == 0, err
    assert stdout.strip() == str(out)
    got, src = io.probe(out), io.probe(cut_clip)
    assert (got.width, got.height, got.frames, got.fps) == (64, 48, 8, 10)
    assert audio_packets(out) == audio_packets(cut_clip) != []
    meta = io.read_metadata_recipe(out)
    assert meta["input"]["sha1"] == src.sha1() and meta["config"]["seed"] == 4
    assert meta["video"]["flow"] == "dis" and meta["video"]["frames"] == 8
    folder = tmp_path / "out.mp4.frames"
    recipes = [read_recipe(folder / f"{k:06d}.png")["video"] for k in range(8)]
    assert [r["frame"] for r in recipes] == list(range(8))
    assert [r["restart"] for r in recipes] == [k in (0, 5) for k in range(8)]
    assert recipes[5]["motion"]["cut"] and not recipes[4]["motion"]["cut"]
    dreamed = np.array(read_frames(out))
    assert np.abs(dreamed - np.array(read_frames(cut_clip))).mean() > 2  # dreamed
    assert meta["video"]["crf"] == 18 and meta["video"]["audio"]
    again = tmp_path / "again.mkv"  # the whole video from its metadata
    rc, _, err = run("video", "--replay", out, "-o", again, "-q")
    assert rc == 0, err
    np.testing.assert_array_equal(np.array(read_frames(again)), dreamed)
    assert audio_packets(again) == audio_packets(cut_clip)


def test_a_cut_resets_the_detail(cut_clip, tmp_path, googlenet):
    """The frame after the cut is exactly the frame dreamed alone (full
    steps, its own generator); the one before the cut is not."""
    from inceptionism.engine.video.make import dream_video

    cfg = DreamConfig(objective="deepdream:conv2/3x3", octaves=1, steps=2, seed=4)
    h5 = tmp_path / "w.h5"
    from inceptionism.weights import save_model

    save_model(googlenet, h5)
    out = dream_video(cut_clip, tmp_path / "f", cfg, weights=h5)
    inputs = read_frames(cut_clip)
    net = Net(googlenet)

    def alone(k):
        x = run(net, inputs[k], cfg, rng=runner.frame_rng(4, k))
        return np.rint(np.clip(x, 0, 255))

    made = frames_of(out, 8)
    np.testing.assert_array_equal(made[5], alone(5))
    np.testing.assert_array_equal(made[0], alone(0))
    assert np.abs(made[4] - alone(4)).mean() > 1  # carries detail


def test_resume_after_an_interrupted_run_equals_an_uninterrupted_one(
    tmp_path, run, monkeypatch
):
    """Ctrl-C after 3 frames (from the progress hook), then the same command
    without --seed: it continues with the recorded seed; frames and video
    equal a run that was never stopped; nothing half-written is left."""
    clip = write_clip(tmp_path / "c.mp4", moving_frames(6), fps=10)
    args = ["video", clip, "-o", tmp_path / "a.mp4", *LAYER, "--steps", "2"]
    frame = runner.FrameProgress.frame
    made = []

    def stop_after_three(self):
        frame(self)
        made.append(1)
        if len(made) == 3:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(runner.FrameProgress, "frame", stop_after_three)
        rc, _, err = run(*args, "--progress")
    assert rc == 130 and "interrupted" in err
    folder = tmp_path / "a.mp4.frames"
    assert sorted(p.name for p in folder.iterdir()) == [
        "000000.png", "000001.png", "000002.png", "index.json",
    ]  # fmt: skip
    assert not (tmp_path / "a.mp4").exists()
    rc, _, err = run(*args, "--progress")
    assert rc == 0, err
    assert "continuing after 3 of 6 frames" in err and "6/6 frames" in err
    assert "frames/s" in err and "ETA" in err
    seed = read_recipe(folder / "000000.png")["config"]["seed"]
    rc, _, err = run("video", clip, "-o", tmp_path / "b.mp4", *LAYER, "--steps", "2",
                     "--seed", seed, "-q")  # fmt: skip
    assert rc == 0, err
    for k in range(6):
        a = folder / f"{k:06d}.png"
        assert a.read_bytes() == (tmp_path / f"b.mp4.frames/{k:06d}.png").read_bytes()
    np.testing.assert_array_equal(
        read_frames(tmp_path / "a.mp4"), read_frames(tmp_path / "b.mp4")
    )
    assert not [p for p in tmp_path.rglob("*.part")]


def test_another_command_refuses_the_frames_unless_overwrite(tmp_path, run, run_fails):
    clip = write_clip(tmp_path / "c.mp4", moving_frames(3), fps=10)
    out = tmp_path / "o"
    assert run("video", clip, "-o", out, *FAST)[0] == 0
    run_fails("video", clip, "-o", out, *FAST, "--blend", "0.5",
              match="holds another command's frames; pass --overwrite")  # fmt: skip
    rc, _, err = run("video", clip, "-o", out, *FAST, "--blend", "0.5", "--overwrite")
    assert rc == 0, err
    assert read_recipe(out / "000002.png")["video"]["blend"] == 0.5


def test_replay_remakes_a_frame_exactly(cut_clip, tmp_path, run, run_fails):
    out = tmp_path / "o.mp4"
    assert run("video", cut_clip, "-o", out, *FAST)[0] == 0
    folder = tmp_path / "o.mp4.frames"
    for k in (0, 3, 6):
        again = tmp_path / f"again{k}.png"
        rc, _, err = run("video", "--replay", folder / f"{k:06d}.png", "-o", again)
        assert rc == 0, err
        np.testing.assert_array_equal(
            load_image(again), load_image(folder / f"{k:06d}.png")
        )
    run_fails("dream", "--replay", folder / "000003.png", "-o", tmp_path / "x.png",
              match="inceptionism video --replay")  # fmt: skip
    (folder / "000002.png").unlink()
    run_fails("video", "--replay", folder / "000003.png", "-o", tmp_path / "y.png",
              match="carries the detail of 000002.png, which is missing")  # fmt: skip


def test_flow_makes_the_video_more_stable_than_independent_frames(tmp_path, run):
    """Mean flow-compensated frame difference of the output (0..255, over
    flow-consistent pixels; :func:`flow.instability`). Measured: 2.08 with
    DIS flow vs 4.01 with --flow off (64x48, 8 frames, conv2/3x3, 4 steps
    then 2)."""
    clip = write_clip(tmp_path / "c.mp4", moving_frames(8), fps=10, audio=False)
    inputs = read_frames(clip)
    scores = {}
    for mode in ("dis", "off"):
        out = tmp_path / mode
        rc, _, err = run("video", clip, "-o", out, *LAYER, "--steps", "4",
                         "--seed", "3", "--flow", mode, "-q")  # fmt: skip
        assert rc == 0, err
        scores[mode] = fl.instability(frames_of(out, 8), inputs)
    print(f"instability: flow {scores['dis']:.2f}, off {scores['off']:.2f}")
    assert scores["dis"] < 0.7 * scores["off"], scores


def test_steps_after_the_first_frame(tmp_path):
    from inceptionism.engine.video.recipe import Settings

    assert Settings().steps(10, restart=True) == 10
    assert Settings().steps(10, restart=False) == 5
    assert Settings().steps(1, restart=False) == 1
    assert Settings(steps_after=3).steps(10, restart=False) == 3
    with pytest.raises(ValueError, match="--flow must be one of"):
        Settings(flow="magic")  # type: ignore[arg-type]


def test_progress_shows_frames_rate_and_eta():
    import io as stdio

    ticks = iter([0.0, 10.0, 12.0, 14.0])
    stream = stdio.StringIO()
    p = runner.FrameProgress(4, stream, enabled=True, clock=lambda: next(ticks))
    p.start(1, None)  # one frame made earlier: not counted in the rate
    p.frame()
    p.frame()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "video: continuing after 1 of 4 frames"
    assert lines[1] == "video:  50%  2/4 frames  0.50 frames/s (2.0 s/frame)  ETA 0:04"
    assert lines[2] == "video:  75%  3/4 frames  0.50 frames/s (2.0 s/frame)  ETA 0:02"


def test_dream_options_reach_every_frame(tmp_path, run):
    """Tiling, priors and the objective of ``dream`` apply to each frame
    and are recorded in its recipe."""
    clip = write_clip(tmp_path / "c.mp4", moving_frames(2), fps=10, audio=False)
    out = tmp_path / "t"
    rc, _, err = run("video", clip, "-o", out, *FAST, "--tile", "32",
                     "--prior", "smooth:0.5", "--steps-after", "1")  # fmt: skip
    assert rc == 0, err
    r = read_recipe(out / "000001.png")
    assert r["tiling"] == {"tile": 32, "halo": "exact"}
    assert r["config"]["priors"] == ["smooth:0.5"]
    assert r["video"]["steps_after"] == 1 and not r["video"]["restart"]
