"""Backend — PyTorch: what the writers of one class share. A tensor value's variables, a
parameter, a class to write, the context of a body (its constants and values, its scope, what
is known as the file is written, and the seq its layers go into), and what a spec body reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from netdsl.backends.pytorch.lowerings import LOWERINGS, py_literal
from netdsl.checker.naming import UNKNOWN, Scope, free_names, reads_shape
from netdsl.checker.ops import OPS
from netdsl.checker.values import EvalError, Symbol, evaluate
from netdsl.language import ast
from netdsl.language.program import Program


@dataclass(frozen=True)
class Value:
    """A tensor value while a class is written: its forward variable, its __init__ shape variable."""

    var: str
    shape: str
    optional: bool = False  # a block's tensor input declared `= none`: None where the call leaves it out


@dataclass(frozen=True)
class Param:
    name: str  # as the spec writes it
    default: ast.Expr | None
    kind: str  # its Python type's name


@dataclass(frozen=True)
class ClassSpec:
    name: str
    doc: str
    params: tuple[Param, ...]
    statements: tuple[ast.Statement, ...]
    scope: Scope
    ir_prefix: tuple[str, ...] | None  # the IR path of its first use (for shape comments)
    outer: tuple[str, ...] = ()  # values of an enclosing scope that a repeat body reads
    outer_shapes: tuple[str, ...] = ()  # values of an enclosing scope whose shapes only it reads
    keyword_only: bool = False  # a required parameter follows one with a default: `*` before them
    seq: bool = False  # a seq block: the class is an nn.Sequential, whose forward runs its layers
    inputs: tuple[ast.Param, ...] | None = None  # a block's declared tensor inputs; None: one, `in`


@dataclass(frozen=True)
class Container:
    """Where the layers of a seq go: an nn.Sequential or a Chain (`expr`), or, for a loop of named
    layers outside a seq, the module itself, with `registry` the list of their names in order."""

    expr: str
    registry: str | None = None
    chain: bool = False  # the prelude's Chain, not an nn.Sequential: it holds a parameter too (`scale`)
    # [the IR path of the container at its first use, or None where positions are not known as
    # the file is written (after an `if` or a loop decided in __init__); the next position]
    track: list[Any] = field(default_factory=lambda: [None, 0])

    def next_path(self, label: str | None) -> tuple[str, ...] | None:
        """Count the next layer; its IR path (by label, else position) where that is known."""
        prefix, position = self.track
        self.track[1] += 1
        return None if prefix is None else (*prefix, label if label is not None else str(position))


@dataclass
class Context:
    consts: dict[str, str]  # spec constant (parameter, let, loop name) → Python source
    values: dict[str, Value]  # spec tensor value → its variables
    scope: Scope
    ir_prefix: tuple[str, ...] | None
    kinds: dict[str, str] = field(default_factory=dict)  # spec constant → its Python type's name
    known: dict[str, Any] = field(default_factory=dict)  # constants whose values are known as the file is written
    seq: Container | None = None  # inside a seq: where its layers go
    inlined: dict[str, Any] = field(default_factory=dict)  # names a loop written out binds: literals

    def child(self, **changes: Any) -> Context:
        copies = {
            "consts": dict(self.consts),
            "values": dict(self.values),
            "known": dict(self.known),
            "kinds": dict(self.kinds),
            "inlined": dict(self.inlined),
        }
        return replace(self, **(copies | changes))

    def value_of(self, expr: ast.Expr) -> Any:
        """`expr`'s value where it is known as the file is written (a literal, a let of literals, a
        loop's item); `UNKNOWN` where it depends on a parameter or a shape."""
        bound = set(self.consts) | set(self.values)  # any other name is a word (`relu` in a list)
        if (free_names(expr) & bound) - set(self.known) or reads_shape(expr):
            return UNKNOWN
        try:
            return evaluate(expr, self.known)
        except (EvalError, ArithmeticError, TypeError, ValueError):
            return UNKNOWN


def kind_of(value: Any) -> str:
    """The Python type of a parameter's value, as an annotation (a word such as `same` is a str,
    a list is written as a tuple)."""
    if isinstance(value, (bool, int, float, str, tuple)):
        return type(value).__name__
    return {"Symbol": "str", "list": "tuple"}.get(type(value).__name__, "object")


# ---- what a body reads ------------------------------------------------------------------------


def value_refs(statements: tuple[ast.Statement, ...]) -> set[str]:
    """Tensor values a body reads but does not bind: chain steps that name them, merge arguments."""
    bound = {s.name for s in statements if isinstance(s, ast.Bind)}
    return step_reads(ast.nested_steps(statements)) - bound


def step_reads(steps: Iterator[ast.Step]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        if isinstance(step, ast.Call):
            if step.args is None and step.name not in OPS:
                found.add(step.name)
            if step.name in OPS and OPS[step.name].merge:
                found |= {a.value.id for a in step.args or () if isinstance(a.value, ast.Name)}
            found |= {a.value.id for a in step.inputs or () if isinstance(a.value, ast.Name)}
    return found


def read_binds(statements: tuple[ast.Statement, ...]) -> set[int]:
    """The positions of the binds whose value forward reads (a later statement names it, or names a
    value that does): the others get their layers, but no forward code."""
    wanted: set[str] = set()
    read: set[int] = set()
    for n in reversed(range(len(statements))):
        stmt = statements[n]
        if isinstance(stmt, ast.Input):
            continue
        if isinstance(stmt, ast.Bind):
            if stmt.name not in wanted:
                continue
            wanted.discard(stmt.name)
            read.add(n)
        wanted |= step_reads(ast.nested_steps((stmt,)))
    return read


def value_source(value: Any) -> str:
    """A known value as Python source (a list as a tuple, never collapsed as py_literal does pairs)."""
    if isinstance(value, list):
        items = [value_source(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return py_literal(value.name if isinstance(value, Symbol) else value)


def holds_parameters(statements: tuple[ast.Statement, ...]) -> bool:
    """Whether a seq's body holds a layer that is no module (a parameter: `scale`), which only the
    prelude's Chain can hold in place."""
    return any(
        isinstance(step, ast.Call)
        and step.name in OPS
        and not OPS[step.name].merge
        and not LOWERINGS[step.name].plain_module
        for step in ast.nested_steps(statements)
    )


class Writer(Protocol):
    """What the statement writers (`body.BodyWriter`, `seq.SeqSteps`) use of the file's writer
    (`emit.FileWriter`): stated here so that neither imports the module that imports them."""

    program: Program
    shapes: dict[str, Any]
    specialized: set[str]

    def class_name(self, wish: str) -> str: ...

    def attempt(self, write: Callable[[], str]) -> str | None: ...

    def block_class(self, name: str, values: dict[str, Any] | None = None) -> str: ...

    def keyword_only(self, block: str) -> bool: ...

    def write_class(
        self,
        spec: ClassSpec,
        network_input: tuple[str, str] | None = None,
        values: dict[str, Any] | None = None,
        guard: bool = True,
    ) -> None: ...

    def expr(
        self, expr: ast.Expr, consts: dict[str, str], values: dict[str, Value], literals: dict[str, Any] | None = None
    ) -> str: ...

    def shape_at(self, ctx: Context, local: str) -> Any: ...

    def comment(self, ctx: Context, local: str) -> str | None: ...
