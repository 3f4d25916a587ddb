"""Video (issue 13): temporally coherent DeepDream, frame by frame.

- :mod:`.io`: decoding and encoding with PyAV (frame rate, size, pixel
  aspect, rotation, audio copied packet for packet), or a folder of frames.
- :mod:`.flow`: dense optical flow between input frames (OpenCV DIS or
  Farnebäck), the forward-backward occlusion mask, warping, scene cuts.
- :mod:`.runner`: the frame loop: each frame is dreamed by the one dream
  loop (:func:`inceptionism.engine.dream.run`) from the frame plus the
  previous frame's dreamed detail carried along the flow; frames are
  written as they are made, so the same command resumes.
- :mod:`.recipe`: the video part of the recipe and ``video --replay`` of
  a frame.
- :mod:`.make`: :func:`~.make.dream_video` (checks, frames, encode) and
  :func:`~.make.replay_video` (a whole video from its metadata).
- :mod:`.segments`: scale-out on Dask, one segment per task.

Design's table (section 10) names ``engine/video.py``; the capability grew
past one module's ~400 lines, so it is this subpackage instead.

PyAV and OpenCV are the optional extra ``video``, imported only here and
only when a video is made (:func:`require`).
"""

from __future__ import annotations

from typing import Any

INSTALL = 'video needs PyAV and OpenCV: pip install "inceptionism[video]"'


def require(name: str) -> Any:
    """Import ``av`` or ``cv2``; a one-sentence ``ValueError`` if missing."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ValueError(INSTALL) from None
