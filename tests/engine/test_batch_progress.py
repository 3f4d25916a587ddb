"""The batch's progress: done / total, counts and an ETA, as one bar on a
terminal and one line per picture elsewhere (engine/progress.py
``BatchProgress``)."""

from __future__ import annotations

import io

from inceptionism.engine.progress import BatchProgress
from tests.engine.test_batch import photos  # noqa: F401 - fixture
from tests.engine.test_cli_dream import FAST


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_log_lines_count_and_estimate():
    clock, out = _Clock(), io.StringIO()
    p = BatchProgress(4, out, clock=clock)
    clock.now += 10
    p.update("done", "a.png", "9.8 s")
    p.update("skipped", "b.png", "already there")  # costs no time
    clock.now += 10
    p.update("failed", "c.png", "not an image")
    clock.now += 10
    p.update("done", "d.png", "9.9 s")
    assert out.getvalue().splitlines() == [
        "batch: 1/4 (25%)  done a.png (9.8 s)  1 done  10.0 s/picture  ETA 0:30",
        "batch: 2/4 (50%)  skipped b.png (already there)  1 done, 1 skipped"
        "  10.0 s/picture  ETA 0:20",
        "batch: 3/4 (75%)  failed c.png (not an image)  1 done, 1 skipped, 1 failed"
        "  10.0 s/picture  ETA 0:10",
        "batch: 4/4 (100%)  done d.png (9.9 s)  2 done, 1 skipped, 1 failed"
        "  10.0 s/picture  0:30",
    ]


def test_terminal_bar_redrawn_with_messages_above():
    clock, out = _Clock(), _Tty()
    p = BatchProgress(2, out, unit="cell", clock=clock)
    clock.now += 4
    p.update("done", "a.png")
    p.message("inceptionism: warning: b.png: octave skipped")
    clock.now += 4
    p.update("done", "b.png")
    bar1 = "\rbatch [############............]  50%  1/2  1 done  4.0 s/cell  ETA 0:04"
    assert out.getvalue() == (
        f"{bar1}\x1b[K"
        "\r\x1b[Kinceptionism: warning: b.png: octave skipped\n"
        f"{bar1}\x1b[K"
        "\rbatch [########################] 100%  2/2  2 done  4.0 s/cell  0:08"
        "\x1b[K\n"
    )


def test_quiet_writes_nothing():
    out = io.StringIO()
    p = BatchProgress(1, out, enabled=False)
    p.update("done", "a.png")
    p.close()
    assert out.getvalue() == "" and p.counts["done"] == 1


def test_cli_batch_shows_done_total_and_eta(run, photos, tmp_path):  # noqa: F811
    rc, _, err = run("dream", photos, "-o", tmp_path / "out", *FAST)
    assert rc == 0, err
    lines = [line for line in err.splitlines() if line.startswith("batch: ")]
    assert lines[0].startswith("batch: 1/3 (33%)  done ") and "ETA " in lines[0]
    assert lines[2].startswith("batch: 3/3 (100%)  done ")
    assert "3 inputs: 3 done, 0 failed" in lines[3]
