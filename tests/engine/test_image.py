"""engine/image.py: modes, orientation, alpha, 16-bit, recipes, safety."""

from __future__ import annotations

import os
import stat
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine import image as image_mod
from inceptionism.engine.image import (
    ImageError,
    downsize,
    load_image,
    read_recipe,
    save_animation,
    save_image,
)

RECIPE = {"objective": "deepdream:inception_4c/output", "seed": 7, "note": "é"}


@pytest.fixture
def rgb8(rng):
    return rng.integers(0, 256, size=(12, 17, 3)).astype(np.uint8)


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("L", lambda a: np.repeat(a[..., :1], 3, 2)),
        ("RGB", lambda a: a),
        ("CMYK", None),
        ("1", None),
    ],
    ids=["L", "RGB", "CMYK", "1bit"],
)
def test_modes_convert_to_rgb(tmp_path, rgb8, mode, expect):
    src = Image.fromarray(rgb8, "RGB").convert(mode)
    p = tmp_path / ("in.tif" if mode == "CMYK" else "in.png")
    src.save(p)
    got, alpha = load_image(p, with_alpha=True)
    assert got.dtype == np.float32 and got.shape == (12, 17, 3) and alpha is None
    if expect is None:  # what Pillow's own conversion gives
        want = np.asarray(src.convert("RGB"), np.float32)
    else:
        want = expect(np.asarray(src.convert("RGB"), np.float32))
    np.testing.assert_array_equal(got, want)


def test_la_and_rgba_keep_alpha(tmp_path, rgb8, rng):
    a = rng.integers(0, 256, size=rgb8.shape[:2]).astype(np.uint8)
    Image.fromarray(np.dstack([rgb8, a]), "RGBA").save(tmp_path / "rgba.png")
    rgb, alpha = load_image(tmp_path / "rgba.png", with_alpha=True)
    np.testing.assert_array_equal(alpha, a)
    np.testing.assert_array_equal(rgb, rgb8)
    Image.fromarray(np.dstack([rgb8[..., 0], a]), "LA").save(tmp_path / "la.png")
    rgb, alpha = load_image(tmp_path / "la.png", with_alpha=True)
    np.testing.assert_array_equal(alpha, a)
    np.testing.assert_array_equal(rgb[..., 2], rgb8[..., 0])


def test_palette_with_transparency(tmp_path, rgb8):
    p = Image.fromarray(rgb8, "RGB").quantize(16)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    rgb, alpha = load_image(tmp_path / "p.png", with_alpha=True)
    with Image.open(tmp_path / "p.png") as img:
        idx = np.asarray(img)
    np.testing.assert_array_equal(alpha == 0, idx == 0)
    assert rgb.shape == (12, 17, 3)


def test_16bit_grey_keeps_precision(tmp_path, rng):
    a = rng.integers(0, 65536, size=(9, 11)).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as img:
        assert img.mode.startswith("I")
    rgb = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(rgb[..., 1], a * (255 / 65535), rtol=1e-6)


def test_unit_range_float_and_8_bit_int_images_are_not_read_as_black(tmp_path, rng):
    """A float TIFF in 0..1 and a 32-bit int TIFF holding 0..255 loaded at
    most 1/255 bright: dreamed into a black picture with exit 0."""
    a = rng.uniform(0, 1, size=(9, 11)).astype(np.float32)
    Image.fromarray(a, "F").save(tmp_path / "unit.tif")
    got = load_image(tmp_path / "unit.tif")[..., 0]
    np.testing.assert_allclose(got, a * 255, rtol=1e-6)
    b = rng.integers(0, 256, size=(9, 11)).astype(np.int32)
    Image.fromarray(b, "I").save(tmp_path / "i8.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "i8.tif")[..., 1], b)


def test_float_images_load_clipped_and_refuse_nan(tmp_path, rng):
    a = rng.uniform(-50, 300, size=(9, 11)).astype(np.float32)
    Image.fromarray(a, "F").save(tmp_path / "f.tif")
    np.testing.assert_array_equal(
        load_image(tmp_path / "f.tif")[..., 2], np.clip(a, 0, 255)
    )
    a[2, 3], a[4, 5] = np.nan, np.inf
    Image.fromarray(a, "F").save(tmp_path / "nan.tif")
    with pytest.raises(
        ImageError, match=r"nan.tif: .*2 pixel\(s\) are NaN or infinite"
    ):
        load_image(tmp_path / "nan.tif")


def test_exif_orientation_applied(tmp_path, rgb8):
    img = Image.fromarray(rgb8, "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "o.png", exif=exif.tobytes())
    got = load_image(tmp_path / "o.png")
    np.testing.assert_array_equal(got, np.rot90(rgb8, k=-1))


def test_alpha_round_trip(tmp_path, rgb8, rng):
    a = rng.integers(0, 256, size=rgb8.shape[:2]).astype(np.float32)
    for ext in ("png", "webp", "tif"):
        out = tmp_path / f"a.{ext}"
        kwargs = {"quality": 100} if ext == "webp" else {}
        save_image(out, rgb8.astype(np.float32), alpha=a, **kwargs)
        _, alpha = load_image(out, with_alpha=True)
        if ext == "webp":  # lossy codec: alpha survives, values approximately
            assert np.abs(alpha - a).mean() < 8, ext
        else:
            np.testing.assert_array_equal(alpha, a, err_msg=ext)


def decode_png16(data: bytes) -> np.ndarray:
    """A tiny independent decoder for our 16-bit, filter-0 PNGs."""
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[:4]
    assert depth == 16
    c = 4 if ctype == 6 else 3
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c * 2)
    assert not raw[:, 0].any()
    return raw[:, 1:].copy().view(">u2").reshape(h, w, c).astype(np.uint16)


def test_16bit_png(tmp_path, rng):
    rgb = rng.uniform(0, 255, size=(5, 6, 3)).astype(np.float32)
    out = save_image(tmp_path / "d.png", rgb, bits=16, recipe=RECIPE)
    got = decode_png16(out.read_bytes())
    np.testing.assert_array_equal(got, np.rint(rgb * (65535 / 255)).astype(np.uint16))
    assert read_recipe(out) == RECIPE
    with Image.open(out) as img:  # Pillow reads it too
        assert img.size == (6, 5)
    with pytest.raises(ImageError, match="PNG only"):
        save_image(tmp_path / "d.jpg", rgb, bits=16)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif", "bmp"])
def test_recipe_round_trip(tmp_path, rgb8, ext):
    out = save_image(tmp_path / f"r.{ext}", rgb8.astype(np.float32), recipe=RECIPE)
    assert read_recipe(out) == RECIPE
    assert (tmp_path / f"r.{ext}.json").exists() == (ext == "bmp")
    if ext in ("png", "tif", "bmp"):  # lossless
        np.testing.assert_array_equal(load_image(out), rgb8)


def test_no_recipe_is_none(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "plain.png")
    assert read_recipe(tmp_path / "plain.png") is None


def test_non_image_and_missing_file(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        load_image(bad)
    with pytest.raises(ImageError, match=r"nope\.png: no such file"):
        load_image(tmp_path / "nope.png")


def test_decompression_bomb_refused(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(tmp_path / "big.png", max_pixels=5000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # Pillow's own error
    with pytest.raises(ImageError, match="big.png.*decompression bomb.*downsize"):
        load_image(tmp_path / "big.png")  # the way out, as under the limit


def test_never_overwrites_input(tmp_path, rgb8):
    src = tmp_path / "in.png"
    Image.fromarray(rgb8).save(src)
    before = src.read_bytes()
    with pytest.raises(ImageError, match="refusing to overwrite the input"):
        save_image(tmp_path / "." / "in.png", rgb8.astype(np.float32), protect=[src])
    assert src.read_bytes() == before


def test_atomic_write_on_failure(tmp_path, rgb8, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")

    def boom(self, fp, *args, **kwargs):
        fp.write(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(ImageError, match="out.png: cannot write.*disk full"):
        save_image(out, rgb8.astype(np.float32), recipe=RECIPE)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    new = tmp_path / "new.png"
    with pytest.raises(ImageError):
        save_image(new, rgb8.astype(np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_bad_output_names(tmp_path, rgb8):
    with pytest.raises(ImageError, match="unknown image format"):
        save_image(tmp_path / "x.nope", rgb8)
    with pytest.raises(ImageError, match="does not exist"):
        save_image(tmp_path / "no" / "x.png", rgb8)


def test_values_clipped_and_rounded(tmp_path):
    rgb = np.array([[[-20.0, 127.6, 300.0]]], np.float32)
    save_image(tmp_path / "c.png", rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "c.png"), [[[0, 128, 255]]])


def test_module_names_recipe_key():
    assert image_mod.RECIPE_KEY == "inceptionism"


def test_downsize_keeps_aspect_and_range(rng):
    rgb = rng.uniform(0, 255, size=(300, 200, 3)).astype(np.float32)
    alpha = np.full((300, 200), 200.0, np.float32)
    small, a = downsize(rgb, 90, alpha)
    assert small.shape == (90, 60, 3) and a.shape == (90, 60)
    assert small.min() >= 0 and small.max() <= 255
    np.testing.assert_allclose(a, 200.0, atol=1e-3)
    same, none = downsize(rgb, 300)
    assert same is rgb and none is None
    with pytest.raises(ValueError, match="positive"):
        downsize(rgb, 0)


@pytest.mark.parametrize("ext", ["gif", "webp"])
def test_animation(tmp_path, rng, ext):
    frames = [rng.uniform(0, 255, size=(8, 10, 3)) for _ in range(3)]
    out = save_animation(tmp_path / f"a.{ext}", frames, recipe=RECIPE)
    with Image.open(out) as img:
        assert img.n_frames == 3 and img.size == (10, 8)
    assert read_recipe(out) == RECIPE
    assert read_recipe(save_animation(tmp_path / f"b.{ext}", frames)) is None
    with pytest.raises(ImageError, match="gif or .webp"):
        save_animation(tmp_path / "a.png", frames)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize(("mask", "want"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_take_the_umask_mode(tmp_path, rgb8, mask, want):
    """Others can read the pictures (not mkstemp's 0600) under umask 022."""
    rgb = rgb8.astype(np.float32)
    old = os.umask(mask)
    try:
        paths = [
            save_image(tmp_path / "a.png", rgb, recipe=RECIPE),
            save_image(tmp_path / "b.png", rgb, bits=16),
            save_image(tmp_path / "c.jpg", rgb),
            save_image(tmp_path / "d.bmp", rgb, recipe=RECIPE),  # + sidecar
            save_animation(tmp_path / "e.gif", [rgb, rgb]),
        ]
    finally:
        os.umask(old)
    paths.append(tmp_path / "d.bmp.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == want, path.name
