"""The studio's API through Starlette's test client (a real app, real worker
thread, real dreams on synthetic GoogLeNet weights)."""

from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine.batch import Spec, dream_task
from inceptionism.engine.cli import main
from inceptionism.engine.cli.studio_cmd import bind, is_local, models
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.image import load_image, read_recipe
from inceptionism.engine.studio import INSTALL_HINT, create_app, require
from inceptionism.engine.studio.jobs import Studio, reason

# the studio extra (CI installs it; the GPU image does not)
TestClient = pytest.importorskip("starlette.testclient").TestClient

TOKEN = "test-token"
LAYER = "inception_3b/output"


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def photo() -> bytes:
    rng = np.random.default_rng(5)
    return png(rng.integers(0, 256, size=(60, 80, 3)).astype(np.uint8))


@pytest.fixture
def studio(googlenet_h5, tmp_path):
    s = Studio(
        tmp_path / "work",
        models([str(googlenet_h5)]),
        max_bytes=2**20,
        max_pixels=200_000,
    )
    yield s
    s.close()


@pytest.fixture
def client(studio):
    with TestClient(
        create_app(studio, token=TOKEN), headers={"x-studio-token": TOKEN}
    ) as c:
        yield c


def settings(inp: str, **config) -> dict:
    config = {
        "objective": f"deepdream:{LAYER}",
        "octaves": 1,
        "steps": 2,
        "seed": 3,
        **config,
    }
    return {
        "input": inp,
        "input_name": "photo.png",
        "model": "file0",
        "max_size": 64,
        "config": config,
    }


def events(client, job_id: str) -> list[dict]:
    with client.stream("GET", f"/api/jobs/{job_id}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        return [
            json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")
        ]


def wait(client, job_id: str, until, timeout: float = 60.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got there: {job}")


def upload(client, data: bytes, name: str = "photo.png") -> dict:
    r = client.post("/api/uploads", content=data, headers={"x-filename": name})
    assert r.status_code == 200, r.text
    return r.json()


# -- access --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/options",
        "/api/jobs",
        "/api/jobs/1/result",
        "/api/uploads/sample",
        "/api/layers?model=file0",
    ],
)
def test_api_needs_the_token(studio, path):
    with TestClient(create_app(studio, token=TOKEN)) as c:
        assert c.get(path).status_code == 403
        assert c.get(path, headers={"x-studio-token": "wrong"}).status_code == 403
        assert c.post("/api/jobs", json=settings("sample")).status_code == 403
        assert c.get(path, headers={"x-studio-token": TOKEN}).status_code != 403
    assert studio.jobs == {}  # the refused start queued nothing


def test_page_needs_the_token_and_sets_a_strict_cookie(studio):
    with TestClient(create_app(studio, token=TOKEN)) as c:
        assert c.get("/").status_code == 403
        r = c.get(f"/?token={TOKEN}")
        assert r.status_code == 200 and "studio.js" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/api/options").status_code == 200  # the cookie now
        assert c.get("/static/studio.js").status_code == 200  # no secret there


def test_options_list_plugins_models_and_layers_by_stage(client):
    o = client.get("/api/options").json()
    assert {"deepdream", "channel", "guide"} <= {x["name"] for x in o["objectives"]}
    assert {"tv", "l2"} <= {x["name"] for x in o["regularizers"]}
    assert {"lapnorm", "smooth"} <= {x["name"] for x in o["priors"]}
    assert o["models"][0]["id"] == "file0" and o["models"][0]["available"]
    groups = client.get("/api/layers?model=file0").json()["groups"]
    stages = [g["stage"] for g in groups]
    assert stages[:3] == ["conv1", "pool1", "conv2"] and "inception_4c" in stages
    four_c = next(g for g in groups if g["stage"] == "inception_4c")["layers"]
    out = next(x for x in four_c if x["name"] == "inception_4c/output")
    assert (out["channels"], out["size"]) == (512, "14x14")


# -- uploads -------------------------------------------------------------------


def test_upload_is_stored_once_under_its_content_hash(client, studio, photo):
    first = upload(client, photo, name="../../evil name.png")
    assert first["id"] == hashlib.sha256(photo).hexdigest() + ".png"
    assert (first["width"], first["height"]) == (80, 60)
    assert upload(client, photo)["id"] == first["id"]
    assert [p.name for p in studio.uploads.iterdir()] == [first["id"]]
    assert client.get(f"/api/uploads/{first['id']}").content == photo


@pytest.mark.parametrize(
    "data, status, words",
    [
        (b"", 400, "is empty"),
        (b"#!/bin/sh\nrm -rf /\n", 400, "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"x" * 100, 400, "not"),
        (png(np.zeros((600, 600, 3), np.uint8)), 400, "decompression bomb"),
        (b"x" * (2**20 + 1), 413, "over the studio's limit"),
    ],
    ids=["empty", "script", "broken-png", "too-many-pixels", "too-big"],
)
def test_bad_uploads_are_refused_in_one_sentence(client, studio, data, status, words):
    r = client.post("/api/uploads", content=data, headers={"x-filename": "x.png"})
    assert r.status_code == status
    error = r.json()["error"]
    assert words in error and "\n" not in error and "x.png" in error
    assert str(studio.work) not in error  # no server paths in messages
    assert list(studio.uploads.iterdir()) == []  # nothing kept, no temp file


# -- dreams --------------------------------------------------------------------


def test_dream_streams_progress_and_gives_the_png_with_its_recipe(
    client, studio, photo, googlenet_h5
):
    up = upload(client, photo)
    r = client.post("/api/jobs", json=settings(up["id"]))
    assert r.status_code == 202
    job = r.json()
    seen = events(client, job["id"])
    states = [e["state"] for e in seen]
    assert states[-1] == "done" and "running" in states
    progress = [e["progress"] for e in seen if e["progress"]]
    assert progress[-1]["done"] == progress[-1]["total"] == 2
    assert {p["step"] for p in progress} == {1, 2} and progress[0]["eta"] is not None
    assert any(e.get("preview", "").startswith("data:image/jpeg;base64,") for e in seen)

    r = client.get(f"/api/jobs/{job['id']}/result")
    assert (
        r.status_code == 200 and "photo-dream.png" in r.headers["content-disposition"]
    )
    path = studio.work / "got.png"
    path.write_bytes(r.content)
    recipe = read_recipe(path)
    assert recipe["config"]["objective"] == f"deepdream:{LAYER}"
    assert recipe["config"]["seed"] == 3 and recipe["max_size"] == 64
    assert recipe["input"]["sha1"] == hashlib.sha1(photo).hexdigest()

    # the one dream loop: the same pixels as a batch picture of that spec
    config = DreamConfig.from_dict(recipe["config"])
    spec = Spec(config=config, weights=str(googlenet_h5), max_size=64)
    again = dream_task(studio.uploads / up["id"], None, spec)
    assert again.status == "done"
    want = np.clip(np.rint(again.image), 0, 255)
    np.testing.assert_array_equal(load_image(path), want)
    # and `dream --replay` re-makes it from its recipe
    again_png = studio.work / "again.png"
    assert main(["dream", "--replay", str(path), "-o", str(again_png), "-q"]) == 0
    np.testing.assert_array_equal(load_image(again_png), load_image(path))

    # dropping the result back restores every setting and finds the input
    restored = upload(client, r.content, name="photo-dream.png")["settings"]
    assert restored["config"] == recipe["config"]
    got = [restored[k] for k in ("input", "input_name", "model", "max_size")]
    assert got == [up["id"], "photo.png", "file0", 64]
    history = client.get("/api/jobs").json()
    assert [j["id"] for j in history] == [job["id"]]


def test_stop_cancels_cleanly_and_the_worker_goes_on(client, studio):
    long = client.post("/api/jobs", json=settings("sample", steps=2000)).json()
    queued = client.post("/api/jobs", json=settings("sample")).json()
    wait(client, long["id"], lambda j: j["progress"].get("done", 0) >= 1)
    # the server answers while a dream runs
    t0 = time.monotonic()
    assert client.get("/api/options").status_code == 200
    assert time.monotonic() - t0 < 2.0
    # one dream at a time per device: the second waits
    assert client.get(f"/api/jobs/{queued['id']}").json()["state"] == "queued"
    t0 = time.monotonic()
    assert client.post(f"/api/jobs/{long['id']}/cancel").status_code == 200
    final = events(client, long["id"])[-1]
    assert final["state"] == "cancelled" and time.monotonic() - t0 < 10
    assert final["progress"]["done"] < 2000 and final["result"] is None
    assert client.get(f"/api/jobs/{long['id']}/result").status_code == 404
    assert events(client, queued["id"])[-1]["state"] == "done"
    assert [p.name for p in studio.results.iterdir()] == [f"{queued['id']}.png"]


def test_a_queued_job_can_be_stopped_before_it_starts(client):
    long = client.post("/api/jobs", json=settings("sample", steps=2000)).json()
    queued = client.post("/api/jobs", json=settings("sample")).json()
    client.post(f"/api/jobs/{queued['id']}/cancel")
    client.post(f"/api/jobs/{long['id']}/cancel")
    assert events(client, queued["id"])[-1]["state"] == "cancelled"
    assert events(client, long["id"])[-1]["state"] == "cancelled"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"config": {"steps": -1}}, "steps must be an integer >= 0"),
        ({"config": {"octaves": "many"}}, "octaves must be a whole number"),
        ({"config": {"step_size": float("inf")}}, "step size must be a finite number"),
        ({"config": {"objective": "dreamdeep:conv1"}}, "unknown objective 'dreamdeep'"),
        ({"config": {"priors": ["smooth:-3"]}}, "smooth"),
        ({"input": None}, "no picture chosen"),
        ({"input": "../../etc/passwd"}, "no picture chosen"),
        ({"model": "alexnet"}, "unknown model"),
        ({"device": "tpu"}, "not available here"),
        ({"max_size": 10**9}, "max size must be"),
    ],
    ids=[
        "steps",
        "octaves",
        "inf",
        "objective",
        "prior",
        "no-input",
        "traversal-input",
        "model",
        "device",
        "max-size",
    ],
)
def test_impossible_settings_are_refused_before_queueing(client, studio, change, words):
    body = settings("sample")
    config = {**body["config"], **change.pop("config", {})}
    body = {**body, **change, "config": config}
    text = json.dumps(body)  # JSON has no inf: send what a broken client might
    r = client.post(
        "/api/jobs", content=text, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert words in r.json()["error"] and "\n" not in r.json()["error"]
    assert studio.jobs == {}
    assert client.get("/api/options").status_code == 200  # still serving


def test_a_failing_dream_reports_one_sentence_and_the_server_goes_on(client):
    bad = client.post(
        "/api/jobs", json=settings("sample", objective="deepdream:inception_9z/output")
    ).json()
    final = events(client, bad["id"])[-1]
    assert final["state"] == "failed"
    assert "inception_9z/output" in final["error"] and "\n" not in final["error"]
    good = client.post("/api/jobs", json=settings("sample")).json()
    assert events(client, good["id"])[-1]["state"] == "done"


# -- only its own files --------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/static/../jobs.py",
        "/static/%2e%2e/jobs.py",
        "/static/..%2Fjobs.py",
        "/static/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/static/__init__.py",
        "/api/uploads/..%2F..%2Fsecret.txt",
        "/api/uploads/%2e%2e%2fsecret.txt",
        "/api/uploads/" + "0" * 64 + ".png/../../secret.txt",
        "/api/jobs/..%2F..%2Fsecret.txt/result",
        "/api/jobs/%2e%2e/result",
        "//etc/passwd",
        "/../../secret.txt",
    ],
)
def test_no_path_reaches_files_beyond_its_own(client, studio, path):
    (studio.work / "secret.txt").write_text("the secret")
    (studio.work.parent / "secret.txt").write_text("the secret")
    r = client.get(path)
    assert r.status_code in (403, 404) and "the secret" not in r.text
    assert "import" not in r.text  # no Python source either


# -- command line and packaging ------------------------------------------------


def test_remote_hosts_need_allow_remote(capsys):
    assert main(["studio", "--host", "0.0.0.0", "--no-browser"]) == 1
    assert "--allow-remote" in capsys.readouterr().err
    assert is_local("127.0.0.1") and is_local("::1") and is_local("localhost")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.2")


def test_a_work_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    """Was "[Errno 20] Not a directory: '.../uploads'"."""
    work = tmp_path / "file"
    work.write_bytes(b"")
    assert main(["studio", "--work", str(work), "--no-browser", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"folder {work} (" in err and "--work DIR" in err


def test_without_the_extra_the_studio_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "uvicorn", None)
    with pytest.raises(RuntimeError, match=r"pip install \"inceptionism\[studio\]\""):
        require()
    assert main(["studio", "--no-browser"]) == 1
    assert capsys.readouterr().err.strip() == f"inceptionism: error: {INSTALL_HINT}"


def test_out_of_memory_reads_as_one_sentence_with_the_way_out():
    text = reason(MemoryError(), (3000, 4000, 3))
    assert text == (
        "out of memory dreaming a 4000x3000 picture: choose a smaller max size "
        "(e.g. 2000), a shallower layer or fewer octaves"
    )


def test_a_busy_port_moves_to_the_next_free_one():
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        moved = bind("127.0.0.1", port)
        assert moved.getsockname()[1] != port
        moved.close()
    finally:
        taken.close()


def test_without_any_model_the_studio_says_how_to_get_one(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path))
    assert main(["studio", "--no-browser", "--work", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err
    assert "no model to dream with" in err and "weights fetch" in err


def _bad_weights(good, folder):
    """A truncated copy, a text file, and a weight file whose conv1 bias has
    the wrong shape (a file of another net's layer)."""
    import h5py

    truncated = folder / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = folder / "notes.h5"
    text.write_text("not HDF5 at all\n")
    wrong = folder / "wrong.h5"
    wrong.write_bytes(good.read_bytes())
    with h5py.File(wrong, "r+") as f:
        del f["layers/conv1/7x7_s2/bias"]
        f["layers/conv1/7x7_s2/bias"] = np.zeros(3, np.float32)
    return [truncated, text, wrong, folder / "missing.h5"]


def test_bad_weight_files_are_refused_at_start_as_dream_does(
    googlenet_h5, picture, tmp_path, capsys, monkeypatch
):
    """They were accepted and failed only when a job ran."""
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda *a, **k: started.append(a))
    for bad in _bad_weights(googlenet_h5, tmp_path):
        dream = ["dream", picture, "-o", tmp_path / "o.png", "--weights", bad]
        assert main([str(a) for a in dream]) == 1
        expected = capsys.readouterr().err
        args = ["studio", "--no-browser", "--port", "0", "--work", tmp_path / "w"]
        argv = [*args, "--weights", googlenet_h5, "--weights", bad]
        assert main([str(a) for a in argv]) == 1, bad
        err = capsys.readouterr().err
        assert err == expected and err.count("\n") == 1, (err, expected)
        assert str(bad) in err
    assert started == [] and not (tmp_path / "o.png").exists()
