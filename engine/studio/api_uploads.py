"""Pictures from the page: ``POST /api/uploads`` (the raw body, its name in
``X-Filename``; refused over the studio's byte limit before it is all read,
then checked and stored by :mod:`~inceptionism.engine.studio.uploads`) and
``GET /api/uploads/ID`` (a stored picture by its id only; ``sample`` is the
sample). A picture with a recipe comes back with the page's settings that
re-make it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from inceptionism.engine.studio import settings as st
from inceptionism.engine.studio import uploads
from inceptionism.engine.studio.jobs import Studio
from inceptionism.engine.studio.web import NOSNIFF, error


def restore(studio: Studio, recipe: dict[str, Any], shown: str) -> dict[str, Any]:
    """``{"settings": ..., "note": ...}`` of an upload's recipe: the settings
    (None when they cannot be restored) and a note when something is lost."""
    try:
        restored = st.from_recipe(recipe, models=studio.models, uploads=studio.uploads)
    except ValueError as exc:
        return {"settings": None, "note": f"its recipe cannot be restored: {exc}"}
    inp = restored["input"]
    restored["input_name"] = (
        "sample.png" if inp == "sample" else studio.names.get(inp, shown)
    )
    answer: dict[str, Any] = {"settings": restored}
    if restored["model"] is None:
        answer["note"] = (
            f"its model {recipe['model']['name']} is not offered "
            "here; the chosen model is kept"
        )
    return answer


def routes(studio: Studio) -> list[Route]:
    """The two routes."""

    async def upload(request: Request) -> Response:
        name = unquote(request.headers.get("x-filename", "picture"))
        shown = uploads.clean(name)
        too_big = uploads.over_limit(shown, studio.max_bytes)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > studio.max_bytes:
            return error(413, too_big)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > studio.max_bytes:
                return error(413, too_big)
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
            return error(400, str(exc))
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
            answer.update(restore(studio, up.recipe, shown))
        return JSONResponse(answer)

    async def uploaded(request: Request) -> Response:
        upload_id = request.path_params["upload"]
        if upload_id == "sample":
            from inceptionism.engine.image import sample_image_path

            return FileResponse(sample_image_path(), media_type="image/png")
        path = uploads.find(studio.uploads, upload_id)
        if path is None:
            return error(404, "no such picture")
        return FileResponse(path, headers=NOSNIFF)  # shown as a picture, never run

    return [
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/uploads/{upload}", uploaded),
    ]
