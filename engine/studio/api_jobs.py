"""The dreams: ``POST /api/jobs`` (JSON settings, checked by
:mod:`~inceptionism.engine.studio.settings` before anything is queued ->
202 and the job), ``GET /api/jobs[/ID]`` (the session's jobs / one job),
``GET /api/jobs/ID/events`` (server-sent events: the job after each change,
every progress update since the last poll, and the intermediate picture
when it changed), ``POST /api/jobs/ID/cancel`` and
``GET /api/jobs/ID/result`` (the PNG, with its recipe)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inceptionism.engine.studio import settings as st
from inceptionism.engine.studio import uploads
from inceptionism.engine.studio.jobs import FINISHED, Job, Studio
from inceptionism.engine.studio.web import error

#: Seconds between two looks at a followed job.
POLL = 0.1


async def follow(job: Job, request: Request) -> AsyncIterator[str]:
    """The events of ``job`` until it finishes or the page goes away."""
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
            if snap["state"] in FINISHED:
                return
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL)


def routes(studio: Studio, pm: Any) -> list[Route]:
    """The six routes (``pm`` checks the settings' plugins)."""

    def job_of(request: Request) -> Job | None:
        return studio.jobs.get(request.path_params["job"])

    async def start(request: Request) -> Response:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "the request is not JSON settings")
        try:
            inp, spec = st.parse(
                data,
                models=studio.models,
                devices=studio.devices,
                pm=pm,
                find_upload=lambda i: uploads.find(studio.uploads, i),
            )
        except ValueError as exc:
            return error(400, str(exc))
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
            error(404, "no such job") if job is None else JSONResponse(job.snapshot())
        )

    async def cancel(request: Request) -> Response:
        job = job_of(request)
        if job is None:
            return error(404, "no such job")
        studio.cancel(job)
        return JSONResponse(job.snapshot())

    async def result(request: Request) -> Response:
        job = job_of(request)
        if job is None or job.result is None:
            return error(404, "no such result")
        return FileResponse(
            job.result, media_type="image/png", filename=job.download_name
        )

    async def events(request: Request) -> Response:
        job = job_of(request)
        if job is None:
            return error(404, "no such job")
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            follow(job, request), media_type="text/event-stream", headers=headers
        )

    return [
        Route("/api/jobs", start, methods=["POST"]),
        Route("/api/jobs", jobs),
        Route("/api/jobs/{job}", one),
        Route("/api/jobs/{job}/events", events),
        Route("/api/jobs/{job}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job}/result", result),
    ]
