"""``pip install .`` ships the studio's page: a wheel built from a copy of
the sources, installed (no deps, offline) into a private folder, serves the
page and its files through ``inceptionism studio`` in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("starlette")  # the studio extra

from inceptionism.engine.studio.server import STATIC  # noqa: E402

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_a_wheel_install_serves_the_page(tmp_path, googlenet_h5):
    src = tmp_path / "src"
    for folder in ("engine", "kernels", "plugins", "weights"):
        shutil.copytree(
            ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    built = subprocess.run(
        [*pip, "wheel", *offline, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("inceptionism-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in STATIC:
        assert f"inceptionism/engine/studio/static/{name}" in names

    site = tmp_path / "site"
    done = subprocess.run(
        [*pip, "install", *offline, "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": str(site), "INCEPTIONISM_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "inceptionism.engine", "studio", "--no-browser"]
    cmd += ["--port", "0", "--weights", str(googlenet_h5)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)", line)
        assert found, line + proc.stderr.read() if proc.stderr else line
        base, token = found.groups()
        page = urllib.request.urlopen(f"{base}?token={token}", timeout=30).read()
        assert b"static/studio.js" in page
        js = urllib.request.urlopen(f"{base}static/studio.js", timeout=30).read()
        assert js == (ROOT / "engine/studio/static/studio.js").read_bytes()
        ask = urllib.request.Request(
            f"{base}api/options", headers={"X-Studio-Token": token}
        )
        with urllib.request.urlopen(ask, timeout=30) as r:
            assert b"deepdream" in r.read()
        where = subprocess.run(
            [sys.executable, "-c", "import inceptionism.engine.studio as s; "
             "print(s.__file__)"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert where.stdout.startswith(str(site)), where.stdout  # not the checkout
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
