"""String specs for the CLI: objectives, regularizers and priors by name.

Grammar of an objective spec::

    spec   := term (("+" | "-") term)*
    term   := [FLOAT "*"] factor ("*" factor)*
    factor := name (":" arg)* ["@" MASK]

``deepdream:inception_4c/output``, ``channel:inception_4d/3x3_reduce:139``,
``0.5*deepdream:inception_3b/output+channel:inception_4c/output:7``,
``deepdream - 1e-2*channel:inception_4c/output:7``. A term's arguments are
the text between colons, passed to the factory as strings. Layer names hold
``/`` but never ``:``; a ``+`` or ``-`` separates terms only when what
follows reads as a term (``[FLOAT*]name:`` or a registered objective name
standing alone), so ``conv1-1``, ``my-flowers.jpg`` or ``a+b.png`` stay in
one argument. A guide path may even hold ``:`` (the parts are re-joined).
An argument written as a JSON string (``guide:LAYER:"a-b:c.jpg"``) is taken
verbatim, whatever it holds; ``dream --guide PATH`` writes the path that way
(:func:`quote`).

``a*b`` is the product of two objectives (lucid's ``*``;
``channel:inception_4c/output:7*channel:inception_4c/output:9``): a ``*``
joins factors only when what follows reads as a term, like ``+`` and ``-``.
A factor ending in ``*NUMBER`` is a weight written after its term
(``channel:L:7*2``): refused, suggesting ``2*channel:L:7``.
``@MASK`` weights a factor over space by a mask image's grey levels
(``deepdream:inception_4c/output@sky.png``,
:class:`~inceptionism.plugins.fvis.Masked`); the text after a factor's last
``@`` is the mask's path (quote an argument that holds ``@`` itself).

Regularizer, prior, parameterisation and transform specs are a single
``name[:arg...]`` (``tv:0.01``, ``jitter:32``, ``clip``, ``fft``).
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import re
from collections.abc import Callable, Collection
from typing import Any

from inceptionism.plugins.base import Objective, Prior, Product, Regularizer, Sum
from inceptionism.plugins.manager import get_plugin_manager, registry

_FLOAT = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NAME = r"[A-Za-z_][\w.]*"
_TERM_START = re.compile(rf"\s*([+-])?\s*(?:({_FLOAT})\s*\*\s*)?")
_AFTER_SIGN = re.compile(rf"\s*(?:{_FLOAT}\s*\*\s*)?({_NAME})(\s*:|\s*$|\s*[+-])")
_TRAILING_WEIGHT = re.compile(rf"(.*?)\s*\*\s*({_FLOAT})\s*", re.S)

_NOUN = {
    "objectives": "objective",
    "regularizers": "regularizer",
    "priors": "prior",
    "params": "parameterisation",
    "transforms": "transform",
}


def _base(kind: str) -> type:
    if kind == "params":
        from inceptionism.plugins.params import Parameterization

        return Parameterization
    if kind == "transforms":
        from inceptionism.plugins.transforms import Transform

        return Transform
    return {"objectives": Objective, "regularizers": Regularizer, "priors": Prior}[kind]


def usage(name: str, factory: Callable[..., Any]) -> str:
    """How to write a spec for ``factory`` registered as ``name``.

    A factory's ``usage`` attribute wins (its leading name is replaced by the
    registered one); otherwise the signature gives ``name:ARG[:OPTIONAL]``.
    """
    text = getattr(factory, "usage", None)
    if isinstance(text, str):
        return re.sub(r"^[\w.-]*", lambda _: name, text, count=1)
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return f"{name}[:ARG...]"
    out = name
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            out += f"[:{p.name.upper()}...]"
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            arg = p.name.upper()
            out += f":{arg}" if p.default is p.empty else f"[:{arg}]"
    return out


def _unknown(kind: str, name: str, known: Collection[str]) -> ValueError:
    noun = _NOUN[kind]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else "."
    return ValueError(
        f"unknown {noun} {name!r}{hint} Known {kind}: {', '.join(sorted(known))} "
        "(`inceptionism plugins` lists them with their usage)"
    )


def quote(arg: str) -> str:
    """``arg`` as a spec argument that is read back verbatim (a JSON string)."""
    return json.dumps(arg, ensure_ascii=False)


def _quoted_end(text: str, i: int) -> int:
    """End of the JSON string starting at ``text[i] == '"'``."""
    try:
        return json.JSONDecoder().raw_decode(text, i)[1]
    except json.JSONDecodeError:
        raise ValueError(
            f"spec {text!r}: unterminated quoted argument at column {i}"
        ) from None


def _at_arg_start(text: str, i: int) -> bool:
    return text[i] == '"' and text[:i].rstrip().endswith(":")


def split_args(text: str) -> list[str]:
    """``"name:arg:..."`` -> ``[name, arg, ...]``, stripped; a quoted
    argument (:func:`quote`) is decoded and may hold ``:``, ``+`` or ``-``."""
    parts: list[str] = []
    i = 0
    while True:
        j = len(text) - len(text[i:].lstrip())
        if parts and j < len(text) and text[j] == '"':
            end = _quoted_end(text, j)
            parts.append(json.loads(text[j:end]))
            rest = text[end:].lstrip()
            if not rest:
                return parts
            if rest[0] != ":":
                raise ValueError(f"spec {text!r}: text after a quoted argument")
            i = len(text) - len(rest) + 1
            continue
        k = text.find(":", i)
        if k < 0:
            parts.append(text[i:].strip())
            return parts
        parts.append(text[i:k].strip())
        i = k + 1


def _build(kind: str, text: str, entries) -> Any:
    """Resolve one ``name[:arg...]`` through a merged registry."""
    name, *args = split_args(text.strip())
    if not name:
        raise ValueError(f"empty {_NOUN[kind]} spec {text!r}")
    if name not in entries:
        raise _unknown(kind, name, entries)
    factory, plugin = entries[name]
    how = usage(name, factory)
    if any(a == "" for a in args):
        raise ValueError(f"empty argument in {text.strip()!r}; usage: {how}")
    try:
        inspect.signature(factory).bind(*args)
    except TypeError:
        raise ValueError(
            f"{_NOUN[kind]} {name!r} got {len(args)} argument(s) in "
            f"{text.strip()!r}; usage: {how}"
        ) from None
    except ValueError:
        pass  # no introspectable signature: let the call decide
    try:
        made = factory(*args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{text.strip()!r}: {exc}; usage: {how}") from exc
    base = _base(kind)
    if not isinstance(made, base):
        raise TypeError(
            f"plugin {plugin!r}: {_NOUN[kind]} factory {name!r} returned "
            f"{type(made).__name__}, not a {base.__name__}"
        )
    return made


def split_terms(spec: str, names: Collection[str]) -> list[tuple[float, str]]:
    """Split an objective spec into ``(weight, "name:arg...")`` terms."""
    terms, pos, sign = [], 0, 1.0
    while True:
        m = _TERM_START.match(spec, pos)
        assert m is not None  # every part of it is optional
        if m.group(1) == "-":
            sign = -sign
        coef = float(m.group(2)) if m.group(2) else 1.0
        if not math.isfinite(coef):
            raise ValueError(
                f"objective spec {spec!r}: weight {m.group(2)} is not a finite "
                "number; use a smaller one"
            )
        start = i = m.end()
        while i < len(spec):
            if _at_arg_start(spec, i):
                i = _quoted_end(spec, i)
                continue
            if spec[i] in "+-" and i > start:
                if not spec[i + 1 :].strip():
                    raise ValueError(
                        f"objective spec {spec!r}: a term is empty after {spec[i]!r}"
                    )
                after = _AFTER_SIGN.match(spec, i + 1)
                if after and (after.group(2).strip() == ":" or after.group(1) in names):
                    break
            i += 1
        body = spec[start:i].strip()
        if not body:
            raise ValueError(
                f"objective spec {spec!r}: a term is empty at column {start}"
            )
        moved = _trailing_weight(body, names)
        if moved is not None:  # "channel:L:7*2": say where the weight goes
            w, fixed = moved
            before = spec[: m.start(2)] if m.group(2) else spec[:start]
            hint = f"{before}{coef * w:g}*{fixed}{spec[i:]}"
            raise ValueError(
                f"objective spec {spec!r}: a weight goes before its term, not "
                f"after it; write {hint!r}"
            )
        terms.append((sign * coef, body))
        if i >= len(spec):
            return terms
        sign = 1.0 if spec[i] == "+" else -1.0
        pos = i + 1


def _trailing_weight(body: str, names: Collection[str]) -> tuple[float, str] | None:
    """``(2.0, "channel:L:7")`` for a term whose factors end in ``*NUMBER``
    (``channel:L:7*2``, a weight written after its term), else None."""
    weight, fixed, found = 1.0, [], False
    for factor in split_factors(body, names):
        t = _TRAILING_WEIGHT.fullmatch(factor)
        if t and t.group(1):
            weight *= float(t.group(2))
            factor, found = t.group(1), True
        fixed.append(factor)
    return (weight, "*".join(fixed)) if found else None


def _split_at(text: str, i0: int, ok: Callable[[int], bool], sep: str) -> list[str]:
    """``text`` cut at each ``sep`` outside quoted arguments where ``ok(i)``."""
    parts, start, i = [], i0, i0
    while i < len(text):
        if _at_arg_start(text, i):
            i = _quoted_end(text, i)
            continue
        if text[i] == sep and ok(i):
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:].strip())
    return parts


def split_factors(body: str, names: Collection[str]) -> list[str]:
    """A term's ``*``-separated factors (see the module docstring)."""

    def reads_as_term(i: int) -> bool:
        after = _AFTER_SIGN.match(body, i + 1)
        return bool(
            after and (after.group(2).strip() == ":" or after.group(1) in names)
        )

    factors = _split_at(body, 0, reads_as_term, "*")
    if any(not f for f in factors):
        raise ValueError(f"objective term {body!r}: a factor is empty around '*'")
    return factors


def split_mask(factor: str) -> tuple[str, str | None]:
    """``"name:args@mask.png"`` -> ``("name:args", "mask.png")``; the mask
    may be quoted (``@"a@b.png"``)."""
    text = factor.strip()
    for m in re.finditer(r'@\s*"', text):  # a quoted mask runs to the end
        try:
            mask, end = json.JSONDecoder().raw_decode(text, m.end() - 1)
        except json.JSONDecodeError:
            continue
        if end == len(text) and isinstance(mask, str):
            body = text[: m.start()].strip()
            break
    else:
        cuts = _split_at(text, 0, lambda i: True, "@")
        if len(cuts) == 1:
            return factor, None
        body, mask = "@".join(cuts[:-1]), cuts[-1]
    if not body or not mask:
        raise ValueError(f"objective {factor!r}: give TERM@MASK, both non-empty")
    return body, mask


def iter_factors(spec: str, names: Collection[str]) -> list[tuple[str, str | None]]:
    """Every ``(name:args, mask)`` factor of an objective spec."""
    return [
        split_mask(factor)
        for _, body in split_terms(spec, names)
        for factor in split_factors(body, names)
    ]


def _factor(text: str, entries) -> Objective:
    from inceptionism.plugins.fvis import Masked

    body, mask = split_mask(text)
    made = _build("objectives", body, entries)
    return made if mask is None else Masked(made, mask)


def _term(body: str, entries) -> Objective:
    objs = [_factor(f, entries) for f in split_factors(body, entries)]
    return objs[0] if len(objs) == 1 else Product(objs)


def parse_objective(spec: str | Objective, pm=None) -> Objective:
    """An :class:`Objective` from a CLI spec (see the module docstring).

    An ``Objective`` is returned as is. Unknown names raise ``ValueError``
    listing close names; wrong argument counts show the factory's usage.
    """
    if isinstance(spec, Objective):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"objective must be a spec string or Objective, not {spec!r}")
    entries = registry(pm or get_plugin_manager(), "objectives")
    if not spec.strip():
        raise ValueError("empty objective spec; e.g. deepdream:inception_4c/output")
    parsed = split_terms(spec, entries)
    objs = [_term(body, entries) for _, body in parsed]
    weights = [w for w, _ in parsed]
    if len(objs) == 1 and weights[0] == 1.0:
        return objs[0]
    return Sum(objs, weights)


def make_regularizer(spec: str | Regularizer, pm=None) -> Regularizer:
    """A :class:`Regularizer` from ``name[:arg...]`` (``tv:0.01``), or as is."""
    if isinstance(spec, Regularizer):
        return spec
    entries = registry(pm or get_plugin_manager(), "regularizers")
    return _build("regularizers", spec, entries)


def build(kind: str, spec: str, pm=None) -> Any:
    """One ``name[:arg...]`` of registry ``kind`` (``"params"``,
    ``"transforms"``, ...) through the plugin manager."""
    return _build(kind, spec, registry(pm or get_plugin_manager(), kind))


def make_prior(spec: str | Prior, pm=None) -> Prior:
    """A :class:`Prior` from ``name[:arg...]`` (``jitter:32``, ``clip``), or as is."""
    if isinstance(spec, Prior):
        return spec
    return _build("priors", spec, registry(pm or get_plugin_manager(), "priors"))
