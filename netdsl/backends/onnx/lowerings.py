"""The ONNX lowering table: for every op of `netdsl.checker.ops`, its ONNX nodes and the weight tensors it
needs (named as the PyTorch backend's state_dict names them, so a state_dict fits directly).

A lowering receives an `Emit` (to add nodes and read weights), the IR node, its input tensor
names and the name its output must have. The emitter decides which graph it writes (see
`netdsl.backends.onnx.emit`): in the inference graph a layer that `passes_through` writes no node and a
conv whose only reader is a batchnorm is written folded with it (`conv_batchnorm`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from netdsl.checker.ops import OPS, Pair, Shape, Window, conv_weight_shape, window_output

if TYPE_CHECKING:
    import numpy as np

    from netdsl.checker.ir import Node


class Emit(Protocol):
    opset: int
    training: bool  # the training graph (BatchNorm and Dropout kept) rather than the inference graph
    target: str  # the provider the model is built for: "cpu" or "cuda" (see TARGET_LOWERINGS)

    def node(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> None: ...

    def weight(self, key: str) -> str: ...

    def constant(self, key: str, values: list[int]) -> str: ...  # an int64 tensor

    def scalar(self, key: str, value: float) -> str: ...

    def floats(self, key: str, values: list[Any]) -> str: ...  # a float32 tensor of nested lists

    def shape_of(self, tensor: int) -> Shape: ...

    def array(self, layer: Node, suffix: str) -> np.ndarray: ...  # a layer's weight, as given

    def tensor(self, suffix: str, array: np.ndarray) -> str: ...  # a computed weight of the node being written


Tensors = Callable[["Node", tuple[Shape, ...]], dict[str, Shape]]


@dataclass(frozen=True)
class OnnxLowering:
    emit: Callable[[Emit, Node, list[str], str], None]
    tensors: Tensors = lambda node, inputs: {}  # weight suffix → shape, for this node
    passes_through: bool = False  # computes nothing at inference: there its readers read its input


def _window_attrs(window: Window) -> dict[str, Any]:
    (top, bottom), (left, right) = window.pads
    return {"kernel_shape": list(window.kernel), "strides": list(window.stride), "pads": [top, left, bottom, right]}


def _conv(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    weights = [e.weight("weight")] + ([e.weight("bias")] if node.attrs["bias"] else [])
    e.node("Conv", [_padded(e, node, inputs[0], out), *weights], out, **_conv_attrs(e, node))


def _conv_window(e: Emit, node: Node) -> Window:
    return OPS["conv"].window(node.attrs, e.shape_of(node.inputs[0]))  # type: ignore[misc]


def _conv_attrs(e: Emit, node: Node) -> dict[str, Any]:
    window = _conv_window(e, node)
    attrs = {"dilations": list(window.dilation), "group": node.attrs["groups"], **_window_attrs(window)}
    if node.attrs["padding_mode"] != "zeros":  # `_padded` wrote the padding: the Conv adds none
        attrs["pads"] = [0, 0, 0, 0]
    return attrs


# torch's padding modes as ONNX Pad's: zeros is the Conv's own padding
PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
WRAP_OPSET = 19  # Pad's wrap mode (circular) exists from opset 19 on


def _padded(e: Emit, node: Node, x: str, out: str) -> str:
    """The conv's input, padded as its padding_mode says (torch pads with F.pad, then convolves
    without padding): a Pad node, or for circular before opset 19 Slice + Concat. `x` itself
    for zeros, which the Conv pads."""
    mode, window = node.attrs["padding_mode"], _conv_window(e, node)
    (top, bottom), (left, right) = window.pads
    if mode == "zeros" or not any((top, bottom, left, right)):
        return x
    padded = f"{out}/padded"
    if mode == "circular" and e.opset < WRAP_OPSET:
        _, h, w = e.shape_of(node.inputs[0])
        steps = [(axis, size, pair) for axis, size, pair in ((2, h, (top, bottom)), (3, w, (left, right))) if any(pair)]
        for i, (axis, size, pair) in enumerate(steps):
            target = padded if i == len(steps) - 1 else f"{out}/wrapped{axis}"
            _wrap(e, x, axis, size, pair, target)
            x = target
    else:
        pads = e.constant(f"{out}/pads", [0, 0, top, left, 0, 0, bottom, right])
        e.node("Pad", [x, pads], padded, mode=PAD_MODES[mode])
    return padded


def _wrap(e: Emit, x: str, axis: int, size: int, pads: Pair, out: str) -> None:
    """Circular padding along one axis, as Pad's wrap mode (opset 19) does it: the input's last
    `before` rows, the input, its first `after` rows."""
    before, after = pads
    axes = e.constant(f"netdsl/axis{axis}", [axis])

    def rows(start: int, stop: int, part: str) -> list[str]:
        if start == stop:
            return []
        name = f"{out}/{part}"
        e.node("Slice", [x, e.constant(f"{name}/starts", [start]), e.constant(f"{name}/ends", [stop]), axes], name)
        return [name]

    e.node("Concat", [*rows(size - before, size, "tail"), x, *rows(0, after, "head")], out, axis=axis)


BATCHNORM_TENSORS = ("weight", "bias", "running_mean", "running_var")


def conv_batchnorm(e: Emit, conv: Node, batchnorm: Node, inputs: list[str], out: str) -> None:
    """A conv and the batchnorm reading it, in inference: one Conv (see `fold_batchnorm`)."""
    bias = e.array(conv, "bias") if conv.attrs["bias"] else None
    stats = [e.array(batchnorm, k) for k in BATCHNORM_TENSORS]
    weight, shift = fold_batchnorm(e.array(conv, "weight"), bias, *stats, batchnorm.attrs["eps"])
    x = _padded(e, conv, inputs[0], out)
    e.node("Conv", [x, e.tensor("weight", weight), e.tensor("bias", shift)], out, **_conv_attrs(e, conv))


def fold_batchnorm(
    weight: np.ndarray,
    bias: np.ndarray | None,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm(conv(x)) = conv'(x): per output channel c, scale s = γ / sqrt(var + eps), weight
    W'[c] = s·W[c] and bias b'[c] = s·(b[c] - mean[c]) + β[c]. In float64, then cast: the folded
    float32 weights are the nearest to the exact ones (what onnxruntime's own fusion, in float32,
    need not give)."""
    import numpy as np

    wide = [np.asarray(a, dtype=np.float64) for a in (gamma, beta, mean, var)]
    gamma64, beta64, mean64, var64 = wide
    scale = gamma64 / np.sqrt(var64 + eps)
    folded = np.array(weight, dtype=np.float64)
    folded *= scale.reshape(-1, *[1] * (weight.ndim - 1))  # in place: a ResNet's convs are 100s of MB in float64
    shift = (0.0 if bias is None else np.asarray(bias, dtype=np.float64)) - mean64
    return folded.astype(np.float32), (shift * scale + beta64).astype(np.float32)


def _conv_tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
    found = {"weight": conv_weight_shape(node.attrs, inputs[0][0])}
    return found | ({"bias": (node.attrs["out"],)} if node.attrs["bias"] else {})


def _pool(op_type: str, **extra: Any) -> Callable[[Emit, Node, list[str], str], None]:
    def emit(e: Emit, node: Node, inputs: list[str], out: str) -> None:
        if "count_include_pad" in node.attrs:  # avgpool: PyTorch counts the padding unless told not to
            extra["count_include_pad"] = int(node.attrs["count_include_pad"])
        shape = e.shape_of(node.inputs[0])
        window = OPS[node.op].window(node.attrs, shape)  # type: ignore[misc]
        _, h, w = shape
        if window.ceil and e.opset < CEIL_LIKE_PYTORCH and _old_ceil_differs((h, w), window):
            _floor_pool(e, op_type, window, (h, w), inputs[0], out, extra)
        else:
            e.node(op_type, inputs, out, ceil_mode=int(window.ceil), **_window_attrs(window), **extra)

    return emit


# Before opset 22, ONNX's ceil mode keeps a last window that starts in the right padding (or
# past it); PyTorch drops it, and so does onnx's shape inference from opset 22 on.
CEIL_LIKE_PYTORCH = 22


def _old_ceil_differs(size: Pair, window: Window) -> bool:
    def old(axis: int) -> int:
        span = size[axis] + sum(window.pads[axis]) - window.effective(axis)
        return -(-span // window.stride[axis]) + 1

    return any(old(a) != window_output(size[a], window, a) for a in (0, 1))


def _floor_pool(e: Emit, op_type: str, window: Window, size: Pair, x: str, out: str, extra: dict[str, Any]) -> None:
    """PyTorch's ceil mode in floor mode: the right padding grows until the last window fits.
    For max pooling padding is never a maximum. Average pooling divides by the part of a window
    inside input and padding (PyTorch's count_include_pad), so the padding becomes real zeros
    and the added part is left out of the count (count_include_pad=0)."""
    grow = [_overhang(size[a], window, a) for a in (0, 1)]
    (top, bottom), (left, right) = window.pads
    kernel = {"kernel_shape": list(window.kernel), "strides": list(window.stride), "ceil_mode": 0}
    if op_type == "MaxPool" or not any(grow):
        e.node(op_type, [x], out, pads=[top, left, bottom + grow[0], right + grow[1]], **kernel, **extra)
        return
    if any((top, bottom, left, right)):
        e.node("Pad", [x, e.constant(f"{out}/pads", [0, 0, top, left, 0, 0, bottom, right])], f"{out}/padded")
        x = f"{out}/padded"
    e.node(op_type, [x], out, pads=[0, 0, *grow], **kernel, count_include_pad=0)


def _overhang(size: int, window: Window, axis: int) -> int:
    """How far PyTorch's last ceil-mode window reaches past the right padding."""
    end = (window_output(size, window, axis) - 1) * window.stride[axis] + window.effective(axis)
    return max(0, end - size - sum(window.pads[axis]))


def adaptive_windows(size: int, out: int) -> list[range]:
    """PyTorch's adaptive pooling windows along one axis: [floor(i·size/out), ceil((i+1)·size/out))."""
    return [range(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _adaptive(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    _, h, w = e.shape_of(node.inputs[0])
    oh, ow = node.attrs["output"]
    kind = "Max" if node.op == "adaptive_maxpool" else "Average"
    if (oh, ow) == (1, 1):
        e.node(f"Global{kind}Pool", inputs, out)
    elif h % oh == 0 and w % ow == 0:  # the windows tile: a plain pooling
        kernel = [h // oh, w // ow]
        e.node(f"{kind}Pool", inputs, out, kernel_shape=kernel, strides=kernel, pads=[0, 0, 0, 0])
    elif kind == "Max":
        _adaptive_max(e, inputs[0], (h, w), (oh, ow), out)
    else:
        _adaptive_avg(e, inputs[0], (h, w), (oh, ow), out)


def _adaptive_avg(e: Emit, x: str, size: Pair, output: Pair, out: str) -> None:
    """Windows of unequal size: averaging is linear and separable, Y = A_h · X · A_wᵀ, where row i
    of A holds 1/len over window i."""
    rows, cols = (
        [[1 / len(win) if j in win else 0.0 for j in range(n)] for win in adaptive_windows(n, o)]
        for n, o in zip(size, output, strict=True)
    )
    e.node("MatMul", [x, e.floats(f"{out}/cols", [list(c) for c in zip(*cols, strict=True)])], f"{out}/across")
    e.node("MatMul", [e.floats(f"{out}/rows", rows), f"{out}/across"], out)  # [oh, H] · [N, C, H, ow]


def _adaptive_max(e: Emit, x: str, size: Pair, output: Pair, out: str) -> None:
    """Windows of unequal size. Along an axis they are K or K+1 long (K ≥ ceil(size/output) ≥ 1,
    as a window spans more than size/output and less than size/output + 2), so K+1 ≤ 2K and each
    window is the union of its first and its last K elements: a stride-1 MaxPool of K×K, then per
    axis the max of two Gathers (at the window starts and at the window ends - K). On 2 cores this
    ran faster than Gather + ReduceMax over padded windows, and than Slice + ReduceMax + Concat."""
    windows = [adaptive_windows(n, o) for n, o in zip(size, output, strict=True)]
    kernel = [min(len(win) for win in along) for along in windows]
    e.node("MaxPool", [x], f"{out}/pooled", kernel_shape=kernel, strides=[1, 1], pads=[0, 0, 0, 0])
    x = f"{out}/pooled"
    for axis, along, k in ((3, windows[1], kernel[1]), (2, windows[0], kernel[0])):
        first, last, result = f"{out}/first{axis}", f"{out}/last{axis}", (out if axis == 2 else f"{out}/across")
        e.node("Gather", [x, e.constant(f"{out}/starts{axis}", [win.start for win in along])], first, axis=axis)
        e.node("Gather", [x, e.constant(f"{out}/ends{axis}", [win.stop - k for win in along])], last, axis=axis)
        e.node("Max", [first, last], result)
        x = result


def _linear(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    bias = [e.weight("bias")] if node.attrs["bias"] else []
    if len(e.shape_of(node.inputs[0])) == 1:
        e.node("Gemm", [inputs[0], e.weight("weight"), *bias], out, transB=1)
        return
    # on the last axis of [H, W, C] (channels moved last): x · Wᵀ + b, as nn.Linear computes it. The
    # inference graph holds Wᵀ, transposed once here (ConvNeXt-Tiny: 36 Transpose nodes fewer); the
    # training graph keeps the state_dict's W, which fine-tuning tools update, and a Transpose
    if e.training:
        e.node("Transpose", [e.weight("weight")], f"{out}/weight_t", perm=[1, 0])
        transposed = f"{out}/weight_t"
    else:
        transposed = e.tensor("weight_t", e.array(node, "weight").T.copy())
    e.node("MatMul", [inputs[0], transposed], f"{out}/product" if bias else out)
    if bias:
        e.node("Add", [f"{out}/product", *bias], out)


def _linear_tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
    out = node.attrs["out"]
    return {"weight": (out, inputs[0][-1])} | ({"bias": (out,)} if node.attrs["bias"] else {})


def _relu6(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node("Clip", [inputs[0], e.scalar("netdsl/zero", 0.0), e.scalar("netdsl/six", 6.0)], out)


def _silu(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node("Sigmoid", inputs, f"{out}/sigmoid")
    e.node("Mul", [inputs[0], f"{out}/sigmoid"], out)


def _chain(op_type: str) -> Callable[[Emit, Node, list[str], str], None]:
    """A two-input ONNX op applied left to right over every input (a + b + c, a · b · c)."""

    def emit(e: Emit, node: Node, inputs: list[str], out: str) -> None:
        acc = inputs[0]
        for i, other in enumerate(inputs[1:], start=1):
            target = out if i == len(inputs) - 1 else f"{out}/{op_type.lower()}{i}"
            e.node(op_type, [acc, other], target)
            acc = target

    return emit


def _layernorm(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node(
        "LayerNormalization", [inputs[0], e.weight("weight"), e.weight("bias")], out, axis=-1, epsilon=node.attrs["eps"]
    )


def _layernorm2d(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    """Over the channels of [N, C, H, W]: channels last, normalize, channels first again."""
    e.node("Transpose", inputs, f"{out}/nhwc", perm=[0, 2, 3, 1])
    e.node(
        "LayerNormalization",
        [f"{out}/nhwc", e.weight("weight"), e.weight("bias")],
        f"{out}/normed",
        axis=-1,
        epsilon=node.attrs["eps"],
    )
    e.node("Transpose", [f"{out}/normed"], out, perm=[0, 3, 1, 2])


def _norm_tensors(axis: int) -> Tensors:
    def tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
        return {"weight": (inputs[0][axis],), "bias": (inputs[0][axis],)}

    return tensors


def _scale(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node("Mul", [inputs[0], e.weight("")], out)


def _scale_tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
    channels = inputs[0][0]
    return {"": (channels, 1, 1) if len(inputs[0]) == 3 else (channels,)}


def _slice(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    starts, ends = e.constant(f"{out}/starts", [node.attrs["start"]]), e.constant(f"{out}/ends", [node.attrs["stop"]])
    e.node("Slice", [inputs[0], starts, ends, e.constant("netdsl/axis1", [1])], out)


def _chunk(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    size = e.shape_of(node.inputs[0])[0] // node.attrs["parts"]
    start = node.attrs["index"] * size
    e.node(
        "Slice",
        [
            inputs[0],
            e.constant(f"{out}/starts", [start]),
            e.constant(f"{out}/ends", [start + size]),
            e.constant("netdsl/axis1", [1]),
        ],
        out,
    )


def _channel_shuffle(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    """[N, C, H, W] → [N, g, C/g, H, W] → swap the two channel axes → [N, C, H, W]."""
    c, h, w = e.shape_of(node.inputs[0])
    groups = node.attrs["groups"]
    e.node("Reshape", [inputs[0], e.constant(f"{out}/grouped_shape", [0, groups, c // groups, h, w])], f"{out}/grouped")
    e.node("Transpose", [f"{out}/grouped"], f"{out}/swapped", perm=[0, 2, 1, 3, 4])
    e.node("Reshape", [f"{out}/swapped", e.constant(f"{out}/shape", [0, c, h, w])], out)


def _permute(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node("Transpose", inputs, out, perm=[0, *(axis + 1 for axis in node.attrs["order"])])


def _batchnorm(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    names = [e.weight(k) for k in ("weight", "bias", "running_mean", "running_var")]
    momentum = 1.0 - node.attrs["momentum"]  # ONNX keeps (1 - PyTorch's) of the old statistic
    e.node("BatchNormalization", [inputs[0], *names], out, epsilon=node.attrs["eps"], momentum=momentum)


def _batchnorm_tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
    return {k: (inputs[0][0],) for k in ("weight", "bias", "running_mean", "running_var")}


def _gelu(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    if e.opset >= 20:
        e.node("Gelu", inputs, out)
        return
    scaled, erf, one = f"{out}/scaled", f"{out}/erf", f"{out}/one_plus"
    e.node("Div", [inputs[0], e.scalar("netdsl/sqrt2", math.sqrt(2.0))], scaled)
    e.node("Erf", [scaled], erf)
    e.node("Add", [erf, e.scalar("netdsl/one", 1.0)], one)
    e.node("Mul", [inputs[0], one], f"{out}/x_times")
    e.node("Mul", [f"{out}/x_times", e.scalar("netdsl/half", 0.5)], out)


def _lrn(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    """b = a / (k + alpha/n · Σ a² over n neighbouring channels)^beta, as PyTorch defines it (its
    window: n//2 channels before, (n-1)//2 after, zeros past the ends). The sum is a 3-D Conv over
    [N, 1, C, H, W] with an n×1×1 kernel of alpha/n, strides and pads written out. torch.onnx.export
    writes Pad + AveragePool instead, which from opset 19 on runs on onnxruntime's slower pooling
    kernel (AlexNet 1.2-1.3× slower at opset 26 than at 18); the Conv runs as fast at every opset.
    onnxruntime's own LRN kernel is slower than both (and its window differs for even n)."""
    size, alpha, beta, k = (node.attrs[name] for name in ("size", "alpha", "beta", "k"))
    axis = e.constant("netdsl/axis1", [1])
    kernel = e.floats(f"{out}/window", [[[[[alpha / size]]] * size]])  # [1, 1, n, 1, 1]
    e.node("Mul", [inputs[0], inputs[0]], f"{out}/squared")
    e.node("Unsqueeze", [f"{out}/squared", axis], f"{out}/volume")  # [N, 1, C, H, W]
    pads = [size // 2, 0, 0, (size - 1) // 2, 0, 0]
    e.node("Conv", [f"{out}/volume", kernel], f"{out}/sum", kernel_shape=[size, 1, 1], pads=pads, strides=[1, 1, 1])
    e.node("Squeeze", [f"{out}/sum", axis], f"{out}/scaled")
    e.node("Add", [f"{out}/scaled", e.scalar(f"{out}/k", k)], f"{out}/base")
    e.node("Pow", [f"{out}/base", e.scalar(f"{out}/beta", beta)], f"{out}/divisor")
    e.node("Div", [inputs[0], f"{out}/divisor"], out)


def _lrn_native(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    """LRN as ONNX's own LRN op: a candidate for CUDA, whose provider has an LRN kernel of its own
    (cuDNN's). ONNX's window is (n-1)//2 channels before and n//2 after, PyTorch's the reverse:
    they agree for odd n only, so an even n keeps the Conv lowering."""
    size = node.attrs["size"]
    if size % 2 == 0:
        _lrn(e, node, inputs, out)
        return
    e.node(
        "LRN",
        [inputs[0]],
        out,
        size=size,
        alpha=float(node.attrs["alpha"]),
        beta=float(node.attrs["beta"]),
        bias=float(node.attrs["k"]),
    )


def _coral(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node("Gemm", [inputs[0], e.weight("fc.weight")], f"{out}/shared", transB=1)
    e.node("Add", [f"{out}/shared", e.weight("bias")], out)


def _coral_tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
    return {"fc.weight": (1, inputs[0][0]), "bias": (node.attrs["classes"] - 1,)}


def _ordinal(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    e.node("Gemm", [inputs[0], e.weight("fc.weight"), e.weight("fc.bias")], f"{out}/flat", transB=1)
    e.node("Reshape", [f"{out}/flat", e.constant(f"{out}/shape", [0, node.attrs["classes"] - 1, 2])], out)


def _ordinal_tensors(node: Node, inputs: tuple[Shape, ...]) -> dict[str, Shape]:
    tasks = 2 * (node.attrs["classes"] - 1)
    return {"fc.weight": (tasks, inputs[0][0]), "fc.bias": (tasks,)}


def _dropout(e: Emit, node: Node, inputs: list[str], out: str) -> None:
    """The training graph keeps Dropout (a fine-tuning tool turns on its training_mode); the
    inference graph writes a node only for a dropout that is the network's output."""
    if e.training:
        e.node("Dropout", [inputs[0], e.scalar(f"{out}/ratio", node.attrs["p"])], out)
    else:
        e.node("Identity", inputs, out)


def _simple(op_type: str, passes_through: bool = False, **attrs: Any) -> OnnxLowering:
    def emit(e: Emit, node: Node, inputs: list[str], out: str) -> None:
        e.node(op_type, inputs, out, **{k: (v(node) if callable(v) else v) for k, v in attrs.items()})

    return OnnxLowering(emit, passes_through=passes_through)


ONNX_LOWERINGS: dict[str, OnnxLowering] = {
    "conv": OnnxLowering(_conv, _conv_tensors),
    "maxpool": OnnxLowering(_pool("MaxPool")),
    "avgpool": OnnxLowering(_pool("AveragePool", count_include_pad=1)),  # PyTorch counts the padding
    "adaptive_avgpool": OnnxLowering(_adaptive),
    "adaptive_maxpool": OnnxLowering(_adaptive),
    "global_avgpool": _simple("GlobalAveragePool"),
    "linear": OnnxLowering(_linear, _linear_tensors),
    "flatten": _simple("Flatten", axis=1),
    "relu": _simple("Relu"),
    "relu6": OnnxLowering(_relu6),
    "hardswish": _simple("HardSwish"),
    "hardsigmoid": _simple("HardSigmoid", alpha=1 / 6, beta=0.5),  # PyTorch's: relu6(x + 3) / 6
    "silu": OnnxLowering(_silu),
    "tanh": _simple("Tanh"),
    "sigmoid": _simple("Sigmoid"),
    "gelu": OnnxLowering(_gelu),
    "leaky_relu": _simple("LeakyRelu", alpha=lambda n: n.attrs["negative_slope"]),
    "softmax": _simple("Softmax", axis=1),
    "log_softmax": _simple("LogSoftmax", axis=1),
    "identity": _simple("Identity", passes_through=True),
    "dropout": OnnxLowering(_dropout, passes_through=True),  # inference: dropout is off
    "batchnorm": OnnxLowering(_batchnorm, _batchnorm_tensors),
    "lrn": OnnxLowering(_lrn),
    "layernorm": OnnxLowering(_layernorm, _norm_tensors(-1)),
    "layernorm2d": OnnxLowering(_layernorm2d, _norm_tensors(0)),
    "scale": OnnxLowering(_scale, _scale_tensors),
    "stochastic_depth": _simple("Identity", passes_through=True),  # inference: every sample kept; no ONNX op
    "chunk": OnnxLowering(_chunk),
    "slice": OnnxLowering(_slice),
    "channel_shuffle": OnnxLowering(_channel_shuffle),
    "permute": OnnxLowering(_permute),
    "add": OnnxLowering(_chain("Add")),  # Add, not Sum: quantizers and fusers know Add
    "concat": _simple("Concat", axis=1),
    "mul": OnnxLowering(_chain("Mul")),
    "coral": OnnxLowering(_coral, _coral_tensors),
    "ordinal": OnnxLowering(_ordinal, _ordinal_tensors),
}

# Lowerings that differ by the provider a model is built for (`netdsl build --for`): (target, op) →
# lowering, in place of ONNX_LOWERINGS[op]. The CPU takes the table above.
TARGETS = ("cpu", "cuda")
TARGET_LOWERINGS: dict[tuple[str, str], OnnxLowering] = {
    ("cuda", "lrn"): OnnxLowering(_lrn_native),
}


def lowering_for(op: str, target: str = "cpu") -> OnnxLowering:
    return TARGET_LOWERINGS.get((target, op), ONNX_LOWERINGS[op])
