"""The one error type of the weight and model file readers.

Every malformed caffemodel, prototxt or HDF5 weight file read by
:func:`~inceptionism.weights.caffemodel.read_caffemodel`,
:func:`~inceptionism.weights.prototxt.read_prototxt` or
:func:`~inceptionism.weights.hdf5.load_model` raises a
:class:`WeightsFileError` (a ``ValueError``): one line that starts with the
file's name and says, where it applies, the byte offset or line and the layer,
then what to do. Nothing else escapes a reader for bad *content* (a missing
file is still ``FileNotFoundError``); the fuzz tests in
``tests/weights/test_fuzz.py`` hold the readers to that.
"""

from __future__ import annotations

#: Exceptions that a reader's own checks might miss on hostile input (a
#: value of an unexpected type deep in a structure, a number too large for
#: numpy): the readers turn them into :class:`WeightsFileError` at their
#: boundary, naming the file, rather than let a bare ``TypeError`` out.
MALFORMED = (
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    UnicodeError,
    RecursionError,
)


class WeightsFileError(ValueError):
    """A weight or model file that cannot be used: truncated, corrupt, not of
    this format, or describing a net we refuse (bad geometry, sizes beyond
    caffe.proto's ranges). The message names the file."""


def describe(exc: BaseException) -> str:
    """``exc`` as one line: its message; with its type for the unexpected
    kinds (``KeyError('x')`` -> ``KeyError: 'x'``) and when it has none."""
    text = str(exc).strip().replace("\n", " ")
    if text and not isinstance(exc, MALFORMED):  # ValueError, OSError, ...
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["MALFORMED", "WeightsFileError", "describe"]
