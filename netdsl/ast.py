"""The abstract syntax tree: frozen dataclasses mirroring the grammar's rules.

Produced by `netdsl.parser.parse`; consumed by `netdsl.elaborate`. Every node carries the
`Span` it was written at, so any later stage can point at the source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from netdsl.diagnostics import Span

# ---- expressions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: int | float | str | bool
    span: Span


@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class Attr:
    value: Name
    attr: str
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // % == != < <= > >= and or
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class UnaryOp:
    op: str  # - not
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Ternary:
    """`a if condition else b`"""

    condition: Expr
    then: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Index:
    """`table[i]`: an item of a list."""

    value: Expr
    index: Expr
    span: Span


@dataclass(frozen=True)
class FuncCall:
    name: str
    args: tuple[Arg, ...]
    span: Span


Expr = Literal | Name | Attr | BinOp | UnaryOp | Ternary | ListExpr | Index | FuncCall


@dataclass(frozen=True)
class Arg:
    """`value` or `name=value` inside a call's parentheses."""

    name: str | None
    value: Expr
    span: Span


# ---- chains and statements ----------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """`conv1:`, `3:` or `"denselayer{i + 1}":` — a string label's `{expr}` parts are computed."""

    name: str  # as written (a string label without its quotes)
    span: Span
    parts: tuple[str | Expr, ...] | None = None  # a computed label: text and expressions, in order

    @property
    def computed(self) -> bool:
        return self.parts is not None


@dataclass(frozen=True)
class Call:
    """`conv(6, kernel=5)`, `relu`, `Basic(64)` or a reference to a named value (`main`)."""

    label: Label | None
    name: str
    args: tuple[Arg, ...] | None  # None: written without parentheses
    span: Span
    name_span: Span


@dataclass(frozen=True)
class If:
    label: Label | None
    condition: Expr
    then: Body
    orelse: Body | None
    span: Span


@dataclass(frozen=True)
class Repeat:
    label: Label | None
    count: Expr
    index: str | None  # `repeat n as i`: i counts 0 .. n-1
    body: Body
    span: Span


@dataclass(frozen=True)
class For:
    """`for t, c, n, s in settings { ... }`: the body once per item, as if written out in place."""

    label: Label | None
    names: tuple[str, ...]
    iterable: Expr
    body: Body
    span: Span


@dataclass(frozen=True)
class Seq:
    """`seq { ... }`: a chain of layers held as one, named by position like nn.Sequential."""

    label: Label | None
    body: Body
    span: Span


Step = Call | If | Repeat | For | Seq


@dataclass(frozen=True)
class Chain:
    steps: tuple[Step, ...]
    span: Span


@dataclass(frozen=True)
class ShapeCheck:
    dims: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Flow:
    """A statement that advances the body's current value."""

    chain: Chain
    check: ShapeCheck | None
    span: Span


@dataclass(frozen=True)
class Bind:
    """`name = chain`: a named value branching off the current value (which stays as it is)."""

    name: str
    chain: Chain
    check: ShapeCheck | None
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Let:
    """`let width = planes * 2`: a local constant (a number, a list, a word)."""

    name: str
    value: Expr
    span: Span
    name_span: Span


Statement = Input | Let | Flow | Bind


@dataclass(frozen=True)
class Body:
    statements: tuple[Statement, ...]
    span: Span


# ---- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Definition:
    kind: str  # "network" | "block"
    name: str
    params: tuple[Param, ...]
    body: Body
    span: Span
    name_span: Span
    seq: bool = False  # `seq block`: its layers are named by position, as in nn.Sequential


@dataclass(frozen=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class Module:
    file: str
    source: str
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]


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
