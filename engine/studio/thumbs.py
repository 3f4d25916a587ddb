"""Layer thumbnails for the studio's layer list (issue 16): pictures
already made for a layer by ``inceptionism atlas``, found by their recipes.

Two kinds of files are indexed, both PNGs with an embedded recipe:

- the **single images of an atlas** (the folder beside ``atlas.png``, given
  to ``inceptionism studio --atlas DIR``): a picture's recipe says its
  objective, ``deepdream:LAYER``, and its weights' SHA-1;
- the **channel renders** of ``atlas --channels`` in ``<cache>/channels/``
  (:mod:`inceptionism.engine.atlas_channels`): the recipe's ``channel``
  entry says the layer, the channel and the weights' SHA-1.

A thumbnail belongs to a model when its weights' SHA-1 is the model's
(:func:`weights_sha1`), so a picture made with other weights is never shown
as this model's. Per layer, an atlas single wins over a channel render (it
shows the whole layer, not one channel); among several, the lowest channel
and then the first file name. The server serves a thumbnail only by
(model, layer) from this index — never by a path from the request — and
downsized to :data:`SIDE` pixels a side (:meth:`Thumbs.picture`).

Files are read once: :meth:`Thumbs.index` remembers each file's recipe by
its path, size and modification time, so a rescan (each time the page asks
for a model's layers) reads only new or changed files. Files without a
usable recipe, or unreadable, are skipped.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

#: Largest side of a thumbnail served (larger pictures are downsized).
SIDE = 128
#: Thumbnails remembered (each at most SIDE x SIDE).
KEEP = 512
#: The objective of an atlas single: one DeepDream layer.
ATLAS_OBJECTIVE = "deepdream:"


@dataclass(frozen=True)
class Thumb:
    """One picture for ``layer`` of the weights ``weights_sha1``.

    kind : ``"atlas"`` (a single of a layer atlas) or ``"channel"``.
    rank : lower is preferred (atlas singles first, then by channel).
    """

    layer: str
    weights_sha1: str
    path: Path
    kind: str
    rank: tuple[int, int, str]


def thumb_of(path: Path, recipe: Any) -> Thumb | None:
    """The :class:`Thumb` a file's recipe describes, or None."""
    if not isinstance(recipe, dict):
        return None
    channel = recipe.get("channel")
    if isinstance(channel, dict):  # an atlas --channels render
        layer, sha1, k = (channel.get(x) for x in ("layer", "weights_sha1", "channel"))
        if isinstance(layer, str) and isinstance(sha1, str) and isinstance(k, int):
            return Thumb(layer, sha1, path, "channel", (1, k, path.name))
        return None
    config, model = recipe.get("config"), recipe.get("model")
    if not isinstance(config, dict) or not isinstance(model, dict):
        return None
    objective, sha1 = config.get("objective"), model.get("weights_sha1")
    if not isinstance(objective, str) or not isinstance(sha1, str):
        return None
    if not objective.startswith(ATLAS_OBJECTIVE):
        return None  # another objective: not a picture of the layer alone
    layer = objective[len(ATLAS_OBJECTIVE) :]
    if not layer or any(c in layer for c in ":,+*"):
        return None
    return Thumb(layer, sha1, path, "atlas", (0, 0, path.name))


def _read(path: Path) -> Any:
    from inceptionism.engine.image import read_recipe

    try:
        return read_recipe(path)
    except (OSError, ValueError, SyntaxError):  # not a picture, damaged
        return None


class Thumbs:
    """The thumbnails under ``folders`` (atlas single folders, and the
    channel cache ``<cache>/channels``), indexed by weights SHA-1 and layer.
    Thread-safe; see the module docstring."""

    def __init__(self, folders: Iterable[Path | str] = ()):
        self.folders = [Path(f).resolve() for f in folders]
        self._seen: dict[Path, tuple[int, int, Thumb | None]] = {}
        self._lock = threading.Lock()
        self._sha1s: dict[str, str] = {}
        self._found: dict[str, dict[str, Thumb]] = {}
        self._small: dict[tuple[Path, int, int], bytes] = {}

    def of_model(self, model: Any, rescan: bool = True) -> dict[str, Thumb]:
        """:meth:`index` for a studio model (a
        :class:`~inceptionism.engine.studio.settings.Model`: its weight
        file, or its registry name's cached file; SHA-1 computed once).
        ``rescan=False``: the last index of these weights, if any (serving
        each picture does not rescan the folders)."""
        if not self.folders:
            return {}
        if model.id not in self._sha1s:
            from inceptionism.weights.files import cached_model, sha1_file

            path = Path(model.weights or cached_model(str(model.name)))
            self._sha1s[model.id] = sha1_file(path) if path.is_file() else ""
        sha1 = self._sha1s[model.id]
        if not rescan and sha1 in self._found:
            return self._found[sha1]
        return self.index(sha1) if sha1 else {}

    def picture(self, thumb: Thumb) -> bytes:
        """The PNG to show: the file itself when it is a PNG at most
        :data:`SIDE` pixels a side, else a PNG copy downsized to fit (remembered by the
        file's size and modification time). ``OSError`` if it is gone or not
        a picture, ``ValueError`` for a decompression bomb."""
        from PIL import Image

        st = thumb.path.stat()
        key = (thumb.path, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._small:
                return self._small[key]
        data = thumb.path.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as im:
                if max(im.size) > SIDE or im.format != "PNG":
                    im.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
                    buf = io.BytesIO()
                    im.convert("RGB").save(buf, "PNG")
                    data = buf.getvalue()
        except Image.DecompressionBombError as exc:
            raise ValueError(str(exc)) from None
        with self._lock:
            if len(self._small) >= KEEP:
                self._small.pop(next(iter(self._small)))
            self._small[key] = data
        return data

    def _files(self) -> list[Path]:
        files: list[Path] = []
        for folder in self.folders:
            try:
                files += sorted(
                    p
                    for p in folder.glob("*.png")
                    if p.is_file() and not p.is_symlink()
                )
            except OSError:
                continue  # a folder gone or unreadable: no thumbnails from it
        return files

    def index(self, weights_sha1: str) -> dict[str, Thumb]:
        """``{layer: Thumb}`` for the weights with this SHA-1 (rescanning)."""
        with self._lock:
            found: dict[str, Thumb] = {}
            seen: dict[Path, tuple[int, int, Thumb | None]] = {}
            for path in self._files():
                try:
                    st = path.stat()
                except OSError:
                    continue
                old = self._seen.get(path)
                if old is not None and old[:2] == (st.st_size, st.st_mtime_ns):
                    thumb = old[2]
                else:
                    thumb = thumb_of(path, _read(path))
                seen[path] = (st.st_size, st.st_mtime_ns, thumb)
                if thumb is None or thumb.weights_sha1 != weights_sha1:
                    continue
                best = found.get(thumb.layer)
                if best is None or thumb.rank < best.rank:
                    found[thumb.layer] = thumb
            self._seen, self._found[weights_sha1] = seen, found
            return found


def folders(atlas: Sequence[str | Path], cache: Path | None) -> list[Path]:
    """The folders to index: each ``--atlas DIR`` (``ValueError`` for one
    that is not a folder, naming the way out) and the channel cache."""
    out = []
    for a in atlas:
        path = Path(a)
        if not path.is_dir():
            hint = (
                f"; give the folder of its single images, {path.with_suffix('')}"
                if path.suffix.lower() == ".png" and path.with_suffix("").is_dir()
                else ""
            )
            raise ValueError(
                f"--atlas {a}: not a folder{hint} (the single images "
                "`inceptionism atlas PHOTO -o atlas.png` writes beside the sheet)"
            )
        out.append(path)
    if cache is not None:
        out.append(Path(cache) / "channels")
    return out


def with_thumbs(groups: list, found: dict[str, Thumb], model_id: str) -> list:
    """The layer groups of ``/api/layers`` with ``thumb: {url, kind}`` on
    each layer that has one (the URL names the model and layer, no path)."""
    for layer in (x for g in groups for x in g["layers"]):
        thumb = found.get(layer["name"])
        if thumb is not None:
            query = urlencode({"model": model_id, "layer": layer["name"]})
            layer["thumb"] = {"url": f"api/thumbs?{query}", "kind": thumb.kind}
    return groups
