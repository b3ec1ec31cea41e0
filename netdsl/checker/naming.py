"""How layers are named: labels, automatic names (`conv_1`) and scopes (`layer1.0.conv1`).

Shared by `elaborate` (which names the IR's nodes) and the backends (which name module
attributes the same way, so that state_dict keys and ONNX node names are the spec's labels).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from netdsl.checker.calls import pair_args
from netdsl.checker.layers import NONE, Layer, layer_params, to_layer
from netdsl.checker.ops import OPS
from netdsl.checker.values import EvalError, Poisoned, ValueRef, evaluate
from netdsl.core.diagnostics import Span
from netdsl.language import ast

_NOWHERE = Span("", 0, 0, 0, 0)


def snake(name: str) -> str:
    """`ResNet34Features` → `res_net34_features`: the automatic name of a block instance."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def labels(statements: Iterable[ast.Statement]) -> frozenset[str]:
    """The labels written in a body, `if` branches included (they name layers of this scope)."""
    found: set[str] = set()
    for stmt in statements:
        if isinstance(stmt, ast.Input):
            found.add(stmt.name)
        if not isinstance(stmt, (ast.Flow, ast.Bind)):
            continue
        for step in stmt.chain.steps:
            if step.label and not step.label.computed:
                found.add(step.label.name)
            if isinstance(step, (ast.If, ast.For)):  # their layers live in this scope
                found |= labels(ast.step_bodies(step))
    return frozenset(found)


def single_instance(body: ast.Body, definitions: Mapping[str, ast.Definition]) -> bool:
    """A repeat body of exactly one unlabelled block instance: each iteration *is* that instance
    (`layer1.0.conv1`, as torchvision names it, not `layer1.0.basic_1.conv1`)."""
    if len(body.statements) != 1 or not isinstance(body.statements[0], ast.Flow):
        return False
    steps = body.statements[0].chain.steps
    return (
        len(steps) == 1
        and isinstance(steps[0], ast.Call)
        and steps[0].label is None
        and steps[0].inputs is None  # given tensors by name: the iteration reads the scope around it
        and getattr(definitions.get(steps[0].name), "kind", None) == "block"
    )


@dataclass
class Scope:
    """One block instance or repeat iteration: the names its layers have taken."""

    path: tuple[str, ...]
    reserved: frozenset[str]
    collapse: bool = False
    seq: bool = False  # a seq: unlabelled layers are named by their position, as in nn.Sequential
    taken: dict[str, Span] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    position: int = 0  # in a seq: the position of the next layer

    def take(self, label: str, span: Span) -> Span | None:
        """Claim a written label; returns where it was claimed before, if it was."""
        earlier = self.taken.get(label)
        self.taken.setdefault(label, span)
        self.position += 1
        return earlier

    def auto(self, base: str) -> str:
        """The next free automatic name: `base_N` (labels written anywhere in the scope are
        skipped), or in a seq the layer's position."""
        if self.seq:
            name = str(self.position)
            self.take(name, _NOWHERE)
            return name
        n = self.counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}_{n}"
            if candidate not in self.reserved and candidate not in self.taken:
                break
        self.counters[base] = n
        self.taken[candidate] = _NOWHERE
        return candidate

    def name(self, label: ast.Label | None, base: str) -> str:
        if label is None:
            return self.auto(base)
        self.take(label.name, label.span)
        return label.name


# ---- the names of code not elaborated -----------------------------------------------------------

UNKNOWN: Any = object()  # a value known only when the module is built (or not at all)
TENSOR: Any = ValueRef(-1, None)  # a tensor value bound in code not elaborated


def free_names(node: Any) -> set[str]:
    """Every name that the expressions under `node` read."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attr):
        return {node.value.id}
    if isinstance(node, tuple):
        return set().union(*(free_names(item) for item in node)) if node else set()
    if hasattr(node, "__dataclass_fields__"):
        return set().union(*(free_names(getattr(node, f)) for f in node.__dataclass_fields__))
    return set()


def reads_shape(node: Any) -> bool:
    """Whether an expression reads a tensor's shape (`in.channels`)."""
    if isinstance(node, ast.Attr):
        return True
    if isinstance(node, tuple):
        return any(reads_shape(n) for n in node)
    return hasattr(node, "__dataclass_fields__") and any(
        reads_shape(getattr(node, f)) for f in node.__dataclass_fields__
    )


class Untaken:
    """Spends the automatic names of code that is not elaborated (the branch of an `if` not
    taken), exactly as elaborating it would: no layer's name depends on which branch was taken,
    and a generated module, which names its attributes before it knows, agrees with the checker.
    One walker for the checker and the PyTorch emitter, so the two cannot drift apart.

    A for loop is written out once per item, as `for` is elaborated: its iterable is worked out
    from `env` (names bound to `UNKNOWN`, tensors and shapes are not known), and the lets and
    loop names of the untaken code are bound as it goes. A loop over a list not known here
    spends its body's names once; `strict` (the emitter, which knows fewer constants than the
    checker) refuses one over a constant it does not know where that body takes automatic
    names. Inline blocks and layers given as arguments spend the names of what they stand for;
    an inline block already being expanded (`inlined`, from the caller's stack: recursion)
    spends none."""

    def __init__(self, definitions: Mapping[str, ast.Definition], strict: bool = False):
        self.definitions, self.strict = definitions, strict
        # loop iterations walked over every branch given to this walker (one per elaboration): past
        # MAX_WALK a loop spends its body's names once, so that branches not taken cost no more
        # than elaborating a network may
        self.iterations = 0

    def body(
        self,
        statements: Sequence[ast.Statement],
        scope: Scope,
        env: dict[str, Any],
        shared: frozenset[str] = frozenset(),
        inlined: frozenset[str] = frozenset(),
    ) -> None:
        """`shared`: labels the other branch of the same `if` uses, which stay free for it."""
        for stmt in statements:
            if isinstance(stmt, ast.Let):
                env[stmt.name] = self.value(stmt.value, env)
            elif isinstance(stmt, (ast.Flow, ast.Bind)):
                for step in stmt.chain.steps:
                    if step.label is not None and (step.label.computed or step.label.name in shared):
                        continue  # a computed name is not known here, and spends no automatic one
                    self.step(step, scope, env, shared, inlined)
                if isinstance(stmt, ast.Bind):
                    env[stmt.name] = TENSOR

    def step(
        self, step: ast.Step, scope: Scope, env: dict[str, Any], shared: frozenset[str], inlined: frozenset[str]
    ) -> None:
        if isinstance(step, ast.If):
            for branch in (step.then, step.orelse):
                self.body(branch.statements if branch else (), scope, dict(env), shared, inlined)
        elif isinstance(step, ast.For):
            self.loop(step, scope, env, shared, inlined)
        elif isinstance(step, (ast.Repeat, ast.Seq)):
            scope.name(step.label, "repeat" if isinstance(step, ast.Repeat) else "seq")
        else:
            self.call(step, scope, env, shared, inlined)

    def call(
        self, call: ast.Call, scope: Scope, env: dict[str, Any], shared: frozenset[str], inlined: frozenset[str]
    ) -> None:
        named = env.get(call.name)
        if isinstance(named, Layer):  # `-> act`: the layer given, as if written here
            if named.name != NONE:
                self.call(named.call(call), scope, env, shared, inlined)
            return
        definition = self.definitions.get(call.name)
        if call.name in OPS:
            scope.name(call.label, call.name)
        elif definition is not None and definition.inline:
            if call.name not in inlined:
                self.inline(call, definition, scope, env, shared, inlined | {call.name})
        elif definition is not None and definition.kind == "block":
            if not scope.collapse:
                scope.name(call.label, snake(call.name))
        elif named is UNKNOWN and self.strict:
            raise NotImplementedError(f"the layer '{call.name}' ({call.span}) in a branch not taken is not known here")

    def loop(
        self, step: ast.For, scope: Scope, env: dict[str, Any], shared: frozenset[str], inlined: frozenset[str]
    ) -> None:
        items = self.value(step.iterable, env)
        if not isinstance(items, list) or self.iterations + len(items) > MAX_WALK:
            self.unknown_loop(step, scope, env, shared, inlined)
            return
        self.iterations += len(items)
        for item in items:
            parts = [item] if len(step.names) == 1 else item
            if not isinstance(parts, list) or len(parts) != len(step.names):
                return  # an error once elaborated; nothing to name
            self.body(
                step.body.statements, scope, dict(env) | dict(zip(step.names, parts, strict=True)), shared, inlined
            )

    def unknown_loop(
        self, step: ast.For, scope: Scope, env: dict[str, Any], shared: frozenset[str], inlined: frozenset[str]
    ) -> None:
        # a list the checker knows (it knows every constant) but the emitter not: the emitter cannot
        # spend its names; one unknown to both (it reads a shape) spends them once on both sides
        if (
            self.strict
            and any(env.get(n) is UNKNOWN for n in free_names(step.iterable))
            and not reads_shape(step.iterable)
        ):
            trial = replace(scope, taken=dict(scope.taken), counters=dict(scope.counters))
            self.body(step.body.statements, trial, dict(env), shared, inlined)
            if trial.counters != scope.counters or trial.position != scope.position:
                raise NotImplementedError(
                    f"the for loop at {step.span}, in a branch not taken, goes through a list known only when the "
                    "module is built: label each layer in it, so that no automatic name depends on its length"
                )
        self.body(step.body.statements, scope, dict(env), shared, inlined)

    def inline(
        self,
        call: ast.Call,
        definition: ast.Definition,
        scope: Scope,
        env: dict[str, Any],
        shared: frozenset[str],
        inlined: frozenset[str],
    ) -> None:
        """An inline block's layers are named in this scope; its parameters bound as at the call."""
        matched, _ = pair_args(call.args or (), [p.name for p in definition.params], call.name)
        layered = layer_params(definition, self.definitions)
        inner: dict[str, Any] = {}
        for param in definition.params:
            given = matched.get(param.name)
            expr, where = (given.value, env) if given is not None else (param.default, inner)
            if expr is None:
                inner[param.name] = UNKNOWN
            else:
                inner[param.name] = self.layer(expr, where) if param.name in layered else self.value(expr, where)
        for name in [p.name for p in definition.inputs] if definition.inputs is not None else ["in"]:
            inner[name] = TENSOR
        self.body(definition.body.statements, scope, inner, shared, inlined)

    def value(self, expr: ast.Expr, env: Mapping[str, Any]) -> Any:
        """`expr`'s value where it is known here, else `UNKNOWN`."""
        if reads_shape(expr) or any(
            env.get(n) is UNKNOWN or isinstance(env.get(n), ValueRef) for n in free_names(expr)
        ):
            return UNKNOWN
        try:
            return evaluate(expr, env)
        except (EvalError, Poisoned, ArithmeticError, TypeError, ValueError, RecursionError):
            return UNKNOWN

    def layer(self, expr: ast.Expr, env: Mapping[str, Any]) -> Any:
        blocks = [n for n, d in self.definitions.items() if d.kind == "block"]
        if reads_shape(expr) or any(env.get(n) is UNKNOWN for n in free_names(expr)):
            return UNKNOWN
        try:
            return to_layer(expr, env, blocks)
        except (EvalError, Poisoned, ArithmeticError, TypeError, ValueError, RecursionError):
            return UNKNOWN


MAX_WALK = 100_000  # loop iterations walked in code not elaborated (elaboration's limit on layers)
