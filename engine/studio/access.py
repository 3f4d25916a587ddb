"""Who may use the studio: its token, the cookie that carries it, and the
middleware that refuses everything else.

The token (random, printed in the URL the command opens, like Jupyter's)
is taken from the ``X-Studio-Token`` header, the ``token`` query parameter
or the cookie the page gets when first opened with it (``HttpOnly``,
``SameSite=Strict``, so other sites' pages cannot use it: no CSRF; the page
sets it, :mod:`~inceptionism.engine.studio.page`). A missing or wrong token
is 403.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from starlette.requests import Request

from inceptionism.engine.studio.web import error

HEADER = "x-studio-token"


class Access:
    """The token of one app (random if None) and its cookie's name."""

    def __init__(self, token: str | None = None):
        self.token = token or secrets.token_urlsafe(32)
        self.cookie = "studio-" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    def allowed(self, request: Request) -> bool:
        """Whether ``request`` carries the token (header, query or cookie)."""
        given = (
            request.headers.get(HEADER)
            or request.query_params.get("token")
            or request.cookies.get(self.cookie)
            or ""
        )
        return secrets.compare_digest(given.encode(), self.token.encode())


class TokenGuard:
    """ASGI middleware: 403 for any request but the page's static files
    without the token (the page itself answers in HTML)."""

    def __init__(self, app: Any, allowed: Any):
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/static/") or path == "/":
            await self.app(scope, receive, send)
            return
        if not self.allowed(Request(scope)):
            resp = error(
                403,
                "missing or wrong studio token; open the URL "
                "that `inceptionism studio` printed",
            )
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)
