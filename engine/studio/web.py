"""What every route module of the studio's app shares: the JSON error
answer and the header that keeps browsers from guessing a file's type."""

from __future__ import annotations

from starlette.responses import JSONResponse

#: On every file served: shown as what it says it is, never sniffed (and run).
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def error(status: int, message: str) -> JSONResponse:
    """``{"error": message}`` with ``status``: the API's one-sentence errors."""
    return JSONResponse({"error": message}, status_code=status)
