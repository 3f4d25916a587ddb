"""Video segments on a real Dask ``LocalCluster``
(:mod:`inceptionism.engine.video.segments`)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.video_clips import moving_frames, read_frames, write_clip

pytest.importorskip("av")
pytest.importorskip("cv2")
pytest.importorskip("distributed")

from inceptionism.engine.video import io  # noqa: E402
from inceptionism.engine.video.segments import Segment, plan  # noqa: E402

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4", "-q"]


def test_plan_splits_at_cuts_and_every_n_frames_with_overlap():
    assert plan(12, [], 6, overlap=4) == [Segment(0, 0, 6), Segment(2, 6, 12)]
    assert plan(10, [5], 3, overlap=2) == [
        Segment(0, 0, 3), Segment(1, 3, 5),  # inside the first scene: overlap
        Segment(5, 5, 8), Segment(6, 8, 10),  # a cut starts afresh
    ]  # fmt: skip
    assert plan(4, [2], 10) == [Segment(0, 0, 2), Segment(2, 2, 4)]


def test_segments_on_dask_match_the_sequential_run_up_to_the_joint(tmp_path, run):
    """12 frames in segments of 6 on two workers: the first segment is the
    sequential run's frame for frame; the second starts 4 frames early
    (warm-up in overlap/) and so differs; the video cross-fades the warm-up
    over frames 2-5 with weights 1/5 .. 4/5. A rerun makes nothing."""
    clip = write_clip(tmp_path / "c.mp4", moving_frames(12), fps=10)
    assert run("video", clip, "-o", tmp_path / "seq.mp4", *FAST)[0] == 0
    out = tmp_path / "seg.mp4"
    args = ["video", clip, "-o", out, *FAST, "--segments", "6"]
    rc, _, err = run(*args, "--scheduler", "local:2")
    assert rc == 0, err
    seq, seg = tmp_path / "seq.mp4.frames", tmp_path / "seg.mp4.frames"
    name = "{:06d}.png".format
    for k in range(6):  # pixels (the recipes differ: they record --segments)
        np.testing.assert_array_equal(
            io.read_frame(seg / name(k)), io.read_frame(seq / name(k))
        )
    assert sorted(p.name for p in (seg / "overlap").iterdir()) == [
        name(k) for k in range(2, 6)
    ]
    assert np.abs(io.read_frame(seg / name(6)) - io.read_frame(seq / name(6))).max()
    got = io.probe(out)
    assert got.frames == 12 and got.audio
    decoded = np.array(read_frames(out))
    a, b = io.read_frame(seg / name(4)), io.read_frame(seg / "overlap" / name(4))
    fade = 0.4 * a + 0.6 * b  # frame 4: weight 3/5 on the new segment
    assert np.abs(decoded[4] - fade).mean() < np.abs(decoded[4] - a).mean()
    assert np.abs(decoded[4] - fade).mean() < 4
    mtimes = {p: p.stat().st_mtime_ns for p in seg.rglob("*.png")}
    rc, _, err = run(*args, "--overwrite")  # here, no cluster: all frames exist
    assert rc == 0, err
    assert {p: p.stat().st_mtime_ns for p in seg.rglob("*.png")} == mtimes


def test_segments_need_a_video_output_and_a_scheduler_needs_segments(
    tmp_path, run_fails
):
    clip = write_clip(tmp_path / "c.mp4", moving_frames(3), fps=10)
    run_fails("video", clip, "-o", tmp_path / "f", *FAST, "--segments", "2",
              match="give a video -o")  # fmt: skip
    run_fails("video", clip, "-o", tmp_path / "v.mp4", *FAST, "--scheduler", "local",
              match="add --segments N")  # fmt: skip
