"""Hostile files: seeded mutation fuzzing of the three readers, a weight file
that hangs libhdf5, and Ctrl-C during a load.

Each fuzz case mutates a valid file (byte flips, insertions, deletions,
truncation, duplicated or random chunks, and for prototxt inserted tokens)
and reads it; the reader must return or raise ``WeightsFileError``, and must
do so in time. The default run does a few seconds per reader; the ``slow``
test runs more (``INCEPTIONISM_FUZZ_SCALE=N`` times more again; N=10 ran
40,000 caffemodel, 20,000 prototxt and 160 HDF5 cases clean in 170 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from inceptionism.weights import save_model
from inceptionism.weights.caffemodel import read_caffemodel
from inceptionism.weights.errors import WeightsFileError
from inceptionism.weights.hdf5 import load_model
from inceptionism.weights.prototxt import read_prototxt
from tests.weights import caffe_writer, minnet

#: prototxt tokens worth inserting (they reach deeper than random bytes)
_TOKENS = [
    b"{", b"}", b"<", b">", b"[", b"]", b":", b";", b",", b"inf", b"-nan",
    b"1e999", b"0", b"-1", b"99999999999999999999", b"1.5", b'"\\u12"',
    b'"\\U0011ffff"', b'"\\x"', b"'", b'"', b"\xff\xfe", b"type: 1.5",
    b"type { }", b"stride: 0", b"group: 0", b"num_output: 2 num_output: 3",
    b"bottom { }", b"input_dim: 0", b"a { " * 80,
]  # fmt: skip


def mutate(data: bytes, rng: np.random.Generator, tokens=()) -> bytes:
    """1 to 3 random edits of ``data``."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        n = len(buf)
        pos = int(rng.integers(0, n + 1))
        span = int(rng.integers(1, 65))
        op = int(rng.integers(0, 7 if tokens else 6))
        if op == 0 and n:  # flip bits of one byte
            buf[min(pos, n - 1)] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:  # insert random bytes
            buf[pos:pos] = rng.bytes(int(rng.integers(1, 17)))
        elif op == 2:  # delete a span
            del buf[pos : pos + span]
        elif op == 3:  # truncate
            del buf[pos:]
        elif op == 4 and n:  # duplicate a chunk elsewhere
            src = int(rng.integers(0, n))
            buf[pos:pos] = buf[src : src + span]
        elif op == 5:  # overwrite with random bytes
            buf[pos : pos + span] = rng.bytes(span)
        elif op == 6:
            buf[pos:pos] = tokens[int(rng.integers(0, len(tokens)))]
    return bytes(buf)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt pure-Python work that runs past ``seconds`` (main thread)."""

    def alarm(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def fuzz(read, valid: bytes, cases: int, seed: int, tokens=(), limit_s=2.0):
    """Read ``cases`` mutations of ``valid``; return how many were refused.
    Fails on any exception but WeightsFileError, or a case over ``limit_s``."""
    rng = np.random.default_rng(seed)
    refused = 0
    for i in range(cases):
        data = mutate(valid, rng, tokens)
        try:
            with time_limit(limit_s):
                read(data)
        except WeightsFileError as exc:
            msg = str(exc)
            assert "\n" not in msg.strip(), msg
            refused += 1
        except _Timeout:
            pytest.fail(f"seed {seed} case {i}: no answer in {limit_s} s")
        except Exception as exc:
            pytest.fail(f"seed {seed} case {i}: {type(exc).__name__}: {exc}")
    return refused


@pytest.fixture(scope="module")
def caffemodel_bytes() -> bytes:
    rng = np.random.default_rng(0)
    return caffe_writer.net(minnet.training_layers(minnet.params(rng)), version=1)


@pytest.fixture(scope="module")
def h5_bytes(tmp_path_factory, caffemodel_bytes) -> bytes:
    from inceptionism.weights.convert import build_model

    d = tmp_path_factory.mktemp("h5")
    src = d / "m.caffemodel"
    src.write_bytes(caffemodel_bytes)
    save_model(build_model(src), d / "good.h5")
    return (d / "good.h5").read_bytes()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private cache dir (the check cache goes there), short HDF5 limit."""
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INCEPTIONISM_HDF5_TIMEOUT", "3")
    return tmp_path / "home"


def _prototxt_reader(tmp_path):
    path = tmp_path / "deploy.prototxt"

    def read(data: bytes):
        path.write_bytes(data)
        return read_prototxt(path)

    return read


def _h5_reader(tmp_path):
    counter = iter(range(10**6))

    def read(data: bytes):
        path = tmp_path / f"w{next(counter)}.h5"  # a new file: no cached check
        path.write_bytes(data)
        return load_model(path)

    return read


def test_fuzz_caffemodel(caffemodel_bytes):
    assert fuzz(read_caffemodel, caffemodel_bytes, cases=400, seed=1) > 200


def test_fuzz_prototxt(tmp_path):
    valid = minnet.DEPLOY_PROTOTXT.encode()
    read = _prototxt_reader(tmp_path)
    read(valid)  # the unmutated file reads
    assert fuzz(read, valid, cases=300, seed=2, tokens=_TOKENS) > 150


def test_fuzz_hdf5(tmp_path, home, h5_bytes):
    read = _h5_reader(tmp_path)
    # each case starts a checking child (~0.4 s): few cases by default
    assert fuzz(read, h5_bytes, cases=8, seed=3, limit_s=15) >= 4


@pytest.mark.slow
def test_fuzz_long(tmp_path, home, caffemodel_bytes, h5_bytes):
    """~20 s; INCEPTIONISM_FUZZ_SCALE=N runs N times as many cases."""
    n = int(os.environ.get("INCEPTIONISM_FUZZ_SCALE", "1"))
    fuzz(read_caffemodel, caffemodel_bytes, cases=4000 * n, seed=11)
    prototxt = minnet.DEPLOY_PROTOTXT.encode()
    fuzz(_prototxt_reader(tmp_path), prototxt, 2000 * n, 12, _TOKENS)
    fuzz(_h5_reader(tmp_path), h5_bytes, cases=16 * n, seed=13, limit_s=15)


# ------------------------------------------------ a file that hangs libhdf5


def hanging_h5_bytes(good: bytes) -> bytes:
    """9 zero bytes inserted before the graph JSON in the global heap (found
    by searching insertion offsets of a saved minnet model under a timeout):
    libhdf5 then loops forever parsing the heap collection when it reads the
    first string attribute, ``format``."""
    heap = good.index(b"GCOL")
    graph = good.index(b'{"name"', heap)
    return good[:graph] + bytes(9) + good[graph:]


@pytest.fixture(scope="module")
def hanging_h5(tmp_path_factory, h5_bytes):
    path = tmp_path_factory.mktemp("hang") / "hang.h5"
    path.write_bytes(hanging_h5_bytes(h5_bytes))
    raw = "import h5py, sys; h5py.File(sys.argv[1], 'r').attrs['format']"
    try:
        subprocess.run([sys.executable, "-c", raw, str(path)], timeout=2)
    except subprocess.TimeoutExpired:
        return path
    pytest.skip("this libhdf5 reads the reproducer without hanging")


def test_a_file_that_hangs_libhdf5_is_refused(hanging_h5, home):
    # in a child, so that a regression fails the test instead of hanging it
    env = {**os.environ, "INCEPTIONISM_HDF5_TIMEOUT": "1"}
    code = (
        "import sys\n"
        "from inceptionism.weights import load_model\n"
        "from inceptionism.weights.errors import WeightsFileError\n"
        "try:\n"
        "    load_model(sys.argv[1])\n"
        "except WeightsFileError as exc:\n"
        "    print(exc)\n"
    )
    t0 = time.monotonic()
    try:
        r = subprocess.run(
            [sys.executable, "-c", code, str(hanging_h5)],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading a file that hangs libhdf5 hung")
    assert time.monotonic() - t0 < 6
    msg = r.stdout
    assert msg.startswith(f"{hanging_h5}: libhdf5 did not finish reading it in 1 s")
    assert "re-download it, or re-convert it" in msg and msg.count("\n") == 1


def _processes_with(arg: str) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if arg.encode() in f.read().split(b"\0"):
                    pids.append(int(pid))
    return pids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_ctrl_c_stops_a_load_that_hangs(hanging_h5, home):
    env = {**os.environ, "INCEPTIONISM_HDF5_TIMEOUT": "60"}
    code = (
        "import sys\n"
        "from inceptionism.weights import load_model\n"
        "print('loading', flush=True)\n"
        "load_model(sys.argv[1])\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(hanging_h5)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert p.stdout.readline() == b"loading\n"
    time.sleep(1.5)  # the checking child is importing h5py or spinning
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("Ctrl-C did not stop a load of a file that hangs libhdf5")
    assert p.returncode != 0 and b"KeyboardInterrupt" in err
    time.sleep(0.2)
    assert _processes_with(str(hanging_h5)) == []  # the child is gone too
