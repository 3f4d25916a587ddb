"""engine/net.py: shapes, sub-graph forward, Caffe names, partial backward."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inceptionism.engine import Net, UnknownBlobError
from inceptionism.kernels import conv
from tests.engine.googlenet_checks import (
    assert_blobs_close,
    assert_grad32_close,
    rel_err,
)
from tests.engine.test_graph import small_model
from tests.gradcheck import numerical_grad
from tests.tolerances import tol

#: GoogLeNet table 1 (Szegedy et al. 2014), written out again here so that
#: the expected shapes do not come from the code under test:
#: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj).
WIDTHS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def conv_size(n, k, s=1, p=0):
    return (n + 2 * p - k) // s + 1


def pool_size(n, k, s=1, p=0):
    out = math.ceil((n + 2 * p - k) / s) + 1
    return out - 1 if p > 0 and (out - 1) * s >= n + p else out


def expected_googlenet(h, w) -> dict:
    """(C, H, W) of every target of BVLC GoogLeNet's deploy net, from the
    output-size formulas of Caffe's conv_layer.cpp / pooling_layer.cpp."""
    e = {"data": (3, h, w)}

    def put(names, c, hw):
        for n in names:
            e[n] = (c, *hw)

    hw = (conv_size(h, 7, 2, 3), conv_size(w, 7, 2, 3))
    put(["conv1/7x7_s2", "conv1/relu_7x7"], 64, hw)
    hw = tuple(pool_size(n, 3, 2) for n in hw)
    put(["pool1/3x3_s2", "pool1/norm1"], 64, hw)
    put(["conv2/3x3_reduce", "conv2/relu_3x3_reduce"], 64, hw)
    put(["conv2/3x3", "conv2/relu_3x3", "conv2/norm2"], 192, hw)
    hw = tuple(pool_size(n, 3, 2) for n in hw)
    put(["pool2/3x3_s2"], 192, hw)
    for m, (n1, n3r, n3, n5r, n5, pp) in WIDTHS.items():
        p = f"inception_{m}/"
        put([p + "1x1", p + "relu_1x1"], n1, hw)
        put([p + "3x3_reduce", p + "relu_3x3_reduce"], n3r, hw)
        put([p + "3x3", p + "relu_3x3"], n3, hw)
        put([p + "5x5_reduce", p + "relu_5x5_reduce"], n5r, hw)
        put([p + "5x5", p + "relu_5x5"], n5, hw)
        put([p + "pool"], _in_c(e, m), hw)
        put([p + "pool_proj", p + "relu_pool_proj"], pp, hw)
        put([p + "output"], n1 + n3 + n5 + pp, hw)
        if m in ("3b", "4e"):
            hw = tuple(pool_size(n, 3, 2) for n in hw)
            put([f"pool{3 if m == '3b' else 4}/3x3_s2"], n1 + n3 + n5 + pp, hw)
    if min(hw) >= 7:
        hw = tuple(pool_size(n, 7) for n in hw)
        put(["pool5/7x7_s1", "pool5/drop_7x7_s1"], 1024, hw)
        if hw == (1, 1):  # the classifier's weights take 1024 inputs
            e["loss3/classifier"] = e["prob"] = (1000,)
    return e


def _in_c(e, module):
    """Channels entering an inception module (its max-pool branch keeps them)."""
    order = list(WIDTHS)
    i = order.index(module)
    if i == 0:
        return e["pool2/3x3_s2"][0]
    return sum(WIDTHS[order[i - 1]][j] for j in (0, 2, 4, 5))


@pytest.fixture(scope="module")
def net32(googlenet):
    return Net(googlenet)


@pytest.fixture(scope="module")
def small():
    return Net(small_model(), dtype=np.float64)


# -- shapes ------------------------------------------------------------------


def test_googlenet_224_as_caffe(net32):
    s = net32.shapes((224, 224))
    assert s["conv1/7x7_s2"][2:] == (112, 112)
    assert s["pool1/3x3_s2"][2:] == (56, 56)  # floor would give 55
    assert s["pool2/3x3_s2"][2:] == (28, 28)
    assert s["pool3/3x3_s2"][2:] == (14, 14)
    assert s["pool4/3x3_s2"][2:] == (7, 7)
    assert s["pool5/7x7_s1"][2:] == (1, 1)
    assert s["inception_4c/output"] == (1, 512, 14, 14)
    assert s["prob"] == (1, 1000)
    # Caffe's deploy net.blobs: 85 distinct tops counting "data" (ReLU and
    # Dropout write in place). Our targets are the input and every one of
    # the 142 layers: 143 names.
    assert net32.graph.blob_count() == 85
    assert len(net32.blob_names) == 143 == len(s)


@pytest.mark.parametrize("hw", [(224, 224), (227, 301), (97, 131)], ids=str)
def test_googlenet_shapes_match_formulas(net32, hw):
    problems = {}
    got = {k: v[1:] for k, v in net32.shapes(hw, problems).items()}
    want = expected_googlenet(*hw)
    assert got == {k: (v[0],) if len(v) == 1 else v for k, v in want.items()}
    if min(want["pool4/3x3_s2"][1:]) < 7:  # 97x131: pool4 is 3x4
        assert list(problems) == ["pool5/7x7_s1"]
    elif want["pool5/7x7_s1"][1:] != (1, 1):  # 227x301: pool5 is 1x3
        assert list(problems) == ["loss3/classifier"]
        assert (
            "takes its training picture size (224x224)" in problems["loss3/classifier"]
        )


def test_shapes_agree_with_forward(net32, rng):
    x = net32.xp.asarray(rng.standard_normal((1, 3, 97, 131)), dtype=np.float32)
    blobs = net32.forward(x, end="inception_5b/output", keep=False)
    shapes = net32.shapes((97, 131))
    assert {k: tuple(v.shape) for k, v in blobs.items()} == {
        k: v for k, v in shapes.items() if k in blobs
    }
    assert len(blobs) == len(shapes) == 139


# -- forward: sub-graph and names --------------------------------------------


def test_forward_runs_only_the_needed_layers(net32, rng, monkeypatch):
    ran = []
    real = conv.forward

    def spy(xs, params, weights=()):
        ran.append(params.num_output)
        return real(xs, params, weights)

    monkeypatch.setattr(conv, "forward", spy)
    x = net32.xp.asarray(rng.standard_normal((1, 3, 67, 67)), dtype=np.float32)
    blobs = net32.forward(x, end="inception_3b/5x5_reduce")
    assert not any(k.startswith(("inception_4", "inception_5", "pool3")) for k in blobs)
    assert "inception_3b/relu_5x5_reduce" not in blobs
    assert "inception_3b/3x3" not in blobs and "inception_3a/output" in blobs
    # conv1, conv2 x2; 3a's 1x1, 3x3_reduce and 5x5_reduce (64 + 96 + 16
    # filters, one input) as one, its 3x3, 5x5 and pool_proj; 3b's
    # 5x5_reduce alone (its siblings are not needed)
    assert ran == [64, 64, 192, 176, 128, 32, 32, 32]
    assert set(net32._ctx) == set(blobs) - {"data"}
    ran.clear()
    Net(net32.model, merge_siblings=False).forward(x, end="inception_3b/5x5_reduce")
    assert ran == [64, 64, 192, 64, 96, 128, 16, 32, 32, 32]


def test_pre_and_post_relu_names(net32, rng):
    x = net32.xp.asarray(rng.standard_normal((1, 3, 67, 67)) * 60, dtype=np.float32)
    b = net32.forward(x, end=["inception_3b/relu_5x5_reduce", "conv1/relu_7x7"])
    for pre, post in [
        ("inception_3b/5x5_reduce", "inception_3b/relu_5x5_reduce"),
        ("conv1/7x7_s2", "conv1/relu_7x7"),
    ]:
        assert (b[pre] < 0).any(), "pre-ReLU value was overwritten in place"
        np.testing.assert_array_equal(b[post], np.maximum(b[pre], 0))
    # the pool after conv1 reads the post-ReLU blob
    assert b["pool1/3x3_s2"].min() >= 0


def test_multi_end_equals_single_ends(small, rng):
    x = rng.standard_normal((1, 3, 9, 11))
    both = small.forward(x, end=["b1", "relu_b2"])
    assert set(both) == {"data", "conv_a", "relu_a", "pool_a", "norm_a"} | {
        "b1",
        "b2",
        "relu_b2",
    }
    one = small.forward(x, end="relu_b2")
    np.testing.assert_array_equal(both["relu_b2"], one["relu_b2"])
    np.testing.assert_array_equal(both["b1"], small.forward(x, end="b1")["b1"])
    assert len(small.forward(x)) == 14  # end=None: the whole net


def test_unknown_name_lists_close_names(net32, rng):
    x = net32.xp.asarray(rng.standard_normal((1, 3, 67, 67)), dtype=np.float32)
    with pytest.raises(UnknownBlobError, match="inception_4c/output") as info:
        net32.forward(x, end="inception_4c/ouput")
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError, match="inception_3b/5x5_reduce"):
        net32.forward(x, end=["conv1/7x7_s2", "inception_3b/5x5reduce"])


def test_bad_inputs(small, rng):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        small.forward(rng.standard_normal((3, 9, 11)))
    with pytest.raises(ValueError, match="dtype float32 differs"):
        small.forward(rng.standard_normal((1, 3, 9, 11)).astype(np.float32))
    with pytest.raises(ValueError, match="layer 'fc'"):  # fc sized for 9x11
        small.forward(rng.standard_normal((1, 3, 4, 4)), end="fc")


def test_empty_blob_names_the_layer(net32, rng):
    x = net32.xp.asarray(rng.standard_normal((1, 3, 67, 67)), dtype=np.float32)
    with pytest.raises(ValueError, match="layer 'pool5/7x7_s1'.*larger image"):
        net32.forward(x, end="prob")


def test_missing_weight_names_the_layer():
    model = small_model()
    del model.params["b2"]
    with pytest.raises(ValueError, match="layer 'b2'"):
        Net(model)


# -- backward ----------------------------------------------------------------

SEEDS = ["norm_a", "cat", "relu_b2", "prob", "conv_a"]


def _loss_and_seeds(net, x, names, rng):
    blobs = net.forward(x, end=names)
    seeds = {n: rng.standard_normal(blobs[n].shape) for n in names}
    return seeds, blobs


@pytest.mark.parametrize("names", [[n] for n in SEEDS] + [SEEDS], ids=str)
def test_backward_matches_finite_differences(small, rng, names):
    """dL/dx for L = sum_b <seed_b, blob_b> against central differences in
    float64, every input element (297 of them)."""
    x = rng.standard_normal((1, 3, 9, 11))
    seeds, _ = _loss_and_seeds(small, x, names, rng)
    dx = small.backward(seeds)

    def loss(xv):
        b = small.forward(xv, end=names, keep=False)
        return sum(float((b[n] * seeds[n]).sum()) for n in names)

    fd = numerical_grad(loss, x, None, eps=1e-6)  # 2 x 297 toy-net forwards
    # central differences: truncation O(eps^2) ~ 1e-12, rounding
    # ~ 1e-16 * |L| / eps ~ 1e-10; inputs are random, so no ReLU/max kink is
    # within eps of any pre-activation (probability ~ 1e-5).
    np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())


def test_backward_with_two_seeds_is_the_sum(small, rng):
    x = rng.standard_normal((1, 3, 9, 11))
    # norm_a feeds cat (through three branches): a seed feeding a seed
    seeds, _ = _loss_and_seeds(small, x, ["norm_a", "cat"], rng)
    both = small.backward(seeds)
    a = small.backward({"norm_a": seeds["norm_a"]})
    b = small.backward({"cat": seeds["cat"]})
    np.testing.assert_allclose(both, a + b, **tol(np.float64))
    assert not np.allclose(a, 0) and not np.allclose(b, 0)


def test_backward_leaves_seeds_and_blobs_alone(small, rng):
    x = rng.standard_normal((1, 3, 9, 11))
    seeds, blobs = _loss_and_seeds(small, x, ["relu_b1", "b1", "cat"], rng)
    before = {k: v.copy() for k, v in seeds.items()}
    kept = {k: v.copy() for k, v in blobs.items()}
    small.backward(seeds)
    small.backward(seeds)
    for k in seeds:
        np.testing.assert_array_equal(seeds[k], before[k])
    for k in blobs:
        np.testing.assert_array_equal(blobs[k], kept[k])


def test_seed_validation(small, rng):
    x = rng.standard_normal((1, 3, 9, 11))
    small.forward(x, end="b1")
    with pytest.raises(ValueError, match=r"'b1'.*\(1, 3, 4, 4\).*\(1, 3, 5, 6\)"):
        small.backward({"b1": np.zeros((1, 3, 4, 4))})
    with pytest.raises(ValueError, match="'cat'.*not computed by the last forward"):
        small.backward({"cat": np.zeros((1, 9, 5, 6))})
    with pytest.raises(KeyError, match="closest: b1"):
        small.backward({"b1x": np.zeros((1, 3, 5, 6))})
    with pytest.raises(ValueError, match="at least one seed"):
        small.backward({})
    small.forward(x, end="b1", keep=False)
    with pytest.raises(ValueError, match="not computed"):
        small.backward({"b1": np.zeros((1, 3, 5, 6))})


# -- preprocessing -------------------------------------------------------------


def test_preprocess_deprocess(net32, rng):
    rgb = rng.uniform(0, 255, (5, 7, 3)).astype(np.float32)
    x = net32.preprocess(rgb)
    assert x.shape == (1, 3, 5, 7) and x.dtype == np.float32
    mean = net32.model.preprocess["mean"]  # BGR
    np.testing.assert_allclose(x[0, 0], rgb[:, :, 2] - mean[0], rtol=1e-6)
    np.testing.assert_allclose(x[0, 2], rgb[:, :, 0] - mean[2], rtol=1e-6)
    back = net32.deprocess(x)
    assert back.dtype == np.float32 and back.shape == rgb.shape
    np.testing.assert_allclose(back, rgb, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_preprocess_refuses_non_finite_pictures(net32, rng, bad):
    """Before any dreaming: a NaN picture would only show up as a diverged
    gradient, with advice about the step size."""
    rgb = rng.uniform(0, 255, (5, 7, 3))
    rgb[1, 2, 0] = rgb[4, 6, 2] = bad
    with pytest.raises(ValueError, match="picture holds 2 NaN or infinite"):
        net32.preprocess(rgb.astype(np.float32))
    big = np.full((5, 7, 3), 3e38, np.float32)  # finite; a float32 sum is not
    assert net32.preprocess(big).shape == (1, 3, 5, 7)


def test_preprocess_scale_and_rgb_order():
    model = small_model()
    model = type(model)(
        **{
            **model.__dict__,
            "preprocess": {"channel_order": "RGB", "mean": [0.5, 0.25, 0], "scale": 1},
        }
    )
    net = Net(model, dtype=np.float64)
    rgb = np.full((2, 2, 3), 255.0, dtype=np.float32)
    rgb[..., 1] = 51.0
    x = net.preprocess(rgb)
    np.testing.assert_allclose(x[0, :, 0, 0], [0.5, 0.2 - 0.25, 1.0])
    np.testing.assert_allclose(net.deprocess(x), rgb, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        net.preprocess(np.zeros((4, 4)))


# -- devices -------------------------------------------------------------------


def test_cuda_without_gpu_is_a_clear_error():
    from inceptionism.kernels.backend import DeviceUnavailableError, gpu_available

    if gpu_available():
        pytest.skip("a GPU is present: the error path cannot be reached")
    with pytest.raises(DeviceUnavailableError, match="--device cpu"):
        Net(small_model(), device="cuda")


@pytest.mark.gpu
def test_cuda_matches_cpu(googlenet, rng):
    from inceptionism.kernels.backend import to_numpy

    cpu = Net(small_model(), dtype=np.float64)
    gpu = Net(small_model(), device="cuda", dtype=np.float64)
    assert all(type(p["weight"]) is not np.ndarray for p in gpu.params.values())
    x = rng.standard_normal((1, 3, 9, 11))
    names = ["norm_a", "cat", "prob"]
    bc, bg = cpu.forward(x, end=names), gpu.forward(gpu.xp.asarray(x), end=names)
    seeds = {n: rng.standard_normal(bc[n].shape) for n in names}
    for n in bc:
        np.testing.assert_allclose(to_numpy(bg[n]), bc[n], **tol(np.float64))
    dx = gpu.backward({n: gpu.xp.asarray(s) for n, s in seeds.items()})
    np.testing.assert_allclose(to_numpy(dx), cpu.backward(seeds), **tol(np.float64))
    # GoogLeNet in float32, forward (near-tie pooling makes float32 gradients
    # differ locally; test_net_torch.py measures that)
    net_gpu = Net(googlenet, device="cuda")
    rgb = rng.uniform(0, 255, (67, 67, 3)).astype(np.float32)
    end = "inception_4c/output"
    a = net_gpu.forward(net_gpu.preprocess(rgb), end=end)
    net_cpu = Net(googlenet)
    b = net_cpu.forward(net_cpu.preprocess(rgb), end=end)
    for n in b:
        err = np.abs(to_numpy(a[n]) - b[n]).max() / np.abs(b[n]).max()
        assert err <= tol(np.float32)["rtol"], n


def test_alias_names_are_keys_and_seeds():
    model = small_model()
    graph = model.graph
    graph["layers"][4]["top"] = ["b1_out"]  # b1 writes a blob of another name
    graph["layers"][5].update(bottom=["b1_out"], top=["b1_out"])
    graph["layers"][9]["bottom"][0] = "b1_out"
    net = Net(model, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((1, 3, 9, 11))
    blobs = net.forward(x, end="b1_out")
    assert blobs["b1_out"] is blobs["relu_b1"]  # Caffe's net.blobs["b1_out"]
    g = np.random.default_rng(4).standard_normal(blobs["b1_out"].shape)
    np.testing.assert_array_equal(
        net.backward({"b1_out": g}), net.backward({"relu_b1": g})
    )


@pytest.mark.parametrize(
    "seeds",
    [
        ["inception_4c/output"],
        ["inception_3a/1x1"],  # one sibling's own blob, the others unseeded
        ["inception_3a/5x5_reduce", "inception_3a/relu_1x1"],
        ["inception_3b/relu_3x3_reduce", "inception_3a/output"],
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_merged_siblings_equal_separate_layers(googlenet, rng, seeds, dtype):
    """An inception module's 1x1 convolutions run as one GEMM (forward and
    backward, any subset of them seeded) and give what the layers give one
    by one: float64 to rounding, float32 to its tolerance."""
    merged, alone = (
        Net(googlenet, dtype=dtype),
        Net(googlenet, dtype=dtype, merge_siblings=False),
    )
    x = rng.standard_normal((1, 3, 83, 71)).astype(dtype) * 50
    a, b = merged.forward(x, end=seeds), alone.forward(x, end=seeds)
    assert set(a) == set(b)
    assert_blobs_close(a, b, tol(dtype)["rtol"])  # normwise: ReLU makes zeros
    g = {s: rng.standard_normal(a[s].shape).astype(dtype) for s in seeds}
    dx, want = merged.backward(g), alone.backward(g)
    if dtype == np.float64:
        assert rel_err(dx, want) <= tol(dtype)["rtol"]
    else:  # a near-tie in a max pool may route a float32 gradient elsewhere
        assert_grad32_close(dx, want)


def test_siblings_are_merged_only_on_one_input(googlenet):
    net = Net(googlenet)
    order = net.graph.order(net.graph.ancestors(["inception_4c/output"]))
    groups = set(net._sibling_groups(order).values())
    want = {
        tuple(f"inception_{m}/{b}" for b in ("1x1", "3x3_reduce", "5x5_reduce"))
        for m in ("3a", "3b", "4a", "4b", "4c")
    }
    assert groups == want
    assert Net(googlenet, merge_siblings=False)._sibling_groups(order) == {}
