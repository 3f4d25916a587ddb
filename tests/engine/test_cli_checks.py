"""Issue 10: no silent garbage, checks before the work, never lose a file.

Every numeric option is finite and in range (the error names the flag);
the output, its format and the memory are checked before the first step;
outputs never replace a file unless ``--overwrite`` says so.
"""

from __future__ import annotations

import os
import sys
import tracemalloc

import numpy as np
import pytest

from inceptionism.engine import preflight, remake
from inceptionism.engine.dream import dream
from inceptionism.engine.image import load_image, read_recipe, save_image
from inceptionism.engine.net import Net
from tests.engine.test_cli_dream import FAST, fails


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--step-size", "inf"),
        ("--step-size", "nan"),
        ("--step-size", "-1"),
        ("--octave-scale", "inf"),
        ("--octave-scale", "nan"),
        ("--octaves", "0"),
        ("--steps", "-3"),
        ("--jitter", "-1"),
        ("--seed", "-1"),
    ],
)
def test_numeric_options_name_the_flag(run_fails, picture, tmp_path, flag, value):
    out = tmp_path / "out.png"
    more = ["--octaves", "2"] if flag == "--octave-scale" else []  # last wins
    run_fails("dream", picture, "-o", out, *FAST, *more, flag, value, match=flag)
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "1"])
def test_zoom_scale_is_checked(run_fails, picture, tmp_path, value):
    run_fails(
        "zoom", picture, "-o", tmp_path / "z", *FAST, "--scale", value,
        match="--scale must",
    )  # fmt: skip
    assert not (tmp_path / "z").exists()


@pytest.mark.parametrize("flag", ["--objective", "--layer"])
def test_empty_objective_or_layer_is_refused(run_fails, picture, tmp_path, flag):
    argv = [a for a in FAST if a not in ("--layer", "conv2/3x3")]
    out = tmp_path / "out.png"
    run_fails("dream", picture, "-o", out, *argv, flag, " ", match=f"{flag} is empty")
    assert not out.exists()


@pytest.mark.parametrize(
    "spec, match",
    [
        ("--objective=1e999*deepdream:conv2/3x3", "not a finite number"),
        ("--regularizer=tv:nan", "finite and >= 0, got nan"),
    ],
    ids=["objective-weight", "regularizer"],
)
def test_non_finite_specs_are_refused(run_fails, picture, tmp_path, spec, match):
    argv = FAST[2:] if spec.startswith("--objective") else FAST
    out = tmp_path / "out.png"
    run_fails("dream", picture, "-o", out, *argv, spec, match=match)
    assert not out.exists()


# -- checks before the work ------------------------------------------------------


@pytest.fixture
def no_render(monkeypatch):
    """Fail the test if a dream starts: the checks must come first."""

    def boom(*args, **kwargs):
        raise AssertionError("the dream started before the checks refused it")

    monkeypatch.setattr(remake, "render", boom)


def test_missing_output_folder_is_refused_first(
    run_fails, no_render, picture, tmp_path
):
    out = tmp_path / "no" / "out.png"
    run_fails("dream", picture, "-o", out, *FAST, match="no does not exist")


def test_output_folder_that_is_a_file_is_refused_first(
    run_fails, no_render, picture, tmp_path
):
    run_fails(
        "dream", picture, "-o", picture / "out.png", *FAST, match="is not a folder"
    )


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root writes anywhere"
)
def test_read_only_folder_is_refused_first(run_fails, no_render, picture, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        run_fails("dream", picture, "-o", ro / "o.png", *FAST, match="cannot write")
    finally:
        ro.chmod(0o755)


def test_unwritable_folder_is_refused_first(
    run_fails, no_render, picture, tmp_path, monkeypatch
):
    """The probe's error reaches the user (as root, chmod cannot show it)."""

    def denied(folder):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(preflight, "check_writable_folder", denied)
    run_fails(
        "dream", picture, "-o", tmp_path / "o.png", *FAST,
        match="(Permission denied); choose another -o",
    )  # fmt: skip


def test_bad_bits_in_a_replay_recipe_is_refused_first(
    capsys, run, picture, tmp_path, monkeypatch
):
    first = tmp_path / "first.png"
    assert run("dream", picture, "-o", first, *FAST)[0] == 0
    recipe = read_recipe(first)
    recipe["bits"] = 12
    bad = tmp_path / "bad.png"
    save_image(bad, load_image(first), recipe=recipe)
    monkeypatch.setattr(remake, "render", lambda *a, **k: pytest.fail("rendered"))
    again = tmp_path / "again.png"
    fails(capsys, "dream", "--replay", bad, "-o", again, match="bits must be 8 or 16")
    assert not again.exists()


def test_guide_that_is_not_an_image_is_refused_first(
    run_fails, no_render, picture, tmp_path
):
    guide = tmp_path / "guide.png"
    guide.write_text("not a picture")
    run_fails(
        "dream", picture, "-o", tmp_path / "o.png", "--guide", guide, *FAST,
        match="guide.png",
    )  # fmt: skip


def test_guide_too_small_for_the_layer_is_named(run_fails, picture, tmp_path):
    """Was "layer 'pool1/3x3_s2' (Pooling): ... use a larger image": which one?"""
    guide = tmp_path / "tiny.png"
    save_image(guide, np.full((2, 2, 3), 100.0, np.float32))
    run_fails(
        "dream", picture, "-o", tmp_path / "o.png", "--guide", guide, *FAST,
        match=f"the guide {guide} (2x2) is too small for conv2/3x3",
    )  # fmt: skip


def test_too_little_memory_is_refused_first(
    run_fails, no_render, picture, tmp_path, monkeypatch
):
    monkeypatch.setattr(preflight, "available_memory", lambda device: 2**20)
    line = run_fails(
        "dream", picture, "-o", tmp_path / "o.png", *FAST, "--tile", "off",
        match="image at conv2/3x3 needs about",
    )  # fmt: skip
    assert "0.0 GiB is available; retry with --max-size" in line
    assert line.endswith("or in tiles at full size: --tile auto with --memory 1MB")
    assert list(tmp_path.iterdir()) == [picture]


def test_tight_memory_is_a_warning(run, picture, tmp_path, monkeypatch):
    need = []

    def tight(device):
        return int(need[0] / 0.9)

    real = preflight.dream_bytes
    monkeypatch.setattr(
        preflight, "dream_bytes", lambda *a: need.append(real(*a)) or need[-1]
    )
    monkeypatch.setattr(preflight, "available_memory", tight)
    rc, _, err = run("dream", picture, "-o", tmp_path / "o.png", *FAST, "--tile", "off")
    assert rc == 0, err
    assert err.startswith("inceptionism: warning: dreaming this 56x40 image")
    assert "if it fails, retry with --max-size" in err


def test_memory_estimate_is_close_to_the_measured_peak(googlenet):
    """The estimate against tracemalloc's peak of one real step (NumPy
    reports its allocations to tracemalloc)."""
    from inceptionism.kernels import _im2col

    net = Net(googlenet, device="cpu")
    hw = (120, 160)
    rgb = np.random.default_rng(0).uniform(0, 255, (*hw, 3)).astype(np.float32)
    _im2col._local.__dict__.pop("buffers", None)  # count the scratch too
    tracemalloc.start()
    try:
        dream(net, rgb, "deepdream:conv2/3x3", octaves=1, steps=1, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = preflight.dream_bytes(net, hw, [net.resolve("conv2/3x3")])
    assert 0.75 < est / peak < 1.5, (est, peak)


# -- never lose a file -----------------------------------------------------------


def test_output_over_an_existing_file_needs_overwrite(
    run, run_fails, picture, tmp_path
):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    line = run_fails("dream", picture, "-o", out, *FAST, match="already exists")
    assert "--overwrite" in line
    assert out.read_bytes() == b"precious"
    rc, _, err = run("dream", picture, "-o", out, *FAST, "--overwrite")
    assert rc == 0, err
    assert load_image(out).shape == (40, 56, 3)


def test_default_names_are_claimed_atomically(run, picture, tmp_path, monkeypatch):
    """A second run starting while the first dreams takes the next name."""
    monkeypatch.chdir(tmp_path)
    real, inner = remake.render, []

    def render_with_a_second_run(job, **kw):
        if not inner:
            inner.append(None)
            inner[0] = run("dream", picture, *FAST, "--seed", "9")
        return real(job, **kw)

    monkeypatch.setattr(remake, "render", render_with_a_second_run)
    rc, stdout, err = run("dream", picture, *FAST)
    assert rc == 0, err
    assert inner[0][0] == 0, inner[0][2]
    assert inner[0][1].strip() == str(tmp_path / "in-dream-1.png")
    assert stdout.strip() == str(tmp_path / "in-dream.png")
    assert read_recipe(tmp_path / "in-dream.png")["config"]["seed"] == 4
    assert read_recipe(tmp_path / "in-dream-1.png")["config"]["seed"] == 9


def test_failed_dream_leaves_no_claimed_name(run, picture, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(remake, "render", fail)
    rc, _, err = run("dream", picture, *FAST)
    assert rc == 1 and "boom" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_zoom_into_a_non_empty_folder_needs_overwrite(
    run, run_fails, picture, tmp_path
):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    argv = ["zoom", picture, "-o", folder, "--frames", "1", *FAST]
    line = run_fails(*argv, match="frames is not empty")
    assert "--overwrite" in line
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]
    rc, _, err = run(*argv, "--overwrite")
    assert rc == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["frame-0000.png", "mine.txt"]


def test_save_every_over_earlier_intermediates_needs_overwrite(
    run, run_fails, no_render, picture, tmp_path
):
    out = tmp_path / "s.png"
    (tmp_path / "s-o0-s000.png").write_bytes(b"earlier")
    argv = ["dream", picture, "-o", out, "--save-every", "1", *FAST]
    run_fails(*argv, match="s-o0-s000.png (and 0 more) would be replaced")
    assert (tmp_path / "s-o0-s000.png").read_bytes() == b"earlier"


def test_output_that_is_a_folder_is_refused_even_with_overwrite(
    run_fails, no_render, picture, tmp_path
):
    folder = tmp_path / "x.png"
    folder.mkdir()
    run_fails("dream", picture, "-o", folder, "--overwrite", *FAST, match="is a folder")


# -- layers whose weights fix the picture's size (InnerProduct) ----------------


def _square(tmp_path, side):
    from PIL import Image

    a = np.random.default_rng(3).integers(0, 256, size=(side, side, 3))
    path = tmp_path / f"in{side}.png"
    Image.fromarray(a.astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("layer", ["loss3/classifier", "prob"])
def test_classifier_layer_at_another_size_refused_up_front(run_fails, tmp_path, layer):
    """300x300: octave 2 (214x214) fits the classifier, so the dream used to
    run it, then fail at octave 1; now nothing runs."""
    out = tmp_path / "out.png"
    run_fails(
        "dream", _square(tmp_path, 300), "-o", out, "--layer", layer,
        "--steps", "1",
        match="loss3/classifier (InnerProduct) takes its training picture size "
        "(224x224): its weights are (1000, 1024), a 300x300 picture needs "
        "(1000, 9216); resize or crop the picture",
    )  # fmt: skip
    assert not out.exists()


def test_classifier_layer_checked_at_every_octave(googlenet):
    """The octaves the dream runs fit; smaller ones are skipped as the loop
    skips them; the largest is never skipped."""
    from inceptionism.engine.octaves import check_octaves, octave_sizes

    net = Net(googlenet)
    sizes = octave_sizes((224, 224), 4, 1.4)
    assert sizes == [(224, 224), (160, 160), (114, 114), (81, 81)]
    assert [i for i, *_ in check_octaves(net, sizes, ["prob"])] == [1, 2, 3]
    # 240x240 fits too (pool5 is 1x1); at 1.05 the next octave, 229x229, as well
    assert check_octaves(net, octave_sizes((240, 240), 2, 1.05), ["prob"]) == []
    with pytest.raises(ValueError, match="a 256x256 picture needs"):
        check_octaves(net, octave_sizes((256, 256), 2, 1.4), ["prob"])
    assert net.shapes((256, 256))["pool5/7x7_s1"] == (1, 1024, 2, 2)


def test_class_objective_still_dreams_at_any_size(run, tmp_path):
    out = tmp_path / "out.png"
    rc, _, err = run(
        "dream", _square(tmp_path, 300), "-o", out, "--objective", "class:3",
        "--steps", "1", "--octaves", "1",
    )  # fmt: skip
    assert rc == 0, err
    assert load_image(out).shape == (300, 300, 3)


@pytest.mark.parametrize(
    "shape, match",
    [
        ((2, 256), "v.npy has shape (2, 256); a direction is a 1-D vector"),
        ((256,), "v.npy has shape (256,); inception_4c/output has 512 channels: "
         "give shape (512,)"),
    ],
    ids=["2-d", "too-short"],
)  # fmt: skip
def test_direction_file_of_the_wrong_shape_refused(
    run_fails, picture, tmp_path, shape, match
):
    np.save(tmp_path / "v.npy", np.ones(shape))
    out = tmp_path / "out.png"
    spec = f"direction:inception_4c/output:{tmp_path / 'v.npy'}"
    run_fails("dream", picture, "-o", out, "--objective", spec, *FAST[2:], match=match)
    assert not out.exists()
