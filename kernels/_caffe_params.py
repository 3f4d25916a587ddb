"""Reading Caffe layer parameters (prototxt names, as dicts) into op Params."""

from __future__ import annotations


def check_known(d: dict, known: set[str], op: str) -> None:
    """Reject parameter names the op does not understand, listing the known."""
    unknown = set(d) - known
    if unknown:
        raise ValueError(
            f"{op}: unknown parameter(s) {sorted(unknown)}; known: {sorted(known)}"
        )


def as_bool(v, name: str, op: str) -> bool:
    """A prototxt bool: a Python bool (or 0/1) or the words true/false."""
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    if isinstance(v, (bool, int)):
        return bool(v)
    raise ValueError(f"{op}: {name} must be true or false, got {v!r}")
