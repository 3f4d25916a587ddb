"""fetch/download against a local HTTP server in a thread (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from inceptionism.weights import files, load_model
from inceptionism.weights.download import DownloadError, download, fetch
from inceptionism.weights.prototxt import read_prototxt
from inceptionism.weights.registry import ModelSpec
from tests.weights import caffe_writer, minnet
from tests.weights.test_stale_temps import _dead_pid


class Server:
    """Serves one payload; honours ``Range`` unless told not to; records the
    Range headers it saw."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.honour_range = True
        self.ranges: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                rng = self.headers.get("Range")
                server.ranges.append(rng)
                data, status = server.payload, 200
                if rng and server.honour_range:
                    start = int(rng.removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    data, status = data[start:], 206
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/mini.caffemodel"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def payload() -> bytes:
    p = minnet.params(np.random.default_rng(5))
    return caffe_writer.net(minnet.training_layers(p), version=1)


def spec_for(url: str, payload: bytes, sha1: str | None = "ok") -> ModelSpec:
    return ModelSpec(
        name="mini",
        url=url,
        sha1=hashlib.sha1(payload).hexdigest() if sha1 == "ok" else sha1,
        size=len(payload),
        mean=(1.0, 2.0, 3.0),
        labels=None,
        graph=lambda: read_prototxt(minnet.DEPLOY_PROTOTXT, name="mini"),
        description="test model",
    )


def test_fetch_downloads_verifies_and_converts(tmp_path, payload):
    with Server(payload) as srv:
        h5 = fetch(spec_for(srv.url, payload), cache=tmp_path, progress=False)
    assert h5 == tmp_path / "mini.h5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.caffemodel", "mini.h5"]
    assert (tmp_path / "mini.caffemodel").read_bytes() == payload
    m = load_model(h5)
    assert m.name == "mini" and m.preprocess["mean"] == [1.0, 2.0, 3.0]
    assert srv.ranges == [None]
    # cached: no second request
    assert fetch(spec_for(srv.url, payload), cache=tmp_path) == h5


def test_checksum_mismatch_leaves_no_file(tmp_path, payload):
    with Server(payload) as srv:
        with pytest.raises(DownloadError, match="checksum mismatch.*deleted"):
            fetch(spec_for(srv.url, payload, "0" * 40), cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_resume_after_a_partial_file(tmp_path, payload):
    part = tmp_path / "mini.caffemodel.part"
    half = len(payload) // 2
    part.write_bytes(payload[:half])
    with Server(payload) as srv:
        fetch(spec_for(srv.url, payload), cache=tmp_path, progress=False)
    assert srv.ranges == [f"bytes={half}-"]
    assert (tmp_path / "mini.caffemodel").read_bytes() == payload
    assert not part.exists()


def test_restart_when_the_server_ignores_the_range(tmp_path, payload):
    part = tmp_path / "mini.caffemodel.part"
    part.write_bytes(b"stale bytes from another file")
    with Server(payload) as srv:
        srv.honour_range = False
        fetch(spec_for(srv.url, payload), cache=tmp_path, progress=False)
    assert srv.ranges == ["bytes=29-"]
    assert (tmp_path / "mini.caffemodel").read_bytes() == payload


def test_complete_partial_file_is_used(tmp_path, payload):
    (tmp_path / "x.part").write_bytes(payload)
    with Server(payload) as srv:  # answers 416: nothing left to send
        got = download(srv.url, tmp_path / "x", hashlib.sha1(payload).hexdigest())
    assert got.read_bytes() == payload and srv.ranges == [f"bytes={len(payload)}-"]


def test_progress_bar(tmp_path, payload, capsys):
    with Server(payload) as srv:
        download(srv.url, tmp_path / "x", hashlib.sha1(payload).hexdigest(),
                 size=len(payload), progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert "\rx [" in err and "100%" in err


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mini.caffemodel"


def test_offline_error_says_what_to_do(tmp_path, payload):
    url = _closed_port_url()
    with pytest.raises(DownloadError) as exc:
        fetch(spec_for(url, payload), cache=tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"download {url} by hand" in msg
    h5 = tmp_path / "mini.h5"
    assert f"`inceptionism weights convert FILE.caffemodel --model mini -o {h5}`" in msg
    assert [p.name for p in tmp_path.iterdir()] == []


def test_unknown_checksum_refuses(tmp_path, payload):
    with pytest.raises(DownloadError, match="no checksum is known.*by hand"):
        fetch(spec_for("http://127.0.0.1:9/x", payload, None), cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cache_dir(monkeypatch, tmp_path):
    import sys

    from inceptionism.weights import cache_dir

    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "h"))
    assert cache_dir() == tmp_path / "h"
    monkeypatch.delenv("INCEPTIONISM_HOME")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "inceptionism"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path))
        assert cache_dir() == tmp_path / ".cache" / "inceptionism"


def test_a_second_fetch_waits_for_the_first(tmp_path, payload):
    """Two fetches at once would append to one .part; the second refuses."""
    lock = tmp_path / ".mini.caffemodel.lock"
    lock.write_text(f"{files._host()}~{os.getpid()}")  # a live holder
    with Server(payload) as srv:
        with pytest.raises(DownloadError, match="under way in another process"):
            fetch(spec_for(srv.url, payload), cache=tmp_path, progress=False)
        assert srv.ranges == []
        lock.write_text(f"{files._host()}~{_dead_pid()}")  # killed with SIGKILL
        fetch(spec_for(srv.url, payload), cache=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.caffemodel", "mini.h5"]
