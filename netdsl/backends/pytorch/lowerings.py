"""The PyTorch lowering table: for every op of `netdsl.checker.ops`, how a generated module writes it.

A `Lowering` says three things, each as Python source: the module an op needs in `__init__`
(none for a merge), the op's expression in `forward`, and its output shape in `__init__`.
`PRELUDE` holds the helpers a generated file may need; only those it uses are written into it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def py_literal(value: Any) -> str:
    """A compile-time value as Python source; a pair of equal numbers as one number. Strings are
    quoted as ruff format quotes them; infinities and NaN, which have no literal, are spelled
    `float("inf")`."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, str):
        quoted = json.dumps(value)  # double quotes, every control character escaped
        if '"' in value and "'" not in value:  # ruff prefers the quotes that need no escaping
            quoted = "'" + quoted[1:-1].replace('\\"', '"') + "'"
        return quoted
    items = list(value)
    if len(items) == 2 and items[0] == items[1] and not isinstance(items[0], (list, tuple)):
        return py_literal(items[0])
    return "(" + ", ".join(py_literal(v) for v in items) + ("," if len(items) == 1 else "") + ")"


Args = dict[str, str]  # argument → its Python source; "not ARGUMENT" → its negation, simplified


def _call(module: str | None, inputs: list[str]) -> str:
    return f"{module}({', '.join(inputs)})"


def _layer_shape(module: str | None, shapes: list[str]) -> str:
    return f"layer_shape({module}, {shapes[0]})"


@dataclass(frozen=True)
class Lowering:
    """`build`: (arguments, input shape variable, input rank) → the module's constructor, or None
    for an op without a module. `forward`: (module, input variables) → the forward expression.
    `shape`: (module, input shape variables) → the output shape; None: the first input's."""

    build: Callable[[Args, str, int], str] | None
    forward: Callable[[str | None, list[str]], str] = _call
    shape: Callable[[str | None, list[str]], str] | None = _layer_shape
    after: Callable[[str, Args], list[str]] = lambda module, args: []  # more __init__ lines for the module

    def __post_init__(self) -> None:
        if self.build is None and self.forward is _call:
            raise ValueError("an op without a module needs its own forward expression")

    @property
    def plain_module(self) -> bool:
        """A module called on its input and nothing else: what nn.Sequential can hold."""
        return self.build is not None and self.forward is _call


def _same(build: Callable[[Args, str, int], str]) -> Lowering:
    """An op whose output has its input's shape."""
    return Lowering(build, shape=None)


def _keywords(args: Args, defaults: dict[str, str], rename: dict[str, str] | None = None) -> str:
    """`, stride=2, bias=False` for the arguments that differ from PyTorch's defaults."""
    rename = rename or {}
    return "".join(f", {rename.get(k, k)}={args[k]}" for k, default in defaults.items() if args[k] != default)


_CONV_DEFAULTS = {
    "stride": "1",
    "padding": "0",
    "dilation": "1",
    "groups": "1",
    "bias": "True",
    "padding_mode": '"zeros"',
}


def _conv(a: Args, shape: str, rank: int) -> str:
    extra = _keywords(a, _CONV_DEFAULTS)
    return f"nn.Conv2d({shape}[0], {a['out']}, {a['kernel']}{extra})"


def _conv_after(module: str, a: Args) -> list[str]:
    frozen = a["frozen"]
    if a["weight"] != "None":
        return [f"set_weight({module}, {a['weight']}, frozen={'True' if frozen == 'None' else frozen})"]
    if frozen == "True":
        return [f"{module}.requires_grad_(False)"]
    if frozen not in ("None", "False"):
        return [f"{module}.requires_grad_({a['not frozen']})"]
    return []


def _pool(cls: str, more: dict[str, str] | None = None) -> Callable[[Args, str, int], str]:
    def build(a: Args, shape: str, rank: int) -> str:
        defaults = {"stride": "None", "padding": "0", "ceil": "False"} | (more or {})
        extra = _keywords(a, defaults, {"ceil": "ceil_mode"})
        return f"nn.{cls}({a['kernel']}{extra})"

    return build


_LRN_DEFAULTS = {"alpha": "0.0001", "beta": "0.75", "k": "1.0"}


def _batchnorm(a: Args, shape: str, rank: int) -> str:
    """BatchNorm2d on [C, H, W], BatchNorm1d on [F]; where the rank is not known as the file is
    written (0: in a seq, after an `if` or a loop decided in __init__), the module picks when built."""
    extra = _keywords(a, {"eps": "1e-05", "momentum": "0.1"})
    if rank == 0:
        return f"(nn.BatchNorm2d if len({shape}) == 3 else nn.BatchNorm1d)({shape}[0]{extra})"
    return f"nn.BatchNorm{2 if rank == 3 else 1}d({shape}[0]{extra})"


def _fixed(text: str) -> Callable[[Args, str, int], str]:
    return lambda a, shape, rank: text


LOWERINGS: dict[str, Lowering] = {
    "conv": Lowering(_conv, after=_conv_after),
    "maxpool": Lowering(_pool("MaxPool2d")),
    "avgpool": Lowering(_pool("AvgPool2d", {"count_include_pad": "True"})),
    "adaptive_avgpool": Lowering(lambda a, s, r: f"nn.AdaptiveAvgPool2d({a['output']})"),
    "adaptive_maxpool": Lowering(lambda a, s, r: f"nn.AdaptiveMaxPool2d({a['output']})"),
    "global_avgpool": Lowering(_fixed("nn.AdaptiveAvgPool2d(1)")),
    "linear": Lowering(lambda a, s, r: f"nn.Linear({s}[-1], {a['out']}{_keywords(a, {'bias': 'True'})})"),
    "flatten": Lowering(_fixed("nn.Flatten()")),
    "relu": _same(_fixed("nn.ReLU()")),
    "relu6": _same(_fixed("nn.ReLU6()")),
    "hardswish": _same(_fixed("nn.Hardswish()")),
    "hardsigmoid": _same(_fixed("nn.Hardsigmoid()")),
    "silu": _same(_fixed("nn.SiLU()")),
    "tanh": _same(_fixed("nn.Tanh()")),
    "sigmoid": _same(_fixed("nn.Sigmoid()")),
    "gelu": _same(_fixed("nn.GELU()")),
    "identity": _same(_fixed("nn.Identity()")),
    "leaky_relu": _same(lambda a, s, r: f"nn.LeakyReLU({a['negative_slope']})"),
    "softmax": _same(_fixed("nn.Softmax(dim=1)")),
    "log_softmax": _same(_fixed("nn.LogSoftmax(dim=1)")),
    "dropout": _same(lambda a, s, r: f"nn.Dropout({a['p']})"),
    "batchnorm": _same(_batchnorm),
    "lrn": _same(lambda a, s, r: f"nn.LocalResponseNorm({a['size']}{_keywords(a, _LRN_DEFAULTS)})"),
    "layernorm": _same(lambda a, s, r: f"nn.LayerNorm({s}[-1]{_keywords(a, {'eps': '1e-05'})})"),
    "layernorm2d": _same(lambda a, s, r: f"LayerNorm2d({s}[0]{_keywords(a, {'eps': '1e-05'})})"),
    # the layer is itself a parameter of the module around it (torchvision's layer_scale); in a
    # seq, the prelude's Chain applies it
    "scale": Lowering(  # a float parameter even where `init` is written as an integer
        lambda a, s, r: (
            f"nn.Parameter(torch.full(({s}[0], 1, 1) if len({s}) == 3 else ({s}[0],), {a['init']}, "
            "dtype=torch.get_default_dtype()))"
        ),
        forward=lambda m, xs: f"{xs[0]} * {m}",
        shape=None,
    ),
    "stochastic_depth": _same(lambda a, s, r: f"StochasticDepth({a['p']}, {a['mode']})"),
    "chunk": Lowering(lambda a, s, r: f"Chunk({a['parts']}, {a['index']})"),
    "slice": Lowering(lambda a, s, r: f"ChannelSlice({a['start']}, {a['stop']})"),
    "channel_shuffle": _same(lambda a, s, r: f"nn.ChannelShuffle({a['groups']})"),
    "permute": Lowering(lambda a, s, r: f"Permute({a['order']})"),
    "coral": Lowering(lambda a, s, r: f"CoralHead({s}[0], {a['classes']})"),
    "ordinal": Lowering(lambda a, s, r: f"OrdinalHead({s}[0], {a['classes']})"),
    # merges have no module: an expression over the named values
    "add": Lowering(None, forward=lambda m, xs: " + ".join(xs), shape=None),
    "concat": Lowering(
        None,
        forward=lambda m, xs: f"torch.cat([{', '.join(xs)}], dim=1)",
        shape=lambda m, ss: f"({' + '.join(f'{s}[0]' for s in ss)}, *{ss[0]}[1:])",
    ),
    # broadcasting: along each axis the larger size (the others are equal or 1)
    "mul": Lowering(
        None, forward=lambda m, xs: " * ".join(xs), shape=lambda m, ss: f"tuple(map(max, {', '.join(ss)}))"
    ),
}

PRELUDE: dict[str, str] = {
    "layer_shape": '''def layer_shape(layer: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape (batch excluded) of `layer` for an input of `shape`: PyTorch's own
    rule, run on the meta device, where nothing is allocated."""
    state = {
        name: torch.empty_like(value, device="meta")
        for name, value in layer.state_dict(keep_vars=True).items()
    }
    probe = torch.empty((1, *shape), device="meta")
    return tuple(torch.func.functional_call(layer, state, (probe,)).shape[1:])''',
    "exact_div": '''def exact_div(a: float, b: float) -> float:
    """a / b as the spec means it: an integer when the division is exact."""
    return a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b''',
    "set_weight": '''def set_weight(layer: nn.Conv2d, kernels: tuple, frozen: bool) -> None:
    """Give a convolution literal kernels: one [kh][kw] for every pair of channels, one per
    output channel [out][kh][kw], or all of them [out][in/groups][kh][kw]. Its bias, if any,
    starts at 0."""
    value = torch.tensor(kernels, dtype=layer.weight.dtype)
    if value.dim() == 2:
        value = value[None, None]
    elif value.dim() == 3:
        value = value[:, None]
    with torch.no_grad():
        layer.weight.copy_(value.expand_as(layer.weight))
        if layer.bias is not None:
            layer.bias.zero_()
    layer.requires_grad_(not frozen)''',
    "CoralHead": '''class CoralHead(nn.Module):
    """CORAL (Cao, Mirjalili, Raschka 2019): one weight vector shared by the classes - 1 binary
    tasks, and classes - 1 independent biases. Logits: [N, classes - 1]. The biases start
    ordered, at the logits of P(rank > k) under a uniform prior:
    log((K-1-k) / (k+1))."""

    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, 1, bias=False)
        k = torch.arange(classes - 1, dtype=torch.float32)
        self.bias = nn.Parameter(torch.log((classes - 1 - k) / (k + 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.bias''',
    "LayerNorm2d": '''class LayerNorm2d(nn.LayerNorm):
    """Layer normalization over the channels of [N, C, H, W] (torchvision's, for ConvNeXt)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)''',
    "StochasticDepth": '''class StochasticDepth(nn.Module):
    """Drops a sample's whole input with probability p while training, scaling the kept ones by
    1 / (1 - p) (Huang et al. 2016); "row": one draw per sample, "batch": one for the batch.
    The identity in eval mode, as torchvision's StochasticDepth."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        shape = (
            [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        )
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(
            1.0 - self.p
        )
        return x * keep / (1.0 - self.p) if self.p < 1.0 else x * keep''',
    "Chunk": '''class Chunk(nn.Module):
    """One of `parts` equal slices of the channels (ShuffleNet's x.chunk(2, dim=1))."""

    def __init__(self, parts: int, index: int) -> None:
        super().__init__()
        self.parts, self.index = parts, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.parts, dim=1)[self.index]''',
    "ChannelSlice": '''class ChannelSlice(nn.Module):
    """Channels `start` up to `stop` (GhostNet's unequal split: x[:, start:stop])."""

    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.stop]''',
    "Permute": '''class Permute(nn.Module):
    """Reorders the axes of each sample (the batch axis stays first): (1, 2, 0) moves channels last."""

    def __init__(self, order: tuple[int, ...]) -> None:
        super().__init__()
        self.order = order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, *(axis + 1 for axis in self.order))''',
    "Chain": '''class Chain(nn.Module):
    """A seq that holds a layer which is a parameter (a layer scale), where nn.Sequential holds
    modules only: its items in order, named by position or label, each applied in turn (a
    parameter multiplies)."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def add(self, name: str | None, item: nn.Module | nn.Parameter) -> None:
        name = str(len(self.order)) if name is None else name
        if isinstance(item, nn.Parameter):
            self.register_parameter(name, item)
        else:
            self.add_module(name, item)
        self.order.append(name)

    def __getitem__(self, index: int) -> nn.Module | nn.Parameter:
        return getattr(self, self.order[index])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.order:
            item = getattr(self, name)
            x = x * item if isinstance(item, nn.Parameter) else item(x)
        return x''',
    "OrdinalHead": '''class OrdinalHead(nn.Module):
    """OR-CNN (Niu et al. 2016): classes - 1 independent binary classifiers.
    Logits: [N, classes - 1, 2]."""

    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, 2 * (classes - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).unflatten(1, (-1, 2))''',
}
