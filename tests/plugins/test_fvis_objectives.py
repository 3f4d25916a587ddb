"""Direction, diversity, products and masks: values and gradients against
float64 finite differences, and the spec grammar that writes them."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine.resample import resize
from inceptionism.plugins.base import Product, Sum
from inceptionism.plugins.fvis import Direction, Diversity, Masked, masked_terms
from inceptionism.plugins.objectives import Channel, DeepDream
from inceptionism.plugins.spec import parse_objective
from tests.plugins.test_objectives import numeric_grads
from tests.tolerances import tol

L = "inception_4c/output"


def _check(obj, blobs, eps=1e-3, rtol=1e-7):
    value, grads = obj(blobs)
    num = numeric_grads(obj, blobs, eps)
    assert set(grads) <= set(num)
    for name in num:
        np.testing.assert_allclose(grads[name], num[name], rtol=rtol, atol=1e-8)
    return value


def test_direction_value_and_gradient(rng):
    a = rng.standard_normal((2, 4, 3, 5))
    v = [0.5, -1.0, 2.0, 0.25]
    obj = Direction(L, "0.5,-1,2,0.25")
    value = _check(obj, {L: a})
    want = np.einsum("nchw,c->nhw", a, np.array(v)).mean()
    np.testing.assert_allclose(value, want, **tol(np.float64))


def test_direction_from_npy(tmp_path, rng):
    v = rng.standard_normal(4)
    np.save(tmp_path / "v.npy", v)
    obj = Direction(L, str(tmp_path / "v.npy"))
    np.testing.assert_array_equal(obj.vector, v)
    with pytest.raises(ValueError, match="4 entries but .* 3 channels"):
        obj({L: np.zeros((1, 3, 2, 2))})
    with pytest.raises(ValueError, match="neither a comma list"):
        Direction(L, "a,b")


def test_direction_must_be_one_dimensional(tmp_path):
    """A (2, 2) array was flattened into four channels' worth."""
    np.save(tmp_path / "m.npy", np.ones((2, 2)))
    want = r"m.npy has shape \(2, 2\); a direction is a 1-D vector, shape \(C,\)"
    with pytest.raises(ValueError, match=want):
        parse_objective(f"direction:{L}:{tmp_path / 'm.npy'}")
    with pytest.raises(ValueError, match=r"has shape \(1, 4\)"):
        Direction(L, np.ones((1, 4)))


def test_diversity_gradient(rng):
    a = rng.standard_normal((3, 4, 3, 2))
    _check(Diversity(L), {L: a}, eps=1e-4)


def test_diversity_prefers_different_images(rng):
    one = rng.standard_normal((1, 4, 3, 3))
    same = np.concatenate([one, one])
    other = np.concatenate([one, rng.standard_normal((1, 4, 3, 3))])
    d = Diversity(L)
    assert float(d({L: other})[0]) > float(d({L: same})[0])
    np.testing.assert_allclose(d({L: same})[0], -2 / 2, **tol(np.float64))
    assert float(d({L: one})[0]) == 0.0  # a batch of one: nothing to compare


def test_product_gradient(rng):
    blobs = {L: rng.standard_normal((1, 4, 3, 3))}
    obj = Channel(L, 1) * DeepDream(L) * Direction(L, "1,2,3,4")
    assert isinstance(obj, Product) and len(obj.terms) == 3
    value = _check(obj, {L: blobs[L]}, eps=1e-5)  # degree 4: a small step
    want = np.prod([float(t({L: blobs[L]})[0]) for t in obj.terms])
    np.testing.assert_allclose(value, want, **tol(np.float64))


@pytest.mark.parametrize(
    "term",
    [DeepDream(L), Channel(L, 2), Direction(L, "1,-1,0.5,2")],
    ids=["deepdream", "channel", "direction"],
)
def test_mask_weights_the_value_and_scales_the_gradient(rng, term):
    a = rng.standard_normal((1, 4, 3, 5))
    mask = rng.uniform(0, 1, (6, 10))
    obj = Masked(term, mask=mask)
    _check(obj, {L: a})  # the value is sum m * map, the gradient its gradient
    m = resize(obj.mask.astype(np.float64), (3, 5))  # masks are kept as float32
    plain = term({L: a})[1][L]
    np.testing.assert_allclose(obj({L: a})[1][L], m * plain, **tol(np.float64))
    zero = Masked(term, mask=np.zeros((6, 10)))
    assert float(zero({L: a})[0]) == 0 and not zero({L: a})[1][L].any()


def test_spec_grammar_products_and_masks(pm, tmp_path):
    obj = parse_objective(
        f'2*channel:{L}:1*channel:{L}:2@my-sky.png - deepdream:{L}@"a@b.png"', pm
    )
    assert isinstance(obj, Sum) and obj.weights == (2.0, -1.0)
    prod, dd = obj.terms
    assert isinstance(prod, Product) and isinstance(prod.terms[1], Masked)
    assert prod.terms[1].path == "my-sky.png" and dd.path == "a@b.png"
    assert [t.path for t in masked_terms(obj)] == ["my-sky.png", "a@b.png"]
    assert repr(parse_objective(f"diversity:{L}", pm)) == f"diversity:{L}"
    with pytest.raises(ValueError, match="must be an integer, got .1\\*"):
        parse_objective(f"channel:{L}:1**channel:{L}:2", pm)
    with pytest.raises(ValueError, match="TERM@MASK"):
        parse_objective(f"channel:{L}:1@", pm)


def test_mask_blur_softens_the_edge_only(tmp_path):
    """``--mask-blur SIGMA``: a hard black/white edge becomes a ramp around
    the edge; far from it the weights stay 0 and 1, and grey levels scale."""
    from PIL import Image

    from inceptionism.plugins.fvis import load_mask

    m = np.zeros((20, 40), np.uint8)
    m[:, 20:] = 255
    m[:2, :4] = 51  # a grey patch: weight 0.2
    Image.fromarray(m).save(tmp_path / "m.png")
    hard = load_mask(tmp_path / "m.png")
    np.testing.assert_allclose(hard[:2, :4], 0.2, atol=1e-6)
    assert set(np.unique(hard[2:])) == {0.0, 1.0}
    soft = load_mask(tmp_path / "m.png", blur=2.0)
    row = soft[10]
    assert 0.0 < row[19] < 0.5 < row[20] < 1.0  # the ramp crosses 0.5 at the edge
    assert np.all(np.diff(row) >= -1e-6)  # and rises monotonically
    np.testing.assert_allclose(row[[8, 31]], [0.0, 1.0], atol=1e-3)
