"""``argparse`` value types shared by the subcommands: a bad value becomes
argparse's one-line usage error naming the flag (exit status 2) before any
work starts."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """``"N"`` -> ``N`` for a whole number >= 1; anything else (``0``,
    ``-3``, ``x``, ``2.5``) is refused with "'TEXT': give a positive integer"."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive integer")
    return n
