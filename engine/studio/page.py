"""The studio's page (``GET /``, which also sets the token's cookie) and its
own files (``GET /static/NAME``, from a fixed table only: no name from the
request reaches the file system)."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from inceptionism.engine.studio.access import Access
from inceptionism.engine.studio.web import NOSNIFF, error

#: The page's files, served by name from this fixed table only.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
    "studio.js": "text/javascript; charset=utf-8",
}
#: The page runs only its own script and shows its own and data: pictures.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def static_file(name: str) -> bytes:
    return (
        resources.files("inceptionism.engine.studio")
        .joinpath("static")
        .joinpath(name)
        .read_bytes()
    )


def routes(access: Access) -> list[Route]:
    """``/`` (HTML 403 without the token) and ``/static/{name}``."""

    async def page(request: Request) -> Response:
        if not access.allowed(request):
            return HTMLResponse(
                "<p>This studio needs its token: open the URL that "
                "<code>inceptionism studio</code> printed.</p>",
                status_code=403,
            )
        response = HTMLResponse(static_file("index.html"))
        response.set_cookie(
            access.cookie, access.token, httponly=True, samesite="strict"
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = CSP
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return error(404, "no such file")
        return Response(static_file(name), media_type=STATIC[name], headers=NOSNIFF)

    return [Route("/", page), Route("/static/{name}", static)]
