"""The Small CNN Zoo's flat TensorFlow layout, both ways.

Unterthiner et al. (https://arxiv.org/abs/2002.11448) flatten each Keras
network into one row of ``weights.npy``; ``layout.csv`` says where each
variable lies (``varname,start_idx,end_idx,size,shape``). Variables are named
as Keras names them in a ``Sequential`` (``sequential/conv2d/kernel:0``,
``sequential/conv2d_1/bias:0``, ..., ``sequential/dense/kernel:0``) and lie in
the row sorted by name, bias before kernel, as the released zoo stores them.
Keras keeps conv kernels as HWIO (``(kh, kw, in, out)``; Conv1D: ``(k, in,
out)``) and dense kernels as ``(in, out)``; torch keeps OIHW and
``(out, in)``, so kernels are transposed on the way in and out. A dense layer
after ``Flatten`` in TF flattens channels-last (H, W, C) maps where torch
flattens (C, H, W); its rows are reordered too, so a TF-layout reader computes
the same function. Parameters of families without a Keras counterpart keep
their torch name and layout (``weightzoo/<name>:0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from weightzoo.arch import ArchSpec, arch_layers, build_model, resolve_spec
from weightzoo.arch.layers import Conv, Flatten, GlobalAvgPool, Linear, MaxPool
from weightzoo.errors import ZooFormatError

# config.* columns of metrics.csv <-> weightzoo hyperparameter names (others: config.<name>).
COLUMN_TO_HP = {
    "config.activation": "activation",
    "config.w_init": "init",
    "config.b_init": "bias_init",
    "config.dropout": "dropout",
    "config.l2reg": "weight_decay",
    "config.learning_rate": "lr",
    "config.optimizer": "optimizer",
    "config.random_seed": "seed",
    "config.init_std": "init_std",
    "config.batchsize": "batch_size",
}
HP_TO_COLUMN = {v: k for k, v in COLUMN_TO_HP.items()}
METRIC_COLUMNS = {
    "train_accuracy": "train_acc",
    "train_loss": "train_loss",
    "val_accuracy": "val_acc",
    "val_loss": "val_loss",
    "test_accuracy": "test_acc",
    "test_loss": "test_loss",
}
SPEC_FILE = "weightzoo_spec.json"


@dataclass(frozen=True)
class TFVariable:
    """One variable of the flat row and the torch parameter it holds.

    Attributes:
        varname: Keras name, e.g. ``sequential/conv2d_1/kernel:0``.
        param: torch parameter name, e.g. ``conv2.weight``.
        kind: ``conv2d``, ``conv1d``, ``dense``, ``dense_flat`` (after a Flatten) or ``plain``.
        torch_shape: the parameter's torch shape.
        tf_shape: its shape in the layout.
        flat_from: ``(C, *spatial)`` flattened before a ``dense_flat`` kernel.
    """

    varname: str
    param: str
    kind: str
    torch_shape: tuple[int, ...]
    tf_shape: tuple[int, ...]
    flat_from: tuple[int, ...] = ()


def _tf_kernel_shape(kind: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    if kind == "conv2d":
        o, i, h, w = shape
        return (h, w, i, o)
    if kind == "conv1d":
        o, i, k = shape
        return (k, i, o)
    if kind in ("dense", "dense_flat"):
        return (shape[1], shape[0])
    return shape


def to_tf(var: TFVariable, x: np.ndarray) -> np.ndarray:
    """``(N, *torch_shape)`` -> ``(N, *tf_shape)``."""
    n = x.shape[0]
    if var.kind == "conv2d":
        return x.transpose(0, 3, 4, 2, 1)
    if var.kind == "conv1d":
        return x.transpose(0, 3, 2, 1)
    if var.kind == "dense_flat":
        out = var.torch_shape[0]
        x = x.reshape(n, out, *var.flat_from)
        x = np.moveaxis(x, 2, -1).reshape(n, out, -1)  # (C, *S) -> (*S, C)
        return x.transpose(0, 2, 1)
    if var.kind == "dense":
        return x.transpose(0, 2, 1)
    return x


def from_tf(var: TFVariable, x: np.ndarray) -> np.ndarray:
    """``(N, *tf_shape)`` -> ``(N, *torch_shape)`` (inverse of ``to_tf``)."""
    n = x.shape[0]
    if var.kind == "conv2d":
        return x.transpose(0, 4, 3, 1, 2)
    if var.kind == "conv1d":
        return x.transpose(0, 3, 2, 1)
    if var.kind == "dense_flat":
        out = var.torch_shape[0]
        c, spatial = var.flat_from[0], var.flat_from[1:]
        x = x.transpose(0, 2, 1).reshape(n, out, *spatial, c)
        return np.moveaxis(x, -1, 2).reshape(n, *var.torch_shape)
    if var.kind == "dense":
        return x.transpose(0, 2, 1)
    return x


def _keras_name(counts: dict[str, int], base: str) -> str:
    k = counts.get(base, 0)
    counts[base] = k + 1
    return base if k == 0 else f"{base}_{k}"


def _layer_family_vars(spec: ArchSpec) -> list[TFVariable]:
    layers = arch_layers(spec)
    assert layers is not None
    shape = tuple(spec.input_shape)  # (C, *spatial) as it flows through the layers
    flat_from: tuple[int, ...] = ()
    counts: dict[str, int] = {}
    out: list[TFVariable] = []
    for layer in layers:
        if isinstance(layer, Conv):
            kind = "conv2d" if layer.dims == 2 else "conv1d"
            name = _keras_name(counts, kind)
            w = (layer.out_channels, layer.in_channels, *(layer.kernel,) * layer.dims)
            out.append(
                TFVariable(
                    f"sequential/{name}/kernel:0",
                    f"{layer.name}.weight",
                    kind,
                    w,
                    _tf_kernel_shape(kind, w),
                )
            )
            out.append(
                TFVariable(f"sequential/{name}/bias:0", f"{layer.name}.bias", "plain", w[:1], w[:1])
            )
            spatial = tuple(s + 2 * layer.padding - layer.kernel + 1 for s in shape[1:])
            shape = (layer.out_channels, *spatial)
        elif isinstance(layer, MaxPool):
            shape = (shape[0], *(s // layer.kernel for s in shape[1:]))
        elif isinstance(layer, GlobalAvgPool):
            shape = (shape[0],)
        elif isinstance(layer, Flatten):
            flat_from = shape if len(shape) > 1 else ()
            shape = (math.prod(shape),)
        elif isinstance(layer, Linear):
            name = _keras_name(counts, "dense")
            kind = "dense_flat" if flat_from else "dense"
            w = (layer.out_features, layer.in_features)
            out.append(
                TFVariable(
                    f"sequential/{name}/kernel:0",
                    f"{layer.name}.weight",
                    kind,
                    w,
                    _tf_kernel_shape(kind, w),
                    flat_from,
                )
            )
            out.append(
                TFVariable(f"sequential/{name}/bias:0", f"{layer.name}.bias", "plain", w[:1], w[:1])
            )
            flat_from = ()
            shape = (layer.out_features,)
    return out  # fmt: skip


def tf_variables(spec: ArchSpec) -> list[TFVariable]:
    """The layout's variables for an architecture, in their order in the flat row.

    Raises:
        ZooFormatError: a parameter that is not floating point (the layout holds float32).
    """
    spec = resolve_spec(spec)
    state = build_model(spec).state_dict()
    for k, v in state.items():
        if not v.is_floating_point():
            raise ZooFormatError(
                f"cnn-zoo layout: {spec.family} tensor {k} is {v.dtype}, not float"
            )
    if spec.family == "cnn_zoo":
        counts: dict[str, int] = {}
        out = []
        for k, v in state.items():
            layer, what = k.rsplit(".", 1)
            if what == "weight":
                base = "dense" if layer.startswith("fc") else "conv2d"
                kname = _keras_name(counts, base)
            kind = ("dense" if base == "dense" else "conv2d") if what == "weight" else "plain"
            shape = tuple(v.shape)
            var = f"sequential/{kname}/{'kernel' if what == 'weight' else 'bias'}:0"
            out.append(TFVariable(var, k, kind, shape, _tf_kernel_shape(kind, shape)))
    elif arch_layers(spec) is not None:
        out = _layer_family_vars(spec)
    else:
        out = [
            TFVariable(f"weightzoo/{k}:0", k, "plain", tuple(v.shape), tuple(v.shape))
            for k, v in state.items()
        ]
    return sorted(out, key=lambda v: v.varname)  # fmt: skip


def small_cnn_zoo_spec(layout: dict[str, tuple[int, ...]], input_size: int) -> ArchSpec:
    """The ``cnn_zoo`` spec of a released Small CNN Zoo layout (``varname -> shape``).

    Raises:
        ZooFormatError: the variables are not those of a Keras ``build_cnn``.
    """
    convs = sorted(
        (v for v in layout if v.startswith("sequential/conv2d") and v.endswith("/kernel:0")),
        key=lambda v: int(v.split("/")[1].partition("_")[2] or 0),
    )
    dense = layout.get("sequential/dense/kernel:0")
    if not convs or dense is None or any(len(layout[v]) != 4 for v in convs) or len(dense) != 2:
        raise ZooFormatError(
            "layout.csv: expected Keras variables sequential/conv2d*/kernel:0 (HWIO) and "
            f"sequential/dense/kernel:0; found {sorted(layout)}"
        )
    first = layout[convs[0]]
    return ArchSpec(
        "cnn_zoo",
        (first[2], input_size, input_size),
        num_classes=dense[1],
        widths=tuple(layout[v][3] for v in convs),
    )


__all__ = [
    "COLUMN_TO_HP",
    "HP_TO_COLUMN",
    "METRIC_COLUMNS",
    "SPEC_FILE",
    "TFVariable",
    "from_tf",
    "small_cnn_zoo_spec",
    "tf_variables",
    "to_tf",
]
