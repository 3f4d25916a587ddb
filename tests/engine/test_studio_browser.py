"""The studio end to end in a real browser: Playwright drives Debian's
headless Chromium against a uvicorn server on a free loopback port, with
synthetic GoogLeNet weights.

The screenshot of the finished dream is kept as an artifact: in the test's
temporary folder, and at ``$INCEPTIONISM_STUDIO_SCREENSHOT`` when set
(``INCEPTIONISM_STUDIO_SCREENSHOT=docs/studio.png pytest
tests/engine/test_studio_browser.py -k dream`` refreshes the README's).
Skipped, saying why, only where no Chromium can be found.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine.cli.studio_cmd import bind, models
from inceptionism.engine.image import read_recipe
from inceptionism.engine.studio.jobs import Studio
from inceptionism.engine.studio.thumbs import Thumbs
from tests.engine.conftest import ATLAS_LAYERS

# the studio extra and Playwright (CI installs both; the GPU image neither)
uvicorn = pytest.importorskip("uvicorn")
expect = pytest.importorskip("playwright.sync_api").expect
create_app = pytest.importorskip("inceptionism.engine.studio.server").create_app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAYER = "inception_3b/output"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def browser():
    exe = chromium()
    if exe is None:
        pytest.skip(
            "no Chromium found (Debian: apt-get install chromium; .ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(googlenet_h5, studio_atlas, tmp_path_factory):
    """``(url with token, studio)`` of a server in a thread, with the layer
    thumbnails of a tiny atlas."""
    studio = Studio(
        tmp_path_factory.mktemp("studio"),
        models([str(googlenet_h5)]),
        thumbs=Thumbs([studio_atlas]),
    )
    app = create_app(studio)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert time.monotonic() - t0 < 30, "the studio server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/?token={app.state.token}", studio
    srv.should_exit = True
    thread.join(15)
    sock.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(
        accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on(
        "console",  # the page must work under its own Content-Security-Policy
        lambda m: errors.append(m.text) if "Security Policy" in m.text else None,
    )
    pg.goto(server[0])
    pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
    yield pg
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _photo(tmp_path: Path) -> Path:
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x, y, 255 - (x + y) // 2], axis=-1) % 256
    noise = np.random.default_rng(4).integers(0, 40, size=rgb.shape)
    path = tmp_path / "meadow.png"
    Image.fromarray(np.clip(rgb + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def _record_progress(page) -> None:
    page.evaluate(
        """() => {
          window.seenProgress = [];
          const el = document.getElementById('progress-text');
          new MutationObserver(() => window.seenProgress.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});
        }"""
    )


def _settings(page, steps: int, max_size: int, seed: int) -> None:
    page.fill("#octaves", "1")
    page.fill("#steps", str(steps))
    page.fill("#max-size", str(max_size))
    page.fill("#seed", str(seed))


def test_dream_in_the_browser_download_and_restore(page, server, tmp_path):
    url, studio = server
    photo = _photo(tmp_path)
    page.set_input_files("#file", str(photo))
    expect(page.locator("#input-name")).to_have_text("meadow.png")
    page.select_option("#layer", LAYER)
    assert page.input_value("#spec") == f"deepdream:{LAYER}"
    assert page.is_hidden("#guide-row")  # only for objectives that take a picture
    page.check("#priors-smooth")
    _settings(page, steps=3, max_size=160, seed=7)
    _record_progress(page)
    page.click("#dream")
    page.wait_for_selector("#progress-text[data-state='done']", timeout=60_000)

    seen = page.evaluate("window.seenProgress")
    assert any(re.search(r"octave 1/1 · step \d/3 · \d/3", s) for s in seen), seen
    assert page.get_attribute("#progress-bar", "value") == "3"
    assert page.is_hidden("#error")
    history = page.locator("#history li")
    assert history.count() == 1 and "done" in history.first.inner_text()
    expect(page.locator("#picture")).to_have_js_property("complete", True)
    shot = tmp_path / "studio.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as im:
        assert im.size[0] == 1280
    keep = os.environ.get("INCEPTIONISM_STUDIO_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)

    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "meadow-dream.png"
    result = tmp_path / download.suggested_filename
    download.save_as(str(result))
    recipe = read_recipe(result)
    assert recipe["config"]["objective"] == f"deepdream:{LAYER}"
    assert recipe["config"]["priors"] == ["smooth"]
    assert (recipe["config"]["steps"], recipe["config"]["seed"]) == (3, 7)
    with Image.open(result) as im:
        assert recipe["max_size"] == 160 and im.size == (160, 120)

    # a fresh page, the result dropped in: every setting comes back
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    assert page.input_value("#steps") == "10"
    page.set_input_files("#file", str(result))
    expect(page.locator("#spec")).to_have_value(f"deepdream:{LAYER}")
    assert page.input_value("#steps") == "3" and page.input_value("#seed") == "7"
    assert page.input_value("#max-size") == "160"
    assert page.input_value("#layer") == LAYER and page.is_checked("#priors-smooth")
    assert page.text_content("#input-name") == "meadow.png"  # the original
    assert page.get_attribute("#input-img", "src").endswith(
        hashlib.sha256(photo.read_bytes()).hexdigest() + ".png"
    )
    assert "restored" in page.text_content("#notes")


def test_stop_a_running_dream(page, server):
    _, studio = server
    page.click("#use-sample")
    _settings(page, steps=5000, max_size=96, seed=1)
    page.click("#dream")
    running = re.compile(r"step \d+/5000")
    expect(page.locator("#progress-text")).to_have_text(running, timeout=60_000)
    expect(page.locator("#picture")).to_have_attribute("src", re.compile("^data:"))
    page.reload()  # a reloaded page follows the dream still going
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#progress-text")).to_have_text(running)
    page.click("#stop")
    page.wait_for_selector("#progress-text[data-state='cancelled']", timeout=20_000)
    job = list(studio.jobs.values())[-1]
    assert job.state == "cancelled" and job.result is None
    assert not (studio.results / f"{job.id}.png").exists()
    assert page.is_hidden("#download") and not page.is_disabled("#dream")


def test_an_impossible_setting_shows_one_sentence(page):
    page.click("#use-sample")
    page.fill("#steps", "-1")
    page.click("#dream")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == (
        "steps must be an integer >= 0 and <= 1e+06, got -1"
    )


def test_a_guide_picture_chosen_on_the_page(page, server, tmp_path):
    _, studio = server
    page.click("#use-sample")
    page.select_option("#objective", "guide")
    assert page.is_visible("#guide-row")
    page.select_option("#layer", LAYER)
    page.set_input_files("#guide-file", str(_photo(tmp_path)))
    expect(page.locator("#spec")).to_have_value(re.compile("uploads"))
    _settings(page, steps=1, max_size=96, seed=2)
    page.click("#dream")
    page.wait_for_selector("#progress-text[data-state='done']", timeout=60_000)
    recipe = list(studio.jobs.values())[-1].recipe
    (guide,) = recipe["guides"]
    assert Path(guide["path"]).parent == studio.uploads
    assert recipe["config"]["objective"] == f'guide:{LAYER}:"{guide["path"]}"'


def test_layer_thumbnails_from_an_atlas(page):
    """The atlas's layers show their picture in the layer list's stage
    groups (loaded: the cookie and the CSP let it through); one click
    chooses that layer."""
    box = page.locator("#layer-thumbs")
    expect(box).to_be_visible()
    for layer in ATLAS_LAYERS:
        img = box.locator(f'img[data-layer="{layer}"]')
        expect(img).to_be_visible()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => i.naturalWidth") > 0, f"{layer}: not loaded"
    assert box.locator("img").count() == len(ATLAS_LAYERS)
    stages = box.locator(".stage > span").all_text_contents()
    assert stages == [x.split("/")[0] for x in ATLAS_LAYERS]
    box.locator('button[data-layer="inception_3a/output"]').click()
    expect(page.locator("#layer")).to_have_value("inception_3a/output")
    expect(page.locator("#spec")).to_have_value(re.compile("inception_3a/output"))
    expect(box.locator("button.chosen")).to_have_attribute(
        "data-layer", "inception_3a/output"
    )
