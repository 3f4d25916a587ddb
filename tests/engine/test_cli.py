"""The CLI shell: usage errors and failures are one line with a non-zero exit."""

from __future__ import annotations

import pytest

from inceptionism.engine.cli import main


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["dream", "x.png", "--max-size", "0"], "--max-size"),
        (["weights"], "ACTION"),
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["layers", "--size", "0x3"], "--size"),
    ],
    ids=["bad-value", "missing-action", "unknown-command", "bad-size"],
)
def test_usage_errors_are_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and err.startswith("inceptionism")


def test_failures_are_one_line_without_traceback(tmp_path, capsys):
    missing = tmp_path / "missing.h5"
    assert main(["layers", "--weights", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.h5" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="missing.h5"):
        main(["--debug", "layers", "--weights", str(tmp_path / "missing.h5")])


@pytest.mark.parametrize(
    "argv",
    [
        ["zoom", "x.png", "-o", "frames", "--frames", "0"],
        ["zoom", "x.png", "-o", "frames", "--frames", "x"],
        ["zoom", "x.png", "-o", "frames", "--frames", "2.5"],
        ["dream", "x.png", "--max-size", "-3"],
        ["studio", "--max-upload-mb", "0"],
        ["classify", "x.png", "--top", "none"],
    ],
    ids=["frames-zero", "frames-word", "frames-fraction", "max-size", "upload", "top"],
)
def test_positive_integer_flags_say_so(argv, capsys):
    """Every whole-number-at-least-1 flag has the one type: exit 2 and
    "argument FLAG: 'TEXT': give a positive integer", for zero and for text
    that is no integer alike."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    flag, text = argv[-2:]
    assert err.startswith(f"inceptionism {argv[0]}: error: ") and err.count("\n") == 1
    assert f"argument {flag}: {text!r}: give a positive integer" in err
