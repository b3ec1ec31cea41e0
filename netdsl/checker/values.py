"""Compile-time values: evaluating spec expressions and checking arguments against their kinds.

Used by `elaborate`. Expressions are integers, floats, booleans, strings, lists, references
to named tensor values (`ValueRef`) and their shape attributes (`in.channels`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from netdsl.checker.calls import pair_args
from netdsl.checker.ops import PADDING_MODES, Shape
from netdsl.core.diagnostics import Span, did_you_mean
from netdsl.language import ast


@dataclass(frozen=True)
class ValueRef:
    """A tensor value of the graph being built: the node that makes it and its shape."""

    node: int
    shape: Shape | None  # None: unknown, because of an error upstream


@dataclass(frozen=True)
class Symbol:
    """A bare name that is bound to nothing: `same` in `padding=same`, or a typo."""

    name: str
    span: Span


class EvalError(Exception):
    def __init__(self, message: str, span: Span, hint: str | None = None):
        super().__init__(message)
        self.message, self.span, self.hint = message, span, hint


class Poisoned(Exception):
    """An expression needs a shape that an earlier error left unknown: skip, say nothing."""


SHAPE_ATTRS = ("channels", "height", "width", "features")

_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
    "%": operator.mod,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
MAX_LIST = 100_000  # items a range or a comprehension may make
MAX_BITS = 4096  # an integer power past this many bits is refused (2 ** 10 ** 9 would take minutes)
MAX_CALL_DEPTH = 64  # compile-time functions calling functions


def _int(x: float) -> int:
    if not math.isfinite(x):
        raise ValueError(f"int() of {x} is no integer")
    return int(x)


def _rounded(x: float, digits: int | None = None) -> int | float:
    if digits is not None and not _is_int(digits):
        raise ValueError("round()'s second argument is a number of digits: an integer")
    if not math.isfinite(x):
        raise ValueError(f"round() of {x} is no integer")
    return round(x) if digits is None else round(x, digits)


def _log(x: float, base: float | None = None) -> float:
    if x <= 0 or (base is not None and (base <= 0 or base == 1)):
        raise ValueError("log() takes a positive number (and a positive base other than 1)")
    return math.log(x) if base is None else math.log(x, base)


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError(f"sqrt() takes a number of at least 0, got {x}")
    return math.sqrt(x)


def power(base: int | float, exponent: int | float) -> int | float:
    """`base ** exponent` as Python computes it, refusing results too large to hold."""
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        if exponent * math.log2(abs(base)) > MAX_BITS:
            raise ValueError(f"the result is too large for a number (over 2^{MAX_BITS})")
    if base == 0 and exponent < 0:
        raise ValueError("0 cannot be raised to a negative power")
    result = base**exponent
    if isinstance(result, complex):
        raise ValueError("a negative number raised to a fractional power is no real number")
    return result


# functions of numbers: every argument is checked to be a number; ValueError says what is wrong
_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": _int,
    "round": _rounded,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": _log,
    "sqrt": _sqrt,
    "pow": power,
}
_ARITY = {"int": (1, 1), "round": (1, 2), "floor": (1, 1), "ceil": (1, 1), "log": (1, 2), "sqrt": (1, 1),
          "pow": (2, 2), "abs": (1, 1)}

# the compile-time functions (`def`) of the program being elaborated, by name
FUNCTIONS: ContextVar[Mapping[str, ast.Function]] = ContextVar("netdsl_functions", default=MappingProxyType({}))
_DEPTH: ContextVar[int] = ContextVar("netdsl_call_depth", default=0)


@contextmanager
def functions_in_scope(functions: Mapping[str, ast.Function]) -> Iterator[None]:
    """Make a program's `def`s callable from `evaluate` while the block runs."""
    token = FUNCTIONS.set(functions)
    try:
        yield
    finally:
        FUNCTIONS.reset(token)


def evaluate(expr: ast.Expr, env: Mapping[str, Any]) -> Any:
    """The value of `expr` in `env`; unbound bare names come back as `Symbol`s."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.Name):
        return env[expr.id] if expr.id in env else Symbol(expr.id, expr.span)
    if isinstance(expr, ast.Attr):
        return _shape_attr(expr, env)
    if isinstance(expr, ast.ListExpr):
        return [evaluate(item, env) for item in expr.items]
    if isinstance(expr, ast.Index):
        return _index(expr, env)
    if isinstance(expr, ast.UnaryOp):
        return _unary(expr, env)
    if isinstance(expr, ast.FuncCall):
        return _func(expr, env)
    if isinstance(expr, ast.Ternary):
        chosen = expr.then if truth(evaluate(expr.condition, env), expr.condition, env) else expr.orelse
        return evaluate(chosen, env)
    if isinstance(expr, ast.Slice):
        return _slice(expr, env)
    if isinstance(expr, ast.ListComp):
        return _comprehension(expr, env)
    return _binary(expr, env)


def _slice(expr: ast.Slice, env: Mapping[str, Any]) -> list[Any]:
    items = evaluate(expr.value, env)
    if isinstance(items, Symbol):
        raise undefined(items, env)
    if not isinstance(items, list):
        raise EvalError(f"only a list can be sliced, not {describe(items)}", expr.value.span)
    bounds = []
    for bound in (expr.start, expr.stop):
        value = None if bound is None else evaluate(bound, env)
        if isinstance(value, Symbol):
            raise undefined(value, env)
        if value is not None and not _is_int(value):
            raise EvalError(f"a slice's bounds are integers, got {describe(value)}", bound.span)  # type: ignore[union-attr]
        bounds.append(value)
    return items[bounds[0] : bounds[1]]


def _comprehension(expr: ast.ListComp, env: Mapping[str, Any]) -> list[Any]:
    items = evaluate(expr.iterable, env)
    if isinstance(items, Symbol):
        raise undefined(items, env)
    if not isinstance(items, list):
        raise EvalError(f"a comprehension goes through a list, not {describe(items)}", expr.iterable.span)
    made = []
    for item in items:
        if len(expr.names) == 1:
            inner = dict(env) | {expr.names[0]: item}
        elif isinstance(item, list) and len(item) == len(expr.names):
            inner = dict(env) | dict(zip(expr.names, item, strict=True))
        else:
            raise EvalError(f"cannot unpack {describe(item)} into {len(expr.names)} names ({', '.join(expr.names)})",
                            expr.iterable.span)
        if expr.condition is None or truth(evaluate(expr.condition, inner), expr.condition, inner):
            made.append(evaluate(expr.item, inner))
    return made


def _number(value: Any, expr: ast.Expr, env: Mapping[str, Any]) -> int | float:
    if isinstance(value, Symbol):
        raise undefined(value, env)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EvalError(f"expected a number, got {describe(value)}", expr.span)
    return value


def undefined(symbol: Symbol, env: Mapping[str, Any]) -> EvalError:
    return EvalError(f"undefined name '{symbol.name}'", symbol.span, did_you_mean(symbol.name, env))


def truth(value: Any, expr: ast.Expr, env: Mapping[str, Any]) -> bool:
    if isinstance(value, Symbol):
        raise undefined(value, env)
    if not isinstance(value, bool):
        raise EvalError(f"expected true or false, got {describe(value)}", expr.span)
    return value


def _binary(expr: ast.BinOp, env: Mapping[str, Any]) -> Any:
    if expr.op in ("and", "or"):
        first = truth(evaluate(expr.left, env), expr.left, env)
        if first == (expr.op == "or"):
            return first
        return truth(evaluate(expr.right, env), expr.right, env)
    if expr.op in ("==", "!=") and (words := _words(expr, env)) is not None:
        return (words[0] == words[1]) == (expr.op == "==")
    left = _number(evaluate(expr.left, env), expr.left, env)
    right = _number(evaluate(expr.right, env), expr.right, env)
    if expr.op in _COMPARE:
        return _COMPARE[expr.op](left, right)
    if expr.op in ("/", "//", "%") and right == 0:
        raise EvalError("division by zero", expr.span)
    try:
        if expr.op == "**":
            return _checked(power(left, right), expr)
        if expr.op == "/":
            exact = isinstance(left, int) and isinstance(right, int) and left % right == 0
            return left // right if exact else left / right
        result = _ARITH[expr.op](left, right)
    except OverflowError:  # an integer too large to become a float
        raise EvalError("the result is too large for a number (over 1.8e308)", expr.span) from None
    except (ValueError, ZeroDivisionError) as exc:
        raise EvalError(str(exc), expr.span) from None
    if isinstance(result, float) and not math.isfinite(result):
        raise EvalError("the result is too large for a number (over 1.8e308)", expr.span)
    return result


def _checked(result: Any, expr: ast.Expr) -> Any:
    if isinstance(result, float) and not math.isfinite(result):
        raise EvalError("the result is too large for a number (over 1.8e308)", expr.span)
    return result


def _words(expr: ast.BinOp, env: Mapping[str, Any]) -> tuple[str, str] | None:
    """Both sides of `act == relu` as words, when one is a bound word (a parameter whose value is
    a word or a string) and the other a word or a string; None when this is no word comparison.
    Two unbound names compare nothing: the left one is a typo (an undefined name)."""
    sides = [evaluate(side, env) for side in (expr.left, expr.right)]
    is_word = [isinstance(v, (str, Symbol)) for v in sides]
    if not any(is_word):
        return None
    unbound = [isinstance(side, ast.Name) and side.id not in env for side in (expr.left, expr.right)]
    if not all(is_word) or all(unbound):
        for value, free in zip(sides, unbound, strict=True):
            if free:
                raise undefined(value, env)
        shown = " with ".join(describe(v) for v in sides)
        raise EvalError(f"cannot compare {shown}: a word compares with a word", expr.span)
    names = [v.name if isinstance(v, Symbol) else v for v in sides]
    return names[0], names[1]


def _unary(expr: ast.UnaryOp, env: Mapping[str, Any]) -> Any:
    value = evaluate(expr.operand, env)
    if expr.op == "not":
        return not truth(value, expr.operand, env)
    return -_number(value, expr.operand, env)


def _index(expr: ast.Index, env: Mapping[str, Any]) -> Any:
    items = evaluate(expr.value, env)
    if isinstance(items, Symbol):
        raise undefined(items, env)
    if not isinstance(items, list):
        raise EvalError(f"only a list can be indexed, not {describe(items)}", expr.value.span)
    position = evaluate(expr.index, env)
    if isinstance(position, Symbol):
        raise undefined(position, env)
    if isinstance(position, bool) or not isinstance(position, int):
        raise EvalError(f"a list index is an integer, got {describe(position)}", expr.index.span)
    if not -len(items) <= position < len(items):
        raise EvalError(f"index {describe(position)} is out of range for a list of {len(items)} items",
                        expr.index.span)
    return items[position]


def _len(items: Any) -> int:
    if not isinstance(items, list):
        raise TypeError(f"len() takes a list, not {describe(items)}")
    return len(items)


def _range(*bounds: Any) -> list[int]:
    if not 1 <= len(bounds) <= 3 or not all(_is_int(b) for b in bounds):
        raise TypeError("range() takes 1 to 3 integers: range(stop), range(start, stop) or range(start, stop, step)")
    if len(bounds) == 3 and bounds[2] == 0:
        raise TypeError("range() step cannot be 0")
    span = range(*bounds)
    try:
        size = len(span)
    except OverflowError:  # more numbers than a machine word counts
        size = 10**100
    if size > 100_000:
        shown = f"{size:,}" if size < 10**30 else "astronomically many"
        raise TypeError(f"range() of {shown} numbers is over netdsl's limit of 100,000")
    return list(span)


def _sum(items: Any) -> int | float:
    if not isinstance(items, list) or not all(_is_number(v) for v in items):
        raise TypeError(f"sum() takes a list of numbers, not {describe(items)}")
    return sum(items)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# functions over lists: their arguments are not checked to be numbers
_LIST_FUNCS: dict[str, Callable[..., Any]] = {"len": _len, "range": _range, "sum": _sum}
BUILTINS = (*_FUNCS, *_LIST_FUNCS)


def _func(expr: ast.FuncCall, env: Mapping[str, Any]) -> Any:
    defined = FUNCTIONS.get().get(expr.name)
    if defined is not None:
        return _call(defined, expr, env)
    if expr.name not in _FUNCS and expr.name not in _LIST_FUNCS:
        raise EvalError(f"unknown function '{expr.name}'", expr.span,
                        did_you_mean(expr.name, [*BUILTINS, *FUNCTIONS.get()]))
    if not expr.args or any(a.name for a in expr.args):
        raise EvalError(f"{expr.name}() takes one or more plain arguments", expr.span)
    low, high = _ARITY.get(expr.name, (1, 1 if expr.name in ("len", "sum") else 99))
    if not low <= len(expr.args) <= high:
        count = f"{low}" if low == high else f"{low} or {high}"
        raise EvalError(f"{expr.name}() takes {count} argument{'s' * (high != 1)}, got {len(expr.args)}", expr.span)
    if expr.name in _LIST_FUNCS:
        values = [evaluate(a.value, env) for a in expr.args]
        for value in values:
            if isinstance(value, Symbol):
                raise undefined(value, env)
        try:
            return _LIST_FUNCS[expr.name](*values)
        except TypeError as exc:
            raise EvalError(str(exc), expr.span) from None
    numbers = [_number(evaluate(a.value, env), a.value, env) for a in expr.args]
    try:
        return _checked(_FUNCS[expr.name](*numbers), expr)
    except (ValueError, OverflowError, ZeroDivisionError) as exc:
        raise EvalError(str(exc) if not isinstance(exc, OverflowError) else
                        "the result is too large for a number (over 1.8e308)", expr.span) from None


def _call(function: ast.Function, expr: ast.FuncCall, env: Mapping[str, Any]) -> Any:
    """A compile-time function: its parameters bound to the call's values, its expression's value."""
    matched, problems = pair_args(expr.args, [p.name for p in function.params], f"function '{function.name}'")
    if problems:
        raise EvalError(problems[0].message, problems[0].span, problems[0].hint)
    inner: dict[str, Any] = {}
    for param in function.params:
        if param.name in matched:
            value = evaluate(matched[param.name].value, env)
        elif param.default is not None:
            value = evaluate(param.default, inner)
        else:
            raise EvalError(f"function '{function.name}' needs argument '{param.name}'", expr.span)
        if isinstance(value, Symbol):
            raise undefined(value, env)
        if isinstance(value, ValueRef):
            raise EvalError(f"function '{function.name}' works on numbers, lists and words, not tensor values",
                            matched[param.name].value.span)
        inner[param.name] = value
    if _DEPTH.get() >= MAX_CALL_DEPTH:
        raise EvalError(f"functions call functions more than {MAX_CALL_DEPTH} deep here", expr.span)
    token = _DEPTH.set(_DEPTH.get() + 1)
    try:
        return evaluate(function.body, inner)
    finally:
        _DEPTH.reset(token)


def _shape_attr(expr: ast.Attr, env: Mapping[str, Any]) -> int:
    base = env.get(expr.value.id)
    if not isinstance(base, ValueRef):
        raise EvalError(f"'{expr.value.id}' is not a tensor value", expr.value.span, did_you_mean(
            expr.value.id, [k for k, v in env.items() if isinstance(v, ValueRef)]))
    if expr.attr not in SHAPE_ATTRS:
        raise EvalError(f"unknown shape attribute '{expr.attr}'", expr.span,
                        did_you_mean(expr.attr, SHAPE_ATTRS) or "one of " + ", ".join(SHAPE_ATTRS))
    if base.shape is None:
        raise Poisoned()
    if expr.attr == "features":
        return math.prod(base.shape)
    index = SHAPE_ATTRS.index(expr.attr)
    if len(base.shape) != 3:
        raise EvalError(f"'{expr.attr}' needs a [C, H, W] value; '{expr.value.id}' has shape "
                        f"{list(base.shape)}", expr.span)
    return base.shape[index]


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, ValueRef):
        return "a tensor value"
    if isinstance(value, Symbol):
        return f"'{value.name}'"
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if hasattr(value, "values") and hasattr(value, "call"):  # a layer given as an argument (checker.layers)
        return f"the layer {value}"
    if isinstance(value, int) and abs(value) >= 10**30:  # as a person can read it, however long
        return f"an integer of {leading_digits(abs(value), 1)[1] + 1:,} digits"
    return repr(value)


def leading_digits(number: int, count: int) -> tuple[str, int]:
    """The first `count` decimal digits of a positive integer and its decimal exponent (12345 →
    ("12", 4)), without writing out all its digits (Python refuses past 4,300)."""
    drop = max(0, int(number.bit_length() * 0.30103) - count - 2)  # digits surely beyond the first `count`
    head = str(number // 10**drop)
    return head[:count].ljust(count, "0"), drop + len(head) - 1


# ---- argument kinds -----------------------------------------------------------------------


class KindError(Exception):
    """A value that does not fit an argument's kind; the message says what was expected."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_at_least(low: int, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not _is_int(value) or value < low:
            raise KindError(f"expects {what}, got {describe(value)}")
        return int(value)

    return check


_pos_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "a non-negative integer")


def _pair_of(single: Callable[[Any], int], what: str) -> Callable[[Any], tuple[int, int]]:
    def check(value: Any) -> tuple[int, int]:
        try:
            if isinstance(value, list):
                if len(value) != 2:
                    raise KindError
                return (single(value[0]), single(value[1]))
            number = single(value)
            return (number, number)
        except KindError:
            raise KindError(f"expects {what} or a pair [h, w], got {describe(value)}") from None

    return check


_pair = _pair_of(_pos_int, "a positive integer")
_nonneg_pair = _pair_of(_nonneg_int, "a non-negative integer")


def _padding(value: Any) -> Any:
    word = value.name if isinstance(value, Symbol) else value
    if word in ("same", "valid"):
        return word
    try:
        return _nonneg_pair(value)
    except KindError:
        expected = "a non-negative integer, a pair [h, w], same or valid"
        raise KindError(f"expects {expected}, got {describe(value)}") from None


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KindError(f"expects a number, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise KindError(f"expects a finite number, got {describe(value)}")
    return number


def _pos_float(value: Any) -> float:
    number = _float(value)
    if number <= 0:
        raise KindError(f"expects a positive number, got {describe(value)}")
    return number


def _prob(value: Any) -> float:
    number = _float(value)
    if not 0.0 <= number <= 1.0:
        raise KindError(f"expects a number from 0 to 1, got {describe(value)}")
    return number


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise KindError(f"expects true or false, got {describe(value)}")
    return value


def _weights(value: Any) -> Any:
    """A rectangular nested list of numbers, 2 to 4 levels deep, as nested tuples of floats."""

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, list):
            rows = [walk(x, depth + 1) for x in item]
            if not rows or len({_depth_shape(r) for r in rows}) != 1:
                raise KindError("expects a rectangular nested list of numbers (all rows the same length)")
            return tuple(rows)
        return _float(item)

    if not isinstance(value, list):
        raise KindError(f"expects a nested list of numbers such as [[1, 0, -1], ...], got {describe(value)}")
    result = walk(value, 0)
    if not 2 <= len(_depth_shape(result)) <= 4:
        raise KindError("expects a kernel of 2 to 4 nested levels ([kh][kw], [out][kh][kw] or [out][in][kh][kw])")
    return result


def _depth_shape(item: Any) -> tuple[int, ...]:
    return (len(item), *_depth_shape(item[0])) if isinstance(item, tuple) else ()


def _word(value: Any) -> str:
    """A bare word (`mode=row`) or a string."""
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, str):
        return value
    raise KindError(f"expects a word such as row, got {describe(value)}")


def _padding_mode(value: Any) -> str:
    """A word; the conv's shape rule says which words are modes, at the argument, with a hint."""
    try:
        return _word(value)
    except KindError:
        modes = f"{', '.join(PADDING_MODES[:-1])} or {PADDING_MODES[-1]}"
        raise KindError(f"expects {modes}, got {describe(value)}") from None


def _int_list(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        raise KindError(f"expects a list of integers such as [1, 2, 0], got {describe(value)}")
    return tuple(value)


def _any(value: Any) -> Any:
    return value


KINDS: dict[str, Callable[[Any], Any]] = {
    "pos_int": _pos_int,
    "nonneg_int": _nonneg_int,
    "pair": _pair,
    "nonneg_pair": _nonneg_pair,
    "padding": _padding,
    "float": _float,
    "pos_float": _pos_float,
    "prob": _prob,
    "bool": _bool,
    "weights": _weights,
    "word": _word,
    "padding_mode": _padding_mode,
    "int_list": _int_list,
    "any": _any,
}
