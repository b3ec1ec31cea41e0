"""Layers as arguments: a block parameter that its body uses as a layer (`-> act`).

Used by `elaborate` (which checks the argument at the call and writes the layer in place) and
by the PyTorch backend (which writes a class for each layer a block is given). A layer value
is an op or a block, bare (`hardswish`) or with arguments (`leaky_relu(0.1)`,
`SqueezeExcitation(8)`), or `none`: no layer at all. Its arguments are worked out at the call,
in the caller's constants, and the layer is then written where the body names the parameter,
as if it had been written there (`-> act` with act=hardswish is `-> hardswish`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from netdsl.checker.calls import pair_args
from netdsl.checker.ops import OPS
from netdsl.checker.values import EvalError, Symbol, ValueRef, describe, evaluate
from netdsl.core.diagnostics import Span, did_you_mean
from netdsl.language import ast

NONE = "none"  # the layer that is no layer: `act=none`


@dataclass(frozen=True)
class Layer:
    """An op or a block given as an argument, with the values of its arguments (None: bare)."""

    name: str
    values: tuple[tuple[str | None, Any], ...] | None = None
    args: tuple[ast.Arg, ...] | None = field(default=None, compare=False, repr=False)  # as literals

    def __str__(self) -> str:
        if self.values is None:
            return self.name
        inside = ", ".join((f"{n}=" if n else "") + _shown(v) for n, v in self.values)
        return f"{self.name}({inside})"

    def call(self, step: ast.Call) -> ast.Call:
        """The call this layer stands for where the body names it (`-> act`), with that step's label."""
        return ast.Call(step.label, self.name, self.args, step.span, step.name_span)


def _shown(value: Any) -> str:
    if isinstance(value, Layer):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return describe(value).strip('"') if isinstance(value, Symbol) else describe(value)


def layer_params(
    definition: ast.Definition, definitions: Mapping[str, ast.Definition], seen: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The parameters that the definition's body uses as layers: a step named after one, or an
    argument passed on to another block's layer parameter (`ConvBNAct(out, act=act)`)."""
    params = {p.name for p in definition.params}
    found: set[str] = set()
    for step in ast.nested_steps(definition.body.statements):
        if not isinstance(step, ast.Call):
            continue
        if step.name in params and step.name not in OPS and step.name not in definitions:
            found.add(step.name)  # (a parameter named like an op or a block leaves the step to it)
        callee = definitions.get(step.name)
        if callee is None or callee.kind != "block" or callee.name in seen or not step.args:
            continue
        inner = layer_params(callee, definitions, seen | {definition.name})
        matched, _ = pair_args(step.args, [p.name for p in callee.params], callee.name)
        found |= {
            a.value.id
            for n, a in matched.items()
            if n in inner and isinstance(a.value, ast.Name) and a.value.id in params
        }
    return frozenset(found)


def is_layer_name(name: str, blocks: Collection[str]) -> bool:
    return name == NONE or (name in OPS and not OPS[name].merge) or name in blocks


def to_layer(expr: ast.Expr, env: Mapping[str, Any], blocks: Collection[str]) -> Layer:
    """The layer `expr` names in `env`; EvalError at its span when it names no layer."""
    if isinstance(expr, ast.Name):
        bound = env.get(expr.id)
        if isinstance(bound, Layer):
            return bound
        if expr.id not in env and is_layer_name(expr.id, blocks):
            return Layer(expr.id)
        if expr.id not in env:
            hint = did_you_mean(expr.id, [NONE, *(n for n in OPS if not OPS[n].merge), *blocks])
            raise EvalError(f"unknown op or block '{expr.id}'", expr.span, hint)
    if isinstance(expr, ast.FuncCall) and is_layer_name(expr.name, blocks) and expr.name != NONE:
        args = tuple(ast.Arg(a.name, _argument(a.value, env, blocks), a.span) for a in expr.args)
        values = tuple((a.name, _frozen(_value_of(a.value, env, blocks))) for a in args)
        return Layer(expr.name, values, args)
    value = evaluate(expr, env)
    if isinstance(value, Layer):
        return value
    if isinstance(value, Symbol) and is_layer_name(value.name, blocks):  # a word from a list: `for act in [relu]`
        return Layer(value.name)
    raise EvalError(
        f"expects a layer (an op or a block, such as relu or leaky_relu(0.1)), got {describe(value)}", expr.span
    )


def _argument(expr: ast.Expr, env: Mapping[str, Any], blocks: Collection[str]) -> ast.Expr:
    """A layer's argument as a literal expression, worked out in the caller's constants."""
    return as_expr(_value_of(expr, env, blocks), expr.span)


def _value_of(expr: ast.Expr, env: Mapping[str, Any], blocks: Collection[str]) -> Any:
    if isinstance(expr, ast.FuncCall) and is_layer_name(expr.name, blocks):
        return to_layer(expr, env, blocks)
    if isinstance(
        expr,
        ast.Literal
        | ast.Name
        | ast.Attr
        | ast.BinOp
        | ast.UnaryOp
        | ast.Ternary
        | ast.ListExpr
        | ast.Index
        | ast.FuncCall,
    ):
        value = evaluate(expr, env)
        if isinstance(value, ValueRef):
            raise EvalError("a layer's argument is a number, a list or a word, not a tensor value", expr.span)
        return value
    return evaluate(expr, env)


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value.name if isinstance(value, Symbol) else value


def as_expr(value: Any, span: Span) -> ast.Expr:
    """A compile-time value written back as an expression that evaluates to it."""
    if isinstance(value, Layer):
        if value.args is None:
            return ast.Name(value.name, span)
        return ast.FuncCall(value.name, value.args, span)
    if isinstance(value, Symbol):
        return ast.Name(value.name, span)
    if isinstance(value, list | tuple):
        return ast.ListExpr(tuple(as_expr(v, span) for v in value), span)
    return ast.Literal(value, span)


# ---- words compared in `if` -------------------------------------------------------------------


def compared_words(definition: ast.Definition) -> dict[str, frozenset[str]]:
    """The parameters that the body reads only in `if` chains comparing them with words and with
    no final `else` (`if act == silu {...} else if act == relu {...}`), each with those words:
    any other word would take no branch."""
    params = {p.name for p in definition.params}
    reads: dict[str, int] = {}
    words: dict[str, set[str]] = {}
    open_ended: set[str] = set()
    for node in ast.walk((definition.body, tuple(p.default for p in definition.params if p.default))):
        if isinstance(node, ast.Name) and node.id in params:
            reads[node.id] = reads.get(node.id, 0) + 1
        elif isinstance(node, ast.Call) and node.name in params:
            reads[node.name] = reads.get(node.name, 0) + 1
        elif isinstance(node, ast.If) and (tested := _tested(node.condition, params)) is not None:
            name, found = tested
            words.setdefault(name, set()).update(found)
            reads[name] = reads.get(name, 0) - len(found)
            if node.orelse is not None and _tested_branch(node.orelse, params) != name:
                open_ended.add(name)  # a final else takes any other word
    return {n: frozenset(found) for n, found in words.items() if reads.get(n, 0) == 0 and n not in open_ended}


def _tested(condition: ast.Expr, params: set[str]) -> tuple[str, set[str]] | None:
    """`p == w` or `p == a or p == b`: the parameter and the words; None for any other condition."""
    if isinstance(condition, ast.BinOp) and condition.op == "or":
        left, right = _tested(condition.left, params), _tested(condition.right, params)
        if left is None or right is None or left[0] != right[0]:
            return None
        return left[0], left[1] | right[1]
    if isinstance(condition, ast.BinOp) and condition.op == "==":
        for side, other in ((condition.left, condition.right), (condition.right, condition.left)):
            word = _word(other, params)
            if isinstance(side, ast.Name) and side.id in params and word is not None:
                return side.id, {word}
    return None


def _tested_branch(body: ast.Body, params: set[str]) -> str | None:
    """The parameter an `else if` tests, where the else branch is just that."""
    if len(body.statements) != 1 or not isinstance(body.statements[0], ast.Flow):
        return None
    steps = body.statements[0].chain.steps
    if len(steps) != 1 or not isinstance(steps[0], ast.If):
        return None
    tested = _tested(steps[0].condition, params)
    return None if tested is None else tested[0]


def _word(expr: ast.Expr, params: set[str]) -> str | None:
    if isinstance(expr, ast.Name) and expr.id not in params:
        return expr.id
    if isinstance(expr, ast.Literal) and isinstance(expr.value, str):
        return expr.value
    return None
