"""The studio's web app (Starlette): one page, a JSON API, an event stream.

Routes (every one but ``/static/*`` needs the token):

==========================  ==============================================
``GET /``                   the page; ``?token=T`` also sets the cookie
``GET /static/NAME``        the page's own files (a fixed list, nothing else)
``GET /api/options``        models, devices, objectives/regularizers/priors
                            from the plugin manager, defaults, limits
``GET /api/layers?model=``  the model's layers grouped by stage, each
                            with its ``thumb`` URL where one exists
``GET /api/thumbs?model=&layer=``  that layer's thumbnail (an indexed file
                            only, :mod:`~inceptionism.engine.studio.thumbs`)
``POST /api/uploads``       a picture as the raw body (``X-Filename``)
``GET /api/uploads/ID``     a stored picture (``sample`` is the sample)
``POST /api/jobs``          start a dream (JSON settings) -> 202 and the job
``GET /api/jobs[/ID]``      the session's jobs / one job
``GET /api/jobs/ID/events`` server-sent events: the job after each change,
                            with the intermediate picture when it changed
``POST /api/jobs/ID/cancel`` stop it
``GET /api/jobs/ID/result`` the PNG, with its recipe
==========================  ==============================================

The token (random, printed in the URL the command opens, like Jupyter's)
is taken from the ``X-Studio-Token`` header, the ``token`` query parameter
or the cookie the page gets when first opened with it (``HttpOnly``,
``SameSite=Strict``, so other sites' pages cannot use it: no CSRF). A
missing or wrong token is 403. Errors are JSON ``{"error": sentence}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from inceptionism.engine.studio import settings as st
from inceptionism.engine.studio import uploads
from inceptionism.engine.studio.jobs import Job, Studio
from inceptionism.engine.studio.thumbs import with_thumbs

#: The page's files, served by name from this fixed table only.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
    "studio.js": "text/javascript; charset=utf-8",
}
HEADER = "x-studio-token"
#: The page runs only its own script and shows its own and data: pictures.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def static_file(name: str) -> bytes:
    return (
        resources.files("inceptionism.engine.studio")
        .joinpath("static")
        .joinpath(name)
        .read_bytes()
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _stage(name: str) -> str:
    return name.split("/", 1)[0]


def layer_groups(graph: dict[str, Any], hw: tuple[int, int] = (224, 224)) -> list:
    """``[{stage, layers: [{name, type, channels, size}]}]`` in net order:
    every target name (design section 3) with its shape at ``hw``, grouped
    by the part before the first ``/`` (``inception_4c``, ``pool3``...)."""
    from inceptionism.engine.graph import Graph

    g = Graph(graph)
    shapes = g.shapes((1, 3, *hw), {})
    groups: list[dict[str, Any]] = []
    for name in g.names:
        s = shapes.get(name)
        if name not in g.nodes or s is None or len(s) != 4:
            continue  # the input, classifier outputs, layers empty at hw
        if not groups or groups[-1]["stage"] != _stage(name):
            groups.append({"stage": _stage(name), "layers": []})
        groups[-1]["layers"].append(
            {
                "name": name,
                "type": g.nodes[name].type,
                "channels": s[1],
                "size": f"{s[3]}x{s[2]}",
            }
        )
    return groups


def create_app(studio: Studio, token: str | None = None) -> Starlette:
    """The app; ``app.state.token`` is the access token (random if None)."""
    from inceptionism.plugins import get_plugin_manager

    token = token or secrets.token_urlsafe(32)
    cookie = "studio-" + hashlib.sha256(token.encode()).hexdigest()[:12]
    pm = get_plugin_manager()
    graphs: dict[str, Any] = {}

    def allowed(request: Request) -> bool:
        given = (
            request.headers.get(HEADER)
            or request.query_params.get("token")
            or request.cookies.get(cookie)
            or ""
        )
        return secrets.compare_digest(given.encode(), token.encode())

    def job_of(request: Request) -> Job | None:
        return studio.jobs.get(request.path_params["job"])

    async def page(request: Request) -> Response:
        if not allowed(request):
            return HTMLResponse(
                "<p>This studio needs its token: open the URL that "
                "<code>inceptionism studio</code> printed.</p>",
                status_code=403,
            )
        response = HTMLResponse(static_file("index.html"))
        response.set_cookie(cookie, token, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = CSP
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return _error(404, "no such file")
        return Response(static_file(name), media_type=STATIC[name], headers=NOSNIFF)

    async def options(request: Request) -> Response:
        from inceptionism.engine.cli.plugins_cmd import collect
        from inceptionism.engine.dream import DreamConfig

        info = collect(pm)
        return JSONResponse(
            {
                "models": [vars(m) for m in studio.models.values()],
                "devices": list(studio.devices),
                "objectives": info["objectives"],
                "regularizers": info["regularizers"],
                "priors": info["priors"],
                "defaults": DreamConfig().to_dict(),
                "limits": {
                    "bytes": studio.max_bytes,
                    "pixels": studio.max_pixels,
                    "max_size": st.MAX_SIZE,
                },
            }
        )

    def graph_of(model: st.Model) -> dict[str, Any]:
        if model.id not in graphs:
            if model.weights:
                from inceptionism.weights import load_model

                graphs[model.id] = load_model(model.weights).graph
            else:
                from inceptionism.engine.models import resolve_spec

                graphs[model.id] = resolve_spec(str(model.name), pm).graph()
        return graphs[model.id]

    async def layers(request: Request) -> Response:
        model = studio.models.get(request.query_params.get("model", ""))
        if model is None:
            return _error(404, "unknown model; choose one listed")
        try:
            graph = await asyncio.to_thread(graph_of, model)
            found = await asyncio.to_thread(studio.thumbs.of_model, model)
        except (OSError, ValueError) as exc:
            return _error(400, f"cannot read model {model.label}: {exc}")
        groups = with_thumbs(layer_groups(graph), found, model.id)
        return JSONResponse({"model": model.id, "groups": groups})

    async def thumb(request: Request) -> Response:
        model = studio.models.get(request.query_params.get("model", ""))
        if model is None:
            return _error(404, "unknown model; choose one listed")
        layer = request.query_params.get("layer", "")
        try:
            got = await asyncio.to_thread(studio.thumbs.of_model, model, False)
            found = got.get(layer)
        except OSError as exc:
            return _error(400, f"cannot read model {model.label}: {exc}")
        if found is None or not found.path.is_file():
            return _error(404, "no thumbnail for this layer")
        try:
            data = await asyncio.to_thread(studio.thumbs.picture, found)
        except (OSError, ValueError):  # gone or damaged since the scan
            return _error(404, "no thumbnail for this layer")
        headers = {**NOSNIFF, "Cache-Control": "no-cache"}
        return Response(data, media_type="image/png", headers=headers)

    async def upload(request: Request) -> Response:
        name = unquote(request.headers.get("x-filename", "picture"))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > studio.max_bytes:
            return _error(
                413,
                f"{uploads.clean(name)} is over the studio's limit of "
                f"{studio.max_bytes / 2**20:.0f} MB; downsize it first",
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > studio.max_bytes:
                return _error(
                    413,
                    f"{uploads.clean(name)} is over the studio's limit of "
                    f"{studio.max_bytes / 2**20:.0f} MB; downsize it first",
                )
        try:
            up = await asyncio.to_thread(
                uploads.store,
                studio.uploads,
                bytes(body),
                name,
                max_bytes=studio.max_bytes,
                max_pixels=studio.max_pixels,
            )
        except uploads.UploadError as exc:
            return _error(400, str(exc))
        shown = uploads.clean(name)
        studio.names.setdefault(up.id, shown)
        answer: dict[str, Any] = {
            "id": up.id,
            "name": shown,
            "width": up.width,
            "height": up.height,
            "url": f"api/uploads/{up.id}",
            "path": str(up.path),  # for a guide objective's argument
            "settings": None,
        }
        if up.recipe is not None:
            try:
                restored = st.from_recipe(
                    up.recipe, models=studio.models, uploads=studio.uploads
                )
                inp = restored["input"]
                restored["input_name"] = (
                    "sample.png" if inp == "sample" else studio.names.get(inp, shown)
                )
                answer["settings"] = restored
                if restored["model"] is None:
                    answer["note"] = (
                        f"its model {up.recipe['model']['name']} is not offered "
                        "here; the chosen model is kept"
                    )
            except ValueError as exc:
                answer["note"] = f"its recipe cannot be restored: {exc}"
        return JSONResponse(answer)

    async def uploaded(request: Request) -> Response:
        upload_id = request.path_params["upload"]
        if upload_id == "sample":
            from inceptionism.engine.image import sample_image_path

            return FileResponse(sample_image_path(), media_type="image/png")
        path = uploads.find(studio.uploads, upload_id)
        if path is None:
            return _error(404, "no such picture")
        return FileResponse(path, headers=NOSNIFF)  # shown as a picture, never run

    async def start(request: Request) -> Response:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "the request is not JSON settings")
        try:
            inp, spec = st.parse(
                data,
                models=studio.models,
                devices=studio.devices,
                pm=pm,
                find_upload=lambda i: uploads.find(studio.uploads, i),
            )
        except ValueError as exc:
            return _error(400, str(exc))
        name = data.get("input_name") or (
            "sample.png" if inp.name == "sample.png" else "picture.png"
        )
        keep = {
            "input": data["input"],
            "model": data["model"],
            "device": spec.device,
            "max_size": spec.max_size,
            "mean": spec.mean,
        }
        job = studio.submit(inp, uploads.clean(str(name)), spec, keep)
        return JSONResponse(job.snapshot(), status_code=202)

    async def jobs(request: Request) -> Response:
        return JSONResponse([j.snapshot() for j in studio.jobs.values()])

    async def one(request: Request) -> Response:
        job = job_of(request)
        return (
            _error(404, "no such job") if job is None else JSONResponse(job.snapshot())
        )

    async def cancel(request: Request) -> Response:
        job = job_of(request)
        if job is None:
            return _error(404, "no such job")
        studio.cancel(job)
        return JSONResponse(job.snapshot())

    async def result(request: Request) -> Response:
        job = job_of(request)
        if job is None or job.result is None:
            return _error(404, "no such result")
        name = f"{Path(job.input_name).stem}-dream.png"
        return FileResponse(job.result, media_type="image/png", filename=name)

    async def events(request: Request) -> Response:
        job = job_of(request)
        if job is None:
            return _error(404, "no such job")

        async def stream():
            seen = shown = -1
            while True:
                if job.version != seen:
                    # every progress update since the last poll, then the job
                    for _, p in job.progress_since(seen)[:-1]:
                        step = {**job.snapshot(), "state": "running", "progress": p}
                        yield f"event: job\ndata: {json.dumps(step)}\n\n"
                    seen, snap = job.version, job.snapshot()
                    if job.previews != shown and job.preview is not None:
                        shown, snap["preview"] = job.previews, job.preview
                    yield f"event: job\ndata: {json.dumps(snap)}\n\n"
                    if snap["state"] in ("done", "failed", "cancelled"):
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            stream(), media_type="text/event-stream", headers=headers
        )

    api = [
        Route("/api/options", options),
        Route("/api/layers", layers),
        Route("/api/thumbs", thumb),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/uploads/{upload}", uploaded),
        Route("/api/jobs", start, methods=["POST"]),
        Route("/api/jobs", jobs),
        Route("/api/jobs/{job}", one),
        Route("/api/jobs/{job}/events", events),
        Route("/api/jobs/{job}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job}/result", result),
    ]
    routes = [Route("/", page), Route("/static/{name}", static)]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(studio.close)

    app = Starlette(
        routes=routes + api,
        middleware=[Middleware(TokenGuard, allowed=allowed)],
        lifespan=lifespan,
    )
    app.state.token = token
    return app


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
            resp = _error(
                403,
                "missing or wrong studio token; open the URL "
                "that `inceptionism studio` printed",
            )
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)
