"""Deploy topologies of the registry models, built from the architecture.

GoogLeNet (Szegedy et al. 2014, "Going deeper with convolutions", table 1) as
trained in Caffe's ``models/bvlc_googlenet``: the layer names, the in-place
ReLUs, LRN after pool1 and conv2, and the deploy head (``pool5/7x7_s1`` ->
``pool5/drop_7x7_s1`` -> ``loss3/classifier`` -> ``prob``) are Caffe's, so a
converted ``.caffemodel`` finds its blobs by layer name. The auxiliary
training heads (``loss1/*``, ``loss2/*``) are not part of the deploy net.

The MIT Places GoogLeNets (Places205, Places365) use the same layer names;
only the classifier width differs.

Counting: the deploy graph has 142 layers (57 convolutions, 57 in-place
ReLUs, 14 poolings, 2 LRNs, 9 concats, dropout, classifier, softmax) and 85
distinct blobs counting the input ``data`` (Caffe's ``net.blobs``; ReLU and
Dropout write in place). Every layer name is a target (design section 3).
"""

from __future__ import annotations

from collections.abc import Callable

#: Input shape written into the graph; spatial size is nominal.
INPUT_SHAPE = [1, 3, 224, 224]

#: (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj) per module, from
#: table 1 of the paper (= Caffe's train_val.prototxt).
INCEPTION_WIDTHS: dict[str, tuple[int, int, int, int, int, int]] = {
    "inception_3a": (64, 96, 128, 16, 32, 32),
    "inception_3b": (128, 128, 192, 32, 96, 64),
    "inception_4a": (192, 96, 208, 16, 48, 64),
    "inception_4b": (160, 112, 224, 24, 64, 64),
    "inception_4c": (128, 128, 256, 24, 64, 64),
    "inception_4d": (112, 144, 288, 32, 64, 64),
    "inception_4e": (256, 160, 320, 32, 128, 128),
    "inception_5a": (256, 160, 320, 32, 128, 128),
    "inception_5b": (384, 192, 384, 48, 128, 128),
}


def layer(name: str, type_: str, bottom, top=None, **params) -> dict:
    """One graph layer in design-section-4 form; ``top`` defaults to name."""
    bottoms = [bottom] if isinstance(bottom, str) else list(bottom)
    return {
        "name": name,
        "type": type_,
        "bottom": bottoms,
        "top": [top or name],
        "params": params,
    }


def conv_relu(
    name: str,
    bottom: str,
    num_output: int,
    kernel_size: int,
    relu: str,
    stride: int = 1,
    pad: int = 0,
) -> list[dict]:
    """A convolution and its in-place ReLU (Caffe writes only non-default
    stride/pad in the deploy prototxt; we do the same)."""
    p = {"num_output": num_output, "kernel_size": kernel_size}
    if stride != 1:
        p["stride"] = stride
    if pad:
        p["pad"] = pad
    return [
        layer(name, "Convolution", bottom, **p),
        layer(relu, "ReLU", name, top=name),
    ]


def max_pool(name: str, bottom: str, kernel_size: int, stride: int, pad=0) -> dict:
    p = {"pool": "MAX", "kernel_size": kernel_size, "stride": stride}
    if pad:
        p["pad"] = pad
    return layer(name, "Pooling", bottom, **p)


def lrn(name: str, bottom: str) -> dict:
    return layer(name, "LRN", bottom, local_size=5, alpha=0.0001, beta=0.75)


def inception(
    name: str, bottom: str, n1: int, n3r: int, n3: int, n5r: int, n5: int, pp: int
) -> list[dict]:
    """One Inception module: four branches concatenated on channels.

    Branches: 1x1; 1x1 reduce -> 3x3 (pad 1); 1x1 reduce -> 5x5 (pad 2);
    3x3 max-pool (stride 1, pad 1) -> 1x1 projection. Output
    ``<name>/output`` has ``n1 + n3 + n5 + pp`` channels.
    """
    p = f"{name}/"
    layers = [
        *conv_relu(p + "1x1", bottom, n1, 1, p + "relu_1x1"),
        *conv_relu(p + "3x3_reduce", bottom, n3r, 1, p + "relu_3x3_reduce"),
        *conv_relu(p + "3x3", p + "3x3_reduce", n3, 3, p + "relu_3x3", pad=1),
        *conv_relu(p + "5x5_reduce", bottom, n5r, 1, p + "relu_5x5_reduce"),
        *conv_relu(p + "5x5", p + "5x5_reduce", n5, 5, p + "relu_5x5", pad=2),
        max_pool(p + "pool", bottom, 3, 1, pad=1),
        *conv_relu(p + "pool_proj", p + "pool", pp, 1, p + "relu_pool_proj"),
    ]
    layers.append(
        layer(
            p + "output",
            "Concat",
            [p + "1x1", p + "3x3", p + "5x5", p + "pool_proj"],
        )
    )
    return layers


def googlenet_graph(num_classes: int = 1000, name: str = "bvlc_googlenet") -> dict:
    """The GoogLeNet deploy graph (design section 4 form).

    Input ``data`` (1, 3, 224, 224); output ``prob`` (1, num_classes).
    """
    L: list[dict] = [
        *conv_relu("conv1/7x7_s2", "data", 64, 7, "conv1/relu_7x7", stride=2, pad=3),
        max_pool("pool1/3x3_s2", "conv1/7x7_s2", 3, 2),
        lrn("pool1/norm1", "pool1/3x3_s2"),
        *conv_relu("conv2/3x3_reduce", "pool1/norm1", 64, 1, "conv2/relu_3x3_reduce"),
        *conv_relu("conv2/3x3", "conv2/3x3_reduce", 192, 3, "conv2/relu_3x3", pad=1),
        lrn("conv2/norm2", "conv2/3x3"),
        max_pool("pool2/3x3_s2", "conv2/norm2", 3, 2),
    ]
    bottom = "pool2/3x3_s2"
    for module, widths in INCEPTION_WIDTHS.items():
        L += inception(module, bottom, *widths)
        bottom = f"{module}/output"
        if module == "inception_3b":
            L.append(max_pool("pool3/3x3_s2", bottom, 3, 2))
            bottom = "pool3/3x3_s2"
        elif module == "inception_4e":
            L.append(max_pool("pool4/3x3_s2", bottom, 3, 2))
            bottom = "pool4/3x3_s2"
    L += [
        layer("pool5/7x7_s1", "Pooling", bottom, pool="AVE", kernel_size=7, stride=1),
        layer(
            "pool5/drop_7x7_s1",
            "Dropout",
            "pool5/7x7_s1",
            top="pool5/7x7_s1",
            dropout_ratio=0.4,
        ),
        layer(
            "loss3/classifier", "InnerProduct", "pool5/7x7_s1", num_output=num_classes
        ),
        layer("prob", "Softmax", "loss3/classifier"),
    ]
    return {
        "name": name,
        "input": {"name": "data", "shape": list(INPUT_SHAPE)},
        "layers": L,
    }


#: Topology builders of the built-in models (the registry refers to these).
BUILDERS: dict[str, Callable[[], dict]] = {
    "bvlc_googlenet": lambda: googlenet_graph(1000, "bvlc_googlenet"),
    "googlenet_places205": lambda: googlenet_graph(205, "googlenet_places205"),
    "googlenet_places365": lambda: googlenet_graph(365, "googlenet_places365"),
}


def graph_for(name: str) -> dict:
    """A fresh deploy graph of a built-in model, by registry name."""
    try:
        return BUILDERS[name]()
    except KeyError:
        raise ValueError(
            f"no built-in topology for model {name!r}; known: "
            f"{', '.join(sorted(BUILDERS))} (give a deploy prototxt instead)"
        ) from None
