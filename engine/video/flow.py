"""Dense optical flow between input frames, occlusion masks, warping and
scene cuts (OpenCV, the optional extra ``video``).

Conventions (pixels, float32, ``(H, W, 2)`` as ``(dx, dy)``):
``flow(a, b)[p] = d`` means ``a[p] ~ b[p + d]``. The *backward* flow of frame
t, ``B = flow(frame_t, frame_{t-1})``, tells where each pixel of frame t was
in frame t-1, so ``warp(thing_{t-1}, B)`` moves anything laid over frame t-1
(its dreamed detail) onto frame t.

Occlusion (Sundaram et al. 2010, as in Ruder et al. 2016's video style
transfer): with the forward flow ``F = flow(frame_{t-1}, frame_t)``, a pixel p
of frame t is consistent when going back and forth lands where it started::

    |B(p) + F(p + B(p))|^2 <= 0.01 (|B(p)|^2 + |F(p + B(p))|^2) + 0.5

Pixels that fail (disoccluded regions, flow failures) or whose source lies
outside frame t-1 get weight 0; the weight is then smoothed over a few
pixels so the carried detail fades out instead of ending at a hard edge.

A scene cut is declared when the flow cannot explain frame t from frame t-1:
more than :data:`CUT_OCCLUDED` of the pixels are inconsistent, or the mean
absolute flow-compensated difference of the consistent ones (0..1) exceeds
the cut threshold (``--cut-threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from inceptionism.engine.video import require

FlowMode = Literal["off", "dis", "farneback"]
FLOW_MODES: tuple[FlowMode, ...] = ("off", "dis", "farneback")
#: Share of inconsistent pixels above which frame t is a new scene.
CUT_OCCLUDED = 0.5
#: Default mean flow-compensated difference (0..1) that makes a cut.
CUT_THRESHOLD = 0.12


@dataclass(frozen=True)
class Motion:
    """How frame t follows frame t-1.

    backward : (H, W, 2) float32, flow(frame_t, frame_{t-1}).
    weight : (H, W) float32 in 0..1, 0 where the carried detail must fade
        (occluded, out of frame, or everywhere at a cut).
    cut : a scene cut: nothing is carried.
    occluded : share of inconsistent pixels; residual : mean |frame_t -
        warp(frame_{t-1})| / 255 over the consistent ones.
    """

    backward: np.ndarray
    weight: np.ndarray
    cut: bool
    occluded: float
    residual: float


def _gray(rgb: np.ndarray) -> np.ndarray:
    cv2 = require("cv2")
    u8 = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)


def flow(a: np.ndarray, b: np.ndarray, mode: FlowMode = "dis") -> np.ndarray:
    """Dense flow from RGB frame ``a`` to ``b`` (both (H, W, 3), 0..255):
    ``(H, W, 2)`` float32 with ``a[p] ~ b[p + flow[p]]``."""
    cv2 = require("cv2")
    ga, gb = _gray(a), _gray(b)
    if mode == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        f = dis.calc(ga, gb, None)
    elif mode == "farneback":
        f = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    else:
        raise ValueError(f"unknown flow {mode!r}; use one of {', '.join(FLOW_MODES)}")
    return np.asarray(f, dtype=np.float32)


def _maps(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = f.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs + f[..., 0], ys + f[..., 1]


def warp(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``out[p] = a[p + f[p]]`` (bilinear; outside ``a``: the nearest edge
    pixel, which the occlusion weight then fades). ``a``: (H, W) or (H, W, C)."""
    cv2 = require("cv2")
    mx, my = _maps(f)
    src = np.ascontiguousarray(a, dtype=np.float32)
    return cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Boolean (H, W): True where the backward flow of frame t and the
    forward flow of frame t-1 agree and the source lies inside the frame."""
    h, w = backward.shape[:2]
    fw = warp(forward, backward)
    s = backward + fw
    err = (s**2).sum(axis=2)
    bound = 0.01 * ((backward**2).sum(axis=2) + (fw**2).sum(axis=2)) + 0.5
    mx, my = _maps(backward)
    inside = (mx > -0.5) & (mx < w - 0.5) & (my > -0.5) & (my < h - 0.5)
    return (err <= bound) & inside


def _fade(ok: np.ndarray) -> np.ndarray:
    """0/1 mask -> weight: occluded pixels stay 0, their neighbours fade in."""
    cv2 = require("cv2")
    m = ok.astype(np.float32)
    soft = cv2.GaussianBlur(m, (0, 0), sigmaX=1.5, borderType=cv2.BORDER_REPLICATE)
    return np.minimum(m, soft)


def motion(
    prev: np.ndarray,
    cur: np.ndarray,
    mode: FlowMode = "dis",
    cut_threshold: float = CUT_THRESHOLD,
) -> Motion:
    """The :class:`Motion` from input frame ``prev`` to ``cur`` (RGB 0..255)."""
    backward = flow(cur, prev, mode)
    forward = flow(prev, cur, mode)
    ok = consistency(backward, forward)
    occluded = 1.0 - float(ok.mean())
    diff = np.abs(_gray(cur).astype(np.float32) - warp(_gray(prev), backward)) / 255
    residual = float(diff[ok].mean()) if ok.any() else 1.0
    cut = occluded > CUT_OCCLUDED or residual > cut_threshold
    weight = np.zeros(ok.shape, np.float32) if cut else _fade(ok)
    return Motion(backward, weight, cut, occluded, residual)


def carry(detail: np.ndarray, m: Motion, blend: float) -> np.ndarray:
    """The previous frame's dreamed detail ((H, W, 3), float) moved onto the
    current frame and scaled by ``blend`` x the occlusion weight."""
    return warp(detail, m.backward) * (blend * m.weight[..., None])


def instability(
    outputs: list[np.ndarray], inputs: list[np.ndarray], mode: FlowMode = "dis"
) -> float:
    """Temporal instability of a dreamed clip: the mean over frames t >= 1 of
    the mean ``|out_t - warp(out_{t-1}, B_t)|`` (0..255) over the pixels where
    the input's flow is consistent, with ``B_t`` the input's backward flow.
    Cuts count as flow-inconsistent everywhere and so drop out."""
    total: list[float] = []
    for t in range(1, len(outputs)):
        m = motion(inputs[t - 1], inputs[t], mode)
        if m.cut:
            continue
        ok = m.weight > 0.999
        d = np.abs(outputs[t] - warp(outputs[t - 1], m.backward)).mean(axis=2)
        total.append(float(d[ok].mean()))
    return float(np.mean(total)) if total else 0.0


def describe(m: Any) -> dict[str, Any]:
    """What a frame's recipe records about its motion."""
    if m is None:
        return {}
    return {"cut": bool(m.cut), "occluded": round(m.occluded, 4),
            "residual": round(m.residual, 4)}  # fmt: skip
