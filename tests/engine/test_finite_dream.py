"""Issue 10: a dream never turns NaN or infinity into a picture."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inceptionism.engine.dream import DreamConfig, dream
from inceptionism.engine.finite import NonFiniteError
from inceptionism.engine.image import ImageError, save_animation, save_image
from inceptionism.engine.net import Net
from inceptionism.plugins import Prior, hookimpl
from inceptionism.weights import save_model
from tests.engine.test_cli_dream import FAST, fails


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


class _Poison(Prior):
    """Turns the gradient into ``value`` from step ``at`` of the last octave on."""

    def __init__(self, at: int, value: float, octave: int):
        self.at, self.value, self.octave = at, value, octave

    def grad(self, g, state):
        if (state.octave, state.step) >= (self.octave, self.at):
            g = g.copy()
            g.flat[0] = self.value
        return g


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_a_non_finite_gradient_stops_the_dream(googlenet, bad):
    net = Net(googlenet, device="cpu")
    rgb = np.random.default_rng(1).uniform(0, 255, (40, 56, 3)).astype(np.float32)
    saved = []

    class Saver:
        @hookimpl
        def inceptionism_dream_end(self, net, config, rgb):
            saved.append(rgb)

    with pytest.raises(NonFiniteError, match="octave 2 of 2, step 3 of 4;"):
        dream(
            net, rgb, "deepdream:conv2/3x3", octaves=2, octave_scale=1.2, steps=4,
            priors=[_Poison(2, bad, octave=1)], seed=0, observers=[Saver()],
        )  # fmt: skip
    assert saved == []  # the dream never ended, so nothing saw a result


def test_a_healthy_dream_passes_the_watch(googlenet):
    net = Net(googlenet, device="cpu")
    rgb = np.random.default_rng(1).uniform(0, 255, (40, 56, 3)).astype(np.float32)
    out = dream(net, rgb, "deepdream:conv2/3x3", octaves=1, steps=2, seed=0)
    assert np.isfinite(out).all()


def test_overflowing_weights_stop_the_cli_and_write_nothing(
    capsys, googlenet, picture, tmp_path
):
    """Finite weights so large that the gradient overflows float32 (the
    issue's 1e999 objective weight, reached through the file instead)."""
    params = {k: dict(v) for k, v in googlenet.params.items()}
    params["conv2/3x3"]["weight"] = params["conv2/3x3"]["weight"] * 1e30
    weights = tmp_path / "huge.h5"
    save_model(dataclasses.replace(googlenet, params=params), weights)
    out = tmp_path / "out.png"
    fails(
        capsys, "dream", picture, "-o", out, *FAST, "--weights", weights,
        match="became NaN or infinite at octave 1 of 1, step 1 of 2",
    )  # fmt: skip
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.h5", "in.png"]


def test_a_vanishing_gradient_is_named_not_blamed_on_the_step_size(
    run_fails, picture, tmp_path
):
    """Under a 1e-45 weight, ``1.5 / mean|g|`` overflows; the error said
    "Try a lower --step-size"."""
    out = tmp_path / "out.png"
    spec = "1e-45 * deepdream:conv2/3x3"
    line = run_fails(
        "dream", picture, "-o", out, *FAST[2:], "--objective", spec,
        match=f"the gradient of the objective '{spec}' vanished at octave 1 of 1, "
        "step 1 of 2",
    )  # fmt: skip
    assert "--step-size" not in line and "larger weight" in line
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".gif"])
def test_save_refuses_a_non_finite_image(tmp_path, suffix):
    rgb = np.full((4, 5, 3), 128.0, np.float32)
    rgb[1, 2, 0] = np.nan
    rgb[3, 3, 1] = -np.inf
    out = tmp_path / f"out{suffix}"
    with pytest.raises(ImageError, match="holding 2 NaN or infinite"):
        if suffix == ".gif":
            save_animation(out, [np.full_like(rgb, 7.0), rgb])
        else:
            save_image(out, rgb)
    assert list(tmp_path.iterdir()) == []
