"""Batches on a real Dask ``LocalCluster`` of 2 worker processes (issue 12).

One cluster serves the module (starting one takes seconds).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from inceptionism.engine import batch
from inceptionism.engine.image import load_image, read_recipe
from tests.engine.test_batch import CONFIG, _names, _png, _summary
from tests.engine.test_cli_dream import FAST

distributed = pytest.importorskip("distributed")
batch_dask = pytest.importorskip("inceptionism.engine.batch_dask")


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        _png(folder / f"p{i}.png", seed=20 + i)
    return folder


def _one_process(folder, out, weights, *options):
    """``dream FOLDER -o OUT`` in one process with a worker's BLAS threads
    (their count changes a GEMM's last bits, so it must match to compare)."""
    env = {**os.environ, **batch_dask.blas_env(2)}
    done = _dream(folder, "-o", out, "--weights", weights, *options, env=env)
    assert done.returncode == 0, done.stderr
    return out


def _dream(*argv, env=None):
    """``inceptionism dream ARGV`` in a new process (a client of its own)."""
    argv = [sys.executable, "-m", "inceptionism.engine", "dream", *map(str, argv)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def sequential(photos, googlenet_h5, tmp_path_factory):
    """The photos dreamed one after another in one process."""
    out = tmp_path_factory.mktemp("seq") / "out"
    return _one_process(photos, out, googlenet_h5, *FAST)


def _loads(client):
    from inceptionism.engine import batch as worker_batch

    return client.run(lambda: worker_batch.LOADS)


def _same_pictures(a, b):
    assert _names(a) == _names(b)
    for name in _names(a):
        np.testing.assert_array_equal(load_image(a / name), load_image(b / name))


def test_same_pictures_as_sequential_net_loaded_once_per_worker(
    client, photos, sequential, googlenet_h5, tmp_path
):
    for run in range(2):
        out = tmp_path / f"dask{run}"
        got = batch.dream_many(sorted(photos.iterdir()), CONFIG, out=out,
                               weights=googlenet_h5, client=client)  # fmt: skip
        assert [(o.status, o.reason) for o in got] == [("done", "")] * 6
        _same_pictures(out, sequential)
    loads = _loads(client)
    assert len(loads) == 2 and sum(loads.values()) >= 1
    assert all(n <= 1 for n in loads.values()), loads  # 12 tasks, <= 2 loads


def test_images_returned_to_the_client(client, googlenet_h5, sequential, photos):
    got = batch.dream_many([photos / "p3.png"], CONFIG, weights=googlenet_h5,
                           client=client)  # fmt: skip
    assert got[0].status == "done" and got[0].output is None
    want = load_image(sequential / "p3-dream.png")
    np.testing.assert_array_equal(np.round(got[0].image).clip(0, 255), want)


def test_cli_scheduler_address(client, photos, sequential, googlenet_h5, tmp_path):
    out = tmp_path / "out"
    address = client.scheduler.address
    done = _dream(photos, "-o", out, "--weights", googlenet_h5, "--scheduler",
                  address, *FAST)  # fmt: skip
    stdout, err = done.stdout, done.stderr
    assert done.returncode == 0, err
    assert f"batch: Dask scheduler {address}, 2 workers, dashboard " in err
    assert "6 done, 0 failed" in _summary(err)
    assert len(stdout.split()) == 6
    _same_pictures(out, sequential)
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_cli_local_cluster(photos, sequential, googlenet_h5, tmp_path):
    out = tmp_path / "out"
    done = _dream(photos, "-o", out, "--weights", googlenet_h5, "--scheduler",
                  "local:2", *FAST)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ", 2 workers, dashboard " in done.stderr
    assert "6 done, 0 failed" in _summary(done.stderr)
    _same_pictures(out, sequential)


def _executing(dask_worker):
    return dask_worker.state.executing_count


def test_worker_killed_mid_run_recovers(client, photos, googlenet_h5, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(6):
        _png(folder / f"b{i}.png", seed=i, size=(128, 160))
    killed = []
    pids = client.run(os.getpid)

    def kill_one_worker(outcome, n, total):  # SIGKILL, mid-dream
        deadline = time.monotonic() + 5
        while not killed and n < total and time.monotonic() < deadline:
            busy = [w for w, n in client.run(_executing).items() if n]
            if busy:
                killed.append(busy[0])
                os.kill(pids[busy[0]], signal.SIGKILL)
            time.sleep(0.01)

    config = batch.DreamConfig(objective="deepdream:conv2/3x3", octaves=1, steps=12,
                               seed=4)  # fmt: skip
    inputs = sorted(folder.iterdir())
    got = batch.dream_many(inputs, config, out=tmp_path / "out", client=client,
                           weights=googlenet_h5, on_done=kill_one_worker)  # fmt: skip
    assert killed, "no worker was busy: use slower pictures"
    assert [o.reason for o in got if o.status == "failed"] == []
    slower = [*FAST[:-3], "12", "--seed", "4"]
    alone = _one_process(folder, tmp_path / "alone", googlenet_h5, *slower)
    _same_pictures(tmp_path / "out", alone)
    client.wait_for_workers(2, timeout=60)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_scheduler_clear_error_nothing_written(
    run_fails, photos, tmp_path, monkeypatch
):
    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", 1.0)
    where = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    run_fails("dream", photos, "-o", out, "--scheduler", where, *FAST,
              match=f"--scheduler {where}: no Dask scheduler answered")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("where", ["local:0", "local:x"])
def test_bad_local_worker_count(run_fails, photos, tmp_path, where):
    run_fails("dream", photos, "-o", tmp_path / "o", "--scheduler", where, *FAST,
              match="N must be a whole number >= 1")  # fmt: skip


@pytest.fixture
def dask_pair(tmp_path):
    """A ``dask scheduler`` and one ``dask worker`` process on loopback."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    log = (tmp_path / "dask.log").open("w")
    env = {**os.environ, **batch_dask.blas_env(2)}  # as the one-process run
    local = ["--host", "127.0.0.1", "--dashboard-address", ":0"]
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--port", str(port), *local], stdout=log, stderr=log
        ),  # fmt: skip
        # no nanny: it would set its own BLAS thread variables
        subprocess.Popen(
            [*dask, "worker", address, "--nthreads", "1", "--no-nanny", *local],
            stdout=log,
            stderr=log,
            env=env,
        ),  # fmt: skip
    ]
    try:
        with distributed.Client(address, timeout=60) as c:
            c.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
        log.close()


def test_tcp_to_a_dask_scheduler_process(
    dask_pair, photos, sequential, googlenet_h5, tmp_path
):
    out = tmp_path / "out"
    done = _dream(photos, "-o", out, "--weights", googlenet_h5, "--scheduler",
                  dask_pair, *FAST)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"batch: Dask scheduler {dask_pair}, 1 workers" in done.stderr
    _same_pictures(out, sequential)


# -- sweeps on Dask, and Ctrl-C ----------------------------------------------------


def test_sweep_on_dask_api_and_cli(client, photos, googlenet_h5, tmp_path):
    """A sweep runs one Dask task per cell through the batch's runner, from
    Python (``run_sweep(client=...)``) and from ``--sweep ... --scheduler``,
    which makes the same cells and a contact sheet."""
    from inceptionism.engine import sweep

    cells = sweep.grid(CONFIG, {"seed": ["1", "2"]})
    spec = batch.Spec(weights=str(googlenet_h5))
    api = tmp_path / "api"
    api.mkdir()
    got = sweep.run_sweep(photos / "p1.png", api, spec, cells, client=client)
    assert [o.status for o in got] == ["done", "done"], [o.reason for o in got]
    assert _names(api) == ["p1-seed-1.png", "p1-seed-2.png"]
    cli = tmp_path / "cli"
    where = client.scheduler.address
    done = _dream(photos / "p1.png", "-o", cli, "--weights", googlenet_h5, *FAST,
                  "--sweep", "seed=1,2", "--scheduler", where)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 sweep cells: 2 done, 0 failed" in done.stderr
    assert ", 2 workers, dashboard " in done.stderr
    assert _names(cli) == [*_names(api), "p1-sweep.png"]
    for name in _names(api):
        np.testing.assert_array_equal(load_image(api / name), load_image(cli / name))


@pytest.mark.slow  # two LocalCluster starts: about a minute on 2 busy cores
def test_ctrl_c_on_a_local_cluster_keeps_whole_files_and_resumes(
    googlenet_h5, tmp_path
):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it)
    after the first picture: exit 130, only whole outputs, and the same
    command finishes the rest without touching them."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(10):
        _png(folder / f"p{i}.png", seed=i, size=(96, 128))
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "inceptionism.engine", "dream", str(folder), "-o",
            str(out), "--weights", str(googlenet_h5), "--scheduler", "local:2",
            *FAST[:-3], "8", "--seed", "4"]  # fmt: skip
    rc, err = interrupt_after_first(argv, out, "*-dream.png")
    assert rc == 130, err
    first = _names(out)
    assert first and all(n.endswith("-dream.png") for n in first)  # no temp files
    assert len(first) < 10, "the batch ended before Ctrl-C; use slower pictures"
    assert b"the same command resumes" in err
    for name in first:  # whole pictures with their recipes
        assert load_image(out / name).shape == (96, 128, 3)
        assert read_recipe(out / name)["config"]["seed"] == 4
    kept = {n: (out / n).stat().st_mtime_ns for n in first}
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{10 - len(first)} done, {len(first)} skipped" in _summary(again.stderr)
    assert _names(out) == [f"p{i}-dream.png" for i in range(10)]
    assert {n: (out / n).stat().st_mtime_ns for n in first} == kept


def interrupt_after_first(argv, folder, pattern, env=None):
    """Run ``argv`` in its own process group, Ctrl-C the whole group as soon
    as a file matching ``pattern`` appears in ``folder`` (at most 2 minutes
    on), and return ``(exit status, stderr bytes)``."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(folder.glob(pattern)) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err
