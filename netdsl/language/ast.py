"""The abstract syntax tree: frozen dataclasses mirroring the grammar's rules.

Produced by `netdsl.language.parser.parse`; consumed by `netdsl.checker.elaborate`. Every node carries the
`Span` it was written at, so any later stage can point at the source.
"""

from __future__ import annotations

import operator
import reprlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from netdsl.core.diagnostics import Span

_T = TypeVar("_T")


class _Node:
    """What `@dataclass(frozen=True)` would write into each class, written once: __repr__, __eq__
    and __hash__ over the fields, in their order. dataclass compiles every method it writes with
    an exec of its own (up to Python 3.12), six per frozen class; three here, which halves this
    module's import (and every command's start)."""

    __slots__ = ()
    _values: Callable[[Any], tuple[Any, ...]]  # the fields' values, in order (set by `_node`)
    _names: tuple[str, ...]

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        values = type(self)._values(self)
        inside = ", ".join(f"{name}={value!r}" for name, value in zip(self._names, values, strict=True))
        return f"{type(self).__qualname__}({inside})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return type(self)._values(self) == type(self)._values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(type(self)._values(self))


def _node(cls: type[_T]) -> type[_T]:
    """A frozen dataclass whose __repr__, __eq__ and __hash__ are `_Node`'s (the same as dataclass's)."""
    made = dataclass(frozen=True, repr=False, eq=False)(cls)
    names = tuple(f.name for f in fields(made))  # type: ignore[arg-type]
    made._names = names  # type: ignore[attr-defined]
    made._values = operator.attrgetter(*names)  # type: ignore[attr-defined]  # two or more: a tuple
    return made


# ---- expressions --------------------------------------------------------------------------


@_node
class Literal(_Node):
    """A number, a string or a boolean, as written."""

    value: int | float | str | bool
    span: Span


@_node
class Name(_Node):
    """A name read in an expression: a parameter, a constant, a loop variable."""

    id: str
    span: Span


@_node
class Attr(_Node):
    """`in.channels`: a property of a value."""

    value: Name
    attr: str
    span: Span


@_node
class BinOp(_Node):
    """`left op right`."""

    op: str  # + - * / // % ** == != < <= > >= and or
    left: Expr
    right: Expr
    span: Span


@_node
class UnaryOp(_Node):
    """`-x`, `not x`."""

    op: str  # - not
    operand: Expr
    span: Span


@_node
class Ternary(_Node):
    """`a if condition else b`"""

    condition: Expr
    then: Expr
    orelse: Expr
    span: Span


@_node
class ListExpr(_Node):
    """`[a, b, c]`."""

    items: tuple[Expr, ...]
    span: Span


@_node
class Index(_Node):
    """`table[i]`: an item of a list."""

    value: Expr
    index: Expr
    span: Span


@_node
class FuncCall(_Node):
    """`len(xs)`, `range(n)`: a function of the language called in an expression."""

    name: str
    args: tuple[Arg, ...]
    span: Span


@_node
class Slice(_Node):
    """`depths[:i]`, `xs[1:]`: the items of a list from `start` up to `stop` (either left out)."""

    value: Expr
    start: Expr | None
    stop: Expr | None
    span: Span


@_node
class ListComp(_Node):
    """`[c * 2 for c in widths if c > 8]`: a list made item by item."""

    item: Expr
    names: tuple[str, ...]
    iterable: Expr
    condition: Expr | None
    span: Span


Expr = Literal | Name | Attr | BinOp | UnaryOp | Ternary | ListExpr | Index | FuncCall | Slice | ListComp


@_node
class Arg(_Node):
    """`value` or `name=value` inside a call's parentheses."""

    name: str | None
    value: Expr
    span: Span


# ---- chains and statements ----------------------------------------------------------------


@_node
class Label(_Node):
    """`conv1:`, `3:` or `"denselayer{i + 1}":` — a string label's `{expr}` parts are computed."""

    name: str  # as written (a string label without its quotes)
    span: Span
    parts: tuple[str | Expr, ...] | None = None  # a computed label: text and expressions, in order

    @property
    def computed(self) -> bool:
        return self.parts is not None


@_node
class Call(_Node):
    """`conv(6, kernel=5)`, `relu`, `Basic(64)` or a reference to a named value (`main`)."""

    label: Label | None
    name: str
    args: tuple[Arg, ...] | None  # None: written without parentheses
    span: Span
    name_span: Span
    inputs: tuple[Arg, ...] | None = None  # `Tree(2, 128)(x, skip)`: the tensor inputs given; None: the chain's value


@_node
class If(_Node):
    """`if condition { ... } else { ... }` as a step of a chain."""

    label: Label | None
    condition: Expr
    then: Body
    orelse: Body | None
    span: Span


@_node
class Repeat(_Node):
    """`repeat n { ... }` as a step of a chain."""

    label: Label | None
    count: Expr
    index: str | None  # `repeat n as i`: i counts 0 .. n-1
    body: Body
    span: Span


@_node
class For(_Node):
    """`for t, c, n, s in settings { ... }`: the body once per item, as if written out in place."""

    label: Label | None
    names: tuple[str, ...]
    iterable: Expr
    body: Body
    span: Span


@_node
class Seq(_Node):
    """`seq { ... }`: a chain of layers held as one, named by position like nn.Sequential."""

    label: Label | None
    body: Body
    span: Span


Step = Call | If | Repeat | For | Seq


@_node
class Chain(_Node):
    """Steps joined by arrows: `conv(6, 5) -> relu -> maxpool(2)`."""

    steps: tuple[Step, ...]
    span: Span


@_node
class ShapeCheck(_Node):
    """`@ [6, 28, 28]` after a chain: the shape its value must have."""

    dims: tuple[Expr, ...]
    span: Span


@_node
class Input(_Node):
    """`input image: [1, 32, 32]`."""

    name: str
    shape: tuple[Expr, ...]
    span: Span


@_node
class Flow(_Node):
    """A statement that advances the body's current value."""

    chain: Chain
    check: ShapeCheck | None
    span: Span


@_node
class Bind(_Node):
    """`name = chain`: a named value branching off the current value (which stays as it is)."""

    name: str
    chain: Chain
    check: ShapeCheck | None
    span: Span
    name_span: Span


@_node
class Let(_Node):
    """`let width = planes * 2`: a local constant (a number, a list, a word)."""

    name: str
    value: Expr
    span: Span
    name_span: Span


Statement = Input | Let | Flow | Bind


@_node
class Body(_Node):
    """The statements between a definition's or a step's braces."""

    statements: tuple[Statement, ...]
    span: Span


# ---- files --------------------------------------------------------------------------------


@_node
class Param(_Node):
    """A parameter of a network or block, with its default if it has one."""

    name: str
    default: Expr | None
    span: Span


@_node
class Definition(_Node):
    """`network Name(params) { ... }` or `block Name(params) { ... }`."""

    kind: str  # "network" | "block"
    name: str
    params: tuple[Param, ...]
    body: Body
    span: Span
    name_span: Span
    seq: bool = False  # `seq block`: its layers are named by position, as in nn.Sequential
    inline: bool = False  # `inline block`: its layers join the caller's scope (no name of its own)
    inputs: tuple[Param, ...] | None = None  # `block Tree(levels)(x, skip)`: its tensor inputs; None: one, `in`


@_node
class Function(_Node):
    """`def make_divisible(v, d = 8) = max(d, int(v + d / 2) // d * d)`: a compile-time function."""

    name: str
    params: tuple[Param, ...]
    body: Expr
    span: Span
    name_span: Span


@_node
class Import(_Node):
    """`import "blocks/resnet.net"`."""

    path: str
    span: Span


@_node
class Module(_Node):
    """One parsed file: its imports and definitions."""

    file: str
    source: str
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
    functions: tuple[Function, ...] = ()


def walk(node: Any) -> Iterator[Any]:
    """`node` and every node and value inside it, depth first (tuples are walked through)."""
    yield node
    if isinstance(node, tuple):
        for item in node:
            yield from walk(item)
    elif hasattr(node, "_names"):
        for name in node._names:
            yield from walk(getattr(node, name))


def nested_statements(statements: tuple[Statement, ...]) -> Iterator[Statement]:
    """Every statement of a body, then those inside its `if` branches and `repeat` bodies."""
    for stmt in statements:
        yield stmt
        if isinstance(stmt, (Input, Let)):
            continue
        for step in stmt.chain.steps:
            yield from nested_statements(step_bodies(step))


def step_bodies(step: Step) -> tuple[Statement, ...]:
    """The statements a step holds: an `if`'s branches, a repeat's, for's or seq's body."""
    if isinstance(step, If):
        return step.then.statements + (step.orelse.statements if step.orelse else ())
    if isinstance(step, (Repeat, For, Seq)):
        return step.body.statements
    return ()


def nested_steps(statements: tuple[Statement, ...]) -> Iterator[Step]:
    """Every step of a body, nested bodies included."""
    for stmt in nested_statements(statements):
        if isinstance(stmt, (Flow, Bind)):
            yield from stmt.chain.steps
