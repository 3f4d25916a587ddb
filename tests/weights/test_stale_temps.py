"""Issue 10: a run killed with SIGKILL leaves a hidden temporary file; the
next write to that folder removes it, and only it (our naming, writer gone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from inceptionism.weights import files
from inceptionism.weights.files import claim, clean_stale_temps, write_bytes

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, pids")

WRITER = """
import sys, time
from inceptionism.weights.files import atomic_open
with atomic_open(sys.argv[1]) as f:
    f.write(b"half")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


@posix_only
def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path):
    out = tmp_path / "out.png"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".out.png.")
    write_bytes(tmp_path / "other.bin", b"x")  # writer alive: kept
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*left, "other.bin"])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert (tmp_path / left[0]).exists()  # SIGKILL: nothing could clean up
    write_bytes(tmp_path / "next.bin", b"y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next.bin", "other.bin"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    for _ in range(50):  # the pid is free once reaped; make sure
        try:
            os.kill(proc.pid, 0)
        except ProcessLookupError:
            return proc.pid
        time.sleep(0.01)
    pytest.skip("pid was reused at once")


@posix_only
def test_only_our_dead_writers_files_go(tmp_path):
    host, dead = files._host(), _dead_pid()
    names = {
        f".a.png.{host}~{dead}~0123abcd.part": False,  # ours, writer gone
        f".a.png.{host}~{os.getpid()}~0123abcd.part": True,  # writer alive
        f".a.png.otherhost~{dead}~0123abcd.part": True,  # cannot tell: keep
        ".a.png.0123abcd.part": True,  # older naming: no writer recorded
        f"a.png.{host}~{dead}~0123abcd.part": True,  # not hidden: not ours
        "a.png.part": True,  # e.g. a download being resumed
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = clean_stale_temps(tmp_path)
    assert [p.name for p in removed] == [n for n, keep in names.items() if not keep]
    assert {p.name for p in tmp_path.iterdir()} == {n for n, k in names.items() if k}


def test_claim_is_exclusive(tmp_path):
    path = tmp_path / "p-dream.png"
    assert claim(path) is True
    assert claim(path) is False
    assert path.read_bytes() == b""
