"""Feedback of the CLI (issue 10): guide paths taken verbatim, progress,
help that answers, layer suggestions, directory and stdin/stdout I/O."""

from __future__ import annotations

import pytest
from PIL import Image

from inceptionism.engine.cli import main
from inceptionism.engine.recipe import FileRef, Recipe, guide_paths
from inceptionism.plugins.spec import quote, split_args, split_terms

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4"]


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def run(capsys, googlenet_h5):
    """``cli`` with ``--weights`` set to the synthetic weights."""
    return lambda *argv: cli(capsys, *argv, "--weights", googlenet_h5)


# -- guide paths are paths ---------------------------------------------------

GUIDE_NAMES = [
    "deepdream-guide-images/flowers.jpg",  # "-guide" reads as a term
    "tulips-class-2.jpg",  # "-class" too
    "a-b:c.jpg",  # "-b:" too
    'odd "quote" + plus.png',
]


@pytest.mark.parametrize("name", GUIDE_NAMES, ids=["folder", "class", "colon", "quote"])
def test_guide_path_is_taken_verbatim_and_replays(run, picture, tmp_path, name):
    guide = tmp_path / name
    guide.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 40), (200, 30, 30)).save(guide, format="PNG")
    out, again = tmp_path / "o.png", tmp_path / "again.png"
    rc, _, err = run("dream", picture, "-o", out, "--guide", guide, *FAST)
    assert rc == 0, err
    recipe = Recipe.read(out)
    assert recipe.guides == (FileRef.of(guide),)
    assert guide_paths(recipe.config.objective) == [guide.resolve()]
    rc, _, err = run("dream", "--replay", out, "-o", again)
    assert rc == 0, err
    assert Image.open(again).tobytes() == Image.open(out).tobytes()


def test_quoted_spec_argument_round_trips():
    names = {"deepdream", "guide", "class"}
    path = 'x/a-b:c "d" +class-2.jpg'
    spec = f"guide:L:{quote(path)} + 0.5*deepdream:L"
    terms = split_terms(spec, names)
    assert [w for w, _ in terms] == [1.0, 0.5]
    assert split_args(terms[0][1]) == ["guide", "L", path]
    assert split_args("guide:L:C:/my-flowers.jpg") == [
        "guide",
        "L",
        "C",
        "/my-flowers.jpg",
    ]
    with pytest.raises(ValueError, match="unterminated quoted argument"):
        split_terms('guide:L:"open', names)
    with pytest.raises(ValueError, match="text after a quoted argument"):
        split_args('guide:L:"a"b')


def test_objective_still_uses_the_spec_grammar(run, picture, tmp_path):
    rc, _, err = run(
        "dream", picture, "-o", tmp_path / "o.png", "--objective", "nope:conv2/3x3",
        *FAST[2:],
    )  # fmt: skip
    assert rc == 1 and "unknown objective 'nope'" in err
