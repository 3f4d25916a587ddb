"""Output sizes of windowed ops: Caffe's conv and pool rules, BVLC GoogLeNet."""

from __future__ import annotations

import itertools

import pytest

from inceptionism.kernels import _geometry as geo


def conv_windows(size, k, s, p, d=1):
    """Count window starts whose dilated extent fits in the padded input."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, size + 2 * p) if start % s == 0
               and start + span <= size + 2 * p)  # fmt: skip


def pool_windows(size, k, s, p):
    """Count windows as Caffe pooling_layer.cpp does, by enumeration.

    Ceil mode keeps a last, partial window when the stride does not divide
    ``size + 2p - k``; with ``p > 0`` a window must start inside the image or
    the left padding (start < size + p in padded coordinates).
    """
    starts = [i * s for i in range(size + 2 * p) if i * s < size + 2 * p - k + s]
    if p > 0:
        starts = [t for t in starts if t < size + p]
    return len(starts)


# name, kind, kernel, stride, pad: the spatial path of BVLC GoogLeNet
# (models/bvlc_googlenet/deploy.prototxt); every inception branch keeps size.
INCEPTION = [
    ("1x1", "conv", 1, 1, 0),
    ("3x3", "conv", 3, 1, 1),
    ("5x5", "conv", 5, 1, 2),
    ("pool", "pool", 3, 1, 1),
]
GOOGLENET = [
    ("conv1/7x7_s2", "conv", 7, 2, 3),
    ("pool1/3x3_s2", "pool", 3, 2, 0),
    ("conv2/3x3_reduce", "conv", 1, 1, 0),
    ("conv2/3x3", "conv", 3, 1, 1),
    ("pool2/3x3_s2", "pool", 3, 2, 0),
    ("inception_3a", "inception", 0, 0, 0),
    ("inception_3b", "inception", 0, 0, 0),
    ("pool3/3x3_s2", "pool", 3, 2, 0),
    *[(f"inception_4{c}", "inception", 0, 0, 0) for c in "abcde"],
    ("pool4/3x3_s2", "pool", 3, 2, 0),
    ("inception_5a", "inception", 0, 0, 0),
    ("inception_5b", "inception", 0, 0, 0),
    ("pool5/7x7_s1", "pool", 7, 1, 0),
]


def spatial_table(hw, conv_fn, pool_fn):
    """{layer: (H, W)} along GoogLeNet, with the given per-axis size rules."""
    table = {}
    for name, kind, k, s, p in GOOGLENET:
        if kind == "inception":
            branches = {
                conv_fn(hw, bk, bs, bp) if bkind == "conv" else pool_fn(hw, bk, bs, bp)
                for _, bkind, bk, bs, bp in INCEPTION
            }
            assert len(branches) == 1, f"{name}: branches disagree {branches}"
            hw = branches.pop()
        elif kind == "conv":
            hw = conv_fn(hw, k, s, p)
        else:
            hw = pool_fn(hw, k, s, p)
        table[name] = hw
    return table


def ours(hw):
    return spatial_table(
        hw,
        lambda hw, k, s, p: geo.conv_out_hw(hw, (k, k), (s, s), (p, p)),
        lambda hw, k, s, p: geo.pool_out_hw(hw, (k, k), (s, s), (p, p)),
    )


def enumerated(hw):
    return spatial_table(
        hw,
        lambda hw, k, s, p: tuple(conv_windows(n, k, s, p) for n in hw),
        lambda hw, k, s, p: tuple(pool_windows(n, k, s, p) for n in hw),
    )


def test_googlenet_table_at_224():
    # Published BVLC GoogLeNet sizes; floor-mode pooling would give pool1 55.
    want = {
        "conv1/7x7_s2": 112,
        "pool1/3x3_s2": 56,
        "conv2/3x3": 56,
        "pool2/3x3_s2": 28,
        "inception_3b": 28,
        "pool3/3x3_s2": 14,
        "inception_4c": 14,
        "pool4/3x3_s2": 7,
        "inception_5b": 7,
        "pool5/7x7_s1": 1,
    }
    table = ours((224, 224))
    assert {name: table[name] for name in want} == {n: (v, v) for n, v in want.items()}
    assert table == enumerated((224, 224))


ODD_SIZES = [(227, 301), (301, 227), (333, 250), (768, 1024)]


@pytest.mark.parametrize("hw", ODD_SIZES, ids=lambda hw: f"{hw[0]}x{hw[1]}")
def test_googlenet_table_at_odd_sizes(hw):
    assert ours(hw) == enumerated(hw)


def test_floor_would_differ_at_pool1():
    # the reason pooling has its own rule: floor mode gives 55 at 224 px
    assert geo.conv_out_size(112, 3, 2, 0) == 55
    assert geo.pool_out_size(112, 3, 2, 0) == 56


GRID = list(itertools.product(range(1, 14), range(1, 6), range(1, 5), range(0, 3)))


def test_conv_size_matches_enumeration_on_a_grid():
    for size, k, s, p in GRID:
        for d in (1, 2, 3):
            if d * (k - 1) + 1 <= size + 2 * p:
                assert geo.conv_out_size(size, k, s, p, d) == conv_windows(
                    size, k, s, p, d
                ), (size, k, s, p, d)


def test_pool_size_matches_enumeration_on_a_grid():
    # Caffe requires pad < kernel (pooling_layer.cpp CHECK_LT), which is what
    # makes its single "out -= 1" correction enough.
    for size, k, s, p in GRID:
        if p < k <= size + 2 * p:
            assert geo.pool_out_size(size, k, s, p) == pool_windows(size, k, s, p), (
                size,
                k,
                s,
                p,
            )


@pytest.mark.parametrize(
    "size, k, s, p, want, uncorrected",
    [
        pytest.param(5, 2, 2, 1, 3, 4, id="5_k2_s2_p1"),
        pytest.param(3, 2, 2, 1, 2, 3, id="3_k2_s2_p1"),
        pytest.param(4, 3, 2, 2, 3, 4, id="4_k3_s2_p2"),
        pytest.param(7, 3, 3, 1, 3, 3, id="7_k3_s3_p1_no_bite"),
    ],
)
def test_pool_ceil_correction(size, k, s, p, want, uncorrected):
    # uncorrected = ceil((size + 2p - k) / s) + 1, worked by hand
    assert -(-(size + 2 * p - k) // s) + 1 == uncorrected
    assert geo.pool_out_size(size, k, s, p) == want


@pytest.mark.torch
def test_pool_size_matches_torch_ceil_mode_with_padding():
    # torch's ceil_mode applies the same "last window starts inside" rule;
    # it allows pad <= k/2 only, and Caffe corrects only when pad > 0.
    torch = pytest.importorskip("torch")
    cases = [c for c in GRID if 0 < c[3] <= c[1] // 2 and c[1] <= c[0] + 2 * c[3]]
    bites = 0
    for size, k, s, p in cases:
        x = torch.zeros(1, 1, size, 1)
        y = torch.nn.functional.max_pool2d(x, (k, 1), (s, 1), (p, 0), ceil_mode=True)
        assert geo.pool_out_size(size, k, s, p) == y.shape[2], (size, k, s, p)
        bites += -(-(size + 2 * p - k) // s) + 1 != y.shape[2]
    assert bites > 0, "no case exercises the correction"


def test_windows_larger_than_padded_input_are_rejected():
    with pytest.raises(ValueError, match="along H is larger than the padded input"):
        geo.conv_out_hw((4, 9), (7, 3), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="kernel extent 5 along W"):
        geo.conv_out_hw((9, 4), (3, 3), (1, 1), (0, 0), (1, 2))
    with pytest.raises(ValueError, match="along W is larger than the padded input"):
        geo.pool_out_hw((9, 2), (3, 3), (1, 1), (0, 0))
