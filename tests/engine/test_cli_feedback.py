"""Feedback of the CLI (issue 10): guide paths taken verbatim, progress,
help that answers, layer suggestions, directory and stdin/stdout I/O."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine.cli import main
from inceptionism.engine.progress import Progress
from inceptionism.engine.recipe import FileRef, Recipe, guide_paths
from inceptionism.plugins.base import StepState
from inceptionism.plugins.spec import quote, split_args, split_terms

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4"]


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


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


# -- progress ----------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A fake monotonic clock: each call returns ``t``; tests move it."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def drive(progress, clock, octaves=2, steps=5, runs=1, seconds_per_step=1.0):
    """Feed ``progress`` the events of ``runs`` dreams, as the loop does."""
    for _ in range(runs):
        progress.inceptionism_dream_start(net=None, config=None, rgb=None)
        for octave in range(octaves):
            for step in range(steps):
                clock.t += seconds_per_step
                state = StepState(octave, octaves, step, steps, None, None, 255.0)
                value = np.asarray(float(10 * octave + step))
                progress.inceptionism_step_end(
                    net=None, state=state, x=None, value=value
                )


def test_terminal_bar_covers_the_whole_dream_with_rate_and_eta():
    clock, tty = Clock(), Tty()
    drive(Progress(tty, clock=clock), clock, octaves=2, steps=5)
    frames = tty.getvalue().split("\r")[1:]
    assert len(frames) == 10 and tty.getvalue().count("\n") == 1
    # after 4 of 10 steps at 1 s each: 40%, 1 step/s, 6 s to go
    assert " 40%  4/10  octave 1/2  value 3 " in frames[3]
    assert "1.00 steps/s  ETA 0:06" in frames[3]
    assert "100%  10/10  octave 2/2  value 14" in frames[-1]


def test_zoom_bar_counts_frames_times_steps():
    clock, tty = Clock(), Tty()
    drive(Progress(tty, clock=clock, runs=3, label="zoom"), clock, 1, 4, runs=3)
    last = tty.getvalue().split("\r")[-1]
    assert last.startswith("zoom [") and "12/12  frame 3/3  octave 1/1" in last
    assert tty.getvalue().count("\n") == 1


def test_tiles_join_the_count_when_the_state_has_them():
    from types import SimpleNamespace

    # octave 2 of 2, step 1 of 3, tile 3 of 4: 1 octave (12) + 1 step (4) + 3
    state = SimpleNamespace(octave=1, n_octaves=2, step=1, n_steps=3, tile=2,
                            n_tiles=4)  # fmt: skip
    assert Progress.units(state) == (12 + 4 + 3, 24)
    plain = SimpleNamespace(octave=1, n_octaves=2, step=1, n_steps=3)
    assert Progress.units(plain) == (5, 6)


def test_a_tiled_bar_says_where_in_the_step_and_counts_tiles_per_second():
    """Tiles within steps within octaves: the rate is in tiles (a 4-tile
    step at 1 s a tile is not 1 step/s) and the line names the step."""
    from types import SimpleNamespace

    clock, tty = Clock(), Tty()
    progress = Progress(tty, clock=clock)
    progress.inceptionism_dream_start(net=None, config=None, rgb=None)
    for octave, step, tile in [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3), (1, 1, 2)]:
        clock.t += 1.0
        state = SimpleNamespace(octave=octave, n_octaves=2, step=step, n_steps=3,
                                tile=tile, n_tiles=4, octave_tiles=(4, 4))  # fmt: skip
        progress._value = np.asarray(1.0)
        progress.inceptionism_tile_end(net=None, state=state)
    frames = tty.getvalue().split("\r")[1:]
    assert len(frames) == 4  # the last tile of a step is drawn at step end
    assert " 12%  3/24  octave 1/2  step 1/3  tile 3/4  value 1 " in frames[2]
    assert "1.00 tiles/s  ETA 0:21" in frames[2]
    assert "octave 2/2  step 2/3  tile 3/4" in frames[3]


def test_without_a_terminal_a_line_every_tenth_or_interval():
    clock, log = Clock(), io.StringIO()
    # forced (--progress): from the start; 20 steps of 1 s: each 10% is 2 steps
    drive(Progress(log, enabled=True, clock=clock, interval=60), clock, 2, 10)
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in log.getvalue()
    assert lines[0].startswith("dream:  10%  2/20  octave 1/2")
    assert lines[-1].startswith("dream: 100%  20/20  octave 2/2")
    # slow steps (30 s each, interval 5 s): a line after every step
    clock, log = Clock(), io.StringIO()
    drive(Progress(log, enabled=True, clock=clock), clock, 1, 50, seconds_per_step=30)
    assert len(log.getvalue().splitlines()) == 50


def test_without_a_terminal_short_jobs_are_silent_long_ones_show_life():
    clock, log = Clock(), io.StringIO()
    drive(Progress(log, clock=clock, interval=5), clock, 2, 10, seconds_per_step=0.1)
    assert log.getvalue() == ""  # 2 s in all
    clock, log = Clock(), io.StringIO()
    drive(Progress(log, clock=clock, interval=5), clock, 2, 10, seconds_per_step=1)
    lines = log.getvalue().splitlines()
    # silent for the first 5 s, then a line, then every 10% (2 steps)
    assert [ln.split()[1] for ln in lines] == ["25%", "30%", "40%", "50%", "60%",
                                              "70%", "80%", "90%", "100%"]  # fmt: skip


def test_quiet_writes_nothing_even_on_a_terminal():
    clock, tty = Clock(), Tty()
    drive(Progress(tty, enabled=False, clock=clock), clock)
    assert tty.getvalue() == ""


def test_cli_progress_and_quiet_flags(run, picture, tmp_path):
    steps = [*FAST[:2], "--octaves", "2", "--octave-scale", "1.2", "--steps", "3"]
    rc, _, err = run("dream", picture, "-o", tmp_path / "a.png", *steps, "--progress")
    assert rc == 0, err
    lines = err.splitlines()
    assert lines[-1].startswith("dream: 100%  6/6  octave 2/2")
    assert len(lines) == 6  # one per 10% mark crossed: every step of six
    rc, _, err = run("dream", picture, "-o", tmp_path / "b.png", *steps, "-q")
    assert rc == 0 and err == ""
    rc, _, err = run(
        "zoom", picture, "-o", tmp_path / "z", *steps, "--frames", "2", "--progress"
    )
    assert rc == 0, err
    assert err.splitlines()[-1].startswith("zoom: 100%  12/12  frame 2/2  octave 2/2")
    with pytest.raises(SystemExit):
        run("dream", picture, "--progress", "--quiet")


def test_too_many_octaves_is_one_warning(run, picture, tmp_path):
    rc, _, err = run(
        "dream", picture, "-o", tmp_path / "o.png", "--layer", "inception_3a/output",
        "--octaves", "1000", "--steps", "1", "--seed", "1", "-q",
    )  # fmt: skip
    assert rc == 0, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("inceptionism: warning: 995 of 1000 octaves skipped: ")
    assert "5 octaves give the same picture" in lines[0]


# -- help that answers -------------------------------------------------------


def _parsers():
    """Every parser of the CLI, by its prog name."""
    import argparse

    from inceptionism.engine.cli import build_parser

    todo, found = [build_parser()], {}
    while todo:
        parser = todo.pop()
        found[parser.prog] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return found


PARSERS = _parsers()


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_help_is_plain_text_with_defaults_and_examples(prog):
    from inceptionism.engine.cli import HelpFormatter

    parser = PARSERS[prog]
    text = parser.format_help()
    for markup in ("``", ":mod:`", ":func:`", ":class:`"):
        assert markup not in text, f"{prog}: {markup}"
    assert "examples:" in text
    examples = text.split("examples:", 1)[1].strip().splitlines()
    assert examples and all(ln.strip().startswith("inceptionism") for ln in examples)
    formatter = HelpFormatter(prog)
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.required:
            continue  # positionals, flags (off unless given), required options
        shown = formatter._get_help_string(action) % {"default": action.default}
        assert "default" in shown, f"{prog} {action.option_strings[0]}: {shown!r}"


def test_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.strip() == f"inceptionism {metadata.version('inceptionism')}"


# -- suggestions, directories, stdin and stdout ------------------------------


def test_module_prefix_suggests_its_output_first(googlenet):
    from inceptionism.engine.graph import Graph, UnknownBlobError

    graph = Graph(googlenet.graph)
    with pytest.raises(UnknownBlobError) as info:
        graph.resolve("inception_4c")
    hint = str(info.value).split("closest: ", 1)[1]
    assert hint.split(", ")[0] == "inception_4c/output"
    assert all(name.startswith("inception_4c/") for name in hint.split(", "))
    with pytest.raises(UnknownBlobError, match="closest: inception_4c/output"):
        graph.resolve("inception_4c/")
    # a typo still gets the similar names
    with pytest.raises(UnknownBlobError, match="closest: inception_4c/output"):
        graph.resolve("inception_4c/outptu")


def test_layer_prefix_through_the_cli(run, picture, tmp_path):
    rc, _, err = run("dream", picture, "-o", tmp_path / "o.png", "--layer",
                     "inception_4c", *FAST[2:])  # fmt: skip
    assert rc == 1
    assert "closest: inception_4c/output, " in err


def test_directory_input_is_named_as_such(run, tmp_path):
    from inceptionism.engine.image import ImageError, load_image

    with pytest.raises(ImageError, match="is a directory; give an image file"):
        load_image(tmp_path)
    # a folder is a batch (issue 12): one without pictures says so
    rc, _, err = run("dream", tmp_path, "-o", tmp_path / "o", *FAST)
    assert rc == 1
    assert err.strip() == (
        f"inceptionism: error: {tmp_path}: is a folder with no image files; give "
        "an image file, or a folder of them"
    )


class Stdin:
    """A piped stdin holding ``data``."""

    def __init__(self, data: bytes, tty: bool = False):
        self.buffer, self.tty = io.BytesIO(data), tty

    def isatty(self):
        return self.tty


def test_stdin_to_stdout(capsysbinary, monkeypatch, googlenet_h5, picture, tmp_path):
    def call(*argv):
        rc = main([str(a) for a in argv] + ["--weights", str(googlenet_h5)])
        out, err = capsysbinary.readouterr()
        return rc, out, err.decode()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", Stdin(picture.read_bytes()))
    rc, png, err = call("dream", "-", "-o", "-", *FAST)
    assert rc == 0, err
    assert png.startswith(b"\x89PNG\r\n\x1a\n")  # stdout holds the PNG, only it
    piped = tmp_path / "piped.png"
    piped.write_bytes(png)
    recipe = Recipe.read(piped)
    assert recipe.input == FileRef("<stdin>", FileRef.of(picture).sha1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "piped.png"]
    # the same dream from the file: the same pixels
    rc, out, err = call("dream", picture, "-o", tmp_path / "file.png", *FAST)
    assert rc == 0, err
    assert Image.open(piped).tobytes() == Image.open(tmp_path / "file.png").tobytes()
    # replay: the input must be given again, as IN or piped
    rc, _, err = call("dream", "--replay", piped, "-o", tmp_path / "again.png")
    assert rc == 1 and "<stdin>, which is missing; give the input as IN" in err
    monkeypatch.setattr("sys.stdin", Stdin(picture.read_bytes()))
    rc, _, err = call("dream", "--replay", piped, "-", "-o", tmp_path / "again.png")
    assert rc == 0, err
    assert Image.open(tmp_path / "again.png").tobytes() == Image.open(piped).tobytes()


@pytest.mark.parametrize(
    ("stdin", "argv", "match"),
    [
        (Stdin(b"", tty=True), ["dream", "-"], "IN is -, but stdin is a terminal"),
        (Stdin(b""), ["dream", "-"], "IN is -, but stdin is empty"),
        (Stdin(b"not an image"), ["dream", "-"], "<stdin>: not an image"),
        (None, ["zoom", "IMG", "-o", "-"], "give -o FOLDER, not -"),
        (None, ["dream", "IMG", "-o", "-", "--save-every", "1"], "give -o FILE"),
    ],
    ids=["tty", "empty", "garbage", "zoom", "save-every"],
)
def test_stdio_errors_are_one_line(run, monkeypatch, picture, stdin, argv, match):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", stdin)
    argv = [picture if a == "IMG" else a for a in argv]
    rc, out, err = run(*argv, *FAST)
    assert rc == 1 and out == ""
    assert len(err.splitlines()) == 1 and match in err, err


def test_png_is_not_sent_to_a_terminal(run, monkeypatch, picture, tmp_path):
    class TtyOut(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdout", TtyOut())
    rc, _, err = run("dream", picture, "-o", "-", *FAST)
    assert rc == 1 and "stdout is a terminal; redirect it" in err
    assert sys.stdout.getvalue() == ""


def test_classify_reads_stdin(capsys, monkeypatch, googlenet_h5, picture):
    monkeypatch.setattr("sys.stdin", Stdin(picture.read_bytes()))
    rc = main(["classify", "-", "--weights", str(googlenet_h5), "--top", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("-: top 2 of ")
