"""Protobuf text format (``text_format``) reader: :func:`parse_text`.

It reads text into a *message*: a dict ``{field name: [value, ...]}`` (every
field a list, since any may repeat), values being ``int``, ``float``,
``bool``, ``str`` (strings and enum names) or nested messages.

Supported syntax: ``#`` comments, ``name: value``, ``name { ... }`` and
``name: { ... }`` / ``< ... >`` sub-messages, repeated fields by repetition
or ``[a, b]`` lists, single- or double-quoted strings with C escapes
(adjacent strings concatenate), enum identifiers, ``true``/``false``,
optional ``;``/``,`` separators.

Text is untrusted: parsing is iterative with a depth limit, and every fault
(truncation, a bad escape, an overlong number) is a :class:`PrototxtError`
with the line.
"""

from __future__ import annotations

import re

from inceptionism.weights.errors import WeightsFileError

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[fF]?(?![\w.])
           |[-+]?0[xX][0-9a-fA-F]+)
  | (?P<ident>[-+]?[A-Za-z_][\w.]*)
  | (?P<punct>[{}<>\[\]:;,])
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63,
}  # fmt: skip


class PrototxtError(WeightsFileError):
    """Malformed text or net, with the line number or the layer (and, from
    :func:`read_prototxt`, the file's name)."""


#: Deepest nesting of messages and lists accepted (Caffe nets need 4).
MAX_DEPTH = 64


def _unescape(body: str, line: int) -> str:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1 :]).group()  # type: ignore[union-attr]
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        elif e in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            if not m:
                raise PrototxtError(f"line {line}: bad \\x escape in string")
            out.append(int(m.group(), 16))
            i += 2 + len(m.group())
        elif e in "uU":
            n = 4 if e == "u" else 8
            digits = body[i + 2 : i + 2 + n]
            ok = re.fullmatch(f"[0-9a-fA-F]{{{n}}}", digits)
            code = int(digits, 16) if ok else -1
            if not (0 <= code <= 0x10FFFF) or 0xD800 <= code <= 0xDFFF:
                raise PrototxtError(
                    f"line {line}: bad \\{e} escape in string: \\{e}{digits} "
                    f"(want {n} hex digits naming a Unicode character)"
                )
            out += chr(code).encode("utf-8")
            i += 2 + n
        else:
            raise PrototxtError(f"line {line}: unknown escape \\{e} in string")
    return out.decode("utf-8", errors="replace")


def _tokens(text: str):
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise PrototxtError(f"line {line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        tok = m.group()
        if kind != "ws":
            yield kind, tok, line
        line += tok.count("\n")
        pos = m.end()
    yield "eof", "", line


def _scalar(kind: str, tok: str, line: int):
    if kind == "str":
        return _unescape(tok[1:-1], line)
    if kind == "num":
        t = tok.rstrip("fF") if not tok.lower().startswith(("0x", "-0x")) else tok
        try:
            if re.fullmatch(r"[-+]?\d+", t):
                return int(t)
            if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", t):
                return int(t, 16)
            return float(t)
        except ValueError:  # e.g. more digits than int() converts
            raise PrototxtError(
                f"line {line}: number {tok[:40]!r} is too long"
            ) from None
    if kind == "ident":
        low = tok.lower()
        if low in ("true", "t"):
            return True
        if low in ("false", "f"):
            return False
        if low.lstrip("-+") in ("inf", "infinity", "nan"):
            return float(low)
        return tok  # an enum value name
    found = tok or "end of file"
    raise PrototxtError(f"line {line}: expected a value, got {found!r}")


class _Parser:
    """Iterative (an explicit stack, at most :data:`MAX_DEPTH` deep): the
    nesting of a hostile file cannot exhaust Python's stack."""

    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.kind = ""
        self.advance()

    def advance(self):
        if self.kind != "eof":  # the end stays the end (a truncated file)
            self.kind, self.tok, self.line = next(self.toks)

    def separator(self):
        if self.tok in (";", ","):
            self.advance()

    def open(self, stack: list, frame: tuple):
        if len(stack) >= MAX_DEPTH:
            raise PrototxtError(
                f"line {self.line}: messages nested more than {MAX_DEPTH} deep"
            )
        self.advance()
        stack.append(frame)

    def parse(self) -> dict:
        root: dict[str, list] = {}
        # frames: (message dict, closing token) or (list of values, "]")
        stack: list[tuple] = [(root, None)]
        while True:
            into, close = stack[-1]
            if self.kind == "eof":
                if close is None:
                    return root
                raise PrototxtError(
                    f"line {self.line}: the file ends inside a message or list "
                    f"(expected {close!r}); is it truncated?"
                )
            if self.tok == close:
                self.advance()
                stack.pop()
                self.separator()
                continue
            if isinstance(into, list):  # inside [a, b, ...]
                if self.tok in ("{", "<"):
                    sub: dict[str, list] = {}
                    into.append(sub)
                    self.open(stack, (sub, "}" if self.tok == "{" else ">"))
                    continue
                into.append(self.value())
                if self.tok == ",":
                    self.advance()
                continue
            if self.kind != "ident":
                raise PrototxtError(
                    f"line {self.line}: expected a field name, got {self.tok!r}"
                )
            name = self.tok.split(".")[-1]  # extensions: [pkg.name] not used
            self.advance()
            colon = self.tok == ":"
            if colon:
                self.advance()
            values = into.setdefault(name, [])
            if self.tok in ("{", "<"):
                sub = {}
                values.append(sub)
                self.open(stack, (sub, "}" if self.tok == "{" else ">"))
            elif not colon:
                raise PrototxtError(
                    f"line {self.line}: expected ':' or '{{' after field {name!r}"
                )
            elif self.tok == "[":
                self.open(stack, (values, "]"))
            else:
                values.append(self.value())
                self.separator()

    def value(self):
        """A scalar (adjacent strings concatenated)."""
        kind, tok, line = self.kind, self.tok, self.line
        self.advance()
        v = _scalar(kind, tok, line)
        while kind == "str" and self.kind == "str":  # "a" "b" == "ab"
            v += _scalar(self.kind, self.tok, self.line)
            self.advance()
        return v


def parse_text(text: str) -> dict:
    """Parse protobuf text format into a message dict (see module doc)."""
    return _Parser(text).parse()


__all__ = ["MAX_DEPTH", "PrototxtError", "parse_text"]
