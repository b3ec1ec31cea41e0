"""Random netdsl networks for the differential tests, and their meaning in plain PyTorch.

`Generator(chooser).net()` writes a random network as spec *text* (so the parser is exercised
too) together with the generator's own description of it: expressions that evaluate
themselves, statements, blocks. `reference(net)` gives that description its meaning by
building the equivalent PyTorch layers by hand — never through netdsl — and running them on
the meta device, where nothing is allocated: the output shape and parameter counts PyTorch
gives, or `Rejected` with PyTorch's reason. The generator uses the same interpreter while it
writes, to keep most networks valid (and makes a few invalid on purpose).

A `Chooser` makes every random choice: `RandomChooser` (a seeded `random.Random`) for plain
loops, `hypothesis_networks()` for hypothesis, which then shrinks failing networks.
torch is imported inside the functions that need it (netdsl's lint bans module-level imports).
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...

    def pick(self, options: Sequence[T]) -> T: ...

    def chance(self, p: float) -> bool: ...


class RandomChooser:
    """Choices from a seeded `random.Random`: the same seed, the same network."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


class _DrawChooser:
    """Choices drawn by hypothesis; each shrinks towards its first option, the low end and `False`."""

    def __init__(self, draw: Callable[[Any], Any]):
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        from hypothesis import strategies as st

        return int(self.draw(st.integers(lo, hi)))

    def pick(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def chance(self, p: float) -> bool:
        return self.integer(0, 999) >= 1000 - round(p * 1000)


def hypothesis_networks() -> Any:
    """A hypothesis strategy of `Net`s."""
    from hypothesis import strategies as st

    @st.composite
    def nets(draw: Callable[[Any], Any]) -> Net:
        return Generator(_DrawChooser(draw)).net()

    return nets()


# ---- expressions: spec text and value ---------------------------------------------------------

Env = dict[str, Any]


class Expr:
    def text(self) -> str:
        raise NotImplementedError

    def eval(self, env: Env) -> Any:
        raise NotImplementedError


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal_text(v) for v in value) + "]"
    return repr(value)


@dataclass(frozen=True)
class Lit(Expr):
    value: Any  # int, float, bool, or a (nested) list of them

    def text(self) -> str:
        return _literal_text(self.value)

    def eval(self, env: Env) -> Any:
        return self.value


@dataclass(frozen=True)
class Word(Expr):
    """A bare word that names nothing: `same`, `valid` (padding modes)."""

    word: str

    def text(self) -> str:
        return self.word

    def eval(self, env: Env) -> Any:
        return self.word


@dataclass(frozen=True)
class Var(Expr):
    name: str

    def text(self) -> str:
        return self.name

    def eval(self, env: Env) -> Any:
        return env[self.name]


SHAPE_ATTRS = ("channels", "height", "width")


@dataclass(frozen=True)
class Attr(Expr):
    """`in.channels`, `a.height`, `x.features`: a shape read from a tensor value."""

    name: str
    attr: str

    def text(self) -> str:
        return f"{self.name}.{self.attr}"

    def eval(self, env: Env) -> Any:
        shape = tuple(env[self.name].shape[1:])
        return math.prod(shape) if self.attr == "features" else shape[SHAPE_ATTRS.index(self.attr)]


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b,
    "**": lambda a, b: a**b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
}


@dataclass(frozen=True)
class Bin(Expr):
    op: str
    left: Expr
    right: Expr

    def text(self) -> str:
        return f"({self.left.text()} {self.op} {self.right.text()})"

    def eval(self, env: Env) -> Any:
        return _BINARY[self.op](self.left.eval(env), self.right.eval(env))


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr

    def text(self) -> str:
        return f"(not {self.operand.text()})"

    def eval(self, env: Env) -> Any:
        return not self.operand.eval(env)


@dataclass(frozen=True)
class Ternary(Expr):
    then: Expr
    cond: Expr
    orelse: Expr

    def text(self) -> str:
        return f"({self.then.text()} if {self.cond.text()} else {self.orelse.text()})"

    def eval(self, env: Env) -> Any:
        return self.then.eval(env) if self.cond.eval(env) else self.orelse.eval(env)


_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "len": len,
    "range": lambda n: list(range(n)),
    "int": int,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "sum": sum,
}


@dataclass(frozen=True)
class Func(Expr):
    name: str  # min, max, abs, len, range, int, round, floor, ceil, sum
    args: tuple[Expr, ...]

    def text(self) -> str:
        return f"{self.name}({', '.join(a.text() for a in self.args)})"

    def eval(self, env: Env) -> Any:
        return _FUNCS[self.name](*(a.eval(env) for a in self.args))


@dataclass(frozen=True)
class Index(Expr):
    """`widths[0]`, `settings[-1][1]`: an item of a list (from 0; negative from the end)."""

    base: Expr
    index: Expr

    def text(self) -> str:
        return f"{self.base.text()}[{self.index.text()}]"

    def eval(self, env: Env) -> Any:
        return self.base.eval(env)[self.index.eval(env)]


@dataclass(frozen=True)
class Slice(Expr):
    """`widths[:2]`, `widths[1:]`: the items from `start` up to `stop`."""

    base: Expr
    start: int | None
    stop: int | None

    def text(self) -> str:
        return (
            f"{self.base.text()}[{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}]"
        )

    def eval(self, env: Env) -> Any:
        return self.base.eval(env)[self.start : self.stop]


@dataclass(frozen=True)
class Comp(Expr):
    """`[x for x in range(7) if x < 5]`: a list made item by item."""

    item: Expr
    name: str
    iterable: Expr
    cond: Expr | None

    def text(self) -> str:
        cond = "" if self.cond is None else f" if {self.cond.text()}"
        return f"[{self.item.text()} for {self.name} in {self.iterable.text()}{cond}]"

    def eval(self, env: Env) -> Any:
        items = self.iterable.eval(env)
        return [
            self.item.eval(env | {self.name: x})
            for x in items
            if self.cond is None or self.cond.eval(env | {self.name: x})
        ]


@dataclass(frozen=True)
class LayerValue:
    """What a layer argument evaluates to: an op and its arguments' values (`leaky_relu(0.1)`)."""

    op: str
    args: tuple[tuple[str | None, Any], ...] = ()


@dataclass(frozen=True)
class LayerExpr(Expr):
    """A layer given to a block's parameter: `hardswish`, `leaky_relu(0.1)`, or `none` (op None)."""

    op: str | None
    args: tuple[tuple[str | None, Expr], ...] = ()

    def text(self) -> str:
        if self.op is None:
            return "none"
        return self.op + (f"({_args_text(self.args)})" if self.args else "")

    def eval(self, env: Env) -> Any:
        return None if self.op is None else LayerValue(self.op, tuple((k, v.eval(env)) for k, v in self.args))


@dataclass(frozen=True)
class Function:
    """`def make_divisible(v, d = 8) = ...`: a compile-time function, one expression of its parameters."""

    name: str
    params: tuple[tuple[str, Expr | None], ...]
    body: Expr


@dataclass(frozen=True)
class FnCall(Expr):
    """A call of a `def` function: its parameters bound (by position, then by keyword, then defaults)."""

    function: Function
    args: tuple[tuple[str | None, Expr], ...]

    def text(self) -> str:
        return f"{self.function.name}({_args_text(self.args)})"

    def eval(self, env: Env) -> Any:
        given = _bind_args([n for n, _ in self.function.params], self.args, env)
        inner: Env = {}
        for name, default in self.function.params:
            inner[name] = given[name] if name in given else default.eval(inner)  # type: ignore[union-attr]
        return self.function.body.eval(inner)


# ---- statements ---------------------------------------------------------------------------------

Args = tuple[tuple[str | None, Expr], ...]  # (keyword or None, value), in call order


def _args_text(args: Args) -> str:
    return ", ".join(f"{k} = {v.text()}" if k else v.text() for k, v in args)


@dataclass(frozen=True)
class Op:
    op: str
    args: Args = ()
    label: str | None = None
    parens: bool = False  # `relu()` rather than `relu`


@dataclass(frozen=True)
class Use:
    """A step naming a value: the chain continues from it (`a -> relu`, `skip = in`)."""

    name: str


@dataclass(frozen=True)
class Merge:
    op: str  # add, concat
    names: tuple[str, ...]  # one name: the current value is the first operand
    label: str | None = None


@dataclass(frozen=True)
class Call:
    block: str
    args: Args = ()
    label: str | None = None
    inputs: tuple[str, ...] | None = None  # `B(4)(a, b)`: named tensor values, in order (optional ones left off)


@dataclass(frozen=True)
class If:
    cond: Expr
    then: Body
    orelse: Body | If | None = None


@dataclass(frozen=True)
class Repeat:
    count: Expr
    index: str | None
    body: Body
    label: str | None = None


@dataclass(frozen=True)
class For:
    """`for i in range(3) { ... }`, `for c, n in [[8, 1], [4, 2]] { ... }`: the body written out once per item,
    in the enclosing scope."""

    names: tuple[str, ...]
    items: Expr
    body: Body


@dataclass(frozen=True)
class Seq:
    """`features: seq { ... }`: a chain of layers named by position."""

    body: Body
    label: str | None = None


@dataclass(frozen=True)
class ParamLayer:
    """A step naming a block's layer parameter (`-> act`): the layer it was given, or nothing (`none`)."""

    name: str


Step = Op | Use | Merge | Call | If | Repeat | For | Seq | ParamLayer


@dataclass(frozen=True)
class Stmt:
    steps: tuple[Step, ...]
    bind: str | None = None
    check: tuple[Expr, ...] | None = None  # `@ [..]`


@dataclass(frozen=True)
class Let:
    """`let widths = [8, 16]`: a constant of the body."""

    name: str
    value: Expr


Body = tuple[Stmt | Let, ...]


@dataclass(frozen=True)
class Block:
    name: str
    params: tuple[tuple[str, Expr | None], ...]
    body: Body
    seq: bool = False  # `seq block`: its layers named by position
    inline: bool = False  # `inline block`: its layers spliced into the caller's scope
    # `block B(c)(x, skip = none)`: its tensor inputs, (name, optional); None: one input, `in`
    inputs: tuple[tuple[str, bool], ...] | None = None


@dataclass(frozen=True)
class Net:
    name: str
    params: tuple[tuple[str, Expr], ...]
    input_name: str
    input_shape: tuple[int, ...]
    body: Body
    blocks: tuple[Block, ...] = ()
    layout: int = 0  # how the text is laid out (one line per statement, or several per line)
    functions: tuple[Function, ...] = ()

    @property
    def text(self) -> str:
        return render(self)

    @property
    def ops(self) -> frozenset[str]:
        """Every op written in the spec (taken branches or not)."""
        found: set[str] = set()
        for body in [self.body, *(b.body for b in self.blocks)]:
            _collect_ops(body, found)
        return frozenset(found)

    def __repr__(self) -> str:  # hypothesis shows the failing example: show its spec
        return f"Net(\n{self.text})"


def _collect_ops(body: Body, found: set[str]) -> None:
    for stmt in body:
        if isinstance(stmt, Let):
            continue
        for step in stmt.steps:
            if isinstance(step, (Op, Merge)):
                found.add(step.op)
            elif isinstance(step, If):
                branch: Body | If | None = step
                while isinstance(branch, If):
                    _collect_ops(branch.then, found)
                    branch = branch.orelse
                if branch is not None:
                    _collect_ops(branch, found)
            elif isinstance(step, (Repeat, For, Seq)):
                _collect_ops(step.body, found)
            elif isinstance(step, Call):  # layers given as arguments
                found.update(v.op for _, v in step.args if isinstance(v, LayerExpr) and v.op)


# ---- text ---------------------------------------------------------------------------------------


def _label(label: str | None) -> str:
    return f"{label}: " if label else ""


def _step_text(step: Step, indent: str, layout: int) -> str:
    if isinstance(step, Op):
        call = f"({_args_text(step.args)})" if step.args or step.parens else ""
        return f"{_label(step.label)}{step.op}{call}"
    if isinstance(step, (Use, ParamLayer)):
        return step.name
    if isinstance(step, Merge):
        return f"{_label(step.label)}{step.op}({', '.join(step.names)})"
    if isinstance(step, Call):
        given = f"({', '.join(step.inputs)})" if step.inputs is not None else ""
        return (
            f"{_label(step.label)}{step.block}" + (f"({_args_text(step.args)})" if step.args or given else "") + given
        )
    if isinstance(step, Repeat):
        head = f"{_label(step.label)}repeat {step.count.text()}" + (f" as {step.index}" if step.index else "")
        return f"{head} {_body_text(step.body, indent, layout)}"
    if isinstance(step, For):
        return f"for {', '.join(step.names)} in {step.items.text()} {_body_text(step.body, indent, layout)}"
    if isinstance(step, Seq):
        return f"{_label(step.label)}seq {_body_text(step.body, indent, layout)}"
    text = f"if {step.cond.text()} {_body_text(step.then, indent, layout)}"
    if isinstance(step.orelse, If):
        text += " else " + _step_text(step.orelse, indent, layout)
    elif step.orelse is not None:
        text += f" else {_body_text(step.orelse, indent, layout)}"
    return text


def _stmt_text(stmt: Stmt | Let, indent: str, layout: int) -> str:
    if isinstance(stmt, Let):
        return f"let {stmt.name} = {stmt.value.text()}"
    text = " -> ".join(_step_text(s, indent, layout) for s in stmt.steps)
    if stmt.bind:
        text = f"{stmt.bind} = {text}"
    if stmt.check is not None:
        text += " @ [" + ", ".join(e.text() for e in stmt.check) + "]"
    return text


def _body_text(body: Body, indent: str, layout: int, lead: str | None = None) -> str:
    lines = ([lead] if lead else []) + [_stmt_text(s, indent + "    ", layout) for s in body]
    if not lines:
        return "{ }"
    if layout == 1 and len(lines) <= 2:  # newlines carry no meaning: a body may sit on one line
        return "{ " + "  ".join(lines) + " }"
    inner = indent + "    "
    return "{\n" + "".join(f"{inner}{line}\n" for line in lines) + indent + "}"


def _params_text(params: Sequence[tuple[str, Expr | None]]) -> str:
    return "(" + ", ".join(name if d is None else f"{name} = {d.text()}" for name, d in params) + ")"


def render(net: Net) -> str:
    parts = []
    if net.functions:
        parts.append("".join(f"def {f.name}{_params_text(f.params)} = {f.body.text()}\n" for f in net.functions))
    for block in net.blocks:
        params = _params_text(block.params) if block.params or block.inputs else ""
        if block.inputs is not None:
            params += "(" + ", ".join(n + " = none" * optional for n, optional in block.inputs) + ")"
        kind = "seq block" if block.seq else "inline block" if block.inline else "block"
        parts.append(f"{kind} {block.name}{params} {_body_text(block.body, '', net.layout)}\n")
    params = _params_text(net.params) if net.params else ""
    shape = ", ".join(map(str, net.input_shape))
    body = _body_text(net.body, "", net.layout, f"input {net.input_name}: [{shape}]")
    parts.append(f"network {net.name}{params} {body}\n")
    return "\n".join(parts)


# ---- the reference: PyTorch layers built by hand, on the meta device -----------------------------


class Rejected(Exception):
    """PyTorch (or a rule of the spec language that has no PyTorch counterpart) refuses the network."""


@dataclass
class Outcome:
    shape: tuple[int, ...]  # output, batch dimension excluded
    params: int
    trainable: int
    notes: set[str]  # deliberate differences met (see `DELIBERATE` in test_differential.py)
    ops: collections.Counter[str]  # the ops run (branches taken, repeats unrolled)


# each op's arguments in call order, with their defaults (the README's table)
OP_ARGS: dict[str, tuple[tuple[str, Any], ...]] = {
    "conv": (
        ("out", None),
        ("kernel", None),
        ("stride", 1),
        ("padding", 0),
        ("dilation", 1),
        ("groups", 1),
        ("bias", True),
        ("weight", None),
        ("frozen", None),
        ("padding_mode", "zeros"),
    ),
    "maxpool": (("kernel", None), ("stride", None), ("padding", 0), ("ceil", False)),
    "avgpool": (("kernel", None), ("stride", None), ("padding", 0), ("ceil", False), ("count_include_pad", True)),
    "adaptive_avgpool": (("output", None),),
    "adaptive_maxpool": (("output", None),),
    "global_avgpool": (),
    "linear": (("out", None), ("bias", True)),
    "flatten": (),
    "relu": (),
    "tanh": (),
    "sigmoid": (),
    "leaky_relu": (("negative_slope", 0.01),),
    "gelu": (),
    "softmax": (),
    "log_softmax": (),
    "identity": (),
    "dropout": (("p", 0.5),),
    "batchnorm": (("eps", 1e-5), ("momentum", 0.1)),
    "lrn": (("size", 5), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)),
    "relu6": (),
    "hardswish": (),
    "hardsigmoid": (),
    "silu": (),
    "layernorm": (("eps", 1e-5),),
    "layernorm2d": (("eps", 1e-5),),
    "scale": (("init", 1.0),),
    "stochastic_depth": (("p", None), ("mode", "row")),
    "chunk": (("parts", None), ("index", None)),
    "slice": (("start", None), ("stop", None)),
    "channel_shuffle": (("groups", None),),
    "permute": (("order", None),),
    "add": (),
    "concat": (),
    "mul": (),
    "coral": (("classes", None),),
    "ordinal": (("classes", None),),
}


def _bind_args(names: Sequence[str], args: Args, env: Env) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for position, (keyword, expr) in enumerate(args):
        values[keyword or names[position]] = expr.eval(env)
    return values


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass
class _Layer:
    forward: Callable[[Any], Any]
    params: int
    trainable: int


def _nested_shape(value: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0]
    return tuple(shape)


def _need_width(op: str, out: Any) -> None:
    """A layer of no outputs: PyTorch makes one (zero-element weights), the language refuses it."""
    if out < 1:
        raise Rejected(f"{op} with {out} outputs")


def _conv(a: dict[str, Any], x: Any) -> _Layer:
    from torch import nn

    _need_width("conv", a["out"])
    padding = a["padding"] if isinstance(a["padding"], str) else _pair(a["padding"])
    conv = nn.Conv2d(
        x.shape[1],
        a["out"],
        _pair(a["kernel"]),
        stride=_pair(a["stride"]),
        padding=padding,
        dilation=_pair(a["dilation"]),
        groups=a["groups"],
        bias=a["bias"],
        padding_mode=a["padding_mode"],
        device=x.device,
    )
    count = sum(p.numel() for p in conv.parameters())
    if a["weight"] is not None:  # one kernel for all, one per output channel, or all of them
        full = tuple(conv.weight.shape)
        if _nested_shape(a["weight"]) not in (full[2:], (full[0], *full[2:]), full):
            raise Rejected(f"literal weight of shape {_nested_shape(a['weight'])} for kernels {full}")
    frozen = a["frozen"] if a["frozen"] is not None else a["weight"] is not None
    return _Layer(conv, count, 0 if frozen else count)


def _pool(cls: str) -> Callable[[dict[str, Any], Any], _Layer]:
    def build(a: dict[str, Any], x: Any) -> _Layer:
        from torch import nn

        stride = _pair(a["stride"]) if a["stride"] is not None else None
        more = {"count_include_pad": a["count_include_pad"]} if "count_include_pad" in a else {}
        layer = getattr(nn, cls)(_pair(a["kernel"]), stride, _pair(a["padding"]), ceil_mode=a["ceil"], **more)
        return _Layer(layer, 0, 0)

    return build


def _plain(make: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], _Layer]:
    def build(a: dict[str, Any], x: Any) -> _Layer:
        layer = make(a, x)
        count = sum(p.numel() for p in layer.parameters())
        return _Layer(layer, count, count)

    return build


def _linear(a: dict[str, Any], x: Any, notes: set[str]) -> _Layer:
    from torch import nn

    _need_width("linear", a["out"])
    layer = nn.Linear(x.shape[-1], a["out"], bias=a["bias"], device=x.device)
    count = sum(p.numel() for p in layer.parameters())
    return _Layer(layer, count, count)


def _head(a: dict[str, Any], x: Any, notes: set[str], op: str) -> _Layer:
    import torch
    from torch import nn

    if x.dim() != 2:
        notes.add("heads_need_flat_input")  # their nn.Linear acts on the last axis of any tensor
    levels = a["classes"] - 1
    if levels < 1:
        notes.add("head_needs_two_classes")  # PyTorch makes an empty head without complaint
    if op == "coral":  # one shared weight vector, classes - 1 biases
        fc = nn.Linear(x.shape[-1], 1, bias=False, device=x.device)
        bias = torch.zeros(levels, device=x.device)
        return _Layer(lambda t: fc(t) + bias, fc.weight.numel() + levels, fc.weight.numel() + levels)
    fc = nn.Linear(x.shape[-1], 2 * levels, device=x.device)
    count = sum(p.numel() for p in fc.parameters())
    return _Layer(lambda t: fc(t).unflatten(-1, (-1, 2)), count, count)


def _batchnorm(a: dict[str, Any], x: Any, notes: set[str]) -> _Layer:
    from torch import nn

    cls = nn.BatchNorm2d if x.dim() == 4 else nn.BatchNorm1d
    if x.dim() == 3:
        notes.add("batchnorm_rank")
    layer = cls(x.shape[1], eps=a["eps"], momentum=a["momentum"], device=x.device)
    return _Layer(layer, 2 * x.shape[1], 2 * x.shape[1])


def _layernorm(a: dict[str, Any], x: Any) -> _Layer:
    from torch import nn

    layer = nn.LayerNorm(x.shape[-1], eps=a["eps"], device=x.device)
    return _Layer(layer, 2 * x.shape[-1], 2 * x.shape[-1])


def _layernorm2d(a: dict[str, Any], x: Any) -> _Layer:
    """torchvision's LayerNorm2d: channels moved last, normalized, moved back."""
    from torch import nn

    norm = nn.LayerNorm(x.shape[1], eps=a["eps"], device=x.device)
    return _Layer(lambda t: norm(t.permute(0, 2, 3, 1)).permute(0, 3, 1, 2), 2 * x.shape[1], 2 * x.shape[1])


def _scale(a: dict[str, Any], x: Any) -> _Layer:
    """Layer scale: one learnable factor per channel (the first axis of a sample)."""
    import torch

    gamma = torch.full((x.shape[1],) + (1,) * (x.dim() - 2), float(a["init"]), device=x.device)
    return _Layer(lambda t: t * gamma, x.shape[1], x.shape[1])


def _stochastic_depth(a: dict[str, Any], x: Any) -> _Layer:
    """torchvision's StochasticDepth, in eval mode: the identity (it checks p and mode)."""
    if not 0.0 <= a["p"] <= 1.0 or a["mode"] not in ("row", "batch"):
        raise ValueError(f"stochastic_depth p={a['p']} mode={a['mode']}")
    return _Layer(lambda t: t, 0, 0)


def _slice(a: dict[str, Any], x: Any, notes: set[str]) -> _Layer:
    if x.dim() != 4:
        notes.add("chunk_needs_chw")  # x[:, a:b] slices any tensor's second axis
    if not a["start"] < a["stop"] <= x.shape[1]:
        raise Rejected(f"slice({a['start']}, {a['stop']}) of {x.shape[1]} channels")
    return _Layer(lambda t: t[:, a["start"] : a["stop"]], 0, 0)


def _chunk(a: dict[str, Any], x: Any, notes: set[str]) -> _Layer:
    if x.dim() == 4 and x.shape[1] % a["parts"]:
        notes.add("chunk_needs_equal_parts")  # x.chunk gives parts of unequal size (or fewer parts)
    if x.dim() != 4:
        notes.add("chunk_needs_chw")  # x.chunk(dim=1) splits any tensor's second axis
    return _Layer(lambda t: t.chunk(a["parts"], dim=1)[a["index"]], 0, 0)


def _permute(a: dict[str, Any], x: Any) -> _Layer:
    return _Layer(lambda t: t.permute(0, *(axis + 1 for axis in a["order"])), 0, 0)


def _torch_layer(op: str, a: dict[str, Any], x: Any, notes: set[str]) -> _Layer:
    from torch import nn

    simple: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        "adaptive_avgpool": lambda a, x: nn.AdaptiveAvgPool2d(_pair(a["output"])),
        "adaptive_maxpool": lambda a, x: nn.AdaptiveMaxPool2d(_pair(a["output"])),
        "global_avgpool": lambda a, x: nn.AdaptiveAvgPool2d(1),
        "flatten": lambda a, x: nn.Flatten(),
        "relu": lambda a, x: nn.ReLU(),
        "tanh": lambda a, x: nn.Tanh(),
        "sigmoid": lambda a, x: nn.Sigmoid(),
        "leaky_relu": lambda a, x: nn.LeakyReLU(a["negative_slope"]),
        "gelu": lambda a, x: nn.GELU(),
        "softmax": lambda a, x: nn.Softmax(dim=1),
        "log_softmax": lambda a, x: nn.LogSoftmax(dim=1),
        "identity": lambda a, x: nn.Identity(),
        "dropout": lambda a, x: nn.Dropout(a["p"]),
        "lrn": lambda a, x: nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"]),
        "relu6": lambda a, x: nn.ReLU6(),
        "hardswish": lambda a, x: nn.Hardswish(),
        "hardsigmoid": lambda a, x: nn.Hardsigmoid(),
        "silu": lambda a, x: nn.SiLU(),
        "channel_shuffle": lambda a, x: nn.ChannelShuffle(a["groups"]),
    }
    others: dict[str, Callable[[dict[str, Any], Any], _Layer]] = {
        "conv": _conv,
        "maxpool": _pool("MaxPool2d"),
        "avgpool": _pool("AvgPool2d"),
        "linear": lambda a, x: _linear(a, x, notes),
        "coral": lambda a, x: _head(a, x, notes, "coral"),
        "ordinal": lambda a, x: _head(a, x, notes, "ordinal"),
        "batchnorm": lambda a, x: _batchnorm(a, x, notes),
        "layernorm": _layernorm,
        "layernorm2d": _layernorm2d,
        "scale": _scale,
        "stochastic_depth": _stochastic_depth,
        "chunk": lambda a, x: _chunk(a, x, notes),
        "slice": lambda a, x: _slice(a, x, notes),
        "permute": _permute,
    }
    if op in ("adaptive_avgpool", "global_avgpool") and x.dim() != 4:
        notes.add("pooling_needs_chw")  # nn.AdaptiveAvgPool2d takes a 2-D tensor too, pooling its batch away
    return others[op](a, x) if op in others else _plain(simple[op])(a, x)


# ops acting on the last axis: on a [C, H, W] value, only once a permute moved the channels last
LAST_AXIS_OPS = frozenset({"linear", "layernorm"})
# ops after which a value keeps the layout a permute gave it
KEEPS_LAYOUT = frozenset(
    {
        "linear",
        "layernorm",
        "relu",
        "relu6",
        "tanh",
        "sigmoid",
        "hardswish",
        "hardsigmoid",
        "silu",
        "leaky_relu",
        "gelu",
        "softmax",
        "log_softmax",
        "identity",
        "dropout",
        "batchnorm",
        "lrn",
        "stochastic_depth",
    }
)


class Interpreter:
    """Runs a `Net`'s description on meta tensors; raises `Rejected` where PyTorch refuses."""

    def __init__(self, blocks: Sequence[Block]):
        self.blocks = {b.name: b for b in blocks}
        self.params = self.trainable = 0
        self.notes: set[str] = set()
        self.stack: list[str] = []
        self.ops: collections.Counter[str] = collections.Counter()
        self.last: dict[int, Any] = {}  # id → tensor, of the values whose channels a permute moved last

    def channels_last(self, x: Any) -> bool:
        return self.last.get(id(x)) is x

    def op(self, step: Op, env: Env, x: Any) -> Any:
        names = [n for n, _ in OP_ARGS[step.op]]
        attrs = {n: d for n, d in OP_ARGS[step.op]} | _bind_args(names, step.args, env)
        if step.op in LAST_AXIS_OPS and x.dim() == 4 and not self.channels_last(x):
            self.notes.add("last_axis_needs_channels_last")  # PyTorch acts on the last axis of any tensor
        try:
            layer = _torch_layer(step.op, attrs, x, self.notes)
            y = layer.forward(x)
        except Rejected:
            raise
        except Exception as exc:  # PyTorch's refusal, whatever its type
            raise Rejected(f"{step.op}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        self.params += layer.params
        self.trainable += layer.trainable
        self.ops[step.op] += 1
        if (step.op == "permute" and y.dim() == 4 and attrs["order"][-1] == 0) or (
            step.op in KEEPS_LAYOUT and self.channels_last(x)
        ):
            self.last[id(y)] = y
        return y

    def merge(self, step: Merge, env: Env, x: Any) -> Any:
        import torch

        values = [env[n] for n in step.names]
        if len(values) == 1:
            values = [x, values[0]]
        values = [v for v in values if v is not None]  # a block's tensor input left out (`= none`): skipped
        if len(values) == 1:  # the one operand left is the result: no layer
            return values[0]
        self.ops[step.op] += 1
        try:
            if step.op == "concat":
                return torch.cat(values, dim=1)
            if step.op == "mul":
                if len({v.dim() for v in values}) > 1:
                    self.notes.add("mul_needs_one_rank")  # PyTorch broadcasts across ranks too
                product = values[0]
                for v in values[1:]:
                    product = product * v
                return product
            if len({tuple(v.shape) for v in values}) > 1:
                self.notes.add("add_broadcasts")
            total = values[0]
            for v in values[1:]:
                total = total + v
            return total
        except Exception as exc:
            raise Rejected(f"{step.op}: {type(exc).__name__}: {exc}") from exc

    def call(self, step: Call, env: Env, x: Any) -> Any:
        block = self.blocks[step.block]
        if step.block in self.stack and self.stack[-1] != step.block:  # a block may call itself, directly
            raise Rejected(f"block {step.block} uses itself")
        if self.stack.count(step.block) >= MAX_RECURSION:
            raise Rejected(f"block {step.block} calls itself more than {MAX_RECURSION} deep")
        given = _bind_args([n for n, _ in block.params], step.args, env)
        inner: Env = {}
        for name, default in block.params:
            inner[name] = given[name] if name in given else default.eval(inner)  # type: ignore[union-attr]
        if block.inputs is None:
            inner["in"] = x
        else:  # the tensors by position, the chain's value as the first without a list; left out: None
            tensors = [x] if step.inputs is None else [env[n] for n in step.inputs]
            for n, (name, optional) in enumerate(block.inputs):
                if n >= len(tensors) and not optional:
                    raise Rejected(f"block {step.block}: tensor input {name} is missing")
                inner[name] = tensors[n] if n < len(tensors) else None
            x = tensors[0]
        self.stack.append(step.block)
        try:
            return self.body(block.body, inner, x)
        finally:
            self.stack.pop()

    def step(self, step: Step, env: Env, x: Any) -> Any:
        if isinstance(step, Op):
            return self.op(step, env, x)
        if isinstance(step, Use):
            return env[step.name]
        if isinstance(step, ParamLayer):
            layer = env[step.name]
            if layer is None:  # `none`: no layer at all
                return x
            return self.op(Op(layer.op, tuple((k, Lit(v)) for k, v in layer.args)), env, x)
        if isinstance(step, Merge):
            return self.merge(step, env, x)
        if isinstance(step, Call):
            return self.call(step, env, x)
        if isinstance(step, If):
            if step.cond.eval(env):
                return self.body(step.then, dict(env), x)
            if isinstance(step.orelse, If):
                return self.step(step.orelse, env, x)
            return x if step.orelse is None else self.body(step.orelse, dict(env), x)
        if isinstance(step, For):
            for item in step.items.eval(env):
                names = dict(zip(step.names, item, strict=True)) if len(step.names) > 1 else {step.names[0]: item}
                x = self.body(step.body, dict(env) | names, x)
            return x
        if isinstance(step, Seq):
            return self.body(step.body, dict(env), x)
        for i in range(step.count.eval(env)):
            x = self.body(step.body, dict(env) | ({step.index: i} if step.index else {}), x)
        return x

    def stmt(self, stmt: Stmt, env: Env, x: Any) -> Any:
        if not stmt.steps:
            raise ValueError(f"an empty statement {stmt}: the generator went wrong")
        value = x
        for step in stmt.steps:
            value = self.step(step, env, value)
        if stmt.check is not None:
            want = tuple(e.eval(env) for e in stmt.check)
            if want != tuple(value.shape[1:]):
                raise Rejected(f"shape assertion: {want} vs {tuple(value.shape[1:])}")
        if stmt.bind:
            env[stmt.bind] = value
            return x
        return value

    def body(self, body: Body, env: Env, x: Any) -> Any:
        for stmt in body:
            if isinstance(stmt, Let):
                env[stmt.name] = stmt.value.eval(env)
            else:
                x = self.stmt(stmt, env, x)
        return x


def meta_input(shape: Sequence[int], device: str = "meta") -> Any:
    """A batch of two samples (batchnorm needs more than one value per channel), on the meta device
    (nothing allocated: the verdict) or, for the generator's quick bookkeeping, on the CPU."""
    import torch

    return torch.zeros((2, *shape), device=device)


def network_env(net: Net) -> Env:
    env: Env = {}
    for name, default in net.params:
        env[name] = default.eval(env)
    return env


def reference(net: Net) -> Outcome:
    """PyTorch's verdict on the network: its output shape and parameter counts, or `Rejected`."""
    interpreter = Interpreter(net.blocks)
    env = network_env(net)
    x = meta_input(net.input_shape)
    env["in"] = x
    y = interpreter.body(net.body, env, x)
    return Outcome(tuple(y.shape[1:]), interpreter.params, interpreter.trainable, interpreter.notes, interpreter.ops)


MAX_RECURSION = 32  # netdsl's limit on a block calling itself


# ---- the generator --------------------------------------------------------------------------------

# Names chosen from pools that mix plain names with ones that Python code trips on
# (builtins, the generated file's own names, nn.Module members, keywords of Python).
PARAM_NAMES = (
    "c",
    "s",
    "width",
    "bn",
    "k",
    "depth",
    "use_bn",
    "out",
    "stride",
    "max",
    "range",
    "super",
    "self",
    "input_shape",
    "shape",
    "torch",
    "nn",
    "x",
    "int",
    "len",
    "print",
    "abs",
    "min",
    "layer_shape",
    "exact_div",
    "i",
    "in_shape",
    "classes",
    "math",
    "forward",
    "training",
    "lambda",
    "set_weight",
)
VALUE_NAMES = (
    "a",
    "b",
    "main",
    "skip",
    "branch",
    "left",
    "right",
    "y",
    "z",
    "x",
    "torch",
    "nn",
    "self",
    "shape",
    "range",
    "layer_shape",
    "forward",
    "super",
    "len",
    "out",
    "layer",
    "F",
    "cat",
    "class",
    "global",
    "None",
    "input_shape",
    "math",
    "annotations",
    "sum",
)
LABEL_NAMES = (
    "conv1",
    "bn1",
    "stem",
    "head",
    "fc",
    "pool",
    "features",
    "layer",
    "forward",
    "training",
    "class",
    "self",
    "x",
    "torch",
    "nn",
    "shape",
    "in_shape",
    "input_shape",
    "type",
    "to",
    "cuda",
    "relu",
    "conv",
    "conv_1",
    "relu_1",
    "add",
    "downsample",
    "main",
    "out",
    "float",
    "eval",
    "nonlocal",
    "None",
    "layer_shape",
    "set_weight",
    "CoralHead",
    "__init__",
    "_",
    "repeat_1",
    "lambda",
)
INDEX_NAMES = (
    "i",
    "j",
    "idx",
    "n",
    "m",
    "range",
    "self",
    "shape",
    "nn",
    "torch",
    "layer_shape",
    "x",
    "len",
    "in_shape",
)
BLOCK_NAMES = (
    "Unit",
    "Basic",
    "Stage",
    "Branch",
    "Cell",
    "Module",
    "Sequential",
    "Tensor",
    "CoralHead",
    "OrdinalHead",
    "layer_shape",
    "torch",
    "nn",
    "Range",
    "Self",
    "conv_block",
    "Conv2d",
)
# a block's layer parameter (never an op's or a block's name: a step of that name is the op or block)
LAYER_PARAM_NAMES = ("act", "gate", "norm", "activation", "fn", "self", "forward", "torch", "x", "layer_shape")
FUNCTION_NAMES = ("make_divisible", "scaled", "width_of", "half", "g", "forward", "self", "torch", "nn", "layer_shape")
NET_NAMES = ("Net", "Model", "N", "M", "Classifier", "Module", "Sequential", "nn", "torch", "Linear")
INPUT_NAMES = ("x", "image", "img", "data", "pixels", "torch", "self", "shape", "nn", "layer_shape", "in_shape", "out")

ACTIVATIONS = (
    "relu",
    "relu6",
    "tanh",
    "sigmoid",
    "hardsigmoid",
    "hardswish",
    "silu",
    "leaky_relu",
    "gelu",
    "softmax",
    "log_softmax",
    "identity",
)
KEEP_OPS = (
    "conv",
    "maxpool",
    "avgpool",
    "adaptive_avgpool",
    "adaptive_maxpool",
    "batchnorm",
    "dropout",
    "lrn",
    "layernorm2d",
    "scale",
    "stochastic_depth",
    "channel_shuffle",
    *ACTIVATIONS,
)
SPATIAL_OPS = (
    "conv",
    "conv",
    "conv",
    "maxpool",
    "avgpool",
    "adaptive_avgpool",
    "adaptive_maxpool",
    "global_avgpool",
    "batchnorm",
    "dropout",
    "lrn",
    "layernorm2d",
    "scale",
    "stochastic_depth",
    "channel_shuffle",
    "chunk",
    "slice",
    "permute",
    *ACTIVATIONS,
)
FLAT_OPS = (
    "linear",
    "linear",
    "batchnorm",
    "dropout",
    "layernorm",
    "scale",
    "stochastic_depth",
    "permute",
    *ACTIVATIONS,
)
MERGES = ("add", "concat", "mul")
# ops the generator writes: a test compares this with netdsl.checker.ops.OPS, so a new op must be added here
GENERATED_OPS = frozenset(SPATIAL_OPS + FLAT_OPS + MERGES + ("flatten", "coral", "ordinal"))

PLAIN = 5  # the first names of each pool are plain ones
KEEP, KEEP_HW, FREE = "keep", "keep_hw", "free"  # what a step may do to the shape


@dataclass
class _Ctx:
    """Where the generator writes: the environment (mirroring netdsl's), the labels of the scope."""

    env: Env
    labels: set[str]
    depth: int
    index: str | None = None
    values: list[str] = field(default_factory=list)  # named values bound in this body
    chain_only: bool = False  # in a seq or a for body: no named values, merges or lets
    no_labels: bool = False  # in a seq (labels are positions) or a for body (written out once per item)
    # the range variables of the enclosing fors, for computed labels ("f1_{i}_{j}", one per item);
    # None where no label can be unique (in a seq, or a for over a list whose items may repeat)
    loop: tuple[str, ...] | None = None

    def child(self, env: Env | None = None, labels: set[str] | None = None) -> _Ctx:
        return _Ctx(
            dict(self.env) if env is None else env,
            self.labels if labels is None else labels,
            self.depth + 1,
            self.index,
            chain_only=self.chain_only,
            no_labels=self.no_labels,
            loop=self.loop,
        )


class Generator:
    MAX_OPS = 24

    def __init__(self, chooser: Chooser, force: str | None = None, plain: bool = False):
        self.ch = chooser
        self.plain = plain  # plain names only (no builtins, keywords or the generated file's own names), few ops
        self.force = force  # an op to write wherever it fits (to be sure that every op is tried)
        self.blocks: dict[str, Block] = {}
        self.block_order: list[str] = []
        self.interp = Interpreter(())
        self.interp.blocks = self.blocks  # the same dictionary: blocks are known as soon as they are written
        self.ops_left = self.MAX_OPS if not plain else 6
        self.broken = False  # PyTorch refused a step: write no more
        self.taken_names: set[str] = set()
        self.defining: set[str] = set()  # blocks whose bodies are being written: no recursion
        self.computed = 0  # computed labels written so far
        self.unspliceable: set[str] = set()  # inline blocks with named values: not in a seq or a for body
        # `def` functions written: name → (the function, its form, its default `d`)
        self.functions: dict[str, tuple[Function, str, int]] = {}
        self.in_function_call = False  # an argument of a function call is not itself a call

    # ---- small choices
    def fresh(self, pool: Sequence[str], avoid: set[str] | Env, fallback: str) -> str:
        if self.plain:
            pool = pool[:PLAIN]
        for _ in range(4):
            name = self.ch.pick(pool)
            if name not in avoid and name not in self.taken_names:
                return name
        n = 1
        while f"{fallback}{n}" in avoid or f"{fallback}{n}" in self.taken_names:
            n += 1
        return f"{fallback}{n}"

    def label(self, ctx: _Ctx, p: float = 0.3) -> str | None:
        if not self.ch.chance(p):
            return None
        if ctx.no_labels:  # in a for body, a label computed from the loop variable: one per item
            if ctx.loop is None:
                return None
            self.computed += 1
            return '"f' + str(self.computed) + "".join(f"_{{{name}}}" for name in ctx.loop) + '"'
        name = self.fresh(LABEL_NAMES, ctx.labels, "l")
        ctx.labels.add(name)
        return name

    def value_name(self, ctx: _Ctx) -> str:
        avoid = set(ctx.env) | set(GENERATED_OPS) | set(BLOCK_NAMES)
        return self.fresh(VALUE_NAMES, avoid, "v")

    def int_expr(self, ctx: _Ctx, value: int) -> Expr:
        """An expression worth `value` in this environment: a literal, or a parameter put to use."""
        ints = [n for n, v in ctx.env.items() if type(v) is int]
        same = [n for n in ints if ctx.env[n] == value]
        if same and self.ch.chance(0.6):
            return Var(self.ch.pick(same))
        items = [
            (Index(Var(n), Lit(i if self.ch.chance(0.7) else i - len(v))), x)
            for n, v in ctx.env.items()
            if type(v) is list
            for i, x in enumerate(v)
        ]
        items += [(Index(e, Lit(j)), y) for e, x in items if type(x) is list for j, y in enumerate(x)]
        found = [e for e, x in items if type(x) is int and x == value]
        found += [Func("len", (Var(n),)) for n, v in ctx.env.items() if type(v) is list and len(v) == value]
        if found and self.ch.chance(0.5):
            return self.ch.pick(found)
        if ints and self.ch.chance(0.25):
            name = self.ch.pick(ints)
            other = ctx.env[name]
            form = self.ch.integer(0, 2)
            if form == 0:
                return (
                    Bin("+", Var(name), Lit(value - other))
                    if value >= other
                    else Bin("-", Var(name), Lit(other - value))
                )
            if form == 1 and other <= value:
                return Func("max", (Var(name), Lit(value)))
            if form == 2 and other >= value:
                return Func("min", (Var(name), Lit(value)))
        if self.ch.chance(0.15):
            return self.arithmetic(ctx, value)
        if value >= 0 and not self.in_function_call and self.ch.chance(0.04):
            return self.function_call(ctx, value)
        return Lit(value)

    def function_call(self, ctx: _Ctx, value: int) -> Expr:
        """`value` through a `def` function, a new one or one written before: `v - d`, `v // d`, the
        length of a comprehension, or a function calling another one (language v3)."""
        reuse = [name for name in self.functions if self.ch.chance(0.5)]
        if reuse:
            function, form, d = self.functions[self.ch.pick(reuse)]
        else:
            function, form, d = self.define_function()
        self.in_function_call = True
        try:
            if form == "minus":  # v - d: called with value + d, d its default or given
                if self.ch.chance(0.5):
                    return FnCall(function, ((None, self.int_expr(ctx, value + d)),))
                given = self.ch.integer(0, 4)
                keyword = "d" if self.ch.chance(0.5) else None
                return FnCall(function, ((None, self.int_expr(ctx, value + given)), (keyword, Lit(given))))
            if form == "div":  # v // d
                return FnCall(function, ((None, self.int_expr(ctx, value * d)),))
            return FnCall(function, ((None, self.int_expr(ctx, value)),))  # the identity, one way or another
        finally:
            self.in_function_call = False

    def define_function(self) -> tuple[Function, str, int]:
        avoid = self.taken_names | set(self.blocks) | set(GENERATED_OPS) | set(self.functions)
        name = self.fresh(FUNCTION_NAMES, avoid, "fn")
        self.taken_names.add(name)
        d = self.ch.integer(1, 4)
        minus = [f for f, form, _ in self.functions.values() if form == "minus"]
        form = self.ch.pick(("minus", "div", "count", "compose") if minus else ("minus", "div", "count"))
        function: Function
        if form == "minus":
            function = Function(name, (("v", None), ("d", Lit(d))), Bin("-", Var("v"), Var("d")))
        elif form == "div":
            function = Function(name, (("v", None), ("d", Lit(d))), Bin("//", Var("v"), Var("d")))
        elif form == "count":  # len([k for k in range(v) if k >= 0])
            items = Comp(Var("k"), "k", Func("range", (Var("v"),)), Bin(">=", Var("k"), Lit(0)))
            function = Function(name, (("v", None),), Func("len", (items,)))
        else:  # another function's v - d, undone: g(v) = f(v + d)
            inner = self.ch.pick(minus)
            shift = inner.params[1][1].value  # type: ignore[union-attr]
            function = Function(name, (("v", None),), FnCall(inner, ((None, Bin("+", Var("v"), Lit(shift))),)))
        self.functions[name] = (function, form, d)
        return function, form, d

    def arithmetic(self, ctx: _Ctx, value: int) -> Expr:
        """`value` through compile-time arithmetic: a builtin of a number, a power, a sum of a slice,
        the length of a comprehension (language v3)."""
        form = self.ch.integer(0, 6)
        if form == 0:
            return Func("ceil", (Bin("-", Lit(value), Lit(0.5)),))
        if form == 1:
            return Func("floor", (Bin("+", Lit(value), Lit(0.25)),))
        if form == 2:
            return Func("round", (Bin("*", Lit(value), Lit(1.0)),))
        if form == 3:
            return Func("int", (Bin("+", Lit(value), Lit(0.5)),))
        if form == 4 and value > 0 and value & (value - 1) == 0:
            return Bin("**", Lit(2), Lit(value.bit_length() - 1))
        if form == 5 and value >= 1:
            parts = [1, value - 1, self.ch.integer(1, 9)]
            return Func("sum", (Slice(Lit(parts), None, 2),))
        name = self.fresh(["k", "q", "z"], ctx.env, "k_")
        return Func("len", (Comp(Var(name), name, Func("range", (Lit(value + 3),)), Bin("<", Var(name), Lit(value))),))

    def bool_expr(self, ctx: _Ctx, value: bool) -> Expr:
        bools = [n for n, v in ctx.env.items() if type(v) is bool]
        ints = [n for n, v in ctx.env.items() if type(v) is int]
        tensors = [n for n, v in ctx.env.items() if hasattr(v, "shape") and v.dim() == 4]
        form = self.ch.integer(0, 4)
        if form == 1 and bools:
            name = self.ch.pick(bools)
            return Var(name) if ctx.env[name] == value else Not(Var(name))
        if form == 2 and ints:
            name = self.ch.pick(ints)
            return Bin("==" if value else "!=", Var(name), Lit(ctx.env[name]))
        if form == 3 and tensors:
            name = self.ch.pick(tensors)
            attr = self.ch.pick(SHAPE_ATTRS)
            return Bin("==" if value else "!=", Attr(name, attr), Lit(Attr(name, attr).eval(ctx.env)))
        if form == 4 and ints:
            name = self.ch.pick(ints)
            return Bin(
                "and" if value else "or",
                Bin(">=", Var(name), Lit(0)) if value else Bin("<", Var(name), Lit(0)),
                Lit(value),
            )
        return Lit(value)

    # ---- running what was written (the generator keeps track of the shape)
    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Rejected:
            self.broken = True
            return None

    # ---- the network
    def net(self) -> Net:
        params: list[tuple[str, Expr]] = []
        env: Env = {}
        for _ in range(self.ch.integer(0, 3)):
            name = self.fresh(PARAM_NAMES, env, "p")
            value: Any = self.ch.pick((True, False)) if self.ch.chance(0.3) else self.ch.integer(1, 8)
            params.append((name, Lit(value)))
            env[name] = value
        if "classes" not in env and self.ch.chance(0.1):
            params.append(("classes", Lit(self.ch.integer(2, 6))))
            env["classes"] = params[-1][1].value  # type: ignore[attr-defined]
        if self.ch.chance(0.08):
            shape: tuple[int, ...] = (self.ch.integer(1, 24),)
        else:
            shape = (self.ch.integer(1, 8), self.ch.integer(1, 12), self.ch.integer(1, 12))
        x = meta_input(shape, "cpu")  # tiny real tensors are faster than the meta device's checks
        env["in"] = x
        ctx = _Ctx(env, set(), 0)
        input_name = self.fresh(INPUT_NAMES, set(), "x")
        ctx.labels.add(input_name)
        self.taken_names |= set(env)
        body, x = self.body(ctx, x, FREE, self.ch.integer(1, 5), top=True)
        if not self.broken and (self.ch.chance(0.7) or self.force in ("flatten", "linear", "coral", "ordinal")):
            head, x = self.head(ctx, x)
            body += head
        name = self.fresh(NET_NAMES, set(self.blocks) | set(env), "Net")
        blocks = tuple(self.blocks[b] for b in self.block_order)
        functions = tuple(f for f, _, _ in self.functions.values())
        return Net(name, tuple(params), input_name, shape, body, blocks, self.ch.integer(0, 1), functions)

    def head(self, ctx: _Ctx, x: Any) -> tuple[Body, Any]:
        stmts: list[Stmt] = []
        if x.dim() == 4:
            stmts.append(Stmt((Op("flatten", label=self.label(ctx)),)))
            x = self.run(self.interp.stmt, stmts[-1], ctx.env, x)
        if x is None:
            return tuple(stmts), x
        if self.ch.chance(0.3):
            stmts.append(Stmt((self.linear(ctx, x), self.activation(ctx))))
            x = self.run(self.interp.stmt, stmts[-1], ctx.env, x)
            if x is None:
                return tuple(stmts), x
        classes = self.ch.integer(2, 6)
        kind = (
            self.force if self.force in ("linear", "coral", "ordinal") else self.ch.pick(("linear", "coral", "ordinal"))
        )
        count = self.int_expr(ctx, classes)
        steps: list[Step] = [
            Op(
                kind,
                ((None if self.ch.chance(0.7) else ("out" if kind == "linear" else "classes"), count),),
                self.label(ctx),
            )
        ]
        if kind == "linear" and self.ch.chance(0.4):
            steps.append(Op(self.ch.pick(("softmax", "log_softmax")), (), self.label(ctx)))
        want = None
        if self.ch.chance(0.3):
            levels = Bin("-", count, Lit(1))
            want = (count,) if kind == "linear" else (levels,) if kind == "coral" else (levels, Lit(2))
        stmts.append(Stmt(tuple(steps), None, want))
        x = self.run(self.interp.stmt, stmts[-1], ctx.env, x)
        return tuple(stmts), x

    # ---- bodies and statements
    def body(self, ctx: _Ctx, x: Any, mode: str, count: int, top: bool = False) -> tuple[Body, Any]:
        stmts: list[Stmt] = []
        for _ in range(count):
            if self.broken or self.ops_left <= 0:
                break
            made, x = self.statement(ctx, x, mode, top)
            stmts.extend(made)
        return tuple(stmts), x

    def statement(self, ctx: _Ctx, x: Any, mode: str, top: bool) -> tuple[list[Stmt], Any]:
        kinds = ["chain"] * 5
        if x.dim() == 4:
            kinds += ["merge"] * (2 if self.force not in MERGES else 8) * (not ctx.chain_only)
            kinds += ["channels_last"] * (1 if self.force not in ("permute", "layernorm") else 6)
        if ctx.depth < 3:
            kinds += ["if", "repeat", "block", "for", "seq"]
        if ctx.depth < 2 and not ctx.chain_only:
            kinds += ["let"]
        if ctx.depth < 3 and not ctx.chain_only and x.dim() == 4:
            kinds += ["inputs"]
        kind = self.ch.pick(kinds)
        if kind == "let":
            return [self.let(ctx)], x
        if kind == "inputs":
            return self.tensor_inputs(ctx, x, mode)
        if kind == "merge":
            return self.merge(ctx, x, mode)
        if kind == "channels_last":
            return self.channels_last(ctx, x, mode)
        steps: list[Step] = []
        if kind == "if":
            step, y = self.if_step(ctx, x, mode)
            steps.append(step)
        elif kind == "repeat":
            step, y = self.repeat(ctx, x, mode)
            steps.append(step)
        elif kind == "block":
            step, y = self.block_call(ctx, x, mode)
            steps.append(step)
        elif kind == "for":
            step, y = self.for_step(ctx, x)
            steps.append(step)
        elif kind == "seq":
            step, y = self.seq_step(ctx, x, mode)
            steps.append(step)
        else:
            y = x
        for _ in range(self.ch.integer(1 if kind == "chain" else 0, 3)):
            if y is None or self.ops_left <= 0:
                break
            step = self.op_step(ctx, y, mode)
            steps.append(step)
            y = self.run(self.interp.step, step, ctx.env, y)
        if not steps:
            return [], x
        check = None
        if y is not None and self.ch.chance(0.2):
            check = tuple(self.int_expr(ctx, d) for d in y.shape[1:])
        stmt = Stmt(tuple(steps), None, check)
        return [stmt], y if y is not None else x

    def chain(self, ctx: _Ctx, x: Any, mode: str, length: int) -> tuple[list[Step], Any]:
        steps: list[Step] = []
        for _ in range(length):
            if x is None or self.ops_left <= 0:
                break
            step = self.op_step(ctx, x, mode)
            steps.append(step)
            x = self.run(self.interp.step, step, ctx.env, x)
        return steps, x

    # ---- merges: named values joined by add or concat
    def merge(self, ctx: _Ctx, x: Any, mode: str) -> tuple[list[Stmt], Any]:
        op = self.ch.pick(MERGES) if mode != KEEP else self.ch.pick(("add", "mul"))
        if self.force in MERGES and (mode != KEEP or self.force != "concat"):
            op = self.force
        if op == "mul":
            return self.excite(ctx, x)
        stmts: list[Stmt] = []
        names: list[str] = []
        first_mode = KEEP_HW if op == "concat" else (KEEP if mode == KEEP else self.ch.pick((FREE, KEEP)))
        target = None
        for _ in range(self.ch.integer(1, 3)):
            if self.broken:
                break
            name = self.value_name(ctx)
            start: list[Step] = []
            source = x
            if ctx.values and self.ch.chance(0.2) and op == "concat":
                prior = self.ch.pick(ctx.values)
                if tuple(ctx.env[prior].shape[2:]) == tuple(x.shape[2:]):
                    start, source = [Use(prior)], ctx.env[prior]
            elif self.ch.chance(0.15):
                start = [Use("in")]
                source = ctx.env["in"]
                if tuple(source.shape) != tuple(x.shape) or source.dim() != 4:
                    start, source = [], x
            if self.ch.chance(0.04):  # now and then a branch of another shape: the merge must fail
                steps, y = self.chain(ctx, source, FREE, self.ch.integer(1, 2))
            elif op == "add" and target is not None:
                steps, y = self.projection(ctx, source, target)
            else:
                steps, y = self.chain(ctx, source, first_mode if op == "add" else KEEP_HW, self.ch.integer(1, 3))
            if y is None:
                break
            if not start and not steps:
                steps = [Op("identity")]
            target = target if target is not None else y
            stmt = Stmt((*start, *steps), name)
            stmts.append(stmt)
            ctx.env[name] = y
            ctx.values.append(name)
            names.append(name)
        if self.broken or not names:
            return stmts, x
        if len(names) == 1 and op == "add" and tuple(target.shape) != tuple(x.shape):
            names.append(names[0])  # add(a) would add a to the current value, of another shape
        merged: list[Step] = [Merge(op, tuple(names), self.label(ctx, 0.2))]
        if self.ch.chance(0.4):
            merged.append(Op(self.ch.pick(ACTIVATIONS)))
        stmt = Stmt(tuple(merged))
        stmts.append(stmt)
        y = self.run(self.interp.stmt, stmt, ctx.env, x)
        return stmts, y if y is not None else x

    def projection(self, ctx: _Ctx, x: Any, target: Any) -> tuple[list[Step], Any]:
        """Steps that bring `x` to `target`'s shape (the shortcut of a residual block), perhaps in an `if`
        that passes `x` through when nothing is to change."""
        if target.dim() != 4 or x.dim() != 4:  # a flat value: flatten, then a linear layer to its width
            steps: list[Step] = [Op("flatten")] if x.dim() == 4 else []
            steps.append(self.linear(ctx, x, target.shape[-1]))
            self.ops_left -= len(steps)
            return steps, self.run(self.interp.body, (Stmt(tuple(steps)),), dict(ctx.env), x)
        c, h, w = tuple(target.shape[1:])
        ih, iw = tuple(x.shape[2:])
        if (c, h, w) == tuple(x.shape[1:]) and self.ch.chance(0.5):
            return self.chain(ctx, x, KEEP, self.ch.integer(0, 2))
        steps = []
        stride = next((s for s in range(1, 5) if (ih - 1) // s + 1 == h and (iw - 1) // s + 1 == w), None)
        if stride is None:
            steps.append(
                Op(
                    self.ch.pick(("adaptive_avgpool", "adaptive_maxpool")),
                    ((None, Lit([h, w]) if h != w else self.int_expr(ctx, h)),),
                )
            )
            stride = 1
        conv_args: list[tuple[str | None, Expr]] = [(None, self.int_expr(ctx, c)), (None, Lit(1))]
        if stride != 1:
            conv_args.append(("stride", self.int_expr(ctx, stride)))
        if self.ch.chance(0.5):
            conv_args.append(("bias", Lit(False)))
        steps.append(Op("conv", tuple(conv_args), self.label(ctx, 0.3)))
        if self.ch.chance(0.5):
            steps.append(Op("batchnorm", (), self.label(ctx, 0.3)))
        self.ops_left -= len(steps)
        if self.ch.chance(0.4):  # the ResNet shortcut: `skip = if stride != 1 or in.channels != out { ... }`
            needed = Bin(
                "or",
                Bin(
                    "!=", Attr("in", "channels") if "in" in ctx.env and ctx.env["in"] is x else Lit(x.shape[1]), Lit(c)
                ),
                Bin("!=", Lit(ih), Lit(h)),
            )
            if needed.eval(ctx.env):
                body = (Stmt(tuple(steps)),)
                step = If(needed, body)
                y = self.run(self.interp.step, step, ctx.env, x)
                return [step], y
        y = self.run(self.interp.body, (Stmt(tuple(steps)),), dict(ctx.env), x)
        return steps, y

    def excite(self, ctx: _Ctx, x: Any) -> tuple[list[Stmt], Any]:
        """Squeeze-excitation: `gate = global_avgpool -> conv(r, 1) -> relu -> conv(C, 1) -> sigmoid`,
        then `mul(gate)` (or `mul(value, gate)`): [C, H, W] times [C, 1, 1]."""
        c = x.shape[1]
        squeeze = self.ch.integer(1, 8)
        wide = c if not self.ch.chance(0.05) else c + 1  # now and then sizes that do not broadcast
        pool: Step = Op("global_avgpool") if self.ch.chance(0.6) else Op("adaptive_avgpool", ((None, Lit(1)),))
        steps: list[Step] = [
            pool,
            Op("conv", ((None, self.int_expr(ctx, squeeze)), (None, Lit(1))), self.label(ctx, 0.3)),
            self.activation(ctx, self.ch.pick(("relu", "silu"))),
            Op("conv", ((None, self.int_expr(ctx, wide)), (None, Lit(1))), self.label(ctx, 0.3)),
            self.activation(ctx, self.ch.pick(("sigmoid", "hardsigmoid"))),
        ]
        self.ops_left -= len(steps)
        gate = self.value_name(ctx)
        stmts = [Stmt(tuple(steps), gate)]
        env = dict(ctx.env)
        self.run(self.interp.stmt, stmts[0], env, x)
        if self.broken:
            return stmts, x
        ctx.env[gate] = env[gate]
        ctx.values.append(gate)
        names: tuple[str, ...] = (gate,)
        if self.ch.chance(0.4):
            other = self.value_name(ctx)
            steps_b, y = self.chain(ctx, x, KEEP, self.ch.integer(1, 2))
            if y is None:
                return stmts, x
            stmts.append(Stmt(tuple(steps_b) or (Op("identity"),), other))
            ctx.env[other] = y
            names = (other, gate)
        stmt = Stmt((Merge("mul", names, self.label(ctx, 0.2)),))
        stmts.append(stmt)
        y = self.run(self.interp.stmt, stmt, ctx.env, x)
        return stmts, y if y is not None else x

    def channels_last(self, ctx: _Ctx, x: Any, mode: str) -> tuple[list[Stmt], Any]:
        """ConvNeXt's pointwise part: `permute([1, 2, 0]) -> linear / layernorm / ... -> permute([2, 0, 1])`."""
        c = x.shape[1]
        steps: list[Step] = [Op("permute", ((None, Lit([1, 2, 0])),), self.label(ctx, 0.2))]
        width = c
        for _ in range(self.ch.integer(1, 3)):
            kind = self.ch.pick(("linear", "layernorm", "activation", "dropout", "stochastic_depth"))
            if kind == "linear":
                width = c if mode == KEEP else self.ch.integer(1, 8)
                steps.append(self.linear(ctx, x, width))
            elif kind == "layernorm":
                steps.append(Op("layernorm", self.eps_args(), self.label(ctx)))
            elif kind == "activation":
                steps.append(self.activation(ctx))
            else:
                steps.append(self.simple_op(ctx, x, kind))
        if self.ch.chance(0.05):  # a last-axis op on channels that were not moved last: the checker refuses
            steps.insert(0, Op("layernorm"))
        steps.append(Op("permute", ((None, Lit([2, 0, 1])),), self.label(ctx, 0.2)))
        self.ops_left -= len(steps)
        stmt = Stmt(tuple(steps))
        y = self.run(self.interp.stmt, stmt, ctx.env, x)
        return [stmt], y if y is not None else x

    def eps_args(self) -> Args:
        return (("eps", Lit(self.ch.pick((1e-5, 1e-6, 1e-3, 0.1)))),) if self.ch.chance(0.3) else ()

    def divisor(self, n: int, bad: bool) -> int:
        """A divisor of n (now and then, with `bad`, a number that does not divide it)."""
        if bad:
            return next((d for d in range(2, n + 2) if n % d), n + 1)
        return self.ch.pick([d for d in range(1, n + 1) if n % d == 0])

    def simple_op(self, ctx: _Ctx, x: Any, op: str, bad: bool = False) -> Op:
        """The ops whose arguments need little thought: norms, scale, stochastic depth, shuffles, permute."""
        label = self.label(ctx)
        if op in ("layernorm", "layernorm2d"):
            return Op(op, self.eps_args(), label)
        if op == "scale":
            init = self.ch.pick((1.0, 1e-6, 0.5, 2, -1.5))
            return Op(op, ((None if self.ch.chance(0.5) else "init", Lit(init)),) if self.ch.chance(0.7) else (), label)
        if op == "stochastic_depth":
            p = (None if self.ch.chance(0.6) else "p", Lit(self.ch.pick((0.0, 0.1, 0.5, 1.0))))
            mode = ((None if p[0] is None and self.ch.chance(0.5) else "mode", Word(self.ch.pick(("row", "batch")))),)
            return Op(op, (p,) + (mode if self.ch.chance(0.5) else ()), label)
        if op == "channel_shuffle":
            return Op(op, ((None, self.int_expr(ctx, self.divisor(x.shape[1], bad))),), label)
        if op == "slice":
            channels = x.shape[1]
            start = self.ch.integer(0, channels - 1)
            stop = self.ch.integer(start + 1, channels) if not bad else channels + 1
            return Op(op, ((None, self.int_expr(ctx, start)), (None, self.int_expr(ctx, stop))), label)
        if op == "chunk":
            parts = self.divisor(x.shape[1], bad)
            index = self.ch.integer(0, parts - 1) if not (bad and self.ch.chance(0.5)) else parts
            return Op(op, ((None, self.int_expr(ctx, parts)), ("index", self.int_expr(ctx, index))), label)
        order = list(range(x.dim() - 1))
        for i in range(len(order) - 1, 0, -1):  # a random order of the sample's axes
            j = self.ch.integer(0, i)
            order[i], order[j] = order[j], order[i]
        return Op("permute", ((None if self.ch.chance(0.7) else "order", Lit(order)),), label)

    # ---- constants, loops, sequences
    def let(self, ctx: _Ctx) -> Let:
        name = self.fresh(PARAM_NAMES, set(ctx.env) | set(GENERATED_OPS) | set(BLOCK_NAMES), "w")
        form = self.ch.integer(0, 2)
        value: Any
        if form == 0:
            value = self.ch.integer(1, 8)
        elif form == 1:
            value = [self.ch.integer(1, 8) for _ in range(self.ch.integer(1, 4))]
        else:
            value = [[self.ch.integer(1, 8), self.ch.integer(0, 2)] for _ in range(self.ch.integer(1, 3))]
        expr: Expr = self.int_expr(ctx, value) if type(value) is int else Lit(value)
        ctx.env[name] = value
        return Let(name, expr)

    def for_step(self, ctx: _Ctx, x: Any) -> tuple[Step, Any]:
        """`for i in range(n)` or `for c, n in [[c0, n0], ...]`: the body in place, once per item."""
        lists = [n for n, v in ctx.env.items() if type(v) is list and v and all(type(i) is list for i in v)]
        names: tuple[str, ...]
        ranged = False
        if lists and self.ch.chance(0.5):
            items: Expr = Var(self.ch.pick(lists))
            names = tuple(self.fresh(INDEX_NAMES, ctx.env, "i") for _ in range(2))
            names = names if names[0] != names[1] else (names[0], names[0] + "_")
        elif self.ch.chance(0.3):
            items = Lit([[self.ch.integer(1, 8), self.ch.integer(0, 2)] for _ in range(self.ch.integer(0, 3))])
            names = (self.fresh(INDEX_NAMES, ctx.env, "i"), "n_" + self.fresh(INDEX_NAMES, ctx.env, "i"))
        else:
            items = Func("range", (self.int_expr(ctx, self.ch.integer(0, 3)),))
            names = (self.fresh(INDEX_NAMES, ctx.env, "i"),)
            ranged = True
        first = items.eval(ctx.env)
        inner = ctx.child()
        inner.chain_only, inner.no_labels = True, True
        inner.loop = (*(ctx.loop or ()), names[0]) if ranged and (ctx.loop or not ctx.no_labels) else None
        if first:
            inner.env |= dict(zip(names, first[0], strict=True)) if len(names) > 1 else {names[0]: first[0]}
        else:
            inner.env |= dict.fromkeys(names, 1)
        body, _ = self.body(inner, x, KEEP, self.ch.integer(1, 2))
        step = For(names, items, body)
        return step, self.run(self.interp.step, step, dict(ctx.env), x)

    def seq_step(self, ctx: _Ctx, x: Any, mode: str) -> tuple[Step, Any]:
        label = self.label(ctx, 0.5)
        inner = ctx.child(labels=set())
        inner.chain_only, inner.no_labels, inner.loop = True, True, None
        body, _ = self.body(inner, x, mode, self.ch.integer(1, 3))
        step = Seq(body, label)
        return step, self.run(self.interp.step, step, dict(ctx.env), x)

    # ---- if and repeat
    def if_step(self, ctx: _Ctx, x: Any, mode: str) -> tuple[Step, Any]:
        taken = self.ch.chance(0.5)
        cond = self.bool_expr(ctx, taken)
        branches: list[Body] = []
        result = x
        has_else = self.ch.chance(0.5)
        for is_then in (True, False):
            if not is_then and not has_else:
                break
            live = taken == is_then
            broken_before = self.broken
            body, y = self.body(ctx.child(), x, mode if live else KEEP, self.ch.integer(0 if not live else 1, 2))
            if live:
                result = y
            else:
                self.broken = broken_before  # a branch not taken may do anything
            branches.append(body)
        orelse: Body | If | None = branches[1] if has_else else None
        if has_else and self.ch.chance(0.15):  # `else if`
            orelse = If(self.bool_expr(ctx, False), branches[1], ())
        step = If(cond, branches[0], orelse)
        y = self.run(self.interp.step, step, dict(ctx.env), x)
        return step, y if y is not None else result

    def repeat(self, ctx: _Ctx, x: Any, mode: str) -> tuple[Step, Any]:
        count = self.ch.integer(0, 3) if not self.ch.chance(0.05) else self.ch.integer(4, 12)
        index = self.fresh(INDEX_NAMES, ctx.env, "i") if self.ch.chance(0.5) else None
        label = self.label(ctx, 0.4)
        inner = ctx.child(labels=set())
        inner.index = index
        if index:
            inner.env[index] = 0
        stmts: list[Stmt] = []
        y = x
        if index and mode == FREE and x.dim() == 4 and self.ch.chance(0.6):
            # a stage: the first iteration changes the shape (`stride = 2 if i == 0 else 1`)
            stride = Ternary(self.int_expr(inner, self.ch.integer(1, 2)), Bin("==", Var(index), Lit(0)), Lit(1))
            out = self.int_expr(inner, self.ch.integer(1, 8))
            conv = Op("conv", ((None, out), (None, Lit(3)), ("stride", stride), ("padding", Lit(1))), self.label(inner))
            if self.ch.chance(0.5):
                call, y = self.block_call(inner, x, FREE, stride=stride)
                stmts.append(Stmt((call,)))
            else:
                stmts.append(Stmt((conv,)))
                y = self.run(self.interp.stmt, stmts[-1], inner.env, x)
            mode = KEEP
        elif mode == FREE:
            mode = KEEP if self.ch.chance(0.7) else KEEP_HW
        if y is not None:
            more, _ = self.body(inner, y, KEEP, self.ch.integer(0 if stmts else 1, 2))
            stmts.extend(more)
        step = Repeat(self.int_expr(ctx, count), index, tuple(stmts), label)
        result = self.run(self.interp.step, step, dict(ctx.env), x)
        return step, result

    # ---- blocks
    def block_call(self, ctx: _Ctx, x: Any, mode: str, stride: Expr | None = None) -> tuple[Step, Any]:
        reuse = [
            b
            for b in self.block_order
            if b not in self.defining
            and not (ctx.chain_only and b in self.unspliceable)
            and self.blocks[b].inputs is None  # a block of tensor inputs is called by tensor_inputs only
            and self.ch.chance(0.6)
        ]
        if reuse and stride is None:
            block = self.blocks[self.ch.pick(reuse)]
            args = self.block_args(
                ctx,
                block,
                {
                    n: self.layer_arg().eval({})
                    if isinstance(d, LayerExpr)
                    else self.ch.integer(1, 8)
                    if type(d) is not Lit or type(d.value) is int
                    else self.ch.chance(0.5)
                    for n, d in block.params
                },
            )
        else:
            block, args = self.define_block(ctx, x, mode, stride)
        labelled = not block.inline and (ctx.index is None or self.ch.chance(0.5))  # an inline call takes no label
        step = Call(block.name, args, self.label(ctx, 0.3) if labelled else None)
        y = self.run(self.interp.step, step, ctx.env, x)
        return step, y

    def block_args(
        self, ctx: _Ctx, block: Block, values: dict[str, Any], fixed: dict[str, Expr] | None = None, exact: bool = False
    ) -> Args:
        """Call arguments giving the block's parameters `values` (`exact`: a parameter is left out only
        where its default has that value); `fixed` ones by keyword, as written."""
        args: list[tuple[str | None, Expr]] = []
        keyword = False
        for name, default in block.params:
            if fixed and name in fixed:
                args.append((name, fixed[name]))
                keyword = True
                continue
            if default is not None and (not exact or default.eval({}) == values[name]) and self.ch.chance(0.4):
                keyword = True  # left at its default: later ones go by keyword
                continue
            value = values[name]
            if value is None or isinstance(value, LayerValue):
                expr: Expr = _layer_expr(value)
            elif type(value) is int:
                expr = self.int_expr(ctx, value)
            else:
                expr = self.bool_expr(ctx, value)
            keyword = keyword or self.ch.chance(0.3)
            args.append((name if keyword else None, expr))
        return tuple(args)

    def define_block(self, ctx: _Ctx, x: Any, mode: str, stride: Expr | None) -> tuple[Block, Args]:
        name = self.fresh(BLOCK_NAMES, set(self.blocks) | set(ctx.env), "B")
        self.taken_names.add(name)
        params: list[tuple[str, Expr | None]] = []
        values: dict[str, Any] = {}
        inner_env: Env = {}
        for n in range(self.ch.integer(0, 3) + (stride is not None)):
            pname = self.fresh(PARAM_NAMES, inner_env, "q")
            value: Any = self.ch.integer(1, 8) if n == 0 or self.ch.chance(0.7) else self.ch.chance(0.5)
            default = (
                None if n == 0 and self.ch.chance(0.6) else Lit(value if type(value) is bool else self.ch.integer(1, 4))
            )
            params.append((pname, default))
            values[pname] = value
            inner_env[pname] = value
        if stride is not None:  # the stride parameter is the last, given by keyword from the repeat
            sname = params[-1][0]
            values[sname] = stride.eval(ctx.env)
            inner_env[sname] = values[sname]
            params[-1] = (sname, Lit(1))
        act = None
        if self.ch.chance(0.35):  # a layer parameter (`act = relu`), the body's last step (language v3)
            act = self.fresh(LAYER_PARAM_NAMES, inner_env, "act")
            self.taken_names.add(act)  # a block or network of that name would take its steps: none is made
            values[act] = self.layer_arg().eval({})
            inner_env[act] = values[act]
            params.insert(len(params) - (stride is not None), (act, self.layer_arg()))
        inner_env["in"] = x
        seq = stride is None and self.ch.chance(0.2)  # a seq block: its layers named by position
        # an inline block: its layers in the caller's scope, so no labels (a second call would clash);
        # called in a seq or a for body, its own body is a chain
        inline = not seq and self.ch.chance(0.3)
        chain = seq or (inline and (ctx.chain_only or self.ch.chance(0.5)))
        inner = _Ctx(inner_env, set(), ctx.depth + 1, chain_only=chain, no_labels=seq or inline)
        self.defining.add(name)
        self.blocks[name] = Block(name, tuple(params), ())  # known while its body is written
        self.block_order.append(name)
        if stride is not None and x.dim() == 4:
            sname = params[-1][0]
            out = self.int_expr(inner, self.ch.integer(1, 8))
            first = Stmt(
                (
                    Op(
                        "conv",
                        ((None, out), (None, Lit(3)), ("stride", Var(sname)), ("padding", Lit(1))),
                        self.label(inner),
                    ),
                )
            )
            y = self.run(self.interp.stmt, first, inner.env, x)
            more, _ = self.body(inner, y, KEEP, self.ch.integer(0, 2)) if y is not None else ((), None)
            body: Body = (first, *more)
        else:
            body, _ = self.body(inner, x, mode, self.ch.integer(1, 3))
        if act is not None:
            body = (*body, Stmt((ParamLayer(act),)))
        if inline and not chain:
            self.unspliceable.add(name)
        self.blocks[name] = Block(name, tuple(params), body, seq, inline)
        self.defining.discard(name)
        fixed = {params[-1][0]: stride} if stride is not None else None
        return self.blocks[name], self.block_args(ctx, self.blocks[name], values, fixed, exact=True)

    # ---- blocks with several tensor inputs, and a block that calls itself
    def tensor_inputs(self, ctx: _Ctx, x: Any, mode: str) -> tuple[list[Stmt], Any]:
        """A block of tensor inputs `(a, b = none)` (a fusion, or a tree that calls itself with a smaller
        literal argument), called with named values, with its optional input left out, or from the chain."""
        tree = self.ch.chance(0.4)
        c = x.shape[1] if mode == KEEP else self.ch.integer(1, 6)
        add = not tree and (mode == KEEP or self.ch.chance(0.4))
        block = self.tree_block(x, c) if tree else self.fuse_block(x, c, add)
        args: Args = ((None, self.int_expr(ctx, self.ch.integer(1, 3) if tree else c)),)
        if tree:
            args += ((block.params[1][0] if self.ch.chance(0.3) else None, self.int_expr(ctx, c)),)
        stmts: list[Stmt] = []
        names: list[str] = []
        optional = block.inputs is not None and block.inputs[-1][1]
        count = self.ch.pick((0, 1, 2) if optional else (2,))  # 0: from the chain
        for n in range(count):
            name = self.value_name(ctx)
            if n == 1 and add:
                steps: list[Step] = [Op("conv", ((None, Lit(c)), (None, Lit(1))))]  # add needs c channels
                y = self.run(self.interp.body, (Stmt(tuple(steps)),), dict(ctx.env), x)
            else:
                steps, y = self.chain(ctx, x, KEEP_HW, self.ch.integer(0, 2))
                steps = steps or [Op("identity")]
            if y is None:
                return stmts, x
            stmts.append(Stmt(tuple(steps), name))
            ctx.env[name] = y
            ctx.values.append(name)
            names.append(name)
        self.ops_left -= 2
        call = Call(block.name, args, self.label(ctx, 0.3), tuple(names) if count else None)
        y = self.run(self.interp.step, call, ctx.env, x)
        stmts.append(Stmt((call,)))
        return stmts, y if y is not None else x

    def input_names(self, avoid: set[str]) -> tuple[str, str]:
        first = self.fresh(VALUE_NAMES, avoid | set(GENERATED_OPS) | set(BLOCK_NAMES), "t")
        return first, self.fresh(VALUE_NAMES, avoid | {first} | set(GENERATED_OPS) | set(BLOCK_NAMES), "t")

    def new_block(self, block: Block) -> Block:
        self.taken_names.add(block.name)
        self.blocks[block.name] = block
        self.block_order.append(block.name)
        return block

    def fuse_block(self, x: Any, c: int, add: bool) -> Block:
        """`block Fuse(c)(a, b = none) { u = conv(c, 1) -> ...  add(u, b) }` (or concat): a merge over the
        inputs, which skips one left out."""
        name = self.fresh(BLOCK_NAMES, set(self.blocks), "B")
        width = self.fresh(PARAM_NAMES, set(), "q")
        a, b = self.input_names({width})
        inner = _Ctx({width: c, a: x, b: None}, set(), 3)  # b may be left out: no shape of it is read
        sample = self.run(self.interp.op, Op("conv", ((None, Lit(c)), (None, Lit(1)))), {}, x)
        more, _ = self.chain(inner, sample, KEEP, self.ch.integer(0, 2)) if sample is not None else ([], None)
        first = Stmt(
            (Op("conv", ((None, Var(width)), (None, Lit(1))), self.label(inner)), *more), self.value_name(inner)
        )
        merged: list[Step] = [Merge("add" if add else "concat", (first.bind, b))]  # type: ignore[arg-type]
        if self.ch.chance(0.4):
            merged.append(self.activation(inner))
        inputs = ((a, False), (b, self.ch.chance(0.7)))
        return self.new_block(Block(name, ((width, None),), (first, Stmt(tuple(merged))), inputs=inputs))

    def tree_block(self, x: Any, c: int) -> Block:
        """DLA's tree, one definition: `block Tree(levels, c)(x, children = none)`, calling itself twice with
        `levels - 1` while levels > 1; a leaf is a conv and a chain, concatenated with the children."""
        name = self.fresh(BLOCK_NAMES, set(self.blocks), "T")
        levels = self.fresh(PARAM_NAMES, set(), "n")
        width = self.fresh(PARAM_NAMES, {levels}, "q")
        first, children = self.input_names({levels, width})
        fewer = ((None, Bin("-", Var(levels), Lit(1))), (None, Var(width)))
        left = self.value_name(_Ctx({levels: None, width: c, first: None, children: None}, set(), 3))
        then: Body = (
            Stmt((Call(name, fewer, None, (first,)),), left),
            Stmt((Call(name, fewer, None, (left, left)),)),
        )
        inner = _Ctx({levels: None, width: c, first: None, children: None}, set(), 3)  # none read: they vary by level
        sample = self.run(self.interp.op, Op("conv", ((None, Lit(c)), (None, Lit(3)), ("padding", Lit(1)))), {}, x)
        more, _ = self.chain(inner, sample, KEEP, self.ch.integer(0, 2)) if sample is not None else ([], None)
        leaf = self.value_name(inner)
        orelse: Body = (
            Stmt(
                (Op("conv", ((None, Var(width)), (None, Lit(3)), ("padding", Lit(1))), self.label(inner)), *more), leaf
            ),
            Stmt(
                (Merge("concat", (leaf, children)), Op("conv", ((None, Var(width)), (None, Lit(1))), self.label(inner)))
            ),
        )
        body: Body = (Stmt((If(Bin(">", Var(levels), Lit(1)), then, orelse),)),)
        inputs = ((first, False), (children, True))
        return self.new_block(Block(name, ((levels, None), (width, None)), body, inputs=inputs))

    # ---- single ops
    def layer_arg(self) -> LayerExpr:
        """A layer for a block's layer parameter: an activation, bare or with its argument, or none."""
        if self.ch.chance(0.2):
            return LayerExpr(None)
        op = self.ch.pick(ACTIVATIONS)
        if op == "leaky_relu" and self.ch.chance(0.6):
            slope = Lit(self.ch.pick((0.1, 0.2, 0.01)))
            return LayerExpr(op, ((None if self.ch.chance(0.5) else "negative_slope", slope),))
        return LayerExpr(op)

    def activation(self, ctx: _Ctx, op: str | None = None) -> Op:
        op = op or self.ch.pick(ACTIVATIONS)
        args: Args = ()
        if op == "leaky_relu" and self.ch.chance(0.5):
            args = ((None if self.ch.chance(0.5) else "negative_slope", Lit(self.ch.pick((0.1, 0.2, 0.01, 0.3)))),)
        return Op(op, args, self.label(ctx, 0.15), self.ch.chance(0.2))

    def linear(self, ctx: _Ctx, x: Any, out: int | None = None) -> Op:
        out = out if out is not None else self.ch.integer(1, 12)
        args: list[tuple[str | None, Expr]] = [(None, self.int_expr(ctx, out))]
        if self.ch.chance(0.3):
            args.append((None if self.ch.chance(0.5) else "bias", self.bool_expr(ctx, self.ch.chance(0.5))))
        return Op("linear", tuple(args), self.label(ctx))

    def op_step(self, ctx: _Ctx, x: Any, mode: str) -> Step:
        self.ops_left -= 1
        flat = x.dim() == 2
        bad = self.ch.chance(0.06)  # now and then a step PyTorch refuses (and the checker must too)
        if flat:
            options = FLAT_OPS if mode == FREE else tuple(o for o in FLAT_OPS if o != "linear") + ("linear",)
            if bad:
                options = ("conv", "maxpool", "lrn", "global_avgpool", "adaptive_avgpool")
        elif mode == FREE:
            options = SPATIAL_OPS + ("flatten",) if ctx.depth == 0 and self.ch.chance(0.1) else SPATIAL_OPS
        else:
            options = KEEP_OPS + (("chunk", "slice") if mode == KEEP_HW else ())
        if bad and not flat:
            options = ("conv", "conv", "maxpool", "avgpool", "linear", "channel_shuffle", "chunk", "slice")
        op = self.ch.pick(options)
        if self.force in options and self.ch.chance(0.5):
            op = self.force
        if flat and bad:  # a spatial op on a flat value
            return Op(
                op,
                {
                    "conv": ((None, Lit(2)), (None, Lit(1))),
                    "maxpool": ((None, Lit(1)),),
                    "adaptive_avgpool": ((None, Lit(2)),),
                }.get(op, ()),
                self.label(ctx),
            )
        if op in ACTIVATIONS:
            return self.activation(ctx, op)
        if op == "linear":
            return self.linear(ctx, x, x.shape[1] if mode != FREE else None)
        if op in (
            "layernorm",
            "layernorm2d",
            "scale",
            "stochastic_depth",
            "channel_shuffle",
            "chunk",
            "slice",
            "permute",
        ):
            return self.simple_op(ctx, x, op, bad)
        if op == "conv":
            return self.conv(ctx, x, mode, bad)
        if op in ("maxpool", "avgpool"):
            return self.pool(ctx, x, op, mode, bad)
        if op in ("adaptive_avgpool", "adaptive_maxpool"):
            h, w = tuple(x.shape[2:]) if mode != FREE else (self.ch.integer(1, 7), self.ch.integer(1, 7))
            size: Expr = self.int_expr(ctx, h) if h == w and self.ch.chance(0.6) else Lit([h, w])
            return Op(op, ((None if self.ch.chance(0.7) else "output", size),), self.label(ctx))
        if op == "dropout":
            args: Args = ()
            if self.ch.chance(0.6):
                args = ((None if self.ch.chance(0.5) else "p", Lit(self.ch.pick((0.0, 0.1, 0.25, 0.5, 0.9)))),)
            return Op("dropout", args, self.label(ctx, 0.2))
        if op == "batchnorm":
            args = ()
            if self.ch.chance(0.3):
                args = (("eps", Lit(self.ch.pick((1e-5, 1e-3, 0.1, 2.0)))),)
            if self.ch.chance(0.2):
                args += (("momentum", Lit(self.ch.pick((0.1, 0.5, 1.0, 0.0)))),)
            return Op("batchnorm", args, self.label(ctx))
        if op == "lrn":
            values = [
                ("size", self.ch.integer(1, 6)),
                ("alpha", self.ch.pick((1e-4, 0.001, 0.1, 1.0))),
                ("beta", self.ch.pick((0.75, 0.5, 1.0))),
                ("k", self.ch.pick((1.0, 2.0, 1))),
            ]
            given = values[: self.ch.integer(0, 4)]
            positional = self.ch.integer(0, len(given))
            return Op(
                "lrn",
                tuple(
                    (None if n < positional else k, self.int_expr(ctx, v) if type(v) is int else Lit(v))
                    for n, (k, v) in enumerate(given)
                ),
                self.label(ctx),
            )
        if op == "flatten":
            return Op("flatten", (), self.label(ctx))
        return Op(op, (), self.label(ctx))  # global_avgpool

    def _window_args(self, ctx: _Ctx, values: list[tuple[str, Any, Any]], required: int) -> Args:
        """Arguments that differ from their defaults; the first ones (required first) positionally."""
        given = [(k, v) for n, (k, v, default) in enumerate(values) if n < required or v != default]
        prefix = 0
        for n, (k, _v, _d) in enumerate(values):
            if n < len(given) and given[n][0] == k:
                prefix += 1
            else:
                break
        positional = self.ch.integer(required if self.ch.chance(0.8) else 0, prefix)
        args = []
        for n, (k, v) in enumerate(given):
            if isinstance(v, Expr):
                expr = v
            elif isinstance(v, tuple):
                expr = Lit(list(v)) if v[0] != v[1] or self.ch.chance(0.2) else self.int_expr(ctx, v[0])
            elif type(v) is int:
                expr = self.int_expr(ctx, v)
            elif type(v) is bool:
                expr = self.bool_expr(ctx, v)
            elif isinstance(v, str):
                expr = Word(v)
            else:
                expr = Lit(v)
            args.append((None if n < positional else k, expr))
        return tuple(args)

    def conv(self, ctx: _Ctx, x: Any, mode: str, bad: bool) -> Op:
        c, h, w = tuple(x.shape[1:])
        groups = 1
        if self.ch.chance(0.25):
            divisors = [g for g in range(2, c + 1) if c % g == 0]
            groups = self.ch.pick(divisors) if divisors else 1
        if bad and self.ch.chance(0.3):
            groups = self.ch.integer(2, 5)
        if mode == KEEP:
            out = c
        else:
            out = groups * self.ch.integer(1, max(1, 8 // groups))
            if ctx.env and self.ch.chance(0.3):  # a block's width parameter, where it fits
                widths = [v for v in ctx.env.values() if type(v) is int and 1 <= v <= 16 and v % groups == 0]
                out = self.ch.pick(widths) if widths else out
        dilation = (1, 1) if not self.ch.chance(0.15) else (self.ch.integer(1, 2), self.ch.integer(1, 2))
        stride = (1, 1)
        if mode == FREE and self.ch.chance(0.35):
            stride = (self.ch.integer(1, 3), self.ch.integer(1, 3)) if self.ch.chance(0.2) else (2, 2)
        kernel = (
            (self.ch.integer(1, 5), self.ch.integer(1, 5)) if self.ch.chance(0.2) else (self.ch.pick((1, 3, 3, 5)),) * 2
        )
        padding: Any
        if mode == FREE:
            form = self.ch.integer(0, 5)
            if form == 0 and stride == (1, 1):
                padding = "same"
            elif form == 1:
                padding = "valid"
            else:
                padding = (
                    (self.ch.integer(0, kernel[0] // 2 + 1),) * 2
                    if form < 4
                    else (self.ch.integer(0, 2), self.ch.integer(0, 2))
                )
            # keep the kernel inside the padded input, mostly
            pads = (0, 0) if isinstance(padding, str) else padding
            kernel = tuple(max(1, min(kernel[a], ((h, w)[a] + 2 * pads[a] - 1) // dilation[a] + 1)) for a in (0, 1))
        else:
            if self.ch.chance(0.5):
                padding = "same"
            else:
                kernel = tuple(k | 1 for k in kernel)  # odd, so that symmetric padding keeps the size
                padding = tuple(dilation[a] * (kernel[a] - 1) // 2 for a in (0, 1))
        if bad:
            trouble = self.ch.integer(0, 2)
            if trouble == 0:
                kernel = (h + 2 * (0 if isinstance(padding, str) else padding[0]) + self.ch.integer(1, 2), kernel[1])
                padding = padding if padding != "same" else (0, 0)
            elif trouble == 1:
                padding, stride = "same", (2, 2)
            elif trouble == 2:
                dilation = (h + 3, 1)
        bias = not self.ch.chance(0.3)
        padding_mode = self.padding_mode(padding, kernel, dilation, (h, w), bad)
        weight = None
        frozen = None
        if self.ch.chance(0.08) and out * (c // groups) * kernel[0] * kernel[1] <= 48:
            weight = self.literal_weight(out, c // groups, kernel)
        if self.ch.chance(0.08):
            frozen = self.ch.chance(0.5)
        values = [
            ("out", out, None),
            ("kernel", kernel, None),
            ("stride", stride, (1, 1)),
            ("padding", padding, (0, 0)),
            ("dilation", dilation, (1, 1)),
            ("groups", groups, 1),
            ("bias", bias, True),
            ("weight", weight, None),
            ("frozen", frozen, None),
            ("padding_mode", padding_mode, "zeros"),
        ]
        values = [(k, Lit(v) if k == "weight" and v is not None else v, d) for k, v, d in values]
        return Op("conv", self._window_args(ctx, values, 2), self.label(ctx))

    def padding_mode(
        self, padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...], size: tuple[int, int], bad: bool
    ) -> str:
        """zeros mostly; reflect, replicate or circular now and then. Reflect pads less than the input's
        size and circular at most that: a mode that cannot fill the padding becomes replicate, except
        in a network meant to be refused."""
        if not self.ch.chance(0.2):
            return "zeros"
        mode = self.ch.pick(("reflect", "replicate", "circular", "zeros"))
        if padding == "same":
            widest = [dilation[a] * (kernel[a] - 1) - dilation[a] * (kernel[a] - 1) // 2 for a in (0, 1)]
        else:
            widest = [0, 0] if padding == "valid" else list(padding)
        fits = all(widest[a] < size[a] if mode == "reflect" else widest[a] <= size[a] for a in (0, 1))
        return mode if fits or bad or mode in ("replicate", "zeros") else "replicate"

    def literal_weight(self, out: int, per_group: int, kernel: tuple[int, ...]) -> list[Any]:
        def kernel_values() -> list[list[Any]]:
            return [[self.ch.pick((1, 0, -1, 0.5, -0.25, 2)) for _ in range(kernel[1])] for _ in range(kernel[0])]

        form = self.ch.integer(0, 2)
        if form == 0:
            return kernel_values()
        if form == 1:
            return [kernel_values() for _ in range(out)]
        return [[kernel_values() for _ in range(per_group)] for _ in range(out)]

    def pool(self, ctx: _Ctx, x: Any, op: str, mode: str, bad: bool) -> Op:
        _, h, w = tuple(x.shape[1:])
        if mode == FREE:
            kernel = (
                (self.ch.integer(1, 4), self.ch.integer(1, 4)) if self.ch.chance(0.2) else (self.ch.integer(1, 4),) * 2
            )
            stride = None if self.ch.chance(0.5) else (self.ch.integer(1, 3),) * 2
            padding = (
                (self.ch.integer(0, kernel[0] // 2), self.ch.integer(0, kernel[1] // 2))
                if self.ch.chance(0.4)
                else (0, 0)
            )
            ceil = self.ch.chance(0.3)
            if not (bad or self.ch.chance(0.05)):  # and now and then a kernel larger than the input
                kernel = tuple(max(1, min(kernel[a], (h, w)[a] + 2 * padding[a])) for a in (0, 1))
                padding = tuple(min(padding[a], kernel[a] // 2) for a in (0, 1))
        else:
            k = self.ch.pick((1, 3))
            kernel, stride, padding, ceil = (k, k), (1, 1), (k // 2, k // 2), self.ch.chance(0.2)
        if bad:
            padding = (kernel[0] // 2 + 1, padding[1])
        values = [
            ("kernel", kernel, None),
            ("stride", stride, None),
            ("padding", padding, (0, 0)),
            ("ceil", ceil, False),
        ]
        if op == "avgpool":
            values.append(("count_include_pad", self.ch.chance(0.7), True))
        return Op(op, self._window_args(ctx, values, 1), self.label(ctx))


def _layer_expr(value: LayerValue | None) -> LayerExpr:
    if value is None:
        return LayerExpr(None)
    return LayerExpr(value.op, tuple((k, Lit(v)) for k, v in value.args))


def op_counts(nets: Sequence[Net]) -> dict[str, int]:
    counts = dict.fromkeys(sorted(GENERATED_OPS), 0)
    for net in nets:
        for op in net.ops:
            counts[op] = counts.get(op, 0) + 1
    return counts
