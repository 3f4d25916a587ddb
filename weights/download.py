"""Download a registry model into the cache, verify it, convert it.

``fetch(name)``: ``<cache>/<name>.caffemodel`` is downloaded through
``<file>.part`` — resumed with an HTTP ``Range`` request when a partial file
is there (restarted cleanly if the server ignores the range), shown with a
progress bar on a terminal, checked against the registry's SHA-1 and only
then renamed into place — and converted to ``<cache>/<name>.h5`` (written
atomically). A checksum mismatch deletes the download. An interrupted
download keeps its ``.part`` file so the next ``fetch`` resumes it; a lock
file (``.<file>.lock``, naming host and pid) keeps two fetches from appending
to one ``.part``, and one left by a killed fetch is taken over. Offline,
the error is one sentence naming the URL to download by hand and the
``convert`` command to run.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from inceptionism.weights.convert import convert
from inceptionism.weights.files import (
    cache_dir,
    cached_model,
    exclusive,
    make_folder,
    sha1_file,
)
from inceptionism.weights.registry import ModelSpec, get_spec

CHUNK = 1 << 16


class DownloadError(OSError):
    """A download that failed (network, HTTP status or checksum)."""


def _manual_hint(spec: ModelSpec, dest: Path, h5: Path) -> str:
    unpack = " and take the .caffemodel out of the archive" if spec.archive else ""
    return (
        f"download {spec.url} by hand{unpack}, then run `inceptionism weights "
        f"convert FILE.caffemodel --model {spec.name} -o {h5}`"
    )


class _Progress:
    """A one-line progress bar on stderr, only when it is a terminal."""

    def __init__(self, label: str, total: int | None, enabled: bool | None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label, self.total, self.last = label, total, -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        mb = done / 1e6
        if self.total:
            pct = int(100 * done / self.total)
            if pct == self.last:
                return
            self.last = pct
            bar = "#" * (pct // 4)
            line = (
                f"{self.label} [{bar:<25}] {pct:3d}% {mb:.1f}/{self.total / 1e6:.1f} MB"
            )
        else:
            line = f"{self.label} {mb:.1f} MB"
        sys.stderr.write("\r" + line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def download(
    url: str,
    dest: str | os.PathLike,
    sha1: str,
    size: int | None = None,
    progress: bool | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part``; verify ``sha1``.

    Raises :class:`DownloadError`; on a checksum mismatch neither ``dest``
    nor the partial file remains.
    """
    dest = Path(dest)
    lock = dest.with_name(f".{dest.name}.lock")
    try:
        with exclusive(lock, f"the download of {dest.name}"):
            return _download(url, dest, sha1, size, progress, timeout)
    except BlockingIOError as exc:
        raise DownloadError(str(exc)) from None


def _download(url, dest: Path, sha1, size, progress, timeout) -> Path:
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "inceptionism"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: check what we have
            resp = None
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    if resp is not None:
        with resp:
            resumed = have and resp.status == 206
            mode = "ab" if resumed else "wb"  # 200: the server restarts from 0
            done = have if resumed else 0
            length = resp.headers.get("Content-Length")
            total = size or (done + int(length) if length else None)
            bar = _Progress(dest.name, total, progress)
            try:
                with open(part, mode) as f:
                    while block := resp.read(CHUNK):
                        f.write(block)
                        done += len(block)
                        bar.update(done)
            finally:
                bar.close()
    got = sha1_file(part)
    if got != sha1:
        part.unlink()
        raise DownloadError(
            f"{url}: checksum mismatch (SHA-1 {got}, expected {sha1}); the "
            "download was deleted, run the command again"
        )
    os.replace(part, dest)
    return dest


def fetch(
    model: str | ModelSpec,
    cache: str | os.PathLike | None = None,
    progress: bool | None = None,
    force: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Download (if needed), verify and convert a registry model; returns the
    path of the converted ``.h5`` in the cache."""
    spec = get_spec(model) if isinstance(model, str) else model
    root = Path(cache) if cache is not None else cache_dir()
    h5 = cached_model(spec.name, root)
    if h5.exists() and not force:
        return h5
    dest = root / spec.download_name
    if spec.sha1 is None or spec.archive:
        why = "no checksum is known" if spec.sha1 is None else "it is an archive"
        raise DownloadError(
            f"cannot fetch {spec.name} automatically ({why}): "
            + _manual_hint(spec, dest, h5)
        )
    make_folder(root)
    if not (dest.exists() and sha1_file(dest) == spec.sha1):
        try:
            download(spec.url, dest, spec.sha1, spec.size, progress, timeout)
        except DownloadError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot download {spec.name} ({reason}): "
                + _manual_hint(spec, dest, h5)
            ) from None
    convert(dest, h5, model=spec)
    return h5
