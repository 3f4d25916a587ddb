"""The studio (issue 16): a local web page over the engine.

``inceptionism studio`` serves one page (plain HTML/CSS/JS in ``static/``)
where a picture is dropped, the model, layer, objective, priors and numbers
are chosen, and **Dream** queues a job; the page follows its progress and
intermediate picture over server-sent events, can stop it, downloads the
result (a PNG with its recipe) and restores every setting from such a PNG.

- :mod:`~inceptionism.engine.studio.jobs`: the jobs and the worker thread of
  each device (one dream at a time per device, the rest queued); each job is
  :mod:`inceptionism.engine.remake`'s create/render/write, the same dream
  loop as ``dream`` and batches, on a net loaded once
  (:func:`inceptionism.engine.batch.loaded_net`).
- :mod:`~inceptionism.engine.studio.uploads`: pictures sent by the page,
  size- and pixel-limited, stored in the work folder under their SHA-256.
- :mod:`~inceptionism.engine.studio.server`: the Starlette app, put together
  from :mod:`~inceptionism.engine.studio.access` (the token and its check),
  :mod:`~inceptionism.engine.studio.page` (the page and its files) and the
  API's routes: :mod:`~inceptionism.engine.studio.api_models` (options,
  layers, thumbnails), :mod:`~inceptionism.engine.studio.api_uploads` and
  :mod:`~inceptionism.engine.studio.api_jobs` (jobs and the event stream).

Starlette and uvicorn are the optional extra ``studio``, imported only here.
"""

from __future__ import annotations

from typing import Any

INSTALL_HINT = (
    'the studio needs Starlette and uvicorn: pip install "inceptionism[studio]"'
)


def require() -> None:
    """``RuntimeError`` (one sentence, how to install) without the extra."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None


def create_app(studio: Any, token: str | None = None) -> Any:
    """The ASGI app of a :class:`~inceptionism.engine.studio.jobs.Studio`
    (:func:`inceptionism.engine.studio.server.create_app`), or the install
    hint as a ``RuntimeError`` without the extra."""
    require()
    from inceptionism.engine.studio.server import create_app as _create

    return _create(studio, token)
