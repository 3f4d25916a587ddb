"""Stop a dream whose numbers stop being numbers (issue 10).

A NaN or an infinity in the gradient (weights that overflow, an objective or
regularizer weight too large, a step size that blows the image up) used to
end as an all-black or noise picture written with exit 0. :class:`Watch`
notices it and :meth:`Watch.check` raises :class:`NonFiniteError`, naming the
octave and the first bad step, before anything is saved.

Cost: per step, a few 0-d device operations on the step's normaliser
``mean(|g|)`` (non-finite exactly when some gradient value is, or their sum
overflows) and its factor ``step_size / mean(|g|)`` (infinite when the
gradient vanished: an objective weighted 1e-45); per octave, one
``isfinite(x).all()`` over the image and one host synchronisation. On a
CuPy device nothing waits per step (Python scalars only, no transfers); on
NumPy, measured: 17 us per step and 1.6 ms per octave for a 1-megapixel
image, against a step's hundreds of ms.
"""

from __future__ import annotations

from typing import Any


class NonFiniteError(ArithmeticError):
    """The dream's gradient or image became NaN or infinite."""


class Watch:
    """Remembers, on the device, the first step whose gradient was not finite
    or vanished (``mean(|g|)`` so small, e.g. under an objective weighted
    1e-45, that the step's ``step_size / mean(|g|)`` overflows)."""

    def __init__(self, xp: Any, objective: str = ""):
        self.xp, self.objective = xp, objective
        self.first_bad = xp.full((), -1, dtype=xp.int64)  # a fill, no transfer
        self.scale = xp.full((), xp.nan, dtype=xp.float64)  # mean|g| at first_bad

    def step(self, grad_scale: Any, step: int, factor: Any = None) -> None:
        """Record ``step`` if ``grad_scale`` (``mean(|g|)``, 0-d) or the
        step's ``factor`` (``step_size / mean(|g|)``) is not finite and no
        earlier step was; no host synchronisation."""
        xp = self.xp
        ok = xp.isfinite(grad_scale)
        if factor is not None:
            ok = ok & xp.isfinite(factor)
        fresh = (self.first_bad < 0) & ~ok
        # Python scalars only: they go to the kernel as arguments, not copies
        self.first_bad = self.first_bad + fresh * (step - self.first_bad)
        if factor is not None:
            self.scale = xp.where(fresh, grad_scale, self.scale)

    def check(self, x: Any, octave: int, n_octaves: int, n_steps: int) -> None:
        """Raise :class:`NonFiniteError` if a step of this octave went bad or
        the image ``x`` holds a non-finite value (one synchronisation)."""
        xp = self.xp
        first = int(self.first_bad)
        if first < 0 and bool(xp.isfinite(x).all()):
            return
        where = f"octave {octave + 1} of {n_octaves}"
        if first >= 0 and bool(xp.isfinite(self.scale)):  # the factor overflowed
            raise NonFiniteError(
                f"the gradient of the objective {self.objective!r} vanished at "
                f"{where}, step {first + 1} of {n_steps} (mean |g| = "
                f"{float(self.scale):.2g}: too small to normalise the step by); "
                "nothing was written. Give the objective a larger weight (the "
                "step is normalised by mean |g|: without regularizers, any "
                "positive weight dreams the same picture)"
            )
        what = "gradient" if first >= 0 else "image"
        if first >= 0:
            where += f", step {first + 1} of {n_steps}"
        raise NonFiniteError(
            f"the dream's {what} became NaN or infinite at {where}; nothing was "
            "written. Try a lower --step-size or smaller objective/regularizer "
            "weights; if it persists, the weights overflow: re-convert them"
        )
