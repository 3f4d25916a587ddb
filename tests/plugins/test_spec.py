"""Spec strings: the objective grammar, regularizer and prior specs, errors."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.plugins import (
    Objective,
    hookimpl,
    make_prior,
    make_regularizer,
    parse_objective,
)
from inceptionism.plugins.base import Sum
from inceptionism.plugins.objectives import Balanced, Channel, DeepDream, Guide, Neuron
from inceptionism.plugins.priors import Clip, Decorrelate, Jitter, LapNorm, Smooth
from inceptionism.plugins.regularizers import L1Decay, L2Decay, TotalVariation
from inceptionism.plugins.spec import split_terms, usage

A, B = "inception_3b/output", "inception_4c/output"


def terms_of(obj):
    """(weight, repr) pairs of a parsed objective."""
    if isinstance(obj, Sum):
        return [(w, repr(t)) for t, w in zip(obj.terms, obj.weights)]
    return [(1.0, repr(obj))]


@pytest.mark.parametrize(
    "spec, expected",
    [
        (f"deepdream:{B}", [(1.0, f"deepdream:{B}")]),
        ("deepdream", [(1.0, f"deepdream:{B}")]),
        (
            "channel:inception_4d/3x3_reduce:139",
            [(1.0, "channel:inception_4d/3x3_reduce:139")],
        ),
        (
            f"0.5*deepdream:{A}+channel:{B}:7",
            [(0.5, f"deepdream:{A}"), (1.0, f"channel:{B}:7")],
        ),
        (
            f" deepdream:{A} - 1e-2 * neuron:{B}:3 ",
            [(1.0, f"deepdream:{A}"), (-0.01, f"neuron:{B}:3")],
        ),
        (f"-deepdream:{A}", [(-1.0, f"deepdream:{A}")]),
        (f"2.5*channel:{A}:1", [(2.5, f"channel:{A}:1")]),
        (
            f"1e+1*deepdream:{A}-deepdream-.5*neuron:{A}:0:1:2",
            [
                (10.0, f"deepdream:{A}"),
                (-1.0, f"deepdream:{B}"),
                (-0.5, f"neuron:{A}:0:1:2"),
            ],
        ),
        # '-' or '+' inside a layer name or path is not a separator
        ("deepdream:conv1-1", [(1.0, "deepdream:conv1-1")]),
        (f"guide:{A}:C:/my-flowers.jpg", [(1.0, f"guide:{A}:C:/my-flowers.jpg")]),
        (f"guide:{A}:/tmp/a+b.png", [(1.0, f"guide:{A}:/tmp/a+b.png")]),
    ],
    ids=[
        "deepdream",
        "default-layer",
        "channel",
        "weighted-sum",
        "minus-exponent",
        "leading-minus",
        "scaled",
        "three-terms",
        "dash-in-layer",
        "dash-and-colon-in-path",
        "plus-in-path",
    ],
)
def test_objective_grammar(pm, spec, expected):
    assert terms_of(parse_objective(spec, pm)) == expected


def test_parsed_objectives_have_the_right_types(pm):
    obj = parse_objective(f"0.5*deepdream:{A}+channel:{B}:7+layers:{A},{B}", pm)
    assert [type(t) for t in obj.terms] == [DeepDream, Channel, Balanced]
    assert obj.layers == (A, B)
    assert isinstance(parse_objective(f"neuron:{A}:1", pm), Neuron)
    guide = parse_objective(f"guide:{A}:flowers.jpg", pm)
    assert isinstance(guide, Guide) and guide.image_path == "flowers.jpg"


def test_parsed_sum_evaluates_like_the_python_expression(pm, rng):
    blobs = {A: rng.standard_normal((1, 4, 3, 3)), B: rng.standard_normal((1, 8, 2, 2))}
    parsed = parse_objective(f"0.5*deepdream:{A}-channel:{B}:7", pm)
    built = 0.5 * DeepDream(A) - Channel(B, 7)
    (v1, g1), (v2, g2) = parsed(blobs), built(blobs)
    assert v1 == v2
    for name in (A, B):
        np.testing.assert_array_equal(g1[name], g2[name])


def test_objective_instances_pass_through(pm):
    obj = DeepDream(A) + Channel(B, 1)
    assert parse_objective(obj, pm) is obj


@pytest.mark.parametrize(
    "spec, message",
    [
        ("deepdrem:x", r"unknown objective 'deepdrem'; did you mean 'deepdream'\?"),
        ("chanel:x:1", r"did you mean 'channel'"),
        (f"deepdream:{A}+chanel:{B}:1", r"unknown objective 'chanel'"),
        ("zzz", r"unknown objective 'zzz'\. Known objectives: channel, class"),
        (f"channel:{A}", r"'channel' got 1 argument.*usage: channel:LAYER:C"),
        (f"neuron:{A}:1:2:3:4", r"usage: neuron:LAYER:C\[:Y:X\]"),
        (f"channel:{A}:abc", r"channel must be an integer, got 'abc'; usage"),
        (f"deepdream:{A}+", r"a term is empty"),
        ("", r"empty objective spec"),
        ("deepdream:", r"empty argument"),
        (f"guide:{A}", r"guide needs an image"),
    ],
    ids=[
        "typo",
        "typo-with-args",
        "typo-in-second-term",
        "unknown",
        "too-few",
        "too-many",
        "not-int",
        "trailing-plus",
        "empty",
        "empty-arg",
        "guide-no-path",
    ],
)
def test_objective_errors(pm, spec, message):
    with pytest.raises(ValueError, match=message):
        parse_objective(spec, pm)


def test_non_string_spec(pm):
    with pytest.raises(TypeError, match="spec string or Objective"):
        parse_objective(3, pm)


def test_a_factory_returning_the_wrong_type_names_its_plugin(pm):
    class Plugin:
        @hookimpl
        def inceptionism_objectives(self):
            return {"broken": lambda: "not an objective"}

    pm.register(Plugin(), name="broken-plugin")
    with pytest.raises(TypeError, match="'broken-plugin'.*returned str"):
        parse_objective("broken", pm)


def test_minus_before_a_registered_name_splits(pm):
    names = {"deepdream", "channel"}
    assert split_terms("deepdream:a-b-deepdream", names) == [
        (1.0, "deepdream:a-b"),
        (-1.0, "deepdream"),
    ]


@pytest.mark.parametrize(
    "spec, cls, attrs",
    [
        ("tv:0.01", TotalVariation, {"weight": 0.01}),
        ("l2:1e-3", L2Decay, {"weight": 1e-3}),
        ("l1", L1Decay, {"weight": 1.0}),
    ],
    ids=["tv", "l2", "l1-default"],
)
def test_make_regularizer(pm, spec, cls, attrs):
    reg = make_regularizer(spec, pm)
    assert type(reg) is cls
    assert {k: getattr(reg, k) for k in attrs} == attrs
    assert make_regularizer(reg, pm) is reg


@pytest.mark.parametrize(
    "spec, cls, attrs",
    [
        ("jitter:32", Jitter, {"n": 32}),
        ("jitter", Jitter, {"n": 32}),
        ("clip", Clip, {}),
        ("smooth:1.0", Smooth, {"sigma": 1.0}),
        ("lapnorm:4", LapNorm, {"levels": 4}),
        ("decorrelate", Decorrelate, {"order": "bgr"}),
    ],
    ids=["jitter", "jitter-default", "clip", "smooth", "lapnorm", "decorrelate"],
)
def test_make_prior(pm, spec, cls, attrs):
    prior = make_prior(spec, pm)
    assert type(prior) is cls
    assert {k: getattr(prior, k) for k in attrs} == attrs
    assert make_prior(prior, pm) is prior


@pytest.mark.parametrize(
    "make, spec, message",
    [
        (make_regularizer, "tvv:1", r"unknown regularizer 'tvv'; did you mean 'tv'"),
        (make_regularizer, "tv:1:2", r"usage: tv\[:WEIGHT\]"),
        (make_prior, "jiter:3", r"unknown prior 'jiter'; did you mean 'jitter'"),
        (make_prior, "clip:1", r"usage: clip$"),
        (make_prior, "smooth:wide", r"must be a number.*usage: smooth\[:SIGMA\]"),
    ],
    ids=["reg-typo", "reg-args", "prior-typo", "clip-args", "smooth-value"],
)
def test_regularizer_and_prior_errors(pm, make, spec, message):
    with pytest.raises(ValueError, match=message):
        make(spec, pm)


def test_usage_from_a_signature_when_none_is_declared():
    class Mean(Objective):
        def __init__(self, layer, scale="1"):
            super().__init__((layer,))

    def many(first, *rest):
        return None

    assert usage("mean", Mean) == "mean:LAYER[:SCALE]"
    assert usage("many", many) == "many:FIRST[:REST...]"
    assert usage("alias", DeepDream) == "alias[:LAYER]"


@pytest.mark.parametrize(
    "make, spec, message",
    [
        (parse_objective, f"1e999*deepdream:{A}", r"weight 1e999 is not a finite"),
        (parse_objective, f"deepdream:{A}-1e400*deepdream:{A}", r"weight 1e400"),
        (make_regularizer, "tv:nan", r"finite and >= 0, got nan.*usage: tv"),
        (make_regularizer, "l2:inf", r"finite and >= 0, got inf"),
        (make_regularizer, "l1:-1e999", r"finite and >= 0, got -inf"),
        (
            make_prior,
            "smooth:nan",
            r"sigma must be a finite number >= 0 and <= 100, got nan",
        ),
        (make_prior, "smooth:inf", r"<= 100, got inf"),
        (make_prior, "smooth:1e30", r"sigma must be .*<= 100, got 1e\+30"),
        (make_prior, "lapnorm:1000", r"levels must be .*>= 1 and <= 32"),
        (make_prior, "jitter:99999999", r"jitter must be .*<= 10000"),
    ],
    ids=[
        "objective-weight-inf",
        "objective-weight-minus-inf",
        "tv-nan",
        "l2-inf",
        "l1-minus-inf",
        "smooth-nan",
        "smooth-inf",
        "smooth-huge",
        "lapnorm-huge",
        "jitter-huge",
    ],
)
def test_numbers_in_specs_are_finite_and_in_range(pm, make, spec, message):
    with pytest.raises(ValueError, match=message):
        make(spec, pm)


@pytest.mark.parametrize("weight", [float("inf"), float("nan")], ids=["inf", "nan"])
def test_objective_sums_refuse_non_finite_weights(pm, weight):
    obj = parse_objective(f"deepdream:{A}", pm)
    with pytest.raises(ValueError, match="finite number"):
        obj * weight  # noqa: B018


@pytest.mark.parametrize(
    "spec, fixed",
    [
        (f"channel:{B}:7*2", f"2*channel:{B}:7"),
        (f"channel:{B}:7 * 2", f"2*channel:{B}:7"),
        ("deepdream*2", "2*deepdream"),
        (f"deepdream:{A}*0.5+channel:{B}:7", f"0.5*deepdream:{A}+channel:{B}:7"),
        (f"deepdream - channel:{B}:7*2", f"deepdream - 2*channel:{B}:7"),
        (f"0.5*channel:{B}:7*3", f"1.5*channel:{B}:7"),
    ],
)
def test_a_weight_after_its_term_suggests_the_right_form(pm, spec, fixed):
    want = f"a weight goes before its term, not after it; write '{fixed}'"
    with pytest.raises(ValueError) as err:
        parse_objective(spec, pm)
    assert want in str(err.value)
    parse_objective(fixed, pm)  # the suggestion parses


def test_a_quoted_argument_ending_in_a_number_is_no_weight(pm):
    assert repr(parse_objective(f'guide:{A}:"a*2"', pm)) == f"guide:{A}:a*2"
