"""Compile-time functions (`def make_divisible(v, d = 8) = ...`): the checks a program's `def`s
need before anything calls them, and calls written out in place for the backends.

`evaluate` (netdsl.checker.values) calls them while elaborating; the PyTorch backend, which
writes expressions as Python, writes a call as the function's expression with the arguments in
place of its parameters (`inline`): a function is one expression, and none recurses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from netdsl.checker.calls import pair_args
from netdsl.core.diagnostics import Diagnostic, error
from netdsl.language import ast


def recursion(functions: Mapping[str, ast.Function]) -> list[Diagnostic]:
    """An error at each call that closes a cycle of functions (`f` calling `f`, or `g` calling `f`
    that calls `g`): a compile-time function may not recurse."""
    found: list[Diagnostic] = []
    for function in functions.values():
        for call in _calls(function.body):
            path = _path_back(call.name, function.name, functions, ())
            if path is not None:
                cycle = " → ".join((function.name, *path))
                found.append(
                    error(
                        f"function '{function.name}' calls itself ({cycle}): a compile-time function cannot recurse",
                        call.span,
                    )
                )
    return found


def _path_back(
    name: str, target: str, functions: Mapping[str, ast.Function], seen: tuple[str, ...]
) -> tuple[str, ...] | None:
    if name == target:
        return (name,)
    if name not in functions or name in seen:
        return None
    for call in _calls(functions[name].body):
        rest = _path_back(call.name, target, functions, (*seen, name))
        if rest is not None:
            return (name, *rest)
    return None


def _calls(node: Any) -> Iterator[ast.FuncCall]:
    return (n for n in ast.walk(node) if isinstance(n, ast.FuncCall))


def inline(expr: Any, functions: Mapping[str, ast.Function]) -> Any:
    """`expr` with every call of a function replaced by the function's expression, its parameters
    replaced by the call's arguments (defaults where none is given)."""
    if not functions:
        return expr
    if isinstance(expr, tuple):
        return tuple(inline(item, functions) for item in expr)
    if not hasattr(expr, "_names"):
        return expr
    changed = type(expr)(*(inline(getattr(expr, n), functions) for n in expr._names))
    if isinstance(changed, ast.FuncCall) and changed.name in functions:
        function = functions[changed.name]
        matched, _ = pair_args(changed.args, [p.name for p in function.params], function.name)
        bound: dict[str, ast.Expr] = {}
        for param in function.params:
            given = matched.get(param.name)
            value = given.value if given is not None else _substitute(param.default, bound)
            bound[param.name] = value  # type: ignore[assignment]
        return inline(_substitute(function.body, bound), functions)
    return changed


def _substitute(expr: Any, bound: Mapping[str, ast.Expr]) -> Any:
    if isinstance(expr, ast.Name) and expr.id in bound:
        return bound[expr.id]
    if isinstance(expr, ast.ListComp):  # its own names hide the parameters they shadow
        inner = {k: v for k, v in bound.items() if k not in expr.names}
        return ast.ListComp(
            _substitute(expr.item, inner),
            expr.names,
            _substitute(expr.iterable, bound),
            _substitute(expr.condition, inner),
            expr.span,
        )
    if isinstance(expr, tuple):
        return tuple(_substitute(item, bound) for item in expr)
    if not hasattr(expr, "_names"):
        return expr
    return type(expr)(*(_substitute(getattr(expr, n), bound) for n in expr._names))
