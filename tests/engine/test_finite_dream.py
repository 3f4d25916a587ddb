"""Issue 10: a dream never turns NaN or infinity into a picture."""

from __future__ import annotations

import pytest

from inceptionism.engine.dream import DreamConfig


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("step_size", float("inf"), "step size must be finite"),
        ("step_size", float("nan"), "step size must be finite"),
        ("octave_scale", float("inf"), "octave scale must be finite"),
        ("seed", -1, "seed must be >= 0"),
    ],
    ids=["step-inf", "step-nan", "scale-inf", "seed-negative"],
)
def test_config_refuses_non_finite_numbers(field, value, match):
    with pytest.raises(ValueError, match=match):
        DreamConfig(**{field: value})
