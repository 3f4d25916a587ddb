"""``inceptionism studio``: the local web studio (:mod:`inceptionism.engine.studio`).

Decisions: the server binds 127.0.0.1; any other ``--host`` needs
``--allow-remote`` and prints a warning (the token still guards the API, but
the pictures and the machine's CPU are then open to the network). ``--port``
defaults to 8765 and moves up to the next free port (0: any free port); the
URL printed (and opened unless ``--no-browser``) carries the random token.
The work folder (uploads by content hash, results) defaults to ``studio/``
in the cache folder (``$INCEPTIONISM_HOME``). Models offered: each
``--weights FILE`` (checked at start, with ``dream``'s errors), then
every registry model (those not downloaded are listed as such). Layer
thumbnails: each ``--atlas DIR`` and the channel renders in
``<cache>/channels`` (:mod:`inceptionism.engine.studio.thumbs`).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
import threading
import webbrowser
from pathlib import Path

from inceptionism.engine.cli.argtypes import positive_int

DEFAULT_PORT = 8765
#: Ports tried after a busy --port (Jupyter's habit).
PORT_TRIES = 20

EXAMPLES = """\
examples:
  inceptionism studio                         # opens http://127.0.0.1:8765/?token=...
  inceptionism studio --weights synth.h5 --no-browser
  inceptionism studio --atlas atlas           # layer thumbnails: atlas.png's singles
  inceptionism studio --host 0.0.0.0 --allow-remote --port 9000"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "studio",
        help="a local web page to dream in (pip install 'inceptionism[studio]')",
        description="Start the studio: a local web page to drop a photo, choose "
        "the layer, objective and settings, watch the dream develop, stop it, "
        "and download the result with its recipe. Needs the studio extra: "
        'pip install "inceptionism[studio]".',
        epilog=EXAMPLES,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)"
    )
    p.add_argument(
        "--no-browser", action="store_true", help="print the URL, do not open it"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach",
    )
    p.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="FILE",
        help="offer this .h5 weight file as a model; repeatable (default: the "
        "cached registry models)",
    )
    p.add_argument(
        "--work",
        metavar="DIR",
        help="folder for uploads and results (default: studio/ in the cache)",
    )
    p.add_argument(
        "--atlas",
        action="append",
        default=[],
        metavar="DIR",
        help="show the single images of this layer atlas (the folder beside "
        "the sheet `inceptionism atlas` wrote) as layer thumbnails; repeatable "
        "(default: only the channel renders in the cache)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=64,
        metavar="MB",
        help="upload limit",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=40_000_000,
        metavar="N",
        help="largest picture accepted, in pixels (decompression-bomb guard)",
    )
    p.set_defaults(func=run)


def is_local(host: str) -> bool:
    """True for loopback addresses and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host`` at ``port`` or the next free ports."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    tries = 1 if port == 0 else PORT_TRIES
    for p in range(port, port + tries):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, p))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and p + 1 < port + tries:
                continue
            raise ValueError(f"cannot listen on {host}:{p} ({exc.strerror})") from None
        sock.listen(128)
        return sock
    raise AssertionError("unreachable")  # pragma: no cover


def models(weights: list[str], pm=None) -> dict:
    """The models the page offers, by id (see the module docstring)."""
    from inceptionism.engine.models import model_specs
    from inceptionism.engine.studio.settings import Model
    from inceptionism.weights.files import cached_model
    from inceptionism.weights.hdf5 import check_file

    out = {}
    for i, w in enumerate(weights):
        path = Path(w)
        check_file(path)  # dream's errors, now rather than when a job runs
        out[f"file{i}"] = Model(f"file{i}", path.name, weights=str(path.resolve()))
    for name in model_specs(pm):
        cached = cached_model(name).exists()
        label = name if cached else f"{name} (not downloaded)"
        out[name] = Model(name, label, name=name, available=cached)
    return out


def devices() -> tuple[str, ...]:
    from inceptionism.kernels.backend import gpu_available

    return ("cuda", "cpu") if gpu_available() else ("cpu",)


def run(args: argparse.Namespace) -> int:
    from inceptionism.engine.studio import require

    require()
    import uvicorn

    from inceptionism.engine.studio.jobs import Studio
    from inceptionism.engine.studio.server import create_app
    from inceptionism.engine.studio.thumbs import Thumbs, folders
    from inceptionism.weights.files import CACHE_ADVICE, cache_dir, make_folder

    if not is_local(args.host) and not args.allow_remote:
        raise ValueError(
            f"--host {args.host} lets other machines reach the studio; add "
            "--allow-remote if you mean it"
        )
    work = Path(args.work) if args.work else cache_dir() / "studio"
    make_folder(
        work, "give --work DIR" if args.work else f"{CACHE_ADVICE} or give --work DIR"
    )
    thumbs = Thumbs(folders(args.atlas, cache_dir()))
    studio = Studio(
        work,
        models(args.weights),
        devices(),
        max_bytes=args.max_upload_mb * 2**20,
        max_pixels=args.max_pixels,
        thumbs=thumbs,
    )
    app = create_app(studio)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={app.state.token}"
    if not is_local(args.host):
        print(
            f"inceptionism: warning: the studio listens on {args.host}, reachable "
            "from other machines; anyone with the URL can use it",
            file=sys.stderr,
        )
    print(f"inceptionism studio: {url}", flush=True)
    print(f"work folder: {studio.work} (Ctrl-C stops the studio)", flush=True)
    if not args.no_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
