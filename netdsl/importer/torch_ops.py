"""PyTorch layers and functions → netdsl op calls (text with slots), one table each.

A module or function not in these tables is refused by the caller, naming it: never guessed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from netdsl.importer.refusal import ImportRefused
from netdsl.importer.stmts import slot


def _pair(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return value[0] if len(set(value)) == 1 else list(value)
    return value


def _kw(name: str, value: Any, default: Any, hint: str | None = None) -> str:
    """`, name=value` (defaults too: instances of a block may differ there; `drop_defaults` drops
    those left constant)."""
    return f", {name}={slot(hint or name, _pair(value))}"


def _conv(m: Any) -> str:
    if len(m.kernel_size) != 2:
        raise ImportRefused(f"{type(m).__name__} is not a 2-D convolution")
    padding = m.padding if isinstance(m.padding, str) else _pair(m.padding)
    pad = f", padding={padding}" if isinstance(padding, str) else f", padding={slot('padding', padding)}"
    return (f"conv({slot('out', m.out_channels)}, {slot('kernel', _pair(m.kernel_size))}"
            f"{_kw('stride', m.stride, 1)}{pad}{_kw('dilation', m.dilation, 1)}"
            f"{_kw('groups', m.groups, 1)}{'' if m.bias is not None else ', bias=false'}"
            f"{'' if m.padding_mode == 'zeros' else f', padding_mode={m.padding_mode}'})")


def _pool(op: str) -> Callable[[Any], str]:
    def lower(m: Any) -> str:
        if getattr(m, "dilation", 1) not in (1, (1, 1)):
            raise ImportRefused(f"{type(m).__name__} with dilation has no netdsl {op}")
        if op == "avgpool" and (not m.count_include_pad or m.divisor_override is not None):
            raise ImportRefused("AvgPool2d(count_include_pad=False or divisor_override) has no netdsl avgpool")
        stride = m.stride if m.stride is not None else m.kernel_size
        kernel = _pair(m.kernel_size)
        text = f"{op}({slot('kernel', kernel)}"
        if _pair(stride) != kernel:  # a pool's stride defaults to its kernel
            text += f", stride={slot('stride', _pair(stride))}"
        return text + _kw("padding", m.padding, 0) + (", ceil=true" if m.ceil_mode else "") + ")"

    return lower


CONV = re.compile(r"\bconv\((?:[^()]|\([^()]*\))*\)")  # one level of parentheses inside
CONV_DEFAULTS = re.compile(r", (?:stride|dilation|groups)=1(?=[,)])")
PADDING = re.compile(r", padding=(?:0|valid)(?=[,)])")


def drop_defaults(text: str) -> str:
    """Spec text without the arguments left at their defaults."""
    return PADDING.sub("", CONV.sub(lambda m: CONV_DEFAULTS.sub("", m.group(0)), text))


def _batchnorm(m: Any) -> str:
    if not m.affine or not m.track_running_stats:
        raise ImportRefused("BatchNorm2d without affine parameters or running statistics has no netdsl batchnorm")
    args = [f"eps={slot('eps', m.eps)}"] if m.eps != 1e-5 else []
    if m.momentum != 0.1:
        if m.momentum is None:
            raise ImportRefused("BatchNorm2d(momentum=None) (a cumulative average) has no netdsl batchnorm")
        args.append(f"momentum={slot('momentum', m.momentum)}")
    return "batchnorm" + (f"({', '.join(args)})" if args else "")


def _linear(m: Any) -> str:
    return f"linear({slot('out', m.out_features)}{'' if m.bias is not None else ', bias=false'})"


def _flatten(m: Any) -> str:
    if m.start_dim != 1 or m.end_dim != -1:
        raise ImportRefused(f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) (netdsl flattens from axis 1)")
    return "flatten"


def _dim1(op: str) -> Callable[[Any], str]:
    def lower(m: Any) -> str:
        if m.dim not in (1, -3):
            raise ImportRefused(f"{type(m).__name__}(dim={m.dim}) (netdsl's {op} is over channels)")
        return op

    return lower


def _adaptive(op: str) -> Callable[[Any], str]:
    return lambda m: f"{op}({slot('output', _pair(m.output_size))})"


def _lrn(m: Any) -> str:
    return (f"lrn({slot('size', m.size)}, alpha={slot('alpha', m.alpha)}, beta={slot('beta', m.beta)}, "
            f"k={slot('k', m.k)})")


def _layernorm(m: Any) -> str:
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise ImportRefused("LayerNorm over more than the last axis, or without affine weights and bias")
    return f"layernorm(eps={slot('eps', m.eps)})"


def _fixed(text: str) -> Callable[[Any], str]:
    return lambda m: text


def module_table() -> dict[type, Callable[[Any], str]]:
    """nn layer class → its netdsl call (nn.Sequential and custom classes are handled apart)."""
    from torch import nn

    return {
        nn.Conv2d: _conv,
        nn.BatchNorm2d: _batchnorm,
        nn.Linear: _linear,
        nn.MaxPool2d: _pool("maxpool"),
        nn.AvgPool2d: _pool("avgpool"),
        nn.AdaptiveAvgPool2d: _adaptive("adaptive_avgpool"),
        nn.AdaptiveMaxPool2d: _adaptive("adaptive_maxpool"),
        nn.Flatten: _flatten,
        nn.ReLU: _fixed("relu"),
        nn.ReLU6: _fixed("relu6"),
        nn.Hardswish: _fixed("hardswish"),
        nn.Hardsigmoid: _fixed("hardsigmoid"),
        nn.SiLU: _fixed("silu"),
        nn.Tanh: _fixed("tanh"),
        nn.Sigmoid: _fixed("sigmoid"),
        nn.GELU: lambda m: "gelu" if m.approximate == "none" else _refuse("GELU(approximate='tanh')"),
        nn.LeakyReLU: lambda m: f"leaky_relu({slot('negative_slope', m.negative_slope)})",
        nn.Identity: _fixed("identity"),
        nn.Dropout: lambda m: f"dropout({slot('p', m.p)})",
        nn.Softmax: _dim1("softmax"),
        nn.LogSoftmax: _dim1("log_softmax"),
        nn.LocalResponseNorm: _lrn,
        nn.LayerNorm: _layernorm,
        nn.ChannelShuffle: lambda m: f"channel_shuffle({slot('groups', m.groups)})",
    }


def _refuse(what: str) -> str:
    raise ImportRefused(f"{what} has no netdsl op")


# ---- functions ----------------------------------------------------------------------------


def _arg(node: Any, index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _fpool(op: str) -> Callable[[Any], str]:
    def lower(node: Any) -> str:
        kernel = _pair(_arg(node, 1, "kernel_size", None))
        stride = _arg(node, 2, "stride", None)
        stride = kernel if stride in (None, [], ()) else _pair(stride)
        padding = _pair(_arg(node, 3, "padding", 0))
        ceil = _arg(node, 5 if op == "maxpool" else 4, "ceil_mode", False)
        if op == "maxpool" and _pair(_arg(node, 4, "dilation", 1)) != 1:
            raise ImportRefused("max_pool2d with dilation has no netdsl maxpool")
        if op == "avgpool" and (_arg(node, 5, "count_include_pad", True) is not True
                                or _arg(node, 6, "divisor_override", None) is not None):
            raise ImportRefused("avg_pool2d(count_include_pad=False or divisor_override) has no netdsl avgpool")
        text = f"{op}({slot('kernel', kernel)}"
        if stride != kernel:
            text += f", stride={slot('stride', stride)}"
        return text + _kw("padding", padding, 0) + (", ceil=true" if ceil else "") + ")"

    return lower


def _fdropout(node: Any) -> str:
    if _arg(node, 2, "training", True) is False:
        return "identity"
    return f"dropout({slot('p', _arg(node, 1, 'p', 0.5))})"


def _fdim1(op: str) -> Callable[[Any], str]:
    def lower(node: Any) -> str:
        dim = _arg(node, 1, "dim", None)
        if dim not in (1, -3):
            raise ImportRefused(f"{op} over dim={dim} (netdsl's {op} is over channels, dim=1)")
        return op

    return lower


def _fflatten(node: Any) -> str:
    start, end = _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1)
    if start != 1 or end != -1:
        raise ImportRefused(f"flatten(start_dim={start}, end_dim={end}) (netdsl flattens from axis 1)")
    return "flatten"


def _fmean(node: Any) -> str:
    dims = _arg(node, 1, "dim", None)
    if dims is None or sorted(d % 4 for d in (dims if isinstance(dims, (list, tuple)) else [dims])) != [2, 3]:
        raise ImportRefused(f"mean over dim={dims} (netdsl averages H and W: global_avgpool)")
    return "global_avgpool" if _arg(node, 2, "keepdim", False) else "global_avgpool -> flatten"


def _fleaky(node: Any) -> str:
    return f"leaky_relu({slot('negative_slope', _arg(node, 1, 'negative_slope', 0.01))})"


def _fadaptive(op: str) -> Callable[[Any], str]:
    return lambda node: f"{op}({slot('output', _pair(_arg(node, 1, 'output_size', None)))})"


def _fgelu(node: Any) -> str:
    return "gelu" if node.kwargs.get("approximate", "none") == "none" else _refuse("gelu(approximate='tanh')")


def function_table() -> dict[Any, Callable[[Any], str]]:
    """torch function (or tensor method name) → its netdsl call; `node` is the fx node."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    simple = {
        "relu": (F.relu, torch.relu, "relu", "relu_"),
        "relu6": (F.relu6,),
        "hardswish": (F.hardswish,),
        "hardsigmoid": (F.hardsigmoid,),
        "silu": (F.silu,),
        "sigmoid": (torch.sigmoid, F.sigmoid, "sigmoid"),
        "tanh": (torch.tanh, F.tanh, "tanh"),
    }
    table: dict[Any, Callable[[Any], str]] = {}
    for op, keys in simple.items():
        for key in keys:
            table[key] = _fixed(op)
    table.update({
        F.gelu: _fgelu,
        F.leaky_relu: _fleaky,
        F.dropout: _fdropout,
        F.max_pool2d: _fpool("maxpool"),
        F.avg_pool2d: _fpool("avgpool"),
        F.adaptive_avg_pool2d: _fadaptive("adaptive_avgpool"),
        F.adaptive_max_pool2d: _fadaptive("adaptive_maxpool"),
        torch.flatten: _fflatten,
        "flatten": _fflatten,
        torch.mean: _fmean,
        "mean": _fmean,
        F.softmax: _fdim1("softmax"),
        torch.softmax: _fdim1("softmax"),
        "softmax": _fdim1("softmax"),
        F.log_softmax: _fdim1("log_softmax"),
        "log_softmax": _fdim1("log_softmax"),
    })
    return table


MERGES: dict[Any, str] = {
    operator.add: "add",
    operator.iadd: "add",
    "add": "add",
    "add_": "add",
    operator.mul: "mul",
    operator.imul: "mul",
    "mul": "mul",
}
ALIASES = {"contiguous", "clone"}
