"""Checking a recipe's JSON against the dataclasses it becomes, field by field.

A damaged recipe (a field missing, a string where a number belongs, a list
for an object, ``null``) used to reach the dataclasses and come back as
Python's words ("Recipe.__init__() missing 1 required positional argument",
"'<' not supported between instances of 'str' and 'int'"). :func:`check`
names the field instead (``config.steps must be an integer, not the text
'10'``), from the dataclasses' own type annotations, so a new field is
checked without a line here. Values in the right type are then checked by
the dataclasses themselves (ranges, known names).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Collection
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


class UnknownField(ValueError):
    """A key the dataclass does not have (a newer version's recipe)."""


def kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value!r:.40}"
    if isinstance(value, (int, float)):
        return f"the number {value!r:.40}"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def check(d: Any, cls: Any, name: str, required: Collection[str] | None = None):
    """Raise ``ValueError`` naming the first field of ``d`` (decoded JSON)
    that is missing or not of the type dataclass ``cls`` declares, and
    :class:`UnknownField` for a key ``cls`` lacks. ``required``: the fields
    that must be present (default: those without a default value)."""
    if not isinstance(d, dict):
        raise ValueError(f"{name} must be an object, not {kind(d)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in d:
        if key not in fields:
            raise UnknownField(_join(name, key))
    hints = get_type_hints(cls)
    for key, f in fields.items():
        if key not in d:
            nodefault = f.default is f.default_factory is dataclasses.MISSING
            if key in required if required is not None else nodefault:
                raise ValueError(f"{_join(name, key)} is missing")
            continue
        _value(d[key], hints[key], _join(name, key))


def _join(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


def _value(v: Any, tp: Any, name: str) -> None:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return
    if origin in (Union, types.UnionType):
        if v is None and type(None) in args:
            return
        tp = next(a for a in args if a is not type(None))
        origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        if v not in args:
            one_of = " or ".join(repr(a) for a in args)
            raise ValueError(f"{name} must be {one_of}, not {kind(v)}")
        return
    if dataclasses.is_dataclass(tp):
        check(v, tp, name)
        return
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"{name} must be a list, not {kind(v)}")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(v)
        elif len(v) != len(args):
            raise ValueError(f"{name} must be a list of {len(args)}, not {len(v)}")
        for i, (x, t) in enumerate(zip(v, args, strict=True)):
            _value(x, t, f"{name}[{i}]")
        return
    ok, what = {
        bool: (isinstance(v, bool), "true or false"),
        int: (isinstance(v, int) and not isinstance(v, bool), "an integer"),
        float: (isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
        str: (isinstance(v, str), "a text"),
        dict: (isinstance(v, dict), "an object"),
    }[origin or tp]
    if not ok:
        raise ValueError(f"{name} must be {what}, not {kind(v)}")
