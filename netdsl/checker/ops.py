"""The op table: every layer kind defined once, in pure Python.

An `OpDef` holds the op's arguments (with kinds and defaults), its shape rule, its parameter
and multiply-accumulate counts and the sliding window it applies (for receptive fields and
the dropped-pixel warning). `elaborate` validates calls against it; `analyze` counts with it;
each backend keeps its own lowering table keyed by the same names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netdsl.core.diagnostics import did_you_mean

Shape = tuple[int, ...]
Attrs = Mapping[str, Any]
Pair = tuple[int, int]


class OpError(Exception):
    """A call that cannot be applied: its message, and the argument to point at (if one)."""

    def __init__(self, message: str, arg: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.arg, self.hint = message, arg, hint


REQUIRED = object()


@dataclass(frozen=True)
class ArgSpec:
    name: str
    kind: str  # a key of netdsl.checker.values.KINDS
    default: Any = REQUIRED


@dataclass(frozen=True)
class Window:
    """A sliding window on H and W: what conv and pooling layers apply."""

    kernel: Pair
    stride: Pair
    pads: tuple[Pair, Pair]  # ((top, bottom), (left, right))
    dilation: Pair = (1, 1)
    ceil: bool = False

    def effective(self, axis: int) -> int:
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1


def _zero(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return 0


@dataclass(frozen=True)
class OpDef:
    name: str
    summary: str
    args: tuple[ArgSpec, ...]
    infer: Callable[[Attrs, tuple[Shape, ...]], Shape]
    params: Callable[[Attrs, tuple[Shape, ...], Shape], int] = _zero
    macs: Callable[[Attrs, tuple[Shape, ...], Shape], int] = _zero
    window: Callable[[Attrs, Shape], Window] | None = None
    # "local": keeps the receptive field; "window": applies `window`; "global": sees it all
    reach: str = "local"
    merge: bool = False  # takes named values (add, concat) instead of the incoming value
    # acts on the last axis (linear, layernorm): a [C, H, W] input must have its channels moved last
    last_axis: bool = False
    arg_index: dict[str, ArgSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "arg_index", {a.name: a for a in self.args})


# ---- shape helpers ------------------------------------------------------------------------


def fmt_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _need_rank(op: str, shape: Shape, rank: int, hint: str | None = None) -> None:
    if len(shape) != rank:
        want = "[C, H, W]" if rank == 3 else "[features]"
        raise OpError(f"{op} expects an input of shape {want}, got {fmt_shape(shape)}", hint=hint)


def _need_flat(op: str, shape: Shape) -> None:
    _need_rank(op, shape, 1, hint=f"add 'flatten' before {op}" if len(shape) > 1 else None)


def _xy(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def window_output(size: int, window: Window, axis: int) -> int:
    """O = floor((W - K_eff + P_lo + P_hi) / S) + 1, or PyTorch's ceil mode."""
    span = size + sum(window.pads[axis]) - window.effective(axis)
    stride = window.stride[axis]
    if not window.ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    # PyTorch: the last window must start inside the input or the left padding
    if (out - 1) * stride >= size + window.pads[axis][0]:
        out -= 1
    return out


def dropped(size: int, window: Window, axis: int) -> int:
    """Input rows (or columns) past the last window, not counting padding: 0 when it tiles."""
    if window.ceil or window.effective(axis) < window.stride[axis]:
        return 0  # ceil mode covers the end; a kernel smaller than its stride skips by design
    rest = (size + sum(window.pads[axis]) - window.effective(axis)) % window.stride[axis]
    return max(0, rest - window.pads[axis][1])


def _apply_window(op: str, shape: Shape, window: Window) -> Shape:
    _, h, w = shape
    out = (window_output(h, window, 0), window_output(w, window, 1))
    # PyTorch's rule: an output of at least one. Without ceil mode that is a kernel no larger than
    # the padded input; in ceil mode a window may overhang the input's end (maxpool(5, ceil=true)
    # on 2×2 gives 1×1), as long as it starts inside the input or its left padding.
    if all(size >= 1 for size in out):
        return out
    if window.ceil or any(window.effective(a) > (h, w)[a] + sum(window.pads[a]) for a in (0, 1)):
        ph, pw = h + sum(window.pads[0]), w + sum(window.pads[1])
        k = (window.effective(0), window.effective(1))
        what = "kernel" if window.dilation == (1, 1) else "dilated kernel"
        extra = " even in ceil mode" if window.ceil else ""
        raise OpError(f"{what} {_xy(k)} is larger than the padded input ({ph}×{pw}){extra}")
    return out


def _sym(p: Pair) -> tuple[Pair, Pair]:
    return ((p[0], p[0]), (p[1], p[1]))


# ---- conv ---------------------------------------------------------------------------------


def _conv_window(attrs: Attrs, shape: Shape) -> Window:
    kernel, dilation = attrs["kernel"], attrs["dilation"]
    if attrs["padding"] == "same":
        total = [dilation[a] * (kernel[a] - 1) for a in (0, 1)]
        pads = ((total[0] // 2, total[0] - total[0] // 2), (total[1] // 2, total[1] - total[1] // 2))
    elif attrs["padding"] == "valid":
        pads = _sym((0, 0))
    else:
        pads = _sym(attrs["padding"])
    return Window(kernel, attrs["stride"], pads, dilation)


def conv_weight_shape(attrs: Attrs, in_channels: int) -> Shape:
    return (attrs["out"], in_channels // attrs["groups"], *attrs["kernel"])


def _check_literal_weight(attrs: Attrs, in_channels: int) -> None:
    weight = attrs["weight"]
    if weight is None:
        return
    full = conv_weight_shape(attrs, in_channels)
    shape = _nested_shape(weight)
    accepted = (full[2:], (full[0], *full[2:]), full)
    if shape not in accepted:
        raise OpError(
            f"weight has shape {fmt_shape(shape)}, but this conv's kernels are {fmt_shape(full)}",
            arg="weight",
            hint=f"give {fmt_shape(full[2:])} (one kernel for all), "
            f"{fmt_shape((full[0], *full[2:]))} (one per output channel) or {fmt_shape(full)}",
        )


def _nested_shape(value: Any) -> Shape:
    shape: list[int] = []
    while isinstance(value, (list, tuple)):
        shape.append(len(value))
        value = value[0]
    return tuple(shape)


# how a conv fills its padding, as torch's Conv2d(padding_mode=...) names them
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_padding_mode(attrs: Attrs, shape: Shape) -> None:
    """A known mode, and padding that the mode can fill: reflect mirrors the rows next to the
    edge (the edge itself left out), so it pads less than the input's size; circular wraps
    around once at most."""
    mode = attrs["padding_mode"]
    if mode not in PADDING_MODES:
        raise OpError(f"padding_mode is one of {', '.join(PADDING_MODES[:-1])} or {PADDING_MODES[-1]}, not {mode}",
                      arg="padding_mode", hint=did_you_mean(mode, PADDING_MODES))
    if mode not in ("reflect", "circular"):
        return
    pads = _conv_window(attrs, shape).pads
    for axis, size in ((0, shape[1]), (1, shape[2])):
        widest, most = max(pads[axis]), size - 1 if mode == "reflect" else size
        if widest > most:
            why = "reflect leaves the edge out" if mode == "reflect" else "circular wraps around once"
            raise OpError(f"padding {widest} is too wide for padding_mode={mode} on "
                          f"{('height', 'width')[axis]} {size} (at most {most}: {why})", arg="padding")


def _conv_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    (shape,) = inputs
    _need_rank("conv", shape, 3)
    _check_padding_mode(attrs, shape)
    channels, groups, out = shape[0], attrs["groups"], attrs["out"]
    if channels % groups:
        raise OpError(f"input channels ({channels}) are not divisible by groups ({groups})", arg="groups")
    if out % groups:
        raise OpError(f"output channels ({out}) are not divisible by groups ({groups})", arg="groups")
    if attrs["padding"] == "same" and attrs["stride"] != (1, 1):
        raise OpError("padding='same' needs stride 1 (as in PyTorch)", arg="padding")
    _check_literal_weight(attrs, channels)
    return (out, *_apply_window("conv", shape, _conv_window(attrs, shape)))


def _conv_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return math.prod(conv_weight_shape(attrs, inputs[0][0])) + (attrs["out"] if attrs["bias"] else 0)


def _conv_macs(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return math.prod(out) * math.prod(conv_weight_shape(attrs, inputs[0][0])[1:])


# ---- pooling ------------------------------------------------------------------------------


def _pool_window(attrs: Attrs, shape: Shape) -> Window:
    stride = attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]
    return Window(attrs["kernel"], stride, _sym(attrs["padding"]), ceil=attrs["ceil"])


def _pool_infer(op: str) -> Callable[[Attrs, tuple[Shape, ...]], Shape]:
    def infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _need_rank(op, shape, 3)
        kernel, padding = attrs["kernel"], attrs["padding"]
        if any(padding[a] * 2 > kernel[a] for a in (0, 1)):
            raise OpError(f"padding {_xy(padding)} is more than half the kernel {_xy(kernel)}", arg="padding")
        return (shape[0], *_apply_window(op, shape, _pool_window(attrs, shape)))

    return infer


def _adaptive_window(attrs: Attrs, shape: Shape) -> Window:
    size = _adaptive_size(attrs)
    # the widest window PyTorch's adaptive pooling uses, and its smallest step
    kernel = (-(-shape[1] // size[0]), -(-shape[2] // size[1]))
    stride = (max(shape[1] // size[0], 1), max(shape[2] // size[1], 1))
    return Window(kernel, stride, _sym((0, 0)))


def _adaptive_size(attrs: Attrs) -> Pair:
    return attrs.get("output", (1, 1))  # type: ignore[no-any-return]


def _adaptive_infer(op: str) -> Callable[[Attrs, tuple[Shape, ...]], Shape]:
    def infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
        _need_rank(op, inputs[0], 3)
        return (inputs[0][0], *_adaptive_size(attrs))

    return infer


def _global_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    _need_rank("global_avgpool", inputs[0], 3)
    return (inputs[0][0], 1, 1)


# ---- dense layers and heads ---------------------------------------------------------------


def _linear_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    """On its last axis, as nn.Linear: [features], or channels moved last by permute ([H, W, C],
    ConvNeXt's pointwise layers; elaboration refuses a [C, H, W] value that was not permuted)."""
    return (*inputs[0][:-1], attrs["out"])


def _linear_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    width: int = attrs["out"]
    return inputs[0][-1] * width + (width if attrs["bias"] else 0)


def _linear_macs(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return inputs[0][-1] * math.prod(out)


def _levels(op: str, attrs: Attrs) -> int:
    if attrs["classes"] < 2:
        raise OpError(f"{op} needs at least 2 classes, got {attrs['classes']}", arg="classes")
    return int(attrs["classes"]) - 1


def _coral_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    _need_flat("coral", inputs[0])
    return (_levels("coral", attrs),)


def _ordinal_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    _need_flat("ordinal", inputs[0])
    return (_levels("ordinal", attrs), 2)


def _coral_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return inputs[0][0] + out[0]  # one shared weight vector, classes-1 independent biases


def _ordinal_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return (inputs[0][0] + 1) * math.prod(out)


def _coral_macs(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return inputs[0][0]


def _ordinal_macs(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return inputs[0][0] * math.prod(out)


# ---- shape-keeping layers -----------------------------------------------------------------


def _same(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    return inputs[0]


def _spatial_same(op: str) -> Callable[[Attrs, tuple[Shape, ...]], Shape]:
    def infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
        _need_rank(op, inputs[0], 3)
        return inputs[0]

    return infer


def _batchnorm_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    if len(inputs[0]) not in (1, 3):
        raise OpError(f"batchnorm expects [C, H, W] or [features], got {fmt_shape(inputs[0])}")
    return inputs[0]


def _batchnorm_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return 2 * inputs[0][0]


def _flatten(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    return (math.prod(inputs[0]),)


def _layernorm_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    return inputs[0]


def _last_axis_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return 2 * inputs[0][-1]


def _channel_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return 2 * inputs[0][0]


def _scale_params(attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> int:
    return inputs[0][0]


def _slice_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    _need_rank("slice", inputs[0], 3)
    channels, start, stop = inputs[0][0], attrs["start"], attrs["stop"]
    if stop > channels:
        raise OpError(f"slice stops at channel {stop}, past the input's {channels} channels", arg="stop")
    if start >= stop:
        raise OpError(f"slice({start}, {stop}) holds no channel: start must be below stop", arg="start")
    return (stop - start, *inputs[0][1:])


def _chunk_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    _need_rank("chunk", inputs[0], 3)
    channels, parts, index = inputs[0][0], attrs["parts"], attrs["index"]
    if channels % parts:
        raise OpError(f"{channels} channels do not split into {parts} equal parts", arg="parts")
    if index >= parts:
        raise OpError(f"part {index} does not exist: the parts are 0 to {parts - 1}", arg="index")
    return (channels // parts, *inputs[0][1:])


def _shuffle_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    _need_rank("channel_shuffle", inputs[0], 3)
    if inputs[0][0] % attrs["groups"]:
        raise OpError(f"{inputs[0][0]} channels are not divisible by groups ({attrs['groups']})", arg="groups")
    return inputs[0]


def _permute_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    order, shape = attrs["order"], inputs[0]
    if sorted(order) != list(range(len(shape))):
        raise OpError(f"order {list(order)} is not a permutation of the {len(shape)} axes of "
                      f"{fmt_shape(shape)} (0 to {len(shape) - 1}; the batch axis is not counted)", arg="order")
    return tuple(shape[a] for a in order)


def _stochastic_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    if attrs["mode"] not in ("row", "batch"):
        raise OpError(f"mode is row (one draw per sample, torchvision's) or batch, not {attrs['mode']}", arg="mode")
    return inputs[0]


# ---- merges -------------------------------------------------------------------------------


def _add_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    for shape in inputs[1:]:
        if shape != inputs[0]:
            shapes = " vs ".join(fmt_shape(s) for s in inputs)
            raise OpError(f"add needs values of one shape, got {shapes}")
    return inputs[0]


def _mul_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    """Broadcasting, as in PyTorch but for values of one rank: along each axis the sizes agree,
    or one of them is 1 ([C, H, W] × [C, 1, 1]: squeeze-excitation)."""
    first = inputs[0]
    if any(len(shape) != len(first) for shape in inputs):
        raise OpError("mul needs values of one rank, got " + " vs ".join(fmt_shape(s) for s in inputs))
    out = []
    for sizes in zip(*inputs, strict=True):
        wide = {size for size in sizes if size != 1}
        if len(wide) > 1:
            shapes = " vs ".join(fmt_shape(s) for s in inputs)
            raise OpError(f"mul needs sizes that agree or are 1 on each axis, got {shapes}",
                          hint="squeeze-excitation multiplies [C, H, W] by [C, 1, 1]")
        out.append(wide.pop() if wide else 1)
    return tuple(out)


def _concat_infer(attrs: Attrs, inputs: tuple[Shape, ...]) -> Shape:
    first = inputs[0]
    for shape in inputs[1:]:
        if len(shape) != len(first) or shape[1:] != first[1:]:
            shapes = " vs ".join(fmt_shape(s) for s in inputs)
            raise OpError(f"concat joins channels and needs equal other dimensions, got {shapes}")
    return (sum(s[0] for s in inputs), *first[1:])


# ---- the table ----------------------------------------------------------------------------

_POOL_ARGS = (
    ArgSpec("kernel", "pair"),
    ArgSpec("stride", "pair", None),
    ArgSpec("padding", "nonneg_pair", (0, 0)),
    ArgSpec("ceil", "bool", False),
)


def _pointwise(name: str, summary: str, *args: ArgSpec) -> OpDef:
    return OpDef(name, summary, args, _same)


OPS: dict[str, OpDef] = {
    op.name: op
    for op in (
        OpDef(
            "conv",
            "2-D convolution",
            (
                ArgSpec("out", "pos_int"),
                ArgSpec("kernel", "pair"),
                ArgSpec("stride", "pair", (1, 1)),
                ArgSpec("padding", "padding", (0, 0)),
                ArgSpec("dilation", "pair", (1, 1)),
                ArgSpec("groups", "pos_int", 1),
                ArgSpec("bias", "bool", True),
                ArgSpec("weight", "weights", None),
                ArgSpec("frozen", "bool", None),
                ArgSpec("padding_mode", "padding_mode", "zeros"),
            ),
            _conv_infer,
            _conv_params,
            _conv_macs,
            _conv_window,
            reach="window",
        ),
        OpDef("maxpool", "2-D max pooling", _POOL_ARGS, _pool_infer("maxpool"),
              window=_pool_window, reach="window"),
        OpDef("avgpool", "2-D average pooling", (*_POOL_ARGS, ArgSpec("count_include_pad", "bool", True)),
              _pool_infer("avgpool"),
              window=_pool_window, reach="window"),
        OpDef("adaptive_avgpool", "average pooling to a fixed output size",
              (ArgSpec("output", "pair"),), _adaptive_infer("adaptive_avgpool"), window=_adaptive_window,
              reach="window"),
        OpDef("adaptive_maxpool", "max pooling to a fixed output size",
              (ArgSpec("output", "pair"),), _adaptive_infer("adaptive_maxpool"), window=_adaptive_window,
              reach="window"),
        OpDef("global_avgpool", "average over all of H and W, to [C, 1, 1]", (), _global_infer,
              reach="global"),
        OpDef("linear", "fully connected layer (on the last axis)",
              (ArgSpec("out", "pos_int"), ArgSpec("bias", "bool", True)),
              _linear_infer, _linear_params, _linear_macs, reach="global", last_axis=True),
        OpDef("flatten", "[C, H, W] to [C·H·W]", (), _flatten),
        _pointwise("relu", "max(x, 0)"),
        _pointwise("relu6", "min(max(x, 0), 6)"),
        _pointwise("hardswish", "x · relu6(x + 3) / 6"),
        _pointwise("hardsigmoid", "relu6(x + 3) / 6"),
        _pointwise("silu", "x · sigmoid(x) (swish)"),
        _pointwise("tanh", "hyperbolic tangent"),
        _pointwise("sigmoid", "logistic sigmoid"),
        _pointwise("leaky_relu", "leaky ReLU", ArgSpec("negative_slope", "float", 0.01)),
        _pointwise("gelu", "Gaussian error linear unit"),
        _pointwise("softmax", "softmax over channels (or features)"),
        _pointwise("log_softmax", "log-softmax over channels (or features)"),
        _pointwise("identity", "passes its input through"),
        _pointwise("dropout", "zeroes elements with probability p while training", ArgSpec("p", "prob", 0.5)),
        OpDef("batchnorm", "batch normalization (affine)",
              (ArgSpec("eps", "pos_float", 1e-5), ArgSpec("momentum", "prob", 0.1)),
              _batchnorm_infer, _batchnorm_params),
        OpDef("layernorm", "layer normalization over the last axis (affine)", (ArgSpec("eps", "pos_float", 1e-5),),
              _layernorm_infer, _last_axis_params, last_axis=True),
        OpDef("layernorm2d", "layer normalization over the channels of [C, H, W] (ConvNeXt's LayerNorm2d)",
              (ArgSpec("eps", "pos_float", 1e-5),), _spatial_same("layernorm2d"), _channel_params),
        OpDef("scale", "a learnable scale per channel (layer scale), starting at init",
              (ArgSpec("init", "float", 1.0),), _same, _scale_params),
        OpDef("stochastic_depth", "drops the whole input of a sample with probability p while training",
              (ArgSpec("p", "prob"), ArgSpec("mode", "word", "row")), _stochastic_infer),
        OpDef("chunk", "one of `parts` equal slices of the channels",
              (ArgSpec("parts", "pos_int"), ArgSpec("index", "nonneg_int")), _chunk_infer),
        OpDef("slice", "channels `start` up to `stop` (an unequal split, as GhostNet's)",
              (ArgSpec("start", "nonneg_int"), ArgSpec("stop", "pos_int")), _slice_infer),
        OpDef("channel_shuffle", "interleaves the channels of `groups` groups (ShuffleNet)",
              (ArgSpec("groups", "pos_int"),), _shuffle_infer),
        OpDef("permute", "reorders the axes of a sample ([1, 2, 0]: channels last)",
              (ArgSpec("order", "int_list"),), _permute_infer),
        OpDef("lrn", "local response normalization across channels (AlexNet)",
              (ArgSpec("size", "pos_int", 5), ArgSpec("alpha", "float", 1e-4),
               ArgSpec("beta", "float", 0.75), ArgSpec("k", "float", 1.0)),
              _spatial_same("lrn")),
        OpDef("add", "element-wise sum of named values", (), _add_infer, merge=True),
        OpDef("concat", "channel concatenation of named values", (), _concat_infer, merge=True),
        OpDef("mul", "element-wise product of named values, broadcasting sizes of 1", (), _mul_infer, merge=True),
        OpDef("coral", "CORAL ordinal head: shared weights, classes-1 biases",
              (ArgSpec("classes", "pos_int"),), _coral_infer, _coral_params, _coral_macs, reach="global"),
        OpDef("ordinal", "OR-CNN head: classes-1 binary classifiers",
              (ArgSpec("classes", "pos_int"),), _ordinal_infer, _ordinal_params, _ordinal_macs,
              reach="global"),
    )
}


def trainable_params(op: OpDef, attrs: Attrs, inputs: tuple[Shape, ...], out: Shape) -> tuple[int, int]:
    """(trainable, frozen) parameter counts; a conv with literal weights is frozen by default."""
    count = op.params(attrs, inputs, out)
    frozen = attrs.get("frozen")
    if frozen is None:
        frozen = attrs.get("weight") is not None
    return (0, count) if frozen else (count, 0)
