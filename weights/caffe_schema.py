"""The caffemodel reader's schema: field numbers, kinds and enum names of
the NetParameter messages it decodes (Caffe's ``src/caffe/proto/caffe.proto``).

Field numbers:

- NetParameter: name 1, layers 2 (V1LayerParameter), input 3, input_dim 4,
  input_shape 8 (BlobShape), layer 100 (LayerParameter).
- LayerParameter: name 1, type 2 (string), bottom 3, top 4, blobs 7,
  include 8, exclude 9, concat_param 104, convolution_param 106,
  dropout_param 108, inner_product_param 117, lrn_param 118,
  pooling_param 121, relu_param 123, softmax_param 125, input_param 143.
- V1LayerParameter: bottom 2, top 3, name 4, type 5 (LayerType enum),
  blobs 6, concat_param 9, convolution_param 10, dropout_param 12,
  inner_product_param 17, lrn_param 18, pooling_param 19, relu_param 30,
  include 32, exclude 33, softmax_param 39.
- BlobProto: num 1, channels 2, height 3, width 4 (legacy dims), data 5
  (float), shape 7 (BlobShape: dim 1, int64), double_data 8.
"""

from __future__ import annotations

from inceptionism.weights.caffe_params import ENUMS

# Enums by value (caffe.proto).
ENUMS_BY_VALUE: dict[str, dict[int, str]] = {
    "V1LayerType": {
        0: "NONE", 35: "ABSVAL", 1: "ACCURACY", 30: "ARGMAX", 2: "BNLL",
        3: "CONCAT", 37: "CONTRASTIVE_LOSS", 4: "CONVOLUTION", 5: "DATA",
        39: "DECONVOLUTION", 6: "DROPOUT", 32: "DUMMY_DATA",
        7: "EUCLIDEAN_LOSS", 25: "ELTWISE", 38: "EXP", 8: "FLATTEN",
        9: "HDF5_DATA", 10: "HDF5_OUTPUT", 28: "HINGE_LOSS", 11: "IM2COL",
        12: "IMAGE_DATA", 13: "INFOGAIN_LOSS", 14: "INNER_PRODUCT", 15: "LRN",
        29: "MEMORY_DATA", 16: "MULTINOMIAL_LOGISTIC_LOSS", 34: "MVN",
        17: "POOLING", 26: "POWER", 18: "RELU", 19: "SIGMOID",
        27: "SIGMOID_CROSS_ENTROPY_LOSS", 36: "SILENCE", 20: "SOFTMAX",
        21: "SOFTMAX_LOSS", 22: "SPLIT", 33: "SLICE", 23: "TANH",
        24: "WINDOW_DATA", 31: "THRESHOLD",
    },
    "Phase": {0: "TRAIN", 1: "TEST"},
    **ENUMS,
}  # fmt: skip

# Field kinds: "str", "int" (varint, signed), "uint", "bool", "float",
# "double", "floats"/"doubles" (bulk data kept as a numpy view),
# ("enum", table), ("msg", type).
SCHEMA: dict[str, dict[int, tuple]] = {
    "NetParameter": {
        1: ("name", "str"),
        2: ("layers", ("msg", "V1LayerParameter")),
        3: ("input", "str"),
        4: ("input_dim", "int"),
        8: ("input_shape", ("msg", "BlobShape")),
        100: ("layer", ("msg", "LayerParameter")),
    },
    "LayerParameter": {
        1: ("name", "str"),
        2: ("type", "str"),
        3: ("bottom", "str"),
        4: ("top", "str"),
        7: ("blobs", ("msg", "BlobProto")),
        8: ("include", ("msg", "NetStateRule")),
        9: ("exclude", ("msg", "NetStateRule")),
        104: ("concat_param", ("msg", "ConcatParameter")),
        106: ("convolution_param", ("msg", "ConvolutionParameter")),
        108: ("dropout_param", ("msg", "DropoutParameter")),
        117: ("inner_product_param", ("msg", "InnerProductParameter")),
        118: ("lrn_param", ("msg", "LRNParameter")),
        121: ("pooling_param", ("msg", "PoolingParameter")),
        123: ("relu_param", ("msg", "ReLUParameter")),
        125: ("softmax_param", ("msg", "SoftmaxParameter")),
        143: ("input_param", ("msg", "InputParameter")),
    },
    "V1LayerParameter": {
        2: ("bottom", "str"),
        3: ("top", "str"),
        4: ("name", "str"),
        5: ("type", ("enum", "V1LayerType")),
        6: ("blobs", ("msg", "BlobProto")),
        9: ("concat_param", ("msg", "ConcatParameter")),
        10: ("convolution_param", ("msg", "ConvolutionParameter")),
        12: ("dropout_param", ("msg", "DropoutParameter")),
        17: ("inner_product_param", ("msg", "InnerProductParameter")),
        18: ("lrn_param", ("msg", "LRNParameter")),
        19: ("pooling_param", ("msg", "PoolingParameter")),
        30: ("relu_param", ("msg", "ReLUParameter")),
        32: ("include", ("msg", "NetStateRule")),
        33: ("exclude", ("msg", "NetStateRule")),
        39: ("softmax_param", ("msg", "SoftmaxParameter")),
    },
    "NetStateRule": {1: ("phase", ("enum", "Phase"))},
    "BlobProto": {
        1: ("num", "int"),
        2: ("channels", "int"),
        3: ("height", "int"),
        4: ("width", "int"),
        5: ("data", "floats"),
        7: ("shape", ("msg", "BlobShape")),
        8: ("double_data", "doubles"),
    },
    "BlobShape": {1: ("dim", "int")},
    "InputParameter": {1: ("shape", ("msg", "BlobShape"))},
    "ConvolutionParameter": {
        1: ("num_output", "uint"),
        2: ("bias_term", "bool"),
        3: ("pad", "uint"),
        4: ("kernel_size", "uint"),
        5: ("group", "uint"),
        6: ("stride", "uint"),
        9: ("pad_h", "uint"),
        10: ("pad_w", "uint"),
        11: ("kernel_h", "uint"),
        12: ("kernel_w", "uint"),
        13: ("stride_h", "uint"),
        14: ("stride_w", "uint"),
        15: ("engine", ("enum", "Engine")),
        16: ("axis", "int"),
        17: ("force_nd_im2col", "bool"),
        18: ("dilation", "uint"),
    },
    "PoolingParameter": {
        1: ("pool", ("enum", "PoolMethod")),
        2: ("kernel_size", "uint"),
        3: ("stride", "uint"),
        4: ("pad", "uint"),
        5: ("kernel_h", "uint"),
        6: ("kernel_w", "uint"),
        7: ("stride_h", "uint"),
        8: ("stride_w", "uint"),
        9: ("pad_h", "uint"),
        10: ("pad_w", "uint"),
        11: ("engine", ("enum", "Engine")),
        12: ("global_pooling", "bool"),
        13: ("round_mode", ("enum", "RoundMode")),
    },
    "LRNParameter": {
        1: ("local_size", "uint"),
        2: ("alpha", "float"),
        3: ("beta", "float"),
        4: ("norm_region", ("enum", "NormRegion")),
        5: ("k", "float"),
        6: ("engine", ("enum", "Engine")),
    },
    "InnerProductParameter": {
        1: ("num_output", "uint"),
        2: ("bias_term", "bool"),
        5: ("axis", "int"),
        6: ("transpose", "bool"),
    },
    "DropoutParameter": {1: ("dropout_ratio", "float")},
    "ConcatParameter": {1: ("concat_dim", "uint"), 2: ("axis", "int")},
    "ReLUParameter": {
        1: ("negative_slope", "float"),
        2: ("engine", ("enum", "Engine")),
    },
    "SoftmaxParameter": {1: ("engine", ("enum", "Engine")), 2: ("axis", "int")},
}


__all__ = ["ENUMS_BY_VALUE", "SCHEMA"]
