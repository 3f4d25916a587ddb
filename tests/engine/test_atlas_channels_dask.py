"""``atlas --channels LAYER --scheduler``: the channels the cache lacks as
Dask tasks through the batch's runner, on a real ``LocalCluster`` of 2
worker processes (one serves the module; starting one takes seconds). The
workers return pixels; the client writes the cache."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from inceptionism.engine import atlas_channels as ac
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.image import load_image, read_recipe
from tests.engine.test_atlas_channels import FAST, LAYER
from tests.engine.test_batch_dask import _free_port, interrupt_after_first
from tests.engine.test_cli_dream import cli

distributed = pytest.importorskip("distributed")
batch_dask = pytest.importorskip("inceptionism.engine.batch_dask")


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("INCEPTIONISM_HOME", str(path))
    return path


def _atlas(home, *argv, check=True):
    """``inceptionism atlas ARGV`` in a new process with the cache in
    ``home`` and a worker's BLAS threads (their count changes a GEMM's last
    bits, so it must match to compare pixels)."""
    env = {**os.environ, **batch_dask.blas_env(2), "INCEPTIONISM_HOME": str(home)}
    argv = [sys.executable, "-m", "inceptionism.engine", "atlas", *map(str, argv)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert not check or done.returncode == 0, done.stderr
    return done


def _dream_tasks(stream):
    """The dream tasks the workers ran while ``stream`` recorded."""
    return [t for t in stream.data if "dream_task" in str(t["key"])]


def _cache(home):
    return {p.name: load_image(p) for p in sorted((home / "channels").glob("*.png"))}


def _same_cache(a, b):
    a, b = _cache(a), _cache(b)
    assert list(a) == list(b)  # the same keys: the same settings
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_sheet_on_dask_same_as_here_cached_channels_not_sent(
    capsys, client, home, googlenet_h5, tmp_path
):
    """The reference in a process with a worker's BLAS threads; the Dask
    runs in this one (the workers dream, this process only writes)."""
    args = ["atlas", "--channels", LAYER, "--weights", googlenet_h5, *FAST]
    here = tmp_path / "here.png"
    _atlas(tmp_path / "h1", *args[1:], "--range", "0:4", "-o", here)
    where = client.scheduler.address
    with distributed.get_task_stream(client) as first:
        rc, _, err = cli(capsys, *args, "--range", "0:2", "-o",
                         tmp_path / "first.png", "--scheduler", where)  # fmt: skip
    assert rc == 0, err
    assert len(_dream_tasks(first)) == 2
    there = tmp_path / "there.png"
    with distributed.get_task_stream(client) as second:
        rc, stdout, err = cli(capsys, *args, "--range", "0:4", "-o", there,
                              "--scheduler", where)  # fmt: skip
    assert rc == 0, err
    assert len(_dream_tasks(second)) == 2  # channels 0 and 1 were cached
    assert ", 2 to render, 2 cached" in err
    assert f"batch: Dask scheduler {where}, 2 workers, dashboard " in err
    assert "batch: 2 channels: 2 done, 0 failed" in err
    assert "atlas: 2 rendered, 2 from the cache" in err
    assert stdout.split() == [str(there)]  # the sheet only
    np.testing.assert_array_equal(load_image(here), load_image(there))
    assert read_recipe(here)["atlas"] == read_recipe(there)["atlas"]
    _same_cache(tmp_path / "h1", home)  # what the client wrote: whole files
    assert not list((home / "channels").glob("*.part*"))


def test_diverse_sheet_on_a_local_cluster_same_as_here(
    capsys, home, googlenet_h5, tmp_path
):
    """``--scheduler local:2`` starts its own cluster; each channel's N
    pictures are one task (one batched dream), as here."""
    args = ["--channels", LAYER, "--weights", googlenet_h5, *FAST, "--range",
            "3:5", "--diverse", "2"]  # fmt: skip
    here, there = tmp_path / "here.png", tmp_path / "there.png"
    _atlas(tmp_path / "h1", *args, "-o", here)
    rc, _, err = cli(capsys, "atlas", *args, "-o", there, "--scheduler", "local:2")
    assert rc == 0, err
    assert ", 2 workers, dashboard " in err
    assert "batch: 2 channels: 2 done, 0 failed" in err
    np.testing.assert_array_equal(load_image(here), load_image(there))
    _same_cache(tmp_path / "h1", home)


def _break_channel_1():
    """On a worker: channel 1's dream raises (a task that fails there)."""
    import importlib

    dream = importlib.import_module("inceptionism.engine.dream")
    real = dream.run

    def run(net, rgb, config, **kw):
        if config.objective.endswith(":1"):
            raise ValueError("broken on purpose")
        return real(net, rgb, config, **kw)

    run.real = real  # type: ignore[attr-defined]
    dream.run = run


def _mend():
    import importlib

    dream = importlib.import_module("inceptionism.engine.dream")
    dream.run = getattr(dream.run, "real", dream.run)


@pytest.fixture
def broken(client):
    client.run(_break_channel_1)
    yield
    client.run(_mend)


def test_failed_task_like_a_batch(capsys, client, broken, home, googlenet_h5, tmp_path):
    """The CLI: the others are cached, the sheet has a grey cell, exit 1,
    and the same command renders only the failed channel. The Python API
    says which channel failed, and writes no sheet."""
    where = client.scheduler.address
    args = ["atlas", "--channels", LAYER, "--weights", googlenet_h5, *FAST,
            "--range", "0:3", "--scheduler", where]  # fmt: skip
    out = tmp_path / "s.png"
    rc, _, err = cli(capsys, *args, "-o", out)
    assert rc == 1, err
    assert "batch: 3 channels: 2 done, 1 failed" in err
    assert "batch: failed channel 1: broken on purpose" in err
    assert "atlas: 2 rendered, 0 from the cache, 1 failed" in err
    assert len(_cache(home)) == 2 and out.is_file()
    with pytest.raises(ValueError, match=r"1 of 4 channels failed on Dask \(channel 1: "
                       "broken on purpose\\); the others are cached"):  # fmt: skip
        ac.channel_sheet(tmp_path / "api.png", LAYER, weights=googlenet_h5,
                         channels=[0, 1, 2, 3], client=client, size=40,
                         config=DreamConfig(octaves=2, steps=2, seed=0))  # fmt: skip
    assert len(_cache(home)) == 3 and not (tmp_path / "api.png").exists()
    client.run(_mend)
    rc, _, err = cli(capsys, *args, "-o", out, "--overwrite")
    assert rc == 0, err
    assert ", 1 to render, 2 cached" in err and "1 done, 0 failed" in err


def test_unknown_scheduler_one_line_before_any_work(
    capsys, home, googlenet_h5, tmp_path, monkeypatch
):
    from tests.engine.test_cli_dream import fails

    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", 1.0)
    where = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "s.png"
    fails(capsys, "atlas", "--channels", LAYER, "-o", out, "--weights",
          googlenet_h5, *FAST, "--range", "0:2", "--scheduler", where,
          match=f"--scheduler {where}: no Dask scheduler answered")  # fmt: skip
    assert not out.exists() and not home.exists()


@pytest.mark.slow  # a local cluster of its own, and two sheets of 16 channels
def test_ctrl_c_keeps_whole_cache_files_and_resumes(googlenet_h5, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) after
    the first channel arrives: exit 130, only whole cache files, and the
    same command renders only the rest."""
    home = tmp_path / "home"
    out = tmp_path / "s.png"
    argv = [sys.executable, "-m", "inceptionism.engine", "atlas", "--channels",
            LAYER, "--weights", str(googlenet_h5), "--octaves", "2", "--steps",
            "20", "--size", "64", "--range", "0:16", "-o", str(out),
            "--scheduler", "local:2"]  # fmt: skip
    env = {**os.environ, "INCEPTIONISM_HOME": str(home)}
    rc, err = interrupt_after_first(argv, home, "channels/*.png", env)
    assert rc == 130, err
    assert b"the same command resumes" in err
    first = sorted((home / "channels").iterdir())
    assert first and all(p.suffix == ".png" for p in first)  # no temp files
    assert len(first) < 16, "the sheet was done before Ctrl-C; use slower channels"
    for p in first:
        assert load_image(p).shape == (64, 64, 3)
    kept = {p: p.stat().st_mtime_ns for p in first}
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f", {16 - len(first)} to render, {len(first)} cached" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in first} == kept
    assert out.is_file() and len(list((home / "channels").iterdir())) == 16


def test_array_task_takes_the_spec_tiling(googlenet_h5):
    """A batch task on an array dreams with ``spec.tiling`` as the local
    channel render does (the float result: rounding hides the difference)."""
    from inceptionism.engine import batch
    from inceptionism.engine.dream import run
    from inceptionism.engine.tiling_budget import Tiling

    config = ac.channel_config(DreamConfig(octaves=1, steps=2, seed=0), LAYER, 3)
    spec = batch.Spec(config=config, weights=str(googlenet_h5))
    net = batch.loaded_net(spec)[0]
    start = ac.noise(64, 0)
    tiled = batch.dream_task(
        start, None, dataclasses.replace(spec, tiling=Tiling(tile=32))
    )
    np.testing.assert_array_equal(tiled.image, run(net, start, config, tiling=32))
    untiled = batch.dream_task(start, None, spec).image
    assert not np.array_equal(tiled.image, untiled)


def test_tiled_channels_on_dask_same_as_here(client, googlenet_h5, tmp_path):
    from inceptionism.engine import batch, blas
    from inceptionism.engine.atlas_tasks import Where
    from inceptionism.engine.tiling_budget import Tiling

    base = DreamConfig(octaves=1, steps=2, seed=0)
    spec = batch.Spec(weights=str(googlenet_h5))
    net, _, sha1 = batch.loaded_net(spec)
    args = (net, sha1, LAYER, [3, 4], base, 64)
    tiling = Tiling(tile=32)
    with blas.pinned(int(batch_dask.blas_env(2)["OPENBLAS_NUM_THREADS"])):
        here = ac.render(*args, root=tmp_path / "a", tiling=tiling)
    with distributed.get_task_stream(client) as stream:
        there = ac.render(*args, root=tmp_path / "b", tiling=tiling,
                          where=Where(spec, client=client))  # fmt: skip
    assert len(_dream_tasks(stream)) == 2 and there.rendered == 2
    for a, b in zip(here.images, there.images, strict=True):
        np.testing.assert_array_equal(a, b)
