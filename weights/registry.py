"""The registry of known models: where to download them and how to use them.

``MODELS`` maps a name to a frozen :class:`ModelSpec`. Plugins add models
through the ``inceptionism_models`` hook (engine/plugins wire that up; this
module only knows the built-ins). A spec whose checksum is unknown has
``sha1=None``: ``fetch`` then refuses to download it unverified and says how
to convert a hand-downloaded file instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources

from inceptionism.weights.files import sha1_bytes
from inceptionism.weights.topologies import BUILDERS

#: Shipped label files (weights/data/) and their SHA-1, checked on load.
LABEL_FILES: dict[str, str] = {
    "ilsvrc12_synset_words.txt": "96513e4e2e91177212128d8a6d28b02786bbb66c",
    "categories_places365.txt": "d439a8ef556587cffa2052de0161dd3749b0adc7",
    "categoryIndex_places205.csv": "be2293cffc3c0979d41924009fc9bd60dda04857",
}
#: An MIT Places label line: ``/a/apartment_building/outdoor 8``.
_PLACES_LINE = re.compile(r"^/[a-z]/(\S+) (\d+)$")


@dataclass(frozen=True)
class ModelSpec:
    """A known model.

    name : registry name (also the converted file's stem and model name).
    url : where the original ``.caffemodel`` (or an archive holding it) lives.
    sha1 : hex SHA-1 of the file at ``url``, or None when not known.
    size : its size in bytes, or None.
    mean : per-channel BGR mean of the training set (0..255 pixels).
    labels : name of a label file shipped in ``inceptionism.weights/data``,
        one class per line in output order, or None (classes print as indices).
    graph : builder of the deploy topology (design section 4 graph dict).
    description : one line for ``inceptionism models``.
    filename : name of the downloaded file in the cache.
    archive : True if ``url`` is an archive the caffemodel must be taken from
        by hand (``fetch`` does not unpack archives).
    """

    name: str
    url: str
    sha1: str | None
    size: int | None
    mean: tuple[float, float, float]
    labels: str | None
    graph: Callable[[], dict]
    description: str
    filename: str = ""
    archive: bool = False

    @property
    def download_name(self) -> str:
        return self.filename or f"{self.name}.caffemodel"

    def preprocess(self) -> dict:
        """The ``preprocess`` attribute of a converted file (design section 4)."""
        return {
            "channel_order": "BGR",
            "mean": [float(m) for m in self.mean],
            "scale": 255.0,
        }

    def load_labels(self) -> tuple[str, ...] | None:
        return None if self.labels is None else read_label_file(self.labels)


def read_label_file(name: str) -> tuple[str, ...]:
    """Class names of a shipped label file, verified against ``LABEL_FILES``
    (its sources: ``weights/data/SOURCES.md``). A line is a class name as it
    is, except the MIT Places form ``/a/apartment_building/outdoor 8``,
    which gives ``apartment_building/outdoor`` (its index must be its line
    number)."""
    files = resources.files("inceptionism.weights").joinpath("data")
    data = files.joinpath(name).read_bytes()  # (one name per call: Python 3.10)
    want = LABEL_FILES.get(name)
    if want is not None and sha1_bytes(data) != want:
        raise ValueError(
            f"label file {name} is damaged (SHA-1 mismatch); reinstall inceptionism"
        )
    lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    return tuple(_class_name(line, i, name) for i, line in enumerate(lines))


def _class_name(line: str, index: int, where: str) -> str:
    m = _PLACES_LINE.match(line.strip())
    if m is None:
        return line
    if int(m.group(2)) != index:
        raise ValueError(f"label file {where}: line {index + 1} has index "
                         f"{m.group(2)}, not {index}")  # fmt: skip
    return m.group(1)


MODELS: dict[str, ModelSpec] = {
    "bvlc_googlenet": ModelSpec(
        name="bvlc_googlenet",
        url="http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel",
        sha1="405fc5acd08a3bb12de8ee5e23a96bec22f08204",
        size=53_533_754,
        mean=(104.0, 117.0, 123.0),
        labels="ilsvrc12_synset_words.txt",
        graph=BUILDERS["bvlc_googlenet"],
        description="BVLC GoogLeNet, ILSVRC-2012 (1000 classes); the DeepDream net",
    ),
    # MIT Places205 GoogLeNet (Zhou et al. 2014, "Learning deep features for
    # scene recognition using Places database"). The model zoo ships it as a
    # tarball whose caffemodel is googlelet_places205_train_iter_2400000
    # (deploy_places205.protxt: BVLC GoogLeNet's layer names, a 205-way
    # loss3/classifier); no published checksum is known to us, so `fetch`
    # refuses it and `convert --model googlenet_places205` takes it by hand.
    "googlenet_places205": ModelSpec(
        name="googlenet_places205",
        url="http://places.csail.mit.edu/model/googlenet_places205.tar.gz",
        sha1=None,
        size=None,
        mean=(105.417, 113.753, 116.047),
        labels="categoryIndex_places205.csv",
        graph=BUILDERS["googlenet_places205"],
        description="GoogLeNet trained on MIT Places205 scenes (205 classes)",
        filename="googlenet_places205.tar.gz",
        archive=True,
    ),
    # CSAILVision/places365 (Zhou et al. 2017, "Places: a 10 million image
    # database for scene recognition"): deploy_googlenet_places365.prototxt
    # has BVLC GoogLeNet's layer names and a 365-way loss3/classifier; the
    # README's link, no published checksum known to us (fetch refuses).
    "googlenet_places365": ModelSpec(
        name="googlenet_places365",
        url="http://places2.csail.mit.edu/models_places365/googlenet_places365.caffemodel",
        sha1=None,
        size=None,
        mean=(104.051, 112.514, 116.676),
        labels="categories_places365.txt",
        graph=BUILDERS["googlenet_places365"],
        description="GoogLeNet trained on MIT Places365 scenes (365 classes)",
    ),
}


def get_spec(
    name: str | ModelSpec, models: Mapping[str, ModelSpec] | None = None
) -> ModelSpec:
    """The spec of a model by name; unknown names list the known ones.

    ``models`` is the registry to look in (default: the built-in
    :data:`MODELS`; the engine passes the plugin-merged registry so that
    models added through the ``inceptionism_models`` hook work everywhere).
    A :class:`ModelSpec` is returned as it is.
    """
    if isinstance(name, ModelSpec):
        return name
    models = MODELS if models is None else models
    try:
        return models[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(models), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"unknown model {name!r}{hint}; known models: "
            f"{', '.join(sorted(models))} (see `inceptionism models`)"
        ) from None
