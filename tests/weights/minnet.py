"""A small GoogLeNet-like net for converter tests, as a training snapshot.

It has what the published bvlc_googlenet.caffemodel has: TRAIN and TEST data
layers, a Split, in-place ReLU and Dropout, an auxiliary head ``loss1/*``
ending in SoftmaxWithLoss, blob-less layers, a TEST-only Accuracy, and a
convolution without bias. Its deploy net is :func:`deploy_graph`.
"""

from __future__ import annotations

import numpy as np


def params(rng: np.random.Generator, dtype=np.float32) -> dict:
    """Weights by layer name (values distinct, float32-representable unless
    ``dtype`` is float64, which gives full-precision doubles)."""

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return {
        "conv1": {"weight": r(4, 3, 3, 3), "bias": r(4)},
        "mix/a": {"weight": r(2, 4, 1, 1), "bias": r(2)},
        "mix/b": {"weight": r(3, 4, 3, 3)},  # bias_term: false
        "loss1/fc": {"weight": r(3, 5 * 2 * 2), "bias": r(3)},
        "classifier": {"weight": r(6, 5), "bias": r(6)},
    }


def training_layers(p: dict) -> list[dict]:
    """Layer specs for tests/weights/caffe_writer.py."""

    def blobs(name):
        return [p[name]["weight"], *([p[name]["bias"]] if "bias" in p[name] else [])]

    return [
        {"name": "data", "type": "Data", "top": ["data", "label"],
         "include_phase": "TRAIN"},
        {"name": "data", "type": "Data", "top": ["data", "label"],
         "include_phase": "TEST"},
        {"name": "conv1", "type": "Convolution", "bottom": ["data"], "top": ["conv1"],
         "params": {"num_output": 4, "kernel_size": 3, "stride": 2, "pad": 1},
         "blobs": blobs("conv1")},
        {"name": "relu1", "type": "ReLU", "bottom": ["conv1"], "top": ["conv1"]},
        {"name": "pool1", "type": "Pooling", "bottom": ["conv1"], "top": ["pool1"],
         "params": {"pool": "MAX", "kernel_size": 3, "stride": 2}},
        {"name": "norm1", "type": "LRN", "bottom": ["pool1"], "top": ["norm1"],
         "params": {"local_size": 5, "alpha": 0.0001, "beta": 0.75}},
        {"name": "norm1_split", "type": "Split", "bottom": ["norm1"],
         "top": ["norm1_split_0", "norm1_split_1"]},
        {"name": "mix/a", "type": "Convolution", "bottom": ["norm1_split_0"],
         "top": ["mix/a"], "params": {"num_output": 2, "kernel_size": 1},
         "blobs": blobs("mix/a")},
        {"name": "mix/b", "type": "Convolution", "bottom": ["norm1_split_1"],
         "top": ["mix/b"],
         "params": {"num_output": 3, "kernel_size": 3, "pad": 1, "bias_term": 0},
         "blobs": blobs("mix/b")},
        {"name": "mix/output", "type": "Concat", "bottom": ["mix/a", "mix/b"],
         "top": ["mix/output"]},
        {"name": "loss1/ave_pool", "type": "Pooling", "bottom": ["mix/output"],
         "top": ["loss1/ave_pool"],
         "params": {"pool": "AVE", "kernel_size": 5, "stride": 3}},
        {"name": "loss1/fc", "type": "InnerProduct", "bottom": ["loss1/ave_pool"],
         "top": ["loss1/fc"], "params": {"num_output": 3}, "blobs": blobs("loss1/fc")},
        {"name": "loss1/loss", "type": "SoftmaxWithLoss",
         "bottom": ["loss1/fc", "label"], "top": ["loss1/loss"]},
        {"name": "pool5", "type": "Pooling", "bottom": ["mix/output"],
         "top": ["pool5"], "params": {"pool": "AVE", "global_pooling": 1}},
        {"name": "drop", "type": "Dropout", "bottom": ["pool5"], "top": ["pool5"],
         "params": {"dropout_ratio": 0.4}},
        {"name": "classifier", "type": "InnerProduct", "bottom": ["pool5"],
         "top": ["classifier"], "params": {"num_output": 6},
         "blobs": blobs("classifier")},
        {"name": "loss3/loss", "type": "SoftmaxWithLoss",
         "bottom": ["classifier", "label"], "top": ["loss3/loss"]},
        {"name": "accuracy", "type": "Accuracy", "bottom": ["classifier", "label"],
         "top": ["accuracy"], "include_phase": "TEST"},
    ]  # fmt: skip


#: Deploy layer names, in order, after conversion (prob appended).
DEPLOY_LAYERS = [
    "conv1", "relu1", "pool1", "norm1", "mix/a", "mix/b", "mix/output",
    "pool5", "drop", "classifier", "prob",
]  # fmt: skip

#: The deploy net as a prototxt (legacy syntax, comments) with 32x32 input.
DEPLOY_PROTOTXT = r"""
# mini GoogLeNet-like deploy net
name: "mini"
input: "data"
input_dim: 1  input_dim: 3
input_dim: 32 input_dim: 32
layers {
  name: "conv1"  type: CONVOLUTION  bottom: "data"  top: "conv1"
  blobs_lr: 1 blobs_lr: 2   # training-only noise
  convolution_param {
    num_output: 4 kernel_size: 3 stride: 2 pad: 1
    weight_filler { type: "xavier" std: 0.1 }
  }
}
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: 'pool1' type: POOLING bottom: "conv1" top: "pool1"
         pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "norm1" type: LRN bottom: "pool1" top: "norm1"
         lrn_param { local_size: 5 alpha: 1e-4 beta: 0.75 } }
layers { name: "mix/a" type: CONVOLUTION bottom: "norm1" top: "mix/a"
         convolution_param { num_output: 2 kernel_size: 1 } }
layers { name: "mix/b" type: CONVOLUTION bottom: "norm1" top: "mix/b"
         convolution_param: { num_output: 3 kernel_size: 3 pad: 1 bias_term: false } }
layers { name: "mix/output" type: CONCAT bottom: "mix/a" bottom: "mix/b"
         top: "mix/output" }
layers { name: "pool5" type: POOLING bottom: "mix/output" top: "pool5"
         pooling_param < pool: AVE global_pooling: true > }
layers { name: "drop" type: DROPOUT bottom: "pool5" top: "pool5"
         dropout_param { dropout_ratio: 0.4 } }
layers { name: "classifier" type: INNER_PRODUCT bottom: "pool5" top: "classifier"
         inner_product_param { num_output: 6 } }
layers { name: "prob" type: SOFTMAX bottom: "classifier" top: "prob" }
"""
