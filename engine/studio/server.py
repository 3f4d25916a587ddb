"""The studio's web app (Starlette): one page, a JSON API, an event stream.

Routes (every one but ``/static/*`` needs the token), and the module that
answers each:

==========================  ==============================================
``GET /``                   the page; ``?token=T`` also sets the cookie
                            (:mod:`~inceptionism.engine.studio.page`)
``GET /static/NAME``        the page's own files (a fixed list, nothing else)
``GET /api/options``        models, devices, objectives/regularizers/priors
                            from the plugin manager, defaults, limits
                            (:mod:`~inceptionism.engine.studio.api_models`)
``GET /api/layers?model=``  the model's layers grouped by stage, each
                            with its ``thumb`` URL where one exists
``GET /api/thumbs?model=&layer=``  that layer's thumbnail (an indexed file
                            only, :mod:`~inceptionism.engine.studio.thumbs`)
``POST /api/uploads``       a picture as the raw body (``X-Filename``)
                            (:mod:`~inceptionism.engine.studio.api_uploads`)
``GET /api/uploads/ID``     a stored picture (``sample`` is the sample)
``POST /api/jobs``          start a dream (JSON settings) -> 202 and the job
                            (:mod:`~inceptionism.engine.studio.api_jobs`)
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
missing or wrong token is 403
(:mod:`~inceptionism.engine.studio.access`). Errors are JSON
``{"error": sentence}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from inceptionism.engine.studio import api_jobs, api_models, api_uploads, page
from inceptionism.engine.studio.access import HEADER, Access, TokenGuard
from inceptionism.engine.studio.api_models import layer_groups
from inceptionism.engine.studio.jobs import Studio
from inceptionism.engine.studio.page import CSP, STATIC, static_file
from inceptionism.engine.studio.web import NOSNIFF

__all__ = [
    "CSP",
    "HEADER",
    "NOSNIFF",
    "STATIC",
    "TokenGuard",
    "create_app",
    "layer_groups",
    "static_file",
]


def create_app(studio: Studio, token: str | None = None) -> Starlette:
    """The app; ``app.state.token`` is the access token (random if None)."""
    from inceptionism.plugins import get_plugin_manager

    access = Access(token)
    pm = get_plugin_manager()
    api = [
        *api_models.routes(studio, pm),
        *api_uploads.routes(studio),
        *api_jobs.routes(studio, pm),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(studio.close)

    app = Starlette(
        routes=page.routes(access) + api,
        middleware=[Middleware(TokenGuard, allowed=access.allowed)],
        lifespan=lifespan,
    )
    app.state.token = access.token
    return app
