"""Issue 10: no silent garbage, checks before the work, never lose a file.

Every numeric option is finite and in range (the error names the flag);
the output, its format and the memory are checked before the first step;
outputs never replace a file unless ``--overwrite`` says so.
"""

from __future__ import annotations

import pytest

from tests.engine.test_cli_dream import FAST, cli, fails


@pytest.fixture
def run(capsys, googlenet_h5):
    return lambda *argv: cli(capsys, *argv, "--weights", googlenet_h5)


@pytest.fixture
def run_fails(capsys, googlenet_h5):
    return lambda *argv, match: fails(
        capsys, *argv, "--weights", googlenet_h5, match=match
    )


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
