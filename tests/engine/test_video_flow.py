"""Optical flow, warping, occlusion masks and cuts
(:mod:`inceptionism.engine.video.flow`) on frames with known motion."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.video_clips import moving_frames, texture

pytest.importorskip("cv2")

from inceptionism.engine.video import flow as fl  # noqa: E402

INNER = (slice(10, -10), slice(10, -10))


@pytest.mark.parametrize("mode", ["dis", "farneback"])
def test_warp_moves_detail_with_the_known_motion(mode):
    """The texture moves by (dx, dy) = (3, 2) px per frame; detail laid over
    frame 0, warped with the flow, must land (3, 2) px further. Measured:
    mean flow error 0.014 px (DIS) / 0.001 px (Farneback); warp error 0.27
    / 0.01 of 44 without warping."""
    fr = moving_frames(2, h=96, w=128, dx=3, dy=2)
    b = fl.flow(fr[1], fr[0], mode)
    flow_err = np.abs(b[INNER] - np.array([-3.0, -2.0])).mean()
    assert flow_err < 0.1, flow_err
    detail = texture(96, 128, 7)
    moved = np.roll(detail, (2, 3), axis=(0, 1))
    err = np.abs(fl.warp(detail, b) - moved)[INNER].mean()
    unwarped = np.abs(detail - moved)[INNER].mean()
    assert err < 0.02 * unwarped, (err, unwarped)


def test_occlusion_mask_is_where_the_object_uncovers_the_background():
    """A square moves 6 px right over a still background: the strip it
    uncovers (no source in the previous frame) is faded, the rest is not."""
    h, w = 96, 128
    bg, fg = texture(h, w, 1), texture(32, 32, 5) * 0.5 + 120

    def frame(x):
        f = bg.copy()
        f[32:64, x : x + 32] = fg
        return f

    m = fl.motion(frame(40), frame(46), "dis")
    faded = m.weight < 0.5
    strip = np.zeros((h, w), bool)
    strip[32:64, 40:46] = True  # background uncovered in frame 2
    near = np.zeros((h, w), bool)
    near[28:68, 36:82] = True  # the square and its edges
    assert faded[strip].mean() > 0.6, faded[strip].mean()
    assert faded[~near].sum() == 0, np.argwhere(faded & ~near)[:5]
    assert not m.cut


def test_content_entering_the_frame_is_faded():
    fr = moving_frames(2, h=96, w=128, dx=3, dy=2)
    m = fl.motion(fr[0], fr[1], "dis")
    ok = m.weight > 0
    assert not ok[:, :3].any() and not ok[:2, :].any()  # came from outside
    assert ok[5:-5, 8:-5].all()
    assert m.occluded == pytest.approx(1 - ok.mean(), abs=1e-6)


def test_a_cut_is_detected_and_carries_nothing():
    fr = moving_frames(4, cut_at=2)
    same = fl.motion(fr[0], fr[1])
    cut = fl.motion(fr[1], fr[2])
    assert not same.cut and same.residual < 0.02
    assert cut.cut and not cut.weight.any()
    detail = np.full((*fr[0].shape[:2], 3), 50.0, np.float32)
    assert not fl.carry(detail, cut, 1.0).any()
    assert fl.carry(detail, same, 0.5).max() == pytest.approx(25.0, abs=0.01)


def test_instability_is_zero_for_a_perfectly_moving_clip_and_grows_with_noise():
    fr = moving_frames(4, dx=2, dy=2)
    assert fl.instability(fr, fr) < 0.2
    rng = np.random.default_rng(0)
    noisy = [f + rng.normal(0, 10, f.shape).astype(np.float32) for f in fr]
    assert fl.instability(noisy, fr) > 8


def test_unknown_flow_is_refused():
    fr = moving_frames(2)
    with pytest.raises(ValueError, match="unknown flow"):
        fl.flow(fr[0], fr[1], "lucas")  # type: ignore[arg-type]
