"""What the page can choose: ``GET /api/options`` (models, devices, the
plugin manager's objectives/regularizers/priors, defaults, limits),
``GET /api/layers?model=`` (the model's layers grouped by stage, each with
its ``thumb`` URL where one exists) and ``GET /api/thumbs?model=&layer=``
(that layer's thumbnail: an indexed file only, found by model and layer,
:mod:`~inceptionism.engine.studio.thumbs`)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from inceptionism.engine.studio import settings as st
from inceptionism.engine.studio.jobs import Studio
from inceptionism.engine.studio.thumbs import with_thumbs
from inceptionism.engine.studio.web import NOSNIFF, error


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


def routes(studio: Studio, pm: Any) -> list[Route]:
    """The three routes; each model's graph is read once (per app)."""
    graphs: dict[str, Any] = {}

    def model_of(request: Request) -> st.Model | None:
        return studio.models.get(request.query_params.get("model", ""))

    def graph_of(model: st.Model) -> dict[str, Any]:
        if model.id not in graphs:
            if model.weights:
                from inceptionism.weights import load_model

                graphs[model.id] = load_model(model.weights).graph
            else:
                from inceptionism.engine.models import resolve_spec

                graphs[model.id] = resolve_spec(str(model.name), pm).graph()
        return graphs[model.id]

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

    async def layers(request: Request) -> Response:
        model = model_of(request)
        if model is None:
            return error(404, "unknown model; choose one listed")
        try:
            graph = await asyncio.to_thread(graph_of, model)
            found = await asyncio.to_thread(studio.thumbs.of_model, model)
        except (OSError, ValueError) as exc:
            return error(400, f"cannot read model {model.label}: {exc}")
        groups = with_thumbs(layer_groups(graph), found, model.id)
        return JSONResponse({"model": model.id, "groups": groups})

    async def thumb(request: Request) -> Response:
        model = model_of(request)
        if model is None:
            return error(404, "unknown model; choose one listed")
        layer = request.query_params.get("layer", "")
        try:
            got = await asyncio.to_thread(studio.thumbs.of_model, model, False)
            found = got.get(layer)
        except OSError as exc:
            return error(400, f"cannot read model {model.label}: {exc}")
        if found is None or not found.path.is_file():
            return error(404, "no thumbnail for this layer")
        try:
            data = await asyncio.to_thread(studio.thumbs.picture, found)
        except (OSError, ValueError):  # gone or damaged since the scan
            return error(404, "no thumbnail for this layer")
        headers = {**NOSNIFF, "Cache-Control": "no-cache"}
        return Response(data, media_type="image/png", headers=headers)

    return [
        Route("/api/options", options),
        Route("/api/layers", layers),
        Route("/api/thumbs", thumb),
    ]
