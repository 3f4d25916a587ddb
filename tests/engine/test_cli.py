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
