"""Analytic FLOP counts for GoogLeNet-style graphs (no timing, no running).

Only the GEMM work is counted, the part BLAS can run at peak: a convolution
or InnerProduct does ``2 * MACs`` floating-point operations forward,

    conv:  2 * N * O * Ho * Wo * (C/group) * kh * kw
    ip:    2 * N * O * (C*H*W)

and its backward to the input (``dcols = W^T @ dy``, then col2im) does the
same number again. Pooling, LRN, ReLU and Concat are memory-bound and
counted as zero, so GFLOP/s figures are "useful GEMM FLOPs per second": a
step that spends time outside its GEMMs shows it as a lower rate.
"""

from __future__ import annotations

from inceptionism.engine.graph import Graph


def layer_flops(node, in_shape, out_shape) -> int:
    """Forward FLOPs of one layer (= its backward-to-input FLOPs); 0 for
    layers that do no multiply-accumulate work."""
    if node.type == "Convolution":
        n, o, ho, wo = out_shape
        kh, kw = node.params.kernel
        cg = in_shape[1] // node.params.group
        return 2 * n * o * ho * wo * cg * kh * kw
    if node.type == "InnerProduct":
        k = 1
        for d in in_shape[1:]:
            k *= d
        return 2 * in_shape[0] * out_shape[1] * k
    return 0


def step_flops(graph: dict | Graph, input_hw, end, backward: bool = True) -> int:
    """FLOPs of a forward to ``end`` (one name or several) plus, if
    ``backward``, the backward to the input (every layer on the way runs
    backward, the first convolution included: the image needs its gradient).
    """
    g = graph if isinstance(graph, Graph) else Graph(graph)
    shapes = g.shapes((1, 3, *input_hw))
    total = 0
    for name in g.order(g.ancestors(g.resolve_many(end))):
        node = g.nodes[name]
        total += layer_flops(node, shapes[node.inputs[0]], shapes[name])
    return total * (2 if backward else 1)
