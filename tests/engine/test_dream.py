"""engine/dream.py against a straight transcription of google/deepdream's
``dream.ipynb`` (``make_step`` + ``deepdream``, NumPy + scipy.ndimage)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from scipy import ndimage as nd

from inceptionism.engine.dream import (
    DreamConfig,
    OctaveSkippedWarning,
    dream,
    octave_bases,
    zoom_frames,
)
from inceptionism.engine.net import Net
from inceptionism.engine.progress import ProgressBar, SaveEvery
from inceptionism.plugins import Prior, Regularizer, get_plugin_manager, hookimpl
from inceptionism.weights.model import Model
from inceptionism.weights.synthetic import synthetic_params
from tests.tolerances import tol

#: A small Caffe graph: conv(5x5) -> ReLU -> max pool -> LRN -> conv(3x3).
#: "conv2" needs an input of at least 9x9 pixels.
GRAPH = {
    "name": "tiny",
    "input": {"name": "data", "shape": [1, 3, 32, 32]},
    "layers": [
        {
            "name": "conv1",
            "type": "Convolution",
            "bottom": ["data"],
            "top": ["conv1"],
            "params": {"num_output": 6, "kernel_size": 5},
        },
        {
            "name": "relu1",
            "type": "ReLU",
            "bottom": ["conv1"],
            "top": ["conv1"],
            "params": {},
        },
        {
            "name": "pool1",
            "type": "Pooling",
            "bottom": ["conv1"],
            "top": ["pool1"],
            "params": {"pool": "MAX", "kernel_size": 3, "stride": 2},
        },
        {
            "name": "norm1",
            "type": "LRN",
            "bottom": ["pool1"],
            "top": ["norm1"],
            "params": {"local_size": 3, "alpha": 0.01, "beta": 0.75},
        },
        {
            "name": "conv2",
            "type": "Convolution",
            "bottom": ["norm1"],
            "top": ["conv2"],
            "params": {"num_output": 8, "kernel_size": 3},
        },
    ],
}
END = "conv2"


@pytest.fixture(scope="module")
def net():
    model = Model(
        name="tiny",
        graph=GRAPH,
        params=synthetic_params(GRAPH, seed=3),
        preprocess={
            "channel_order": "BGR",
            "mean": [104.0, 117.0, 123.0],
            "scale": 255.0,
        },
    )
    return Net(model, device="cpu")


@pytest.fixture(scope="module")
def pm():
    return get_plugin_manager(entry_points=False)


@pytest.fixture
def img():
    rng = np.random.default_rng(11)
    return rng.uniform(0, 255, size=(37, 45, 3)).astype(np.float32)


# -- the notebook, transcribed --------------------------------------------
# mode="nearest": inside the image the same order-1 interpolation as scipy's
# default; it only differs where scipy's float rounding puts the last
# align-corners sample a hair outside the image (see test_resample.py).


def notebook_deepdream(
    net, base_img, iter_n, octave_n, octave_scale, end, step_size=1.5, clip=True
):
    bias = np.asarray(net.mean).reshape(3, 1, 1)
    octaves = [net.preprocess(base_img)[0]]
    for _ in range(octave_n - 1):
        octaves.append(
            nd.zoom(
                octaves[-1],
                (1, 1.0 / octave_scale, 1.0 / octave_scale),
                order=1,
                mode="nearest",
            )
        )
    detail = np.zeros_like(octaves[-1])
    sizes = []
    for octave, octave_base in enumerate(octaves[::-1]):
        h, w = octave_base.shape[-2:]
        sizes.append((h, w))
        if octave > 0:
            h1, w1 = detail.shape[-2:]
            detail = nd.zoom(
                detail, (1, 1.0 * h / h1, 1.0 * w / w1), order=1, mode="nearest"
            )
        src = (octave_base + detail)[None]
        for _ in range(iter_n):  # make_step with jitter=0
            dst = net.forward(src, end=end)[end]
            g = net.backward({end: dst.copy()})  # objective_L2
            src = src + step_size / np.abs(g).mean() * g
            if clip:
                src = np.clip(src, -bias, 255 - bias)
        detail = src[0] - octave_base
    return net.deprocess(src), sizes


class SizeRecorder:
    def __init__(self):
        self.sizes, self.values, self.events = [], [], []

    @hookimpl
    def inceptionism_dream_start(self, net, config, rgb):
        self.events.append("start")

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        self.values.append(value)

    @hookimpl
    def inceptionism_octave_end(self, net, state, x):
        self.sizes.append(tuple(x.shape[-2:]))

    @hookimpl
    def inceptionism_dream_end(self, net, config, rgb):
        self.events.append("end")


@pytest.mark.parametrize(
    ("octaves", "scale", "steps", "clip"),
    [(3, 1.4, 3, True), (2, 1.7, 2, False), (1, 1.4, 4, True)],
    ids=["3oct-1.4", "2oct-1.7-noclip", "1oct"],
)
def test_matches_notebook(net, pm, img, octaves, scale, steps, clip):
    want, sizes = notebook_deepdream(net, img, steps, octaves, scale, END, clip=clip)
    rec = SizeRecorder()
    got = dream(
        net,
        img,
        f"deepdream:{END}",
        octaves=octaves,
        octave_scale=scale,
        steps=steps,
        jitter=0,
        clip=clip,
        seed=0,
        pm=pm,
        observers=[rec],
    )
    assert rec.sizes == sizes
    assert len(rec.values) == steps * octaves and rec.events == ["start", "end"]
    assert got.dtype == np.float32 and got.shape == img.shape
    assert np.abs(got - img).max() > 1.0  # it did dream
    np.testing.assert_allclose(got, want, **tol(np.float32))
    if clip:
        assert got.min() >= -1e-3 and got.max() <= 255 + 1e-3


@pytest.fixture(scope="module")
def googlenet():
    from inceptionism.weights.synthetic import synthetic_model

    return Net(synthetic_model("bvlc_googlenet", seed=0), device="cpu")


@pytest.mark.parametrize(
    "end", ["inception_3a/output", "conv2/3x3_reduce"], ids=["3a-output", "conv2-pre"]
)
def test_matches_notebook_on_synthetic_googlenet(googlenet, pm, end):
    rng = np.random.default_rng(5)
    img = rng.uniform(0, 255, size=(50, 62, 3)).astype(np.float32)
    want, sizes = notebook_deepdream(googlenet, img, 2, 3, 1.4, end)
    rec = SizeRecorder()
    got = dream(
        googlenet,
        img,
        f"deepdream:{end}",
        octaves=3,
        steps=2,
        jitter=0,
        pm=pm,
        observers=[rec],
    )
    assert rec.sizes == sizes
    assert np.abs(got - img).max() > 1.0
    np.testing.assert_allclose(got, want, **tol(np.float32))


def test_octave_bases_sizes(net, img):
    bases = octave_bases(net.preprocess(img), 5, 1.4)
    want = [img[..., 0]]
    for _ in range(4):
        want.append(nd.zoom(want[-1], 1 / 1.4, order=1))
    assert [b.shape[-2:] for b in bases] == [w.shape for w in want]


def test_seed_reproduces_and_differs(net, pm, img):
    kw = {"objective": END, "octaves": 2, "steps": 2, "jitter": 4, "pm": pm}
    kw["objective"] = f"deepdream:{END}"
    a = dream(net, img, seed=5, **kw)
    b = dream(net, img, seed=5, **kw)
    c = dream(net, img, seed=6, **kw)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_jitter_draws_from_the_one_generator(net, pm, img):
    # the notebook's draw: two integers in [-N, N] per step from one stream
    rng = np.random.default_rng(9)
    dream(net, img, f"deepdream:{END}", octaves=1, steps=3, jitter=4, pm=pm, rng=rng)
    ref = np.random.default_rng(9)
    for _ in range(3):
        ref.integers(-4, 5, 2)
    assert rng.integers(0, 2**31) == ref.integers(0, 2**31)


def test_small_octaves_skipped_with_warning(net, pm):
    # 20x24 -> 14x17 -> 10x12 -> 7x9; conv2 needs 9x9
    img = np.full((20, 24, 3), 128.0, np.float32)
    img[5:12, 3:9] = 30.0
    rec = SizeRecorder()
    match = r"1 of 4 octaves skipped: octave 4 of 4 \(7x9\) is too small"
    with pytest.warns(OctaveSkippedWarning, match=match) as w:
        dream(
            net,
            img,
            f"deepdream:{END}",
            octaves=4,
            octave_scale=1.4,
            steps=1,
            jitter=0,
            pm=pm,
            observers=[rec],
        )
    assert len(w) == 1
    assert rec.sizes == [(10, 12), (14, 17), (20, 24)]


def test_too_small_image_is_an_error(net, pm):
    with pytest.raises(ValueError, match=r"too small for the objective.*shallower"):
        dream(net, np.zeros((6, 40, 3), np.float32), f"deepdream:{END}", pm=pm)


def test_unknown_layer_suggests(net, pm, img):
    with pytest.raises(ValueError, match="conv2"):
        dream(net, img, "deepdream:conv3", pm=pm, steps=1)


def test_zero_gradient_is_no_update(net, pm, img):
    class Nothing(Prior):
        def grad(self, g, state):
            return g * 0

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = dream(
            net,
            img,
            f"deepdream:{END}",
            octaves=1,
            steps=2,
            jitter=0,
            clip=False,
            priors=[Nothing()],
            pm=pm,
        )
    np.testing.assert_allclose(out, img, atol=1e-4)


def test_regularizer_gradient_is_subtracted(net, pm, img):
    class Pull(Regularizer):
        """value 0, gradient a constant field: pushes every pixel down."""

        weight = 2.0

        def __call__(self, x):
            return 0.0, x * 0 + 1.0

    class Kill(Prior):  # drop the objective's gradient, keep the regularizer's
        def __init__(self):
            self.calls = []

        def grad(self, g, state):
            self.calls.append(float(g.mean()))
            return g

    from inceptionism.plugins.base import Objective

    class Zero(Objective):
        def __init__(self):
            super().__init__((END,))

        def __call__(self, blobs):
            return 0.0, {END: blobs[END] * 0}

    kill = Kill()
    out = dream(
        net,
        img,
        Zero(),
        octaves=1,
        steps=1,
        jitter=0,
        clip=False,
        step_size=1.5,
        regularizers=[Pull()],
        priors=[kill],
        pm=pm,
    )
    assert kill.calls == [-2.0]  # g = 0 - weight * 1
    np.testing.assert_allclose(out, img - 1.5, **tol(np.float32))


def test_config_round_trip_and_validation():
    c = DreamConfig(octaves=2, seed=3, priors=("smooth:1",))
    assert DreamConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="octaves must be >= 1"):
        DreamConfig(octaves=0)
    with pytest.raises(ValueError, match="unknown dream parameters: bogus"):
        DreamConfig.from_dict({"bogus": 1})


def test_zoom_frames(net, pm, img):
    cfg = DreamConfig(
        objective=f"deepdream:{END}", octaves=1, steps=1, jitter=2, seed=1
    )
    frames = list(zoom_frames(net, img, frames=3, config=cfg, pm=pm))
    again = list(zoom_frames(net, img, frames=3, config=cfg, pm=pm))
    assert len(frames) == 3 and all(f.shape == img.shape for f in frames)
    for a, b in zip(frames, again):
        np.testing.assert_array_equal(a, b)


def test_progress_bar_and_save_every(net, pm, img, tmp_path):
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    saved = []
    saver = SaveEvery(2, tmp_path, "f", lambda p, rgb: saved.append(p.name))
    dream(
        net,
        img,
        f"deepdream:{END}",
        octaves=2,
        steps=3,
        jitter=0,
        pm=pm,
        observers=[ProgressBar(tty), ProgressBar(pipe), saver],
    )
    assert pipe.getvalue() == ""
    text = tty.getvalue()
    # one bar over the whole dream (2 octaves x 3 steps), ended once
    assert "octave 2/2" in text and " 6/6 " in text and text.count("\n") == 1
    assert saved == ["f-o0-s001.png", "f-o0-s002.png", "f-o1-s001.png", "f-o1-s002.png"]


class HostCount(np.ndarray):
    """A 0-d value that counts every way of turning it into a host number.

    Arithmetic keeps the subclass (NumPy ufuncs return the subclass of an
    input), so the count follows the value through sums and differences.
    """

    count = 0

    def _host(self):
        HostCount.count += 1
        return self.view(np.ndarray)

    def __float__(self):
        return float(self._host())

    def __int__(self):
        return int(self._host())

    def __bool__(self):
        return bool(self._host())

    def __format__(self, spec):
        return format(self._host(), spec)

    def __repr__(self):
        return repr(self._host())

    __str__ = __repr__

    def item(self, *args):
        return self._host().item(*args)

    def tolist(self):
        return self._host().tolist()


class Recorder:
    def __init__(self):
        self.values = []

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        self.values.append((type(value), value.view(np.ndarray).copy()))


def test_step_values_stay_on_the_device_unless_observed(net, pm, img):
    from inceptionism.plugins.objectives import DeepDream
    from inceptionism.plugins.regularizers import L2Decay

    class CountedDeepDream(DeepDream):
        def __call__(self, blobs):
            value, grads = super().__call__(blobs)
            return value.view(HostCount), grads

    class CountedL2(L2Decay):
        def __call__(self, x):
            value, g = super().__call__(x)
            return value.view(HostCount), g

    class Tty(io.StringIO):
        def isatty(self):
            return True

    def run(*observers):
        HostCount.count = 0
        dream(
            net,
            img,
            CountedDeepDream(END),
            octaves=2,
            steps=3,
            jitter=0,
            regularizers=[CountedL2(1e-3)],
            pm=pm,
            observers=observers,
        )
        return HostCount.count

    # nobody listens, or only a bar with nowhere to draw: never converted
    assert run() == 0
    assert run(ProgressBar(io.StringIO())) == 0
    # a value reaches the hook as a 0-d array (the subclass survived the loop)
    rec = Recorder()
    assert run(rec) == 0
    assert len(rec.values) == 6
    assert all(t is HostCount and v.shape == () for t, v in rec.values)
    # ... that is the objective minus the weighted penalty (octave 0, step 0)
    x0 = octave_bases(net.preprocess(img), 2, 1.4)[-1]
    a = net.forward(x0, end=END)[END]
    want = 0.5 * np.sum(a * a) - 1e-3 * 0.5 * np.sum(x0 * x0)
    np.testing.assert_allclose(rec.values[0][1], want, **tol(np.float32))
    # a bar that draws turns it into a number exactly once per step
    tty = Tty()
    assert run(ProgressBar(tty)) == 6
    assert f"value {float(rec.values[-1][1]):.3g}" in tty.getvalue()
