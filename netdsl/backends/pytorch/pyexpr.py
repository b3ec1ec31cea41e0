"""Spec expressions as Python source, for the PyTorch backend.

`python_expr` writes a spec expression with the names it has been given for the spec's
constants and values, parenthesized only where Python's precedence needs it. Before that,
`simplify` rewrites the few spellings that ruff's default rules object to into ones with the
same value: `not a == b` → `a != b`, `not not c` → `bool(c)`, `true if c else false` →
`bool(c)`, `a if a > b else b` → `max(a, b)`, `x if c else x` → `x`, `c or true` → `True`,
`a < b and b < c` → `a < b < c`, comparisons of constants or of a value with itself → their
result. A spec's boolean operators take and give booleans only (netdsl.checker.values), so these
rewrites keep every value the module computes.
"""

from __future__ import annotations

import builtins
import keyword
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from netdsl.backends.pytorch.lowerings import py_literal
from netdsl.checker.values import EvalError, evaluate
from netdsl.language import ast

_LEVEL = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "//": 6,
    "%": 6,
    "**": 8,
}  # Python's precedence; unary minus 7, atoms 9
_MATH = frozenset({"floor", "ceil", "log", "sqrt"})  # the spec's builtins that are math's in Python
_BUILTINS = frozenset(dir(builtins)) | {"math", "exact_div", "torch", "nn"}
_INDEX = {"channels": "[0]", "height": "[1]", "width": "[2]"}
_NEGATED = {"==": "!=", "!=": "=="}
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SELF = {"==": True, "<=": True, ">=": True, "!=": False, "<": False, ">": False}  # `a op a`


def python_expr(
    expr: ast.Expr, consts: dict[str, str], shape_of: Callable[[str], str], literals: Mapping[str, Any] | None = None
) -> str:
    """`expr` as Python source. `consts`: the Python source of each spec constant (parameter,
    repeat index); `shape_of`: a tensor value's shape variable (for `a.channels`); `literals`:
    constants whose values are written in place (a loop written out), so that what they decide
    is decided here: `2 if i > 0 else 1` with i = 0 is `1`."""
    if literals:
        expr = _substitute(expr, literals)
    return _Writer(consts, shape_of).emit(simplify(expr), 0)


def _substitute(expr: ast.Expr, literals: Mapping[str, Any]) -> ast.Expr:
    if isinstance(expr, ast.Name) and isinstance(literals.get(expr.id), (bool, int, float)):
        return ast.Literal(literals[expr.id], expr.span)
    return _map_children(expr, lambda child: _substitute(child, literals))


def calls_a_function(expr: ast.Expr) -> bool:
    """Whether `expr`, as written, calls a function (`exact_div`, `max`, `math.prod`, …): such an
    expression is no argument default (ruff's B008), it is worked out in `__init__`."""
    return _calls(simplify(expr))


def _calls(node: Any) -> bool:
    if isinstance(node, ast.FuncCall) or (isinstance(node, ast.BinOp) and node.op == "/"):
        return True
    if isinstance(node, ast.Attr) and node.attr == "features":
        return True
    if isinstance(node, tuple):
        return any(_calls(n) for n in node)
    return hasattr(node, "__dataclass_fields__") and any(_calls(getattr(node, f)) for f in node.__dataclass_fields__)


class _Writer:
    """Parenthesizes only where precedence needs it. Comparisons do not chain in a spec (`(a == b)
    == c`), so both of their operands sit one level up; only `simplify` makes a chain."""

    def __init__(self, consts: dict[str, str], shape_of: Callable[[str], str]):
        self.consts, self.shape_of = consts, shape_of

    def emit(self, expr: ast.Expr, outer: int) -> str:
        text, level = self.visit(expr)
        return f"({text})" if level < outer else text

    def visit(self, expr: ast.Expr) -> tuple[str, int]:
        if isinstance(expr, ast.Literal):
            return py_literal(expr.value), 9
        if isinstance(expr, ast.Name):  # a bare name bound to nothing is a word: padding=same
            return self.consts.get(expr.id, py_literal(expr.id)), 9
        if isinstance(expr, ast.Attr):
            shape = self.shape_of(expr.value.id)
            return (f"math.prod({shape})" if expr.attr == "features" else shape + _INDEX[expr.attr]), 9
        if isinstance(expr, ast.ListExpr):
            items = [self.emit(item, 0) for item in expr.items]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")", 9
        if isinstance(expr, ast.Index):
            return f"{self.emit(expr.value, 9)}[{self.emit(expr.index, 0)}]", 9
        if isinstance(expr, ast.Slice):
            start = "" if expr.start is None else self.emit(expr.start, 0)
            stop = "" if expr.stop is None else self.emit(expr.stop, 0)
            return f"{self.emit(expr.value, 9)}[{start}:{stop}]", 9
        if isinstance(expr, ast.ListComp):
            return self.comprehension(expr), 9
        if isinstance(expr, ast.FuncCall) and expr.name == "log" and len(expr.args) == 2:
            # the very quotient math.log(x, base) computes, which ruff (FURB163) would have as log2
            x, base = (self.emit(a.value, 0) for a in expr.args)
            return f"math.log({x}) / math.log({base})", 6
        if isinstance(expr, ast.FuncCall):  # builtins, which no generated name shadows
            name = f"math.{expr.name}" if expr.name in _MATH else expr.name
            call = f"{name}({', '.join(self.emit(a.value, 0) for a in expr.args)})"
            return (f"tuple({call})" if expr.name == "range" else call), 9  # a spec's range is a list
        if isinstance(expr, ast.Ternary):
            return f"{self.emit(expr.then, 1)} if {self.emit(expr.condition, 1)} else {self.emit(expr.orelse, 0)}", 0
        if isinstance(expr, ast.UnaryOp):
            return (f"not {self.emit(expr.operand, 3)}", 3) if expr.op == "not" else (self.negative(expr), 7)
        if isinstance(expr, _Chain):
            first = expr.first
            return " ".join(
                [self.emit(first.left, 5), first.op, self.emit(first.right, 5), expr.op, self.emit(expr.right, 5)]
            ), 4
        if expr.op == "/":  # the spec's division: an integer when exact
            return f"exact_div({self.emit(expr.left, 0)}, {self.emit(expr.right, 0)})", 9
        if expr.op == "**":  # right-associative, and tighter than a unary minus on its left
            left, right = self.emit(expr.left, 9), self.emit(expr.right, 7)
            return f"{left}{' ** ' if not (_simple(expr.left) and _simple(expr.right)) else '**'}{right}", 8
        level = _LEVEL[expr.op]
        left = self.emit(expr.left, level + 1 if level == 4 else level)
        return f"{left} {expr.op} {self.emit(expr.right, level + 1)}", level

    def comprehension(self, expr: ast.ListComp) -> str:
        """`[f(x) for x in xs if c]` as a tuple, as every spec list is in Python; the loop's names
        are the spec's where no constant's source and no builtin already uses them."""
        taken = set(self.consts.values()) | _BUILTINS
        local = {
            n: n if n not in taken and n.isidentifier() and not keyword.iskeyword(n) else f"{n}_" for n in expr.names
        }
        inner = _Writer(self.consts | local, self.shape_of)
        condition = "" if expr.condition is None else f" if {inner.emit(expr.condition, 1)}"
        targets = ", ".join(local[n] for n in expr.names)
        iterable = expr.iterable
        if isinstance(iterable, ast.FuncCall) and iterable.name == "range":  # Python's own range
            source = "range(" + ", ".join(self.emit(a.value, 0) for a in iterable.args) + ")"
        else:
            source = self.emit(iterable, 1)
        return f"tuple({inner.emit(expr.item, 0)} for {targets} in {source}{condition})"

    def negative(self, expr: ast.UnaryOp) -> str:
        if isinstance(expr.operand, ast.BinOp) and expr.operand.op == "**":  # as ruff writes it: -(2**2)
            return f"-({self.emit(expr.operand, 0)})"
        return f"-{self.emit(expr.operand, 7)}"


def _simple(expr: ast.Expr) -> bool:
    """An operand that ruff writes `**` against without spaces: a name, a number, an attribute
    (or one of these negated)."""
    if isinstance(expr, ast.UnaryOp) and expr.op == "-":
        return _simple(expr.operand)
    return isinstance(expr, ast.Name) or (
        isinstance(expr, ast.Literal) and isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool)
    )


# ---- rewrites -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chain:
    """`a < b < c`, made of `a < b and b < c`."""

    first: ast.BinOp
    op: str
    right: ast.Expr
    span: Any


def simplify(expr: ast.Expr) -> ast.Expr:
    """`expr` with the spellings that ruff flags rewritten, children first (a folded comparison
    can make its parent foldable: `c and 1 == 2` → `c and False` → `False`)."""
    expr = _map_children(expr, simplify)
    for rule in (_constant_comparison, _negation, _boolean, _chain, _conditional, _redundant_int):
        expr = rule(expr)
    return expr


def _map_children(expr: ast.Expr, function: Callable[[ast.Expr], ast.Expr]) -> ast.Expr:
    changes: dict[str, Any] = {}
    for field in fields(expr):  # type: ignore[arg-type]
        value = getattr(expr, field.name)
        if isinstance(
            value,
            (
                ast.Literal,
                ast.Name,
                ast.Attr,
                ast.BinOp,
                ast.UnaryOp,
                ast.Ternary,
                ast.ListExpr,
                ast.Index,
                ast.FuncCall,
                ast.Slice,
                ast.ListComp,
            ),
        ):
            changes[field.name] = function(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], ast.Arg):
            changes[field.name] = tuple(replace(a, value=function(a.value)) for a in value)
        elif isinstance(value, tuple) and not any(isinstance(v, str) for v in value):
            changes[field.name] = tuple(function(v) for v in value)
    return replace(expr, **changes) if changes else expr  # type: ignore[type-var]


def _redundant_int(expr: ast.Expr) -> ast.Expr:
    """RUF046: `int(ceil(x))` is `ceil(x)`, already an integer (so are floor, round of one argument,
    int and len)."""
    if not (isinstance(expr, ast.FuncCall) and expr.name == "int" and len(expr.args) == 1):
        return expr
    inner = expr.args[0].value
    if isinstance(inner, ast.FuncCall) and (
        inner.name in ("floor", "ceil", "int", "len") or (inner.name == "round" and len(inner.args) == 1)
    ):
        return inner
    return expr


def _same(a: ast.Expr, b: ast.Expr) -> bool:
    """The same expression, wherever written (spans aside)."""
    return _form(a) == _form(b)


def _form(node: Any) -> Any:
    if isinstance(node, tuple):
        return tuple(_form(n) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        return (type(node).__name__, *(_form(getattr(node, f)) for f in node.__dataclass_fields__ if f != "span"))
    return node


def _literal(value: Any, like: ast.Expr) -> ast.Literal:
    return ast.Literal(value, like.span)  # type: ignore[union-attr]


def _is(expr: ast.Expr, value: bool) -> bool:
    return isinstance(expr, ast.Literal) and expr.value is value


def _constant_comparison(expr: ast.Expr) -> ast.Expr:
    """PLR0133, PLR0124: `5 != 5`, `a == a` are their results."""
    if not isinstance(expr, ast.BinOp) or expr.op not in _SELF:
        return expr
    if _same(expr.left, expr.right):
        return _literal(_SELF[expr.op], expr)
    if _names(expr):
        return expr
    try:
        value = evaluate(expr, {})
    except (EvalError, ArithmeticError, TypeError, ValueError):
        return expr
    return _literal(value, expr) if isinstance(value, bool) else expr


def _names(node: Any) -> bool:
    """Whether `node` reads any name (a constant, a value or a word) or a shape."""
    if isinstance(node, (ast.Name, ast.Attr)):
        return True
    if isinstance(node, tuple):
        return any(_names(n) for n in node)
    return hasattr(node, "__dataclass_fields__") and any(_names(getattr(node, f)) for f in node.__dataclass_fields__)


def _negation(expr: ast.Expr) -> ast.Expr:
    """SIM201, SIM202, SIM208: `not a == b` → `a != b`; `not not c` → `bool(c)`."""
    if not isinstance(expr, ast.UnaryOp) or expr.op != "not":
        return expr
    inner = expr.operand
    if isinstance(inner, ast.BinOp) and inner.op in _NEGATED:
        return replace(inner, op=_NEGATED[inner.op], span=expr.span)
    if isinstance(inner, ast.UnaryOp) and inner.op == "not":
        return ast.FuncCall("bool", (ast.Arg(None, inner.operand, inner.span),), expr.span)
    if isinstance(inner, ast.Literal) and isinstance(inner.value, bool):
        return _literal(not inner.value, expr)
    return expr


def _boolean(expr: ast.Expr) -> ast.Expr:
    """SIM220-223: `c or true` → `True`, `c and false` → `False`, `c and not c` → `False`,
    `c or not c` → `True`; `c and true` → `c`, `c or false` → `c`."""
    if not isinstance(expr, ast.BinOp) or expr.op not in ("and", "or"):
        return expr
    absorbing = expr.op == "or"  # True absorbs an `or`, False an `and`
    left, right = expr.left, expr.right
    if _is(left, absorbing) or _is(right, absorbing) or _complementary(left, right):
        return _literal(absorbing, expr)
    if _is(left, not absorbing):
        return right
    if _is(right, not absorbing):
        return left
    return expr


def _complementary(a: ast.Expr, b: ast.Expr) -> bool:
    def negates(x: ast.Expr, y: ast.Expr) -> bool:
        return isinstance(x, ast.UnaryOp) and x.op == "not" and _same(x.operand, y)

    return negates(a, b) or negates(b, a)


def _chain(expr: ast.Expr) -> ast.Expr:
    """PLR1716: `a < b and b < c` → `a < b < c` (comparisons the same way round)."""
    if not (isinstance(expr, ast.BinOp) and expr.op == "and"):
        return expr
    left, right = expr.left, expr.right
    if not (
        isinstance(left, ast.BinOp)
        and isinstance(right, ast.BinOp)
        and left.op in _ORDER
        and right.op in _ORDER
        and (left.op in "<=") == (right.op in "<=")
        and _same(left.right, right.left)
    ):
        return expr
    return _Chain(left, right.op, right.right, expr.span)  # type: ignore[return-value]


def _conditional(expr: ast.Expr) -> ast.Expr:
    """RUF034, SIM210, SIM211, FURB136: `x if c else x` → `x`, `x if true else y` → `x`;
    `true if c else false` → `bool(c)`,
    `false if c else true` → `not c`; `a if a > b else b` → `max(a, b)` (and the like)."""
    if not isinstance(expr, ast.Ternary):
        return expr
    then, orelse, condition = expr.then, expr.orelse, expr.condition
    if _same(then, orelse) or _is(condition, True):
        return then
    if _is(condition, False):
        return orelse
    if _is(then, True) and _is(orelse, False):
        return ast.FuncCall("bool", (ast.Arg(None, condition, condition.span),), expr.span)
    if _is(then, False) and _is(orelse, True):
        return _negation(ast.UnaryOp("not", condition, expr.span))
    if isinstance(condition, ast.BinOp) and condition.op in _ORDER:
        a, b = condition.left, condition.right
        larger = condition.op in (">", ">=")
        if _same(then, a) and _same(orelse, b):
            return _call("max" if larger else "min", a, b, expr)
        if _same(then, b) and _same(orelse, a):
            return _call("min" if larger else "max", a, b, expr)
    return expr


def _call(name: str, a: ast.Expr, b: ast.Expr, like: ast.Ternary) -> ast.FuncCall:
    return ast.FuncCall(name, (ast.Arg(None, a, a.span), ast.Arg(None, b, b.span)), like.span)
