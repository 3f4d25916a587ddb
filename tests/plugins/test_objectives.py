"""Built-in objectives: values and gradients against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.plugins.base import Objective, Sum
from inceptionism.plugins.objectives import (
    DEFAULT_LAYER,
    Balanced,
    Channel,
    ClassLogit,
    DeepDream,
    Guide,
    Neuron,
    balanced,
    layers,
)
from tests.gradcheck import numerical_grad
from tests.tolerances import tol

L1, L2 = "inception_3b/output", "inception_4c/output"


def numeric_grads(obj: Objective, blobs: dict, eps: float) -> dict:
    """Central differences of ``obj``'s value at every element of every blob.

    The built-ins are linear, quadratic or piecewise linear in each blob, so
    central differences carry no truncation error inside a linear piece; the
    step only trades rounding error against crossing a piece boundary.
    """
    return {
        name: numerical_grad(
            lambda a, name=name: obj({**blobs, name: a})[0], blobs[name], None, eps
        )
        for name in obj.layers
    }


def check_grads(obj, blobs, eps=1.0):
    value, grads = obj(blobs)
    # on the blobs' device (here the host), never a Python float: no sync
    assert type(value) is np.ndarray and value.shape == ()
    assert set(grads) == set(obj.layers)
    for name, g in grads.items():
        assert g.shape == blobs[name].shape and g.dtype == blobs[name].dtype
    num = numeric_grads(obj, blobs, eps)
    for name in obj.layers:
        np.testing.assert_allclose(grads[name], num[name], **tol(np.float64))
    return value, grads


@pytest.fixture
def blobs(rng):
    return {
        L1: rng.standard_normal((1, 4, 3, 5)),
        L2: rng.standard_normal((1, 6, 4, 3)),
        "fc": rng.standard_normal((1, 7)),
    }


# -- single objectives ---------------------------------------------------------
def test_deepdream_is_the_notebooks_objective_L2(blobs):
    obj = DeepDream(L1)
    value, grads = check_grads(obj, blobs)
    a = blobs[L1]
    assert value == pytest.approx(0.5 * np.sum(a * a), rel=1e-12)
    np.testing.assert_array_equal(grads[L1], a)  # dst.diff[:] = dst.data
    assert grads[L1] is not a  # a seed the backward pass may overwrite
    assert DeepDream().layers == (DEFAULT_LAYER,) == ("inception_4c/output",)


@pytest.mark.parametrize("c", [0, 3], ids=["first", "last"])
def test_channel_is_a_channel_mean(blobs, c):
    value, grads = check_grads(Channel(L1, str(c)), blobs)
    assert value == pytest.approx(blobs[L1][:, c].mean(), rel=1e-12)
    others = np.delete(grads[L1], c, axis=1)
    assert not others.any()


@pytest.mark.parametrize(
    "args, where",
    [
        ((L2, "5"), (0, 5, 2, 1)),
        ((L2, "1", "3", "0"), (0, 1, 3, 0)),
        (("fc", "6"), (0, 6)),
    ],
    ids=["centre", "explicit", "fully-connected"],
)
def test_neuron_reads_one_unit(blobs, args, where):
    obj = Neuron(*args)
    value, grads = check_grads(obj, blobs)
    a = blobs[obj.layers[0]]
    assert value == a[where]
    expected = np.zeros_like(a)
    expected[where] = 1.0
    np.testing.assert_array_equal(grads[obj.layers[0]], expected)


@pytest.mark.parametrize(
    "obj, blob_error",
    [
        (Channel(L1, 4), "channel 4 is out of range.*0..3"),
        (Neuron(L2, 0, 4, 0), "row 4 is out of range"),
        (Neuron("fc", 1, 0, 0), "no spatial axes"),
        (DeepDream("nosuch"), "'nosuch'.*did not return"),
    ],
    ids=["channel", "row", "fc-position", "missing-blob"],
)
def test_bad_indices_name_the_problem(blobs, obj, blob_error):
    with pytest.raises((ValueError, KeyError), match=blob_error):
        obj(blobs)


def test_constructor_errors():
    with pytest.raises(ValueError, match="channel must be an integer, got 'x'"):
        Channel(L1, "x")
    with pytest.raises(ValueError, match="both Y and X"):
        Neuron(L1, 0, 1)
    with pytest.raises(ValueError, match="guide needs an image"):
        Guide(L1)


# -- guide -----------------------------------------------------------------------
def guide_reference(x, y):
    """The notebook's objective_guide, position by position."""
    c = x.shape[1]
    xf, yf = x[0].reshape(c, -1), y.reshape(c, -1)
    grad = np.empty_like(xf)
    value = 0.0
    for i in range(xf.shape[1]):
        dots = xf[:, i] @ yf
        grad[:, i] = yf[:, dots.argmax()]
        value += dots.max()
    return value, grad.reshape(x.shape)


def test_guide_matches_the_notebook_and_finite_differences(rng):
    # Multiples of 1/8 and a step of 2^-10 keep every sum exact in float64, so
    # the differences carry no rounding error; dot products are then
    # multiples of 1/64, so a step (moving one by at most eps * max|y|) cannot
    # switch an argmax unless two tie, which the guard excludes.
    x = rng.integers(-16, 17, (1, 4, 3, 5)) / 8
    y = rng.integers(-16, 17, (1, 4, 2, 6)) / 8  # another size than x's
    dots = np.sort(x[0].reshape(4, -1).T @ y.reshape(4, -1), axis=1)
    eps = 2.0**-10
    assert (dots[:, -1] - dots[:, -2]).min() > 2 * eps * np.abs(y).max()
    obj = Guide.from_features(L1, y)
    blobs = {L1: x}
    value, grads = check_grads(obj, blobs, eps=eps)
    ref_value, ref_grad = guide_reference(x, y)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_array_equal(grads[L1], ref_grad)


def test_guide_features_in_other_layouts(blobs, rng):
    y = rng.standard_normal((4, 2, 6))
    a = Guide.from_features(L1, y)(blobs)
    b = Guide.from_features(L1, y.reshape(4, 12))(blobs)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1][L1], b[1][L1])
    with pytest.raises(ValueError, match="5 channels but 'inception_3b/output' has 4"):
        Guide.from_features(L1, rng.standard_normal((5, 3)))(blobs)


class FakeNet:
    """Just enough of ``Net`` for ``bind``: preprocess, forward, params, xp."""

    xp = np

    def __init__(self, params=None):
        self.params = params or {}
        self.seen = None

    def preprocess(self, rgb):
        return rgb[None].transpose(0, 3, 1, 2)[:, ::-1] - 100.0

    def forward(self, x, end):
        self.seen = x
        return {end: x[:, :2] * 0.5}


def test_guide_bind_runs_the_guide_image_forward(tmp_path, rng):
    from PIL import Image

    from inceptionism.engine.image import load_image

    pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "guide-image.png"
    Image.fromarray(pixels).save(path)
    net = FakeNet()
    obj = Guide("data", str(path))
    obj.bind(net)
    expected = net.preprocess(load_image(path))[:, :2] * 0.5
    np.testing.assert_array_equal(obj.features, expected)
    blob = rng.standard_normal((1, 2, 3, 3))
    value, grads = obj({"data": blob})
    assert value == pytest.approx(guide_reference(blob, expected)[0], rel=1e-12)


def test_guide_needs_bind_or_features(blobs):
    obj = Guide(L1, "x.png")
    with pytest.raises(RuntimeError, match="before bind"):
        obj(blobs)


# -- class logit -----------------------------------------------------------------
POOL, FC = "pool5/7x7_s1", "loss3/classifier"


@pytest.fixture
def classifier(rng):
    w, b = rng.standard_normal((10, 6)), rng.standard_normal(10)
    return FakeNet({FC: {"weight": w, "bias": b}}), w, b


def test_class_logit_at_1x1_is_the_inner_product(classifier, rng):
    net, w, b = classifier
    obj = ClassLogit("7")
    obj.bind(net)
    p = rng.standard_normal((1, 6, 1, 1))
    value, _ = check_grads(obj, {POOL: p})
    assert value == pytest.approx((w @ p.reshape(6) + b)[7], rel=1e-12)


def test_class_logit_on_a_larger_map_averages_the_logit_map(classifier, rng):
    net, w, b = classifier
    obj = ClassLogit(2)
    obj.bind(net)
    p = rng.standard_normal((1, 6, 3, 4))
    value, grads = check_grads(obj, {POOL: p})
    per_position = np.einsum("c,chw->hw", w[2], p[0]) + b[2]
    assert value == pytest.approx(per_position.mean(), rel=1e-12)
    np.testing.assert_allclose(grads[POOL][0, :, 1, 2], w[2] / 12, **tol(np.float64))


def test_class_logit_errors(classifier, rng):
    net, _, _ = classifier
    with pytest.raises(ValueError, match="class index 10 is out of range"):
        ClassLogit(10).bind(net)
    with pytest.raises(ValueError, match="no layer 'fc8'.*CLASSIFIER:FEATURES"):
        ClassLogit(1, "fc8").bind(net)
    with pytest.raises(RuntimeError, match="before bind"):
        ClassLogit(1)({POOL: rng.standard_normal((1, 6, 1, 1))})
    obj = ClassLogit(1)
    obj.bind(net)
    with pytest.raises(ValueError, match="takes 6 inputs.*has 5 channels"):
        obj({POOL: rng.standard_normal((1, 5, 1, 1))})


# -- composition -----------------------------------------------------------------
def test_composition_values_and_gradients(blobs):
    a, b, c = DeepDream(L1), Channel(L2, 2), Neuron(L1, 1)
    va, ga = a(blobs)
    vb, gb = b(blobs)
    vc, gc = c(blobs)
    cases = {
        "a+b": (a + b, va + vb, {L1: ga[L1], L2: gb[L2]}),
        "a-c": (a - c, va - vc, {L1: ga[L1] - gc[L1]}),
        "2.5*b": (2.5 * b, 2.5 * vb, {L2: 2.5 * gb[L2]}),
        "b*-1": (b * -1, -vb, {L2: -gb[L2]}),
        "-a": (-a, -va, {L1: -ga[L1]}),
        "sum": (sum([a, b, c]), va + vb + vc, {L1: ga[L1] + gc[L1], L2: gb[L2]}),
        "nested": (
            a + 2.0 * (b - 0.5 * c),
            va + 2 * vb - vc,
            {L1: ga[L1] - gc[L1], L2: 2 * gb[L2]},
        ),
    }
    for label, (obj, value, grads) in cases.items():
        assert isinstance(obj, Objective), label
        got_value, got = check_grads(obj, blobs)
        assert got_value == pytest.approx(value, rel=1e-12), label
        assert set(got) == set(grads), label
        for name in grads:
            np.testing.assert_allclose(got[name], grads[name], **tol(np.float64))


def test_nested_sums_flatten_and_read_each_blob_once():
    a, b, c = DeepDream(L1), DeepDream(L2), Channel(L1, 0)
    obj = a + 2.0 * (b - c)
    assert isinstance(obj, Sum)
    assert obj.terms == (a, b, c) and obj.weights == (1.0, 2.0, -2.0)
    assert obj.layers == (L1, L2)


def test_composition_refuses_non_numbers():
    with pytest.raises(TypeError):
        DeepDream() * "2"
    with pytest.raises(TypeError):
        DeepDream() + 1


# -- unit-norm balancing ---------------------------------------------------------
def test_balanced_linear_terms_match_finite_differences(blobs):
    # Linear terms have constant gradients, so the held-constant norms are
    # exact and the whole objective is checkable by finite differences.
    obj = balanced([Channel(L1, 1), Neuron(L2, 3)], weights=[1.0, 3.0])
    value, grads = check_grads(obj, blobs)
    n1 = 1 / np.sqrt(blobs[L1][:, 1].size)  # norm of the channel gradient
    expected = blobs[L1][:, 1].mean() / n1 + 3.0 * blobs[L2][0, 3, 2, 1]
    assert value == pytest.approx(expected, rel=1e-12)


def test_layers_spec_gives_each_layer_a_unit_gradient(blobs):
    blobs[L2] = blobs[L2] * 100  # a much louder layer
    obj = layers(f"{L1},{L2}")
    assert isinstance(obj, Balanced) and obj.layers == (L1, L2)
    value, grads = obj(blobs)
    for name in (L1, L2):
        a = blobs[name]
        assert np.linalg.norm(grads[name]) == pytest.approx(1.0, rel=1e-12)
        np.testing.assert_allclose(grads[name], a / np.linalg.norm(a), **tol(a.dtype))
    # value: each 1/2 |a|^2 divided by its own gradient norm |a|
    expected = sum(0.5 * np.linalg.norm(blobs[n]) for n in (L1, L2))
    assert value == pytest.approx(expected, rel=1e-12)


def test_balanced_survives_a_zero_gradient(blobs):
    zero = {**blobs, L1: np.zeros_like(blobs[L1])}
    value, grads = balanced([DeepDream(L1)])(zero)
    assert value == 0.0 and not grads[L1].any()
    with pytest.raises(ValueError, match="at least one"):
        balanced([])


def test_class_logit_is_the_networks_own_logit_at_224():
    """Net surgery on a real (synthetic-weight) GoogLeNet: at 224x224 the
    1x1-convolution logit equals ``loss3/classifier`` and seeds the same
    image gradient as a one-hot seed there."""
    from inceptionism.engine.net import Net
    from inceptionism.weights.synthetic import synthetic_model

    net = Net(synthetic_model("bvlc_googlenet", seed=0))
    rgb = np.random.default_rng(1).uniform(0, 255, (224, 224, 3)).astype(np.float32)
    x = net.preprocess(rgb)
    blobs = net.forward(x, end=[FC, POOL])
    obj = ClassLogit(5)
    obj.bind(net)
    value, grads = obj(blobs)
    assert value == pytest.approx(float(blobs[FC][0, 5]), rel=tol(np.float32)["rtol"])
    seed = np.zeros_like(blobs[FC])
    seed[0, 5] = 1.0
    via_classifier = net.backward({FC: seed})
    net.forward(x, end=[POOL])
    np.testing.assert_allclose(net.backward(grads), via_classifier, **tol(np.float32))


def test_a_balanced_term_stays_one_term_inside_a_sum(rng):
    from inceptionism.plugins.base import Sum
    from inceptionism.plugins.objectives import DeepDream, balanced

    a, b = DeepDream("x"), DeepDream("y")
    bal = balanced([a, b])
    total = bal + 2.0 * a
    assert type(total) is Sum and total.terms == (bal, a)
    blobs = {"x": rng.standard_normal((1, 2, 3, 3)), "y": rng.standard_normal((1, 4))}
    v_bal, g_bal = bal(blobs)
    v, g = total(blobs)
    assert v == pytest.approx(v_bal + 2.0 * a(blobs)[0])
    np.testing.assert_allclose(g["x"], g_bal["x"] + 2.0 * blobs["x"])
    np.testing.assert_allclose(np.linalg.norm(g_bal["y"]), 1.0)
