"""Video in and out (:mod:`inceptionism.engine.video.io`) and the checks
before the work, on real clips made with PyAV."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest

from tests.engine.video_clips import (
    audio_packets,
    moving_frames,
    read_frames,
    write_clip,
)

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from inceptionism.engine.video import io  # noqa: E402

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4", "-q"]


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", moving_frames(6), fps=12)


def test_probe_reads_rate_size_count_and_audio(clip, tmp_path):
    src = io.probe(clip)
    assert (src.width, src.height, src.frames, src.fps) == (64, 48, 6, 12)
    assert src.audio and src.kind == "file" and src.rotation == 0
    silent = write_clip(tmp_path / "silent.mp4", moving_frames(3), audio=False)
    assert not io.probe(silent).audio


def test_encode_keeps_rate_aspect_rotation_and_copies_audio_bit_exactly(tmp_path):
    """The output's audio packets are the input's, byte for byte; the frame
    rate, count, size, pixel aspect and rotation are the input's."""
    src_path = write_clip(
        tmp_path / "in.mp4", moving_frames(5), fps=15, rotation=90,
        sar=Fraction(4, 3),
    )  # fmt: skip
    src = io.probe(src_path)
    assert src.rotation == 90 and src.sar == Fraction(4, 3)
    out = tmp_path / "out.mp4"
    frames = read_frames(src_path)
    io.encode(out, frames, src, fps=src.fps, size=(48, 64), recipe={"a": 1})
    got = io.probe(out)
    assert (got.width, got.height, got.frames, got.fps) == (64, 48, 5, 15)
    assert got.rotation == 90 and got.sar == Fraction(4, 3)
    packets = audio_packets(src_path)
    assert packets and audio_packets(out) == packets
    assert io.read_metadata_recipe(out) == {"a": 1}
    again = np.array(read_frames(out))  # re-encoded at crf 18: close, in order
    err = np.abs(again - np.array(frames)).mean()
    assert err < 4.0 < np.abs(again[1:] - np.array(frames[:-1])).mean(), err


def test_no_audio_leaves_it_out(clip, tmp_path):
    out = tmp_path / "out.mkv"
    src = io.probe(clip)
    io.encode(out, read_frames(clip), src, fps=src.fps, size=(48, 64), audio=False)
    assert audio_packets(out) == [] and io.probe(out).frames == 6
    webm = tmp_path / "out.webm"  # VP9; Matroska keeps the recipe as COMMENT
    io.encode(webm, read_frames(clip), src, fps=src.fps, size=(48, 64),
              audio=False, recipe={"b": 2})  # fmt: skip
    assert io.probe(webm).codec == "vp9" and io.read_metadata_recipe(webm) == {"b": 2}


def test_interrupted_encode_leaves_nothing(clip, tmp_path):
    src = io.probe(clip)

    def frames():
        yield from read_frames(clip)[:2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.encode(tmp_path / "out.mp4", frames(), src, fps=src.fps, size=(48, 64))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_odd_size_is_cropped_with_a_notice(tmp_path, run):
    clip = write_clip(tmp_path / "odd.mp4", moving_frames(3, h=48, w=64))
    rc, out, err = run("video", clip, "-o", tmp_path / "o.mp4", "--max-size", "63",
                       *FAST)  # fmt: skip
    assert rc == 0, err
    # 64x48 at --max-size 63 is 63x47: both odd, cropped to 62x46
    assert "notice: 63x47 has an odd side" in err and "cropped to 62x46" in err
    got = io.probe(tmp_path / "o.mp4")
    assert (got.width, got.height, got.frames) == (62, 46, 3)


def test_folder_in_and_out(tmp_path, run):
    from PIL import Image

    src = tmp_path / "frames"
    src.mkdir()
    for i, f in enumerate(moving_frames(3, h=40, w=56)):
        Image.fromarray(f.astype(np.uint8)).save(src / f"f{i:02d}.png")
    out = tmp_path / "dreamed"
    rc, stdout, err = run("video", src, "-o", out, *FAST)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "000000.png", "000001.png", "000002.png", "index.json",
    ]  # fmt: skip
    rc, stdout, err = run("video", src, "-o", tmp_path / "v.mp4", "--fps", "8", *FAST)
    assert rc == 0, err
    got = io.probe(tmp_path / "v.mp4")
    assert (got.width, got.height, got.frames, got.fps) == (56, 40, 3, 8)


def test_bad_inputs_are_refused_before_any_work(tmp_path, run_fails):
    out = ["-o", tmp_path / "o.mp4", *FAST]
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    run_fails("video", text, *out, match="not a video PyAV can read")
    run_fails("video", tmp_path / "missing.mp4", *out, match="no such file")
    empty = tmp_path / "empty"
    empty.mkdir()
    run_fails("video", empty, *out, match="no .png or .jpg frames")
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(moving_frames(1)[0].astype(np.uint8)).save(frames / "0.png")
    for fps in ("0", "nan", "inf", "1e12"):  # 0 was 25; 1e12 failed at encoding
        run_fails("video", frames, *out, "--fps", fps, match="--fps must be")
    vfr = write_clip(tmp_path / "vfr.mp4", moving_frames(5), audio=False,
                     pts=[0, 10, 30, 40, 90])  # fmt: skip
    run_fails("video", vfr, *out, match="variable frame rate")
    clip = write_clip(tmp_path / "c.mp4", moving_frames(2))
    run_fails(
        "video", clip, "-o", tmp_path / "o.avi", *FAST, match="write a video (.mp4"
    )
    run_fails("video", clip, "-o", tmp_path / "o.mp4", "--codec", "nope", *FAST,
              match="--codec nope")  # fmt: skip
    run_fails("video", clip, "-o", tmp_path / "o.mp4", "--blend", "2", *FAST,
              match="--blend must be in 0..1")  # fmt: skip
    run_fails("video", clip, *FAST, match="give -o OUT")
    run_fails("video", clip, "-o", tmp_path / "o.webm", *FAST,
              match="the aac audio cannot be copied into .webm")  # fmt: skip
    (tmp_path / "taken.mp4").write_bytes(b"x")
    run_fails("video", clip, "-o", tmp_path / "taken.mp4", *FAST,
              match="already exists; pass --overwrite")  # fmt: skip
    assert not any(p.name.endswith(".frames") for p in tmp_path.iterdir())


def test_zero_frame_video_is_refused(tmp_path, run_fails):
    """A Matroska file whose video track has no packets (only audio)."""
    path = tmp_path / "zero.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=16000, layout="mono")
        silence = np.zeros((1, 1024), np.float32)
        frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        c.mux(a.encode(frame))
        c.mux(a.encode(None))
    run_fails("video", path, "-o", tmp_path / "o.mp4", *FAST, match="no frames")


def test_missing_extra_names_the_install(tmp_path, run_fails, monkeypatch):
    clip = write_clip(tmp_path / "c.mp4", moving_frames(2))
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    run_fails("video", clip, "-o", tmp_path / "o.mp4", *FAST,
              match='pip install "inceptionism[video]"')  # fmt: skip


def test_zoom_writes_mp4_through_the_same_encoder(tmp_path, run):
    from PIL import Image

    pic = tmp_path / "odd.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (41, 57, 3), dtype=np.uint8)).save(pic)
    folder = tmp_path / "zoom"
    rc, stdout, err = run("zoom", pic, "-o", folder, "--frames", "3", "--mp4", *FAST)
    assert rc == 0, err
    assert "cropped to 56x40" in err
    got = io.probe(folder / "zoom.mp4")
    assert (got.width, got.height, got.frames, got.fps) == (56, 40, 3, 12.5)
    recipe = io.read_metadata_recipe(folder / "zoom.mp4")
    assert recipe["zoom"] == {"frame": None, "frames": 3, "scale": 0.05,
                              "duration_ms": 80}  # fmt: skip
