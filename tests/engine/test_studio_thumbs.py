"""Layer thumbnails in the studio (issue 16): the singles of an atlas made
by the real ``atlas`` command and the channel-render cache, listed with the
layers and served by (model, layer) only."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine.atlas_channels import channel_sheet
from inceptionism.engine.cli.studio_cmd import models
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.image import read_recipe, save_image
from inceptionism.engine.studio import create_app
from inceptionism.engine.studio.jobs import Studio
from inceptionism.engine.studio.thumbs import SIDE, Thumbs, folders
from inceptionism.weights.files import sha1_file
from tests.engine.conftest import ATLAS_LAYERS
from tests.engine.test_cli_dream import fails

# the studio extra (CI installs it; the GPU image does not)
TestClient = pytest.importorskip("starlette.testclient").TestClient

TOKEN = "test-token"


def client_for(googlenet_h5, work, thumbs: Thumbs) -> TestClient:
    studio = Studio(work, models([str(googlenet_h5)]), thumbs=thumbs)
    return TestClient(
        create_app(studio, token=TOKEN), headers={"x-studio-token": TOKEN}
    )


def thumbs_listed(client: TestClient) -> dict[str, dict]:
    r = client.get("/api/layers", params={"model": "file0"})
    assert r.status_code == 200, r.text
    return {
        layer["name"]: layer["thumb"]
        for g in r.json()["groups"]
        for layer in g["layers"]
        if "thumb" in layer
    }


def test_atlas_singles_are_listed_and_served(googlenet_h5, studio_atlas, tmp_path):
    with client_for(googlenet_h5, tmp_path, Thumbs([studio_atlas])) as c:
        listed = thumbs_listed(c)
        assert sorted(listed) == sorted(ATLAS_LAYERS)
        for layer, thumb in listed.items():
            assert thumb["kind"] == "atlas"
            r = c.get(thumb["url"])
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.headers["x-content-type-options"] == "nosniff"
            single = studio_atlas / f"photo-layer-{layer.replace('/', '_')}.png"
            assert r.content == single.read_bytes()
        # no token: refused, as every API route
        r = c.get(listed["conv2/3x3"]["url"], headers={"x-studio-token": ""})
        assert r.status_code == 403


def test_no_thumbnails_without_an_atlas(googlenet_h5, tmp_path):
    with client_for(googlenet_h5, tmp_path, Thumbs()) as c:
        assert thumbs_listed(c) == {}
        r = c.get("/api/thumbs", params={"model": "file0", "layer": "conv2/3x3"})
        assert r.status_code == 404 and r.json()["error"]


def test_other_weights_pictures_are_not_shown(googlenet_h5, studio_atlas):
    thumbs = Thumbs([studio_atlas])
    assert sorted(thumbs.index(sha1_file(googlenet_h5))) == sorted(ATLAS_LAYERS)
    assert thumbs.index("0" * 40) == {}


@pytest.mark.parametrize(
    "query",
    [
        {"model": "file0", "layer": "../../../../etc/passwd"},
        {"model": "file0", "layer": "/etc/passwd"},
        {"model": "file0", "layer": "photo-layer-conv2_3x3.png"},
        {"model": "../file0", "layer": "conv2/3x3"},
        {"model": "file0", "layer": "conv2/3x3/../../../atlas.png"},
    ],
)
def test_traversal_is_refused(googlenet_h5, studio_atlas, tmp_path, query):
    with client_for(googlenet_h5, tmp_path, Thumbs([studio_atlas])) as c:
        r = c.get("/api/thumbs", params=query)
        assert r.status_code == 404, r.text
        assert "error" in r.json()
        r = c.get("/api/thumbs/../../etc/passwd")
        assert r.status_code == 404


def test_a_moved_away_single_is_not_served(googlenet_h5, studio_atlas, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(studio_atlas, copy)
    with client_for(googlenet_h5, tmp_path / "w", Thumbs([copy])) as c:
        url = thumbs_listed(c)["conv2/3x3"]["url"]
        (copy / "photo-layer-conv2_3x3.png").unlink()
        assert c.get(url).status_code == 404
        assert sorted(thumbs_listed(c)) == ["inception_3a/output"]


def test_large_pictures_are_served_downsized(googlenet_h5, studio_atlas, tmp_path):
    """A thumbnail is at most SIDE px a side, the aspect kept; the page never
    loads a full-size atlas picture per layer."""
    folder = tmp_path / "big"
    folder.mkdir()
    recipe = read_recipe(studio_atlas / "photo-layer-conv2_3x3.png")
    rgb = np.random.default_rng(0).uniform(0, 255, size=(200, 300, 3))
    save_image(folder / "big.png", rgb.astype(np.float32), recipe=recipe)
    with client_for(googlenet_h5, tmp_path / "w", Thumbs([folder])) as c:
        url = thumbs_listed(c)["conv2/3x3"]["url"]
        r = c.get(url)
        assert r.status_code == 200
        small = Image.open(io.BytesIO(r.content))
        assert small.size == (SIDE, round(SIDE * 200 / 300))
        assert c.get(url).content == r.content  # remembered


def test_channel_renders_are_shown_and_atlas_singles_win(
    googlenet_h5, studio_atlas, tmp_path, monkeypatch
):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "cache"))
    config = DreamConfig(seed=0, octaves=1, steps=1)
    for layer in ("inception_3a/output", "inception_3b/output"):
        channel_sheet(
            tmp_path / f"sheet-{layer.split('/')[0]}.png",
            layer,
            weights=googlenet_h5,
            channels=[5, 2],
            config=config,
            size=32,
        )
    cache = tmp_path / "cache"
    with client_for(googlenet_h5, tmp_path, Thumbs(folders([], cache))) as c:
        listed = thumbs_listed(c)
        assert sorted(listed) == ["inception_3a/output", "inception_3b/output"]
        assert {t["kind"] for t in listed.values()} == {"channel"}
        assert c.get(listed["inception_3b/output"]["url"]).status_code == 200
    both = Thumbs(folders([studio_atlas], cache))
    with client_for(googlenet_h5, tmp_path, both) as c:
        listed = thumbs_listed(c)
        assert sorted(listed) == [*ATLAS_LAYERS, "inception_3b/output"]
        assert listed["inception_3a/output"]["kind"] == "atlas"
    # the lowest channel stands for its layer
    found = both.index(sha1_file(googlenet_h5))["inception_3b/output"]
    assert found.rank[1] == 2


def test_atlas_option_must_be_a_folder(capsys, googlenet_h5, studio_atlas):
    sheet = studio_atlas.with_suffix(".png")
    args = ["studio", "--no-browser", "--weights", googlenet_h5, "--port", "0"]
    line = fails(capsys, *args, "--atlas", sheet, match="not a folder")
    assert str(studio_atlas) in line
