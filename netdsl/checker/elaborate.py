"""Stage 2 — elaborate: `Program` (AST) + parameter overrides → `ir.Graph`.

Resolves network and block parameters, instantiates blocks, unrolls repeats, picks `if`
branches and names every layer. Shapes are inferred here, node by node, through the op
table, because a block may branch on its input's shape (`if in.channels != out`). Errors
are collected, not thrown one by one: a value whose shape an error left unknown poisons what
follows it silently, so each mistake is reported once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from netdsl.checker.calls import pair_args
from netdsl.checker.functions import recursion
from netdsl.checker.ir import Graph, Instance, Node
from netdsl.checker.layers import NONE, Layer, compared_words, layer_params, to_layer
from netdsl.checker.lint import input_problems, lint
from netdsl.checker.lint import statements as lint_statements
from netdsl.checker.naming import Scope, Untaken, labels, single_instance, snake
from netdsl.checker.ops import OPS, REQUIRED, OpDef, OpError, Shape, dropped, fmt_shape
from netdsl.checker.values import (
    KINDS,
    EvalError,
    KindError,
    Poisoned,
    Symbol,
    ValueRef,
    describe,
    evaluate,
    functions_in_scope,
    leading_digits,
    truth,
    undefined,
)
from netdsl.core.diagnostics import Diagnostic, Span, SpecError, did_you_mean, error, has_errors, warning
from netdsl.language import ast
from netdsl.language.program import Program

MAX_LAYERS = 100_000
# PyTorch and ONNX index tensors with signed 64-bit integers: a dimension, an activation or a
# weight tensor with more elements cannot exist there, so the checker refuses it at its line.
MAX_ELEMENTS = 2**63 - 1
MAX_BLOCK_DEPTH = 64  # blocks using blocks: each level costs stack frames here and in the backends
MAX_RECURSION = 32  # a block calling itself: past this depth its condition is taken never to end it
POISON: Final[ValueRef] = ValueRef(-1, None)


class _Absent:
    """A block's tensor input declared `= none` and left out of the call: merges skip it."""

    def __repr__(self) -> str:
        return "none"


ABSENT: Final = _Absent()
MERGES_SKIPPING = ("add", "concat")  # the merges that may name a tensor input left out


class UsageError(Exception):
    """A mistake on the command line rather than in the spec (exit status 2)."""


class _TooBig(Exception):
    pass


def elaborate(
    program: Program,
    network: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    input_shape: Sequence[int] | None = None,
) -> Graph:
    """Build the IR graph of one network (default: the file's first); raises `SpecError`."""
    definition = _pick(program, network)
    if input_shape is not None:
        input_shape = _input_override(input_shape)
    builder = _Builder(program)
    builder.diagnostics.extend(recursion(program.functions))
    try:
        with functions_in_scope(program.functions):
            graph = builder.network(definition, dict(overrides or {}), input_shape)
        builder.diagnostics.extend(builder.unused())
    except _TooBig as exc:
        builder.diagnostics.append(exc.args[0])
        graph = None
    unreached = lint(program, builder.reached | {definition.name})
    diagnostics = _unique(list(program.diagnostics) + builder.diagnostics + unreached)
    if graph is None or has_errors(diagnostics):
        # the graph as far as it could be shaped (a node an error left unknown has shape ()): for editors
        partial = None if graph is None or not graph.nodes else Graph(
            graph.network, graph.params, graph.nodes, graph.output, graph.instances, diagnostics,
            MappingProxyType(builder.outputs))
        raise SpecError(diagnostics, partial)
    return Graph(graph.network, graph.params, graph.nodes, graph.output, graph.instances, diagnostics,
                 MappingProxyType(builder.outputs))


def _pick(program: Program, network: str | None) -> ast.Definition:
    if program.diagnostics and has_errors(program.diagnostics):
        raise SpecError(program.diagnostics)
    names = program.networks()
    if not program.main.definitions:  # nothing checked is no pass: likely a wrong or cut file
        file = program.main.file
        raise SpecError([error("this file defines nothing: no network and no block", Span(file, 1, 1, 1, 1))])
    if network is None:
        if not names:
            raise SpecError(lint(program, set()))  # a file of blocks: only the static checks apply
        return program.definitions[names[0]]
    found = program.definitions.get(network)
    if found is None or found.kind != "network":
        hint = did_you_mean(network, names)
        raise UsageError(f"no network '{network}' in {program.main.file}" + (f"; {hint}" if hint else
                         f" (networks: {', '.join(names) or 'none'})"))
    return found


# ops that make a new [C, H, W] layout: past them, a permute no longer holds
_LAYOUT_BREAKERS = frozenset({"flatten", "global_avgpool", "chunk", "slice", "channel_shuffle", "layernorm2d", "scale"})


def _input_override(shape: Any) -> tuple[int, ...]:
    """An input shape given on the command line or to the API: 1 to 3 positive integers."""
    dims = tuple(shape) if isinstance(shape, (list, tuple)) else ()
    if not 1 <= len(dims) <= 3 or not all(_positive(d) for d in dims):
        raise UsageError(f"an input shape is 1 to 3 positive integers ([C, H, W] or [features]), got {shape!r}")
    return dims


def _unique(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Each diagnostic once, in source order (file by file, in the order files were read)."""
    found = list(dict.fromkeys(diagnostics))
    files = list(dict.fromkeys(d.span.file for d in found))
    return tuple(sorted(found, key=lambda d: (files.index(d.span.file), d.span.line, d.span.column)))


class _Builder:
    def __init__(self, program: Program):
        self.program = program
        self.nodes: list[Node] = []
        self.instances: list[Instance] = []
        self.diagnostics: list[Diagnostic] = []
        self.stack: list[str] = []
        self.untaken = Untaken(program.definitions)  # spends the names of branches not taken
        self.used: set[int] = set()
        # each `name = ...` statement: its name, and whether any elaboration of it (a block's
        # instances, a loop's passes) used the value. Unused is reported only when none did: a
        # RepVGG block's `ident = if has_id { batchnorm }` is used where the identity exists
        self.binds: dict[Span, tuple[str, bool]] = {}
        self.reached: set[str] = set()
        self.outputs: dict[str, int] = {}
        self.iterations = 0  # repeat iterations walked: each costs as much as a layer
        self.runaway = False  # a recursion went past its limit: no more blocks are walked
        # dropped pixels, one warning per cause: the input node of a layer that drops pixels ->
        # (its warning's index, its message, the layers downstream that drop pixels too)
        self.dropping: dict[int, tuple[int, str, list[str]]] = {}

    # ---- diagnostics
    def error(self, message: str, span: Span, hint: str | None = None) -> ValueRef:
        self.diagnostics.append(error(message, span, hint))
        return POISON

    def eval(self, expr: ast.Expr, env: Mapping[str, Any]) -> Any:
        """Evaluate, reporting failures; returns POISON after an error or an unknown shape."""
        try:
            return evaluate(expr, env)
        except EvalError as exc:
            self.error(exc.message, exc.span, exc.hint)
        except Poisoned:
            pass
        return POISON

    # ---- networks
    def network(self, d: ast.Definition, overrides: dict[str, Any], input_shape: Sequence[int] | None) -> Graph:
        env = self.network_params(d, overrides)
        statements = d.body.statements
        if not statements or not isinstance(statements[0], ast.Input):
            at = statements[0].span if statements else d.name_span
            self.error(f"network '{d.name}' must start with an input statement", at,
                       "for example: input image: [3, 224, 224]")
            return Graph(d.name, env, (), -1)
        scope = Scope((), labels(statements))
        first = self.input(statements[0], env, scope, input_shape)
        params = MappingProxyType(dict(env))
        env["in"] = first
        out = self.body(statements[1:], scope, env, first)
        return Graph(d.name, params, tuple(self.nodes), out.node,
                     tuple(self.instances))

    def network_params(self, d: ast.Definition, overrides: dict[str, Any]) -> dict[str, Any]:
        names = [p.name for p in d.params]
        for name in overrides:
            if name not in names:
                hint = did_you_mean(name, names)
                raise UsageError(f"network '{d.name}' has no parameter '{name}'" + (f"; {hint}" if hint else
                                 f" (parameters: {', '.join(names) or 'none'})"))
        env: dict[str, Any] = {}
        for p in d.params:
            if p.name in overrides:
                env[p.name] = overrides[p.name]
            elif p.default is None:
                raise UsageError(f"network '{d.name}' needs a value for '{p.name}': --set {p.name}=...")
            else:
                env[p.name] = self.eval(p.default, env)
        return env

    def input(self, stmt: ast.Input, env: dict[str, Any], scope: Scope,
              override: Sequence[int] | None) -> ValueRef:
        if override is not None:
            shape: Shape | None = tuple(override)
        else:
            dims = [self.eval(e, env) for e in stmt.shape]
            shape = tuple(dims) if all(_positive(d) for d in dims) and dims else None
            if shape is None and not any(d is POISON for d in dims):
                self.error(f"an input shape is 1 to 3 positive integers, got {describe(dims)}", stmt.span)
            elif shape is not None and self.too_big(stmt.name, shape, 0, stmt.span, "an input"):
                shape = None
        if shape is not None and not 1 <= len(shape) <= 3:
            self.error(f"an input shape is [C, H, W] or [features], got {fmt_shape(shape)}", stmt.span)
            shape = None
        scope.take(stmt.name, stmt.span)
        return self.add(stmt.name, "input", {"shape": shape}, (), shape, stmt.span, scope)

    # ---- bodies and statements
    def body(self, statements: Sequence[ast.Statement], scope: Scope, env: dict[str, Any],
             current: ValueRef) -> ValueRef:
        bound: list[tuple[ast.Bind, ValueRef]] = []
        for stmt in statements:
            if isinstance(stmt, ast.Input):
                self.error("'input' may only open a network", stmt.span)
            elif isinstance(stmt, ast.Let):
                self.let(stmt, env)
            elif isinstance(stmt, ast.Bind) and scope.seq:
                self.error("a seq is a chain of layers: named values and merges belong in a block", stmt.name_span)
            elif isinstance(stmt, ast.Bind):
                value = self.bind(stmt, scope, env, current)
                if value is not POISON:
                    bound.append((stmt, value))
            else:
                current = self.checked(stmt.chain, stmt.check, scope, env, current)
        for stmt, value in bound:
            name, used = self.binds.get(stmt.name_span, (stmt.name, False))
            self.binds[stmt.name_span] = (name, used or value.node in self.used)
        return current

    def unused(self) -> list[Diagnostic]:
        """A warning for each named value that no elaboration of its statement used."""
        return [warning(f"value '{name}' is never used", span) for span, (name, used) in self.binds.items() if not used]

    def let(self, stmt: ast.Let, env: dict[str, Any]) -> None:
        if stmt.name in OPS or stmt.name in self.program.definitions or stmt.name == "in":
            what = "an op" if stmt.name in OPS else "the input" if stmt.name == "in" else "a block"
            self.error(f"'{stmt.name}' names {what}; choose another name for this constant", stmt.name_span)
        value = self.eval(stmt.value, env)
        if isinstance(value, ValueRef):
            self.error("let names a number or a list; a tensor value is named with `name = ...`", stmt.value.span)
            value = POISON
        env[stmt.name] = value

    def bind(self, stmt: ast.Bind, scope: Scope, env: dict[str, Any], current: ValueRef) -> ValueRef:
        if stmt.name in OPS or stmt.name in self.program.definitions or stmt.name == "in":
            what = "an op" if stmt.name in OPS else "the input" if stmt.name == "in" else "a block"
            self.error(f"'{stmt.name}' names {what}; choose another name for this value", stmt.name_span)
        value = self.checked(stmt.chain, stmt.check, scope, env, current)
        env[stmt.name] = value
        return value

    def checked(self, chain: ast.Chain, check: ast.ShapeCheck | None, scope: Scope,
                env: dict[str, Any], current: ValueRef) -> ValueRef:
        value = current
        for n, step in enumerate(chain.steps):
            if n and isinstance(step, ast.Call) and step.inputs is not None:
                self.error(f"a call with a list of tensor inputs starts a chain: the value before "
                           f"'{step.name}' would be lost", step.span, "name that value and give it in the list")
            value = self.step(step, scope, env, value)
        if check is not None and value.shape is not None:
            want = [self.eval(e, env) for e in check.dims]
            if POISON not in want and tuple(want) != value.shape:
                self.error(f"shape assertion failed: expected {describe(want)}, got {fmt_shape(value.shape)}",
                           check.span)
        return value

    # ---- steps
    def step(self, step: ast.Step, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        if isinstance(step, ast.If):
            return self.if_(step, scope, env, value)
        if isinstance(step, ast.Repeat):
            return self.repeat(step, scope, env, value)
        if isinstance(step, ast.For):
            return self.for_(step, scope, env, value)
        if isinstance(step, ast.Seq):
            return self.seq(step, scope, env, value)
        named = env.get(step.name)
        if named is ABSENT:
            return self.error(f"tensor input '{step.name}' was left out (= none): only "
                              f"{' and '.join(MERGES_SKIPPING)} may name it (they skip it)", step.name_span)
        if isinstance(named, Layer):
            return self.layer(step, named, scope, env, value)
        if isinstance(named, ValueRef) and step.args is None and step.label is None:
            self.used.add(named.node)
            return named
        if step.name in OPS:
            return self.op(step, OPS[step.name], scope, env, value)
        definition = self.program.definitions.get(step.name)
        if definition is not None and definition.kind == "block":
            return self.instance(step, definition, scope, env, value)
        if definition is not None:
            return self.error(f"'{step.name}' is a network; only blocks can be used inside one",
                              step.name_span, f"declare it with 'block {step.name}(...)'")
        inputs = self.program.definitions[self.stack[-1]].inputs if self.stack else None
        if step.name == "in" and inputs:
            names = ", ".join(p.name for p in inputs)
            return self.error(f"block '{self.stack[-1]}' names its tensor inputs ({names}): it has no `in`",
                              step.name_span, f"use {inputs[0].name}")
        choices = list(OPS) + [n for n, d in self.program.definitions.items() if d.kind == "block"]
        choices += [k for k, v in env.items() if isinstance(v, ValueRef)]
        return self.error(f"unknown op or block '{step.name}'", step.name_span, did_you_mean(step.name, choices))

    def layer(self, step: ast.Call, layer: Layer, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        """`-> act` where act is a layer given as an argument: that layer, as if written here."""
        if step.args is not None:
            return self.error(f"'{step.name}' is a layer given as an argument: its arguments are given at the call",
                              step.span, f"for example: {step.name}=leaky_relu(0.1)")
        if layer.name == NONE:
            return value
        call = layer.call(step)
        if call.name in OPS:
            return self.op(call, OPS[call.name], scope, env, value)
        return self.instance(call, self.program.definitions[call.name], scope, env, value)

    def if_(self, step: ast.If, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        if step.label:
            self.error("a label names a layer, a block or a repeat, not an 'if'", step.label.span)
        cond = self.eval(step.condition, env)
        if _poisoned(cond):
            return POISON
        try:
            taken = truth(cond, step.condition, env)
        except EvalError as exc:
            return self.error(exc.message, exc.span, exc.hint)
        # names are spent in source order, then-branch first, whichever branch is taken; in a seq
        # a layer's name is its position, which depends on the branch, as in nn.Sequential
        if scope.seq:
            branch = step.then if taken else step.orelse
            return value if branch is None else self.body(branch.statements, scope, dict(env), value)
        if taken:
            result = self.body(step.then.statements, scope, dict(env), value)
            self.reserve(step.orelse.statements if step.orelse else (), scope, env)
            self.lint_untaken(step.orelse.statements if step.orelse else (), env)
            return result
        # a label may name a layer in each branch (`if hs { act: hardswish } else { act: relu }`)
        self.reserve(step.then.statements, scope, env, labels(step.orelse.statements) if step.orelse else frozenset())
        self.lint_untaken(step.then.statements, env)
        return value if step.orelse is None else self.body(step.orelse.statements, scope, dict(env), value)

    def lint_untaken(self, statements: Sequence[ast.Statement], env: Mapping[str, Any]) -> None:
        """The branch not taken is not elaborated, but a generated module holds it: the checks that
        need no shapes apply to it (an unknown op there would break the build, not the check)."""
        self.diagnostics.extend(lint_statements(tuple(statements), self.program, set(env)))

    def reserve(self, statements: Sequence[ast.Statement], scope: Scope, env: Mapping[str, Any],
                shared: frozenset[str] = frozenset()) -> None:
        """Spend the automatic names of a branch not taken, so that no layer's name depends on
        which branch was: a generated module names its attributes before it knows (one walker,
        `naming.Untaken`, for both). `shared`: labels the other branch of the same `if` uses,
        which stay free for it."""
        self.untaken.body(statements, scope, dict(env), shared, frozenset(self.stack))

    def repeat(self, step: ast.Repeat, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        count = self.eval(step.count, env)
        if _poisoned(count):
            return POISON
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return self.error(f"repeat needs a count of 0 or more, got {describe(count)}", step.count.span)
        if count > MAX_LAYERS:  # checked before it is walked: even an empty body costs each iteration
            shown = f"{count:,}" if count < 10**30 else describe(count)
            return self.error(f"repeat {shown} is over netdsl's limit of {MAX_LAYERS:,} layers", step.count.span)
        if scope.seq:  # its layers join the seq, numbered on
            if step.label:
                self.error("a repeat inside a seq adds its layers to the seq: it takes no label", step.label.span)
            return self.inline(step.body, [{step.index: i} if step.index else {} for i in range(count)], scope, env,
                               value)
        name = self.name(step.label, "repeat", scope, env)
        reserved = labels(step.body.statements)
        collapse = single_instance(step.body, self.program.definitions)
        for i in range(count):
            before, errors = len(self.nodes), len(self.diagnostics)
            self.count_iteration(step.count.span)
            iteration = Scope(scope.path + (name, str(i)), reserved, collapse=collapse)
            inner = dict(env) | ({step.index: i} if step.index else {})
            value = self.body(step.body.statements, iteration, inner, value)
            if i == 0:
                self.limit(max(len(self.nodes) - before, 1) * (count - 1), step.count.span, f"repeat {count:,}")
                if has_errors(self.diagnostics[errors:]):
                    return POISON  # the other iterations would repeat these errors
        self.outputs[".".join(scope.path + (name,))] = value.node
        return value

    def count_iteration(self, span: Span) -> None:
        self.iterations += 1
        if self.iterations > MAX_LAYERS:
            raise _TooBig(error(f"the repeats of this network walk over {MAX_LAYERS:,} iterations, netdsl's "
                                "limit (as for layers)", span))

    def for_(self, step: ast.For, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        if step.label:
            self.error("a for loop writes its body out in place: it takes no label (label the layers in it)",
                       step.label.span)
        items = self.eval(step.iterable, env)
        if _poisoned(items):
            return POISON
        if not isinstance(items, list):
            return self.error(f"for needs a list to go through, got {describe(items)}", step.iterable.span,
                              "for example: for c in [64, 128] { ... } or for i in range(3) { ... }")
        if len(items) > MAX_LAYERS:
            return self.error(f"a list of {len(items):,} items is over netdsl's limit of {MAX_LAYERS:,} layers",
                              step.iterable.span)
        bindings = []
        for item in items:
            if len(step.names) == 1:
                bindings.append({step.names[0]: item})
            elif isinstance(item, list) and len(item) == len(step.names):
                bindings.append(dict(zip(step.names, item, strict=True)))
            else:
                return self.error(f"cannot unpack {describe(item)} into {len(step.names)} names "
                                  f"({', '.join(step.names)})", step.iterable.span)
        return self.inline(step.body, bindings, scope, env, value)

    def inline(self, body: ast.Body, bindings: list[dict[str, Any]], scope: Scope, env: dict[str, Any],
               value: ValueRef) -> ValueRef:
        """The body once per binding, in the enclosing scope, as if written out in place."""
        for names in bindings:
            errors = len(self.diagnostics)
            self.count_iteration(body.span)
            value = self.body(body.statements, scope, dict(env) | names, value)
            if has_errors(self.diagnostics[errors:]):
                return POISON  # the other iterations would repeat these errors
        return value

    def seq(self, step: ast.Seq, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        name = self.name(step.label, "seq", scope, env)
        path = scope.path + (name,)
        out = self.body(step.body.statements, Scope(path, labels(step.body.statements), seq=True), dict(env), value)
        self.outputs[".".join(path)] = out.node
        return out

    def limit(self, more: int, span: Span, what: str) -> None:
        if len(self.nodes) + more > MAX_LAYERS:
            raise _TooBig(error(f"{what} would make about {len(self.nodes) + more:,} layers, over netdsl's "
                                f"limit of {MAX_LAYERS:,}", span))

    # ---- arguments
    def match(self, call: ast.Call, names: Sequence[str], what: str) -> dict[str, ast.Arg] | None:
        """Pair the call's arguments with parameter names; None after a mistake."""
        matched, problems = pair_args(call.args or (), names, what)
        self.diagnostics.extend(problems)
        return None if problems else matched

    def op_attrs(self, call: ast.Call, op: OpDef, env: Mapping[str, Any]) -> dict[str, Any] | None:
        matched = self.match(call, [a.name for a in op.args], op.name)
        if matched is None:
            return None
        attrs: dict[str, Any] = {}
        for spec in op.args:
            arg = matched.get(spec.name)
            if arg is None:
                if spec.default is REQUIRED:
                    usage = ", ".join(a.name for a in op.args if a.default is REQUIRED)
                    self.error(f"{op.name} needs argument '{spec.name}'", call.span, f"{op.name}({usage}, ...)")
                    return None
                attrs[spec.name] = spec.default
                continue
            value = self.eval(arg.value, env)
            if value is POISON:
                return None
            try:
                attrs[spec.name] = KINDS[spec.kind](value)
            except KindError as exc:
                if isinstance(value, Symbol):
                    raise_ = undefined(value, env)
                    self.error(raise_.message, raise_.span, raise_.hint)
                else:
                    self.error(f"{op.name} argument '{spec.name}' {exc}", arg.value.span)
                return None
        return attrs

    # ---- ops
    def op(self, call: ast.Call, op: OpDef, scope: Scope, env: dict[str, Any], value: ValueRef) -> ValueRef:
        if op.merge and scope.seq:
            return self.error(f"a seq is a chain of layers: {op.name} belongs in a block", call.name_span)
        if op.merge:
            attrs: dict[str, Any] | None = {}
            inputs = self.merge_inputs(call, op, env, value)
            if len(inputs) == 1:  # the others were left out of the block's call: the one left is the result
                self.name(call.label, op.name, scope, env)
                return inputs[0]
        else:
            attrs, inputs = self.op_attrs(call, op, env), (value,)
        name = self.name(call.label, op.name, scope, env)
        shapes = [v.shape for v in inputs]
        shape: Shape | None = None
        if attrs is not None and inputs and all(s is not None for s in shapes):
            known = tuple(s for s in shapes if s is not None)
            try:
                if op.last_axis and len(known[0]) == 3 and not self.channels_last(inputs[0]):
                    hint = f"add 'flatten' before {op.name}, or move the channels last with permute([1, 2, 0])"
                    raise OpError(f"{op.name} expects an input of shape [features], got {fmt_shape(known[0])}",
                                  hint=hint)
                shape = op.infer(attrs, known)
            except OpError as exc:
                at = call.span
                if exc.arg and call.args:
                    at = next((a.span for a in call.args if a.name == exc.arg), call.span)
                self.error(exc.message, at, exc.hint)
            else:
                self.warn_dropped(op, attrs, known[0], inputs[0], call, ".".join(scope.path + (name,)))
                if self.too_big(name, shape, op.params(attrs, known, shape), call.span):
                    shape = None
        return self.add(name, op.name, attrs or {}, tuple(v.node for v in inputs), shape, call.span, scope)

    def channels_last(self, value: ValueRef) -> bool:
        """Whether a [C, H, W]-ranked value had its channels moved last by a `permute`, looking
        back through the layers that keep the layout (activations, norms, linear layers)."""
        node = self.nodes[value.node]
        while node.op != "permute":
            op = OPS.get(node.op)
            if op is None or op.merge or op.reach == "window" or node.op in _LAYOUT_BREAKERS or not node.inputs:
                return False
            node = self.nodes[node.inputs[0]]
        return bool(node.attrs["order"][-1] == 0)

    def too_big(self, name: str, shape: Shape, params: int, span: Span, what: str = "an output") -> bool:
        """Report a layer whose output or weights PyTorch and ONNX could not index."""
        for noun, count in ((what, math.prod(shape)), ("weights", params)):
            if count > MAX_ELEMENTS:
                self.error(f"{name}: {noun} of {_magnitude(count)} elements is more than PyTorch and ONNX can index "
                           "(2^63 - 1)", span)
                return True
        return False

    def merge_inputs(self, call: ast.Call, op: OpDef, env: Mapping[str, Any], value: ValueRef) -> tuple[ValueRef, ...]:
        values: list[ValueRef] = []
        absent = False
        for arg in call.args or ():
            found = env.get(arg.value.id) if isinstance(arg.value, ast.Name) and arg.name is None else None
            if found is ABSENT and op.name in MERGES_SKIPPING:
                absent = True
                continue
            if not isinstance(found, ValueRef):
                self.error(f"{op.name} takes named values, as in {op.name}(main, skip)", arg.span,
                           did_you_mean(getattr(arg.value, "id", ""),
                                        [k for k, v in env.items() if isinstance(v, ValueRef)]))
                return ()
            self.used.add(found.node)
            values.append(found)
        if not values:
            what = "a value that is not left out" if absent else "one named value"
            self.error(f"{op.name} needs at least {what}, as in {op.name}(main, skip)", call.span)
            return ()
        return tuple(values) if len(values) > 1 or absent else (value, values[0])

    def warn_dropped(self, op: OpDef, attrs: Mapping[str, Any], shape: Shape, source: ValueRef,
                     call: ast.Call, name: str) -> None:
        if op.window is None or op.reach != "window":
            return
        window = op.window(attrs, shape)
        lost = [dropped(shape[1 + a], window, a) for a in (0, 1)]
        if not any(lost):
            return
        words = []
        for count, unit in ((lost[0], "row"), (lost[1], "column")):
            if count:
                words.append(f"the last {count} {unit}{'s' * (count != 1)}")
        a = 0 if lost[0] else 1
        size, k, s, p = shape[1 + a], window.effective(a), window.stride[a], sum(window.pads[a])
        message = (f"{name} drops input pixels: (W - K + 2P) / S = ({size} - {k} + {p}) / {s} is not whole, "
                   f"so {' and '.join(words)} of its {shape[1]}×{shape[2]} input are never seen")
        fits = [shape[1 + x] + (window.stride[x] - (shape[1 + x] + sum(window.pads[x]) - window.effective(x))
                                % window.stride[x]) if lost[x] else shape[1 + x] for x in (0, 1)]
        cause = self.dropping_upstream(source.node)
        if cause is not None:  # a consequence of an earlier layer's sizes: said in that layer's warning
            index, first, followers = self.dropping[cause]
            followers.append(name)
            names = ", ".join(followers[:-1]) + (" and " if len(followers) > 1 else "") + followers[-1]
            old = self.diagnostics[index]
            more = f"; downstream, {names} drop{'s' * (len(followers) == 1)} pixels too"
            self.diagnostics[index] = warning(first + more, old.span, old.hint)
            return
        what = "an input" if self.nodes[source.node].op == "input" else "a previous output"
        self.dropping[source.node] = (len(self.diagnostics), message, [])
        self.diagnostics.append(warning(message, call.span, f"{what} of {fits[0]}×{fits[1]} would tile exactly"))

    def dropping_upstream(self, node: int) -> int | None:
        """The input node of an earlier layer that drops pixels, at or upstream of `node`."""
        if not self.dropping:
            return None
        seen, todo = {node}, [node]
        while todo:
            current = todo.pop()
            if current in self.dropping:
                return current
            for parent in self.nodes[current].inputs:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return None

    # ---- blocks
    def instance(self, call: ast.Call, block: ast.Definition, scope: Scope, env: dict[str, Any],
                 value: ValueRef) -> ValueRef:
        if len(self.stack) >= MAX_BLOCK_DEPTH and not self.runaway:
            self.runaway = True
            return self.error(f"blocks nest more than {MAX_BLOCK_DEPTH} deep here ({' → '.join(self.stack[:3])} → …)",
                              call.name_span)
        for arg in call.inputs or ():  # read, even by a call that goes no further: no "never used" for them
            if isinstance(found := env.get(getattr(arg.value, "id", "")), ValueRef):
                self.used.add(found.node)
        if self.runaway:
            return POISON
        if block.name in self.stack and self.stack[-1] != block.name:  # only a block's own body may call it again
            cycle = " → ".join(self.stack[self.stack.index(block.name):] + [block.name])
            return self.error(f"block '{block.name}' uses itself ({cycle})", call.name_span,
                              "a block may call itself directly, with a condition that ends it; not through another")
        if self.stack.count(block.name) >= MAX_RECURSION:
            self.runaway = True  # each level may call the block again: stop the whole walk, not one branch
            return self.error(f"block '{block.name}' calls itself more than {MAX_RECURSION} deep here: no "
                              "condition ends its recursion", call.name_span,
                              f"call it in an `if` whose condition turns false, as in "
                              f"`if levels > 1 {{ {block.name}(levels - 1, ...) }}`")
        if scope.seq and block.inputs and (call.inputs is not None or any(p.default is None for p in block.inputs[1:])):
            return self.error(f"a seq is a chain of layers: block '{block.name}', with several tensor inputs, "
                              "belongs in a block", call.name_span)
        tensors = self.tensor_inputs(call, block, env, value)
        if tensors is None:
            return POISON
        matched = self.match(call, [p.name for p in block.params], f"block '{block.name}'")
        if matched is None:
            return POISON
        inner: dict[str, Any] = {}
        layered, words = layer_params(block, self.program.definitions), compared_words(block)
        for p in block.params:
            if p.name in layered and (p.name in matched or p.default is not None):
                given = matched[p.name].value if p.name in matched else p.default
                inner[p.name] = self.layer_arg(given, env if p.name in matched else inner, block, p.name)
            elif p.name in matched:
                inner[p.name] = self.eval(matched[p.name].value, env)
                if p.name in words and not self.word_matches(inner[p.name], words[p.name], block,
                                                              matched[p.name].value, p.name):
                    return POISON
                if isinstance(inner[p.name], ValueRef):
                    self.used.add(inner[p.name].node)  # it was used, wrongly: one error is enough
                    return self.error(f"block '{block.name}' argument '{p.name}' is a tensor value; a block takes "
                                      "numbers, and its input through `in`", matched[p.name].value.span)
            elif p.default is not None:
                inner[p.name] = self.eval(p.default, inner)
            else:
                return self.error(f"block '{block.name}' needs argument '{p.name}'", call.span)
            if _poisoned(inner[p.name]):
                return POISON
        first = next(iter(tensors.values()))
        if block.inline:
            return self.inline_instance(call, block, scope, inner | tensors, first)
        if scope.collapse:
            path = scope.path
        else:
            path = scope.path + (self.name(call.label, snake(block.name), scope, env),)
        self.instances.append(Instance(path, block.name, MappingProxyType(dict(inner)), call.span))
        self.reached.add(block.name)
        inner |= tensors
        self.stack.append(block.name)
        before = len(self.nodes)
        try:
            out = self.body(block.body.statements, Scope(path, labels(block.body.statements), seq=block.seq), inner,
                            first)
        finally:
            self.stack.pop()
        self.warn_unused_inputs(block, tensors, before, out)
        self.outputs[".".join(path)] = out.node
        return out

    def tensor_inputs(self, call: ast.Call, block: ast.Definition, env: Mapping[str, Any],
                      value: ValueRef) -> dict[str, Any] | None:
        """The tensor inputs of a block instance by name (`in` for a block that declares none); a
        call without a second list gives the chain's value as the first. None after an error."""
        if block.inputs is None:
            if call.inputs is not None:
                at = call.inputs[0].span.to(call.inputs[-1].span) if call.inputs else call.span
                self.error(f"block '{block.name}' declares no tensor inputs: it takes the chain's value", at,
                           f"declare them as in `block {block.name}(...)(x, skip)`")
                return None
            return {"in": value}
        problems = input_problems(block)
        if problems:
            self.diagnostics.extend(problems)
            return None
        names = [p.name for p in block.inputs]
        given = {names[0]: ast.Arg(None, ast.Name("in", call.span), call.span)} if call.inputs is None else {}
        listed = ", ".join(n + (" = none" if q.default else "") for n, q in zip(names, block.inputs, strict=True))
        plural = "s" * (len(names) != 1)
        if call.inputs is not None and len(call.inputs) > len(names):
            self.error(f"block '{block.name}' takes {len(names)} tensor input{plural} ({listed}), given "
                       f"{len(call.inputs)}", call.inputs[len(names)].span.to(call.inputs[-1].span))
            return None
        if call.inputs is not None:
            matched, problems = pair_args(call.inputs, names, f"block '{block.name}' (tensor inputs)")
            self.diagnostics.extend(problems)
            if problems:
                return None
            given = matched
        tensors: dict[str, Any] = {}
        for p in block.inputs:
            arg = given.get(p.name)
            if arg is None and p.default is None:
                self.error(f"block '{block.name}' takes {len(names)} tensor input{plural} ({listed}), given "
                           f"{len(given)}: '{p.name}' is missing", call.span)
                return None
            current = value if call.inputs is None else None
            found = ABSENT if arg is None else self.tensor_arg(arg, p, block, env, current)
            if found is None:
                return None
            tensors[p.name] = found
        return tensors

    def tensor_arg(self, arg: ast.Arg, param: ast.Param, block: ast.Definition, env: Mapping[str, Any],
                   current: ValueRef | None) -> Any:
        """One tensor input given at a call: a named value (or one left out, for an input that may be)."""
        if current is not None:
            return current
        found = env.get(arg.value.id) if isinstance(arg.value, ast.Name) else None
        if found is ABSENT and param.default is not None:
            return ABSENT
        if found is ABSENT:
            self.error(f"'{arg.value.id}' is left out of this call (= none), but block '{block.name}' needs its "
                       f"input '{param.name}'", arg.value.span)
            return None
        if not isinstance(found, ValueRef):
            names = [k for k, v in env.items() if isinstance(v, ValueRef)]
            self.error(f"block '{block.name}' takes named tensor values as its inputs, as in "
                       f"{block.name}(...)(x, skip)", arg.value.span, did_you_mean(getattr(arg.value, "id", ""), names))
            return None
        self.used.add(found.node)
        return found

    def warn_unused_inputs(self, block: ast.Definition, tensors: Mapping[str, Any], before: int,
                           out: ValueRef) -> None:
        """A declared tensor input that no layer of the instance reads and that is not its output."""
        if block.inputs is None:
            return
        read = {i for node in self.nodes[before:] for i in node.inputs} | {out.node}
        for p in block.inputs:
            value = tensors.get(p.name)
            if isinstance(value, ValueRef) and value is not POISON and value.node not in read:
                self.diagnostics.append(warning(f"tensor input '{p.name}' of block '{block.name}' is never used",
                                                p.span))

    def inline_instance(self, call: ast.Call, block: ast.Definition, scope: Scope, inner: dict[str, Any],
                        value: ValueRef) -> ValueRef:
        """An `inline block`: its layers are named in the caller's scope, as if written at the call."""
        if call.label is not None:
            return self.error(f"block '{block.name}' is inline: its layers join this scope, so the call takes no "
                              "label (label the layers in it)", call.label.span)
        self.reached.add(block.name)
        self.stack.append(block.name)
        try:
            return self.body(block.body.statements, scope, inner, value)
        finally:
            self.stack.pop()

    def layer_arg(self, expr: ast.Expr, env: Mapping[str, Any], block: ast.Definition, name: str) -> Any:
        """A block's layer argument (`act=hardswish`); POISON after an error, reported at its span."""
        blocks = [n for n, d in self.program.definitions.items() if d.kind == "block"]
        try:
            return to_layer(expr, env, blocks)
        except EvalError as exc:
            return self.error(f"block '{block.name}' argument '{name}' {exc.message}"
                              if exc.message.startswith("expects") else exc.message, exc.span, exc.hint)
        except Poisoned:
            return POISON

    def word_matches(self, value: Any, words: frozenset[str], block: ast.Definition, expr: ast.Expr,
                     name: str) -> bool:
        """A word argument that the block only compares with words must be one of them."""
        word = value.name if isinstance(value, Symbol) else value
        if not isinstance(word, str) or word in words:
            return True
        choices = ", ".join(sorted(words))
        self.error(f"block '{block.name}' compares '{name}' with {choices} only: '{word}' matches no branch",
                   expr.span, did_you_mean(word, sorted(words)))
        return False

    # ---- naming and nodes
    def name(self, label: ast.Label | None, base: str, scope: Scope, env: Mapping[str, Any] | None = None,
             quiet: bool = False) -> str:
        if label is None:
            return scope.auto(base)
        if label.computed:
            if quiet:  # a branch not taken: its computed names are not known, nor needed
                return label.name
            text = self.label_text(label, env or {})
        else:
            text = label.name
        if scope.seq and text.isdigit() and int(text) != scope.position:
            self.error(f"in a seq a number label is the layer's position, here {scope.position}, not {text}",
                       label.span)
        earlier = scope.take(text, label.span)
        if earlier is not None and not quiet:
            self.error(f"label '{text}' is already used in this scope, at {earlier}", label.span)
        return text

    def label_text(self, label: ast.Label, env: Mapping[str, Any]) -> str:
        """A computed label's text; its expressions must give integers or words."""
        pieces = []
        for part in label.parts or ():
            value = part if isinstance(part, str) else self.eval(part, env)
            if isinstance(value, bool) or not isinstance(value, (int, str, Symbol)):
                if value is not POISON:
                    self.error(f"a label is made of names and integers, got {describe(value)}", label.span)
                return label.name
            pieces.append(value.name if isinstance(value, Symbol) else str(value))
        text = "".join(pieces)
        if not text or "." in text or any(c.isspace() for c in text):
            self.error(f"label '{text}' cannot name a layer: it needs a character, and no '.' or space", label.span)
        return text

    def add(self, name: str, op: str, attrs: Mapping[str, Any], inputs: tuple[int, ...], shape: Shape | None,
            span: Span, scope: Scope) -> ValueRef:
        if any(i < 0 for i in inputs):
            shape = None
        node = Node(len(self.nodes), ".".join(scope.path + (name,)), op, MappingProxyType(dict(attrs)), inputs,
                    shape if shape is not None else (), span, scope.path)
        if len(self.nodes) >= MAX_LAYERS:
            self.limit(1, span, "this network")
        self.nodes.append(node)
        return ValueRef(node.id, shape) if shape is not None else ValueRef(node.id, None)


def _magnitude(count: int) -> str:
    """10^20 as '1.0e20', whatever its size (float() fails past 1.8e308, str() past 4,300 digits)."""
    lead, exponent = leading_digits(count, 2)
    return f"{lead[0]}.{lead[1]}e{exponent}"


def _poisoned(value: Any) -> bool:
    return value is POISON


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
