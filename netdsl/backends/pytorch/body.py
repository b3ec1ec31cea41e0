"""Backend — PyTorch: the statements of one class → the lines of its __init__ and forward.

`BodyWriter` walks a spec body: each op becomes a module attribute (its lowering says how),
its shape in __init__ and its call in forward; a block instance a module of its class; an `if`
a flag and the same `if` in both methods; a repeat a loop that fills an nn.Sequential (or a
ModuleList whose forward passes named values along); lets, for loops and seqs are `SeqSteps`'.
Named values that forward never reads get their layers but no forward code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from netdsl.backends.pytorch.lowerings import LOWERINGS, py_literal
from netdsl.backends.pytorch.names import MODULE_ATTRIBUTES, attribute_name, param_name
from netdsl.backends.pytorch.pysource import Body, Namespace
from netdsl.backends.pytorch.scope import (
    UNKNOWN,
    ClassSpec,
    Context,
    Param,
    Value,
    Writer,
    free_names,
    kind_of,
    read_binds,
    value_refs,
)
from netdsl.backends.pytorch.seq import SeqSteps
from netdsl.checker.calls import pair_args
from netdsl.checker.layers import Layer, layer_params, to_layer
from netdsl.checker.naming import TENSOR, Scope, Untaken, labels, single_instance, snake
from netdsl.checker.ops import OPS, REQUIRED
from netdsl.checker.values import EvalError
from netdsl.language import ast


class BodyWriter(SeqSteps):
    """Writes the statements of one class into its __init__ and its forward."""

    def __init__(
        self, writer: Writer, init: Body, fwd: Body, init_names: Namespace, fwd_names: Namespace, spec: ClassSpec
    ):
        self.writer, self.init, self.fwd = writer, init, fwd
        self.init_names, self.fwd_names, self.owner = init_names, fwd_names, spec.name
        self.attributes = Namespace(MODULE_ATTRIBUTES)  # labels first: a flag yields to them
        for label in spec.scope.reserved:
            self.attributes.claim(attribute_name(label))
        self.flags = 0
        self.indices: dict[str, str] = {}  # a loop index lives in its loop: one name serves every loop
        self.lets: dict[int, str] = {}  # each let statement's local
        self.layer: str | None = None  # forward's loop variable over a ModuleList
        self.inlining: list[str] = []  # the inline blocks being written out, innermost last

    def expr(self, expr: ast.Expr, ctx: Context) -> str:
        return self.writer.expr(expr, ctx.consts, ctx.values, ctx.inlined)

    def attribute(self, local: str) -> str:
        return self.attributes.claim(attribute_name(local))

    @contextmanager
    def forward_unread(self) -> Iterator[None]:
        """A named value nobody reads in forward: its layers exist, its forward is not written."""
        fwd, self.fwd = self.fwd, Body()
        try:
            yield
        finally:
            self.fwd = fwd

    def body(self, statements: tuple[ast.Statement, ...], ctx: Context, current: Value, flow: Value) -> Value:
        """`current`: the value the body starts from; `flow`: where its flow statements write."""
        read = read_binds(statements)
        for n, stmt in enumerate(statements):
            if isinstance(stmt, ast.Let):
                self.let(stmt, ctx)
            elif isinstance(stmt, ast.Bind):
                target = Value(self.fwd_names.fresh(stmt.name), self.init_names.fresh(f"{stmt.name}_shape"))
                with nullcontext() if n in read else self.forward_unread():
                    value = self.chain(stmt.chain, ctx, current, target)
                if value.shape == flow.shape:  # which later flow statements change: keep this shape apart
                    self.init.add(f"{target.shape} = {value.shape}", stores=target.shape)
                    value = Value(value.var, target.shape)
                ctx.values[stmt.name] = value
            elif isinstance(stmt, ast.Flow):
                current = self.chain(stmt.chain, ctx, current, flow)
        return current

    def chain(self, chain: ast.Chain, ctx: Context, value: Value, target: Value) -> Value:
        for step in chain.steps:
            value = self.step(step, ctx, value, target)
        return value

    def step(self, step: ast.Step, ctx: Context, value: Value, target: Value) -> Value:
        if (
            isinstance(step, ast.Call)
            and isinstance(ctx.known.get(step.name), Layer)
            or (
                isinstance(step, ast.Call)
                and step.name not in ctx.values
                and step.name not in OPS
                and step.name not in self.writer.program.definitions
            )
        ):
            return self.given_layer(step, ctx, value, target)
        definition = self.writer.program.definitions.get(step.name) if isinstance(step, ast.Call) else None
        if definition is not None and definition.inline and step.name not in ctx.values:
            return self.inline_block(step, definition, ctx, value, target)  # type: ignore[arg-type]
        if ctx.seq is not None:
            return self.in_seq(step, ctx, value, target)
        if isinstance(step, ast.If):
            return self.if_(step, ctx, value, target)
        if isinstance(step, ast.Repeat):
            return self.repeat(step, ctx, value, target)
        if isinstance(step, ast.For):
            return self.for_(step, ctx, value, target)
        if isinstance(step, ast.Seq):
            return self.seq(step, ctx, value, target)
        if step.name in ctx.values and step.args is None and step.label is None:
            return ctx.values[step.name]
        if step.name in OPS:
            return self.op(step, ctx, value, target)
        return self.instance(step, ctx, value, target)

    def given_layer(self, step: ast.Call, ctx: Context, value: Value, target: Value) -> Value:
        """`-> act`, a layer given as an argument: a class is written for each layer given (its
        modules and names are the layer's), so the layer is known here and written in place."""
        layer = ctx.known.get(step.name)
        if not isinstance(layer, Layer):
            raise NotImplementedError(f"block {self.owner} takes the layer '{step.name}' ({step.span})")
        if layer.args is None and layer.name == "none":
            return value
        return self.step(layer.call(step), ctx, value, target)

    def inline_block(
        self, call: ast.Call, definition: ast.Definition, ctx: Context, value: Value, target: Value
    ) -> Value:
        """An `inline block`: its statements written here, in this class's scope, each parameter a
        local of __init__ (as a let is) and the block's `in` the value it is called on."""
        layered = layer_params(definition, self.writer.program.definitions)
        matched, _ = pair_args(call.args or (), [p.name for p in definition.params], call.name)
        names = ["in"] if definition.inputs is None else [p.name for p in definition.inputs]
        tensors = dict(zip(names, self.tensor_values(call, ctx, value), strict=True))
        value = tensors[names[0]]
        if names[0] in value_refs(definition.body.statements):  # kept apart from the flow, which the body advances
            kept = Value(
                self.fwd_names.fresh(f"{snake(call.name)}_{names[0]}"),
                self.init_names.fresh(f"{snake(call.name)}_{names[0]}"),
            )
            self.fwd.add(f"{kept.var} = {value.var}")
            self.init.add(f"{kept.shape} = {value.shape}", stores=kept.shape)
            tensors[names[0]] = value = kept
        inner = ctx.child(values=tensors, consts={}, known={}, inlined={}, kinds={})
        for param in definition.params:
            given = matched.get(param.name)
            source = ctx if given is not None else inner
            expr = given.value if given is not None else param.default
            assert expr is not None
            if param.name in layered:
                layer = self.layer_value(expr, source, source.known)
                if layer is UNKNOWN:
                    raise NotImplementedError(f"the layers given to block {call.name} ({call.span}) are not known here")
                inner.known[param.name] = layer
                continue
            known = source.value_of(expr)
            local = self.init_names.fresh(param.name)
            self.init.add(f"{local} = {self.expr(expr, source)}", stores=local)
            inner.consts[param.name] = local
            inner.kinds[param.name] = "int" if known is UNKNOWN else kind_of(known)
            if known is not UNKNOWN:
                inner.known[param.name] = known
        self.inlining.append(call.name)
        try:
            return self.body(definition.body.statements, inner, value, target)
        finally:
            self.inlining.pop()

    def op(self, call: ast.Call, ctx: Context, value: Value, target: Value) -> Value:
        """Any op, merges included: its module (if it has one), shape and forward, as its lowering says."""
        op, lowering = OPS[call.name], LOWERINGS[call.name]
        local = self.scoped_name(call.label, op.name, ctx)  # a merge has no module, but spends its name
        inputs = self.merge_inputs(call, ctx, value) if op.merge else [value]
        module = None
        if lowering.build is not None:
            attr = self.attribute(local)
            args = self.op_args(call, ctx)
            rank = len(self.writer.shape_at(ctx, local) or ()) or 3
            self.init.add(f"self.{attr} = {lowering.build(args, inputs[0].shape, rank)}")
            for line in lowering.after(f"self.{attr}", args):
                self.init.add(line)
            module = f"self.{attr}"
        if any(v.optional for v in inputs):  # a tensor input the call may leave out: skipped where it is None
            forward = lowering.forward(module, [_skipping(call.name, v) for v in inputs])
            inputs = sorted(inputs, key=lambda v: v.optional)  # for the shape, a present one first: its sides
            shapes = [f"({v.shape} or (0,))" if v.optional and call.name == "concat" else v.shape for v in inputs]
        else:
            forward, shapes = lowering.forward(module, [v.var for v in inputs]), [v.shape for v in inputs]
        shape = inputs[0].shape
        if lowering.shape is not None:
            self.init.add(f"{target.shape} = {lowering.shape(module, shapes)}", stores=target.shape)
            shape = target.shape
        self.fwd.add(f"{target.var} = {forward}", self.writer.comment(ctx, local))
        return Value(target.var, shape)

    def op_args(self, call: ast.Call, ctx: Context) -> dict[str, str]:
        """An op's arguments as Python source, defaults included, and each one's negation as `not NAME`
        (for a lowering that needs it)."""
        op = OPS[call.name]
        matched, _ = pair_args(() if op.merge else call.args or (), [a.name for a in op.args], op.name)
        args = {spec.name: py_literal(spec.default) for spec in op.args if spec.default is not REQUIRED}
        args |= {name: self.expr(arg.value, ctx) for name, arg in matched.items()}
        args |= {
            f"not {name}": self.expr(ast.UnaryOp("not", arg.value, arg.span), ctx) for name, arg in matched.items()
        }
        return args

    def merge_inputs(self, call: ast.Call, ctx: Context, value: Value) -> list[Value]:
        inputs = [ctx.values[a.value.id] for a in call.args or () if isinstance(a.value, ast.Name)]
        return [value, *inputs] if len(inputs) == 1 else inputs

    def instance(self, call: ast.Call, ctx: Context, value: Value, target: Value) -> Value:
        local = self.scoped_name(call.label, snake(call.name), ctx)
        attr = self.attribute(local)
        given = self.tensor_values(call, ctx, value)
        self.init.add(f"self.{attr} = {self.construct(call, ctx, value.shape)}")
        self.init.add(f"{target.shape} = self.{attr}.out_shape", stores=target.shape)
        while len(given) > 1 and given[-1] is _NONE:  # left out at the end: forward's default, None
            given.pop()
        self.fwd.add(f"{target.var} = self.{attr}({', '.join(v.var for v in given)})", self.writer.comment(ctx, local))
        return Value(target.var, target.shape)

    def tensor_values(self, call: ast.Call, ctx: Context, value: Value) -> list[Value]:
        """The tensors a block instance is given, one per declared input (`None` for one left out);
        without a second list, the chain's value is the first."""
        declared = self.writer.program.definitions[call.name].inputs
        if declared is None:
            return [value]
        names = [p.name for p in declared]
        matched, _ = pair_args(call.inputs or (), names, call.name)
        given = {names[0]: value} if call.inputs is None else {}
        given |= {name: ctx.values[arg.value.id] for name, arg in matched.items() if isinstance(arg.value, ast.Name)}
        return [given.get(name, _NONE) for name in names]

    def construct(self, call: ast.Call, ctx: Context, shape: str) -> str:
        """`Block(shape, args...)`, the arguments written as the spec wrote them (by keyword where
        the block's constructor takes keywords only)."""
        cls = self.block_class(call, ctx)
        definition = self.writer.program.definitions[call.name]
        names = [p.name for p in definition.params]
        layered = layer_params(
            definition, self.writer.program.definitions
        )  # no constructor argument: the class is written for the layer
        keywords = self.writer.keyword_only(call.name) or bool(layered)
        parts = [v.shape for v in self.tensor_values(call, ctx, Value("", shape))]  # one per tensor input
        for n, arg in enumerate(call.args or ()):
            if (arg.name or names[n]) in layered:
                continue
            text = self.expr(arg.value, ctx)
            name = arg.name or (names[n] if keywords else None)
            parts.append(text if name is None else f"{param_name(name)}={text}")
        return f"{cls}({', '.join(parts)})"

    def block_class(self, call: ast.Call, ctx: Context) -> str:
        """The class of a block instance: the block's own, or, where no class can follow every value
        of its parameters, the one written for this instance's arguments (known as the file is
        written: else this class cannot be written either, and its own caller tries the same)."""
        name = call.name
        layers = self.layer_values(call, ctx)
        if name not in self.writer.specialized:
            written = self.writer.attempt(lambda: self.writer.block_class(name, layers or None))
            if written is not None:
                return written
            self.writer.specialized.add(name)
        values = self.argument_values(call, ctx)
        if values is None:
            raise NotImplementedError(
                f"block {name}'s layers are named after its arguments, which are known only "
                f"when the module is built ({call.span})"
            )
        return self.writer.block_class(name, values)

    def layer_values(self, call: ast.Call, ctx: Context) -> dict[str, Any]:
        """The layers a block instance is given (a class is written for each): {} for a block that
        takes none; NotImplementedError where one is known only when the module is built."""
        if not layer_params(self.writer.program.definitions[call.name], self.writer.program.definitions):
            return {}
        values = self.argument_values(call, ctx, layers_only=True)
        if values is None:
            raise NotImplementedError(f"the layers given to block {call.name} ({call.span}) are not known here")
        return values

    def argument_values(self, call: ast.Call, ctx: Context, layers_only: bool = False) -> dict[str, Any] | None:
        """The values of a block instance's parameters, defaults included, where all are known."""
        definition = self.writer.program.definitions[call.name]
        params, layered = definition.params, layer_params(definition, self.writer.program.definitions)
        matched, _ = pair_args(call.args or (), [p.name for p in params], call.name)
        values: dict[str, Any] = {}
        for param in params:
            given = matched.get(param.name)
            if param.name in layered:
                value = self.layer_value(given.value if given else param.default, ctx if given else None, values)
            elif layers_only:
                continue
            elif given is not None:
                value = ctx.value_of(given.value)
            elif param.default is not None:  # a default reads the parameters before it
                value = Context({}, {}, ctx.scope, None, known=dict(values)).value_of(param.default)
            else:
                value = UNKNOWN
            if value is UNKNOWN:
                return None
            values[param.name] = value
        return values

    def layer_value(self, expr: ast.Expr | None, ctx: Context | None, earlier: dict[str, Any]) -> Any:
        """A layer argument's value as the file is written (UNKNOWN where a parameter decides it)."""
        blocks = [n for n, d in self.writer.program.definitions.items() if d.kind == "block"]
        env = ctx.known if ctx is not None else earlier
        try:
            return UNKNOWN if expr is None else to_layer(expr, env, blocks)
        except (EvalError, ArithmeticError, TypeError, ValueError):
            return UNKNOWN

    def if_(self, step: ast.If, ctx: Context, value: Value, target: Value) -> Value:
        """`self.condN = <condition>` in __init__; the same `if` in __init__ and forward. A branch
        left empty is not written (an `if` without `else`, or one whose then-branch is empty). A
        condition known as the file is written (in a loop written out) keeps just its branch."""
        taken = ctx.value_of(step.condition)
        if isinstance(taken, bool):  # the other branch spends its names all the same, as elaboration does
            branch, other = (step.then, step.orelse) if taken else (step.orelse, step.then)
            shared = frozenset() if taken or branch is None else labels(branch.statements)
            if not taken:
                self.spend_untaken(other, ctx, shared)
            result = self.body(branch.statements, ctx.child(), value, target) if branch else value
            if taken:
                self.spend_untaken(other, ctx, shared)
            return result
        self.flags += 1
        flag = f"self.{self.attributes.fresh(f'cond{self.flags}')}"
        self.init.add(f"{flag} = {self.expr(step.condition, ctx)}")
        init_if, fwd_if = self.init.compound("if", flag), self.fwd.compound("if", flag)
        for branch, init_suite, fwd_suite in (
            (step.then, init_if.body, fwd_if.body),
            (step.orelse, init_if.orelse, fwd_if.orelse),
        ):
            with self.init.inside(init_suite), self.fwd.inside(fwd_suite):
                result = self.body(branch.statements if branch else (), ctx.child(), value, target)
                if result.var != target.var:
                    self.fwd.add(f"{target.var} = {result.var}")
                if result.shape != target.shape:
                    self.init.add(f"{target.shape} = {result.shape}", stores=target.shape)
        return target

    def spend_untaken(self, branch: ast.Body | None, ctx: Context, shared: frozenset[str]) -> None:
        """The automatic names of a branch not written, spent as elaboration spends them."""
        env = {name: UNKNOWN for name in ctx.consts} | {name: TENSOR for name in ctx.values} | ctx.known
        spender = Untaken(self.writer.program.definitions, strict=True)
        spender.body(branch.statements if branch else (), ctx.scope, env, shared, frozenset(self.inlining))

    def repeat(self, step: ast.Repeat, ctx: Context, value: Value, target: Value) -> Value:
        local = self.scoped_name(step.label, "repeat", ctx)
        attr = self.attribute(local)
        if step.index and step.index not in self.indices:
            self.indices[step.index] = self.init_names.fresh(step.index)
        index = self.indices[step.index] if step.index else "_"
        consts = dict(ctx.consts) | ({step.index: index} if step.index else {})
        outer = tuple(sorted(n for n in value_refs(step.body.statements) if n in ctx.values))
        if single_instance(step.body, self.writer.program.definitions) and not outer:
            call = step.body.statements[0].chain.steps[0]  # type: ignore[union-attr]
            assert isinstance(call, ast.Call)
            make = self.construct(call, ctx.child(consts=consts, ir_prefix=None), target.shape)
        else:
            written = self.writer.attempt(lambda: self.body_class(step, ctx, local, consts, outer, target.shape))
            if written is None:
                return self.repeat_written_out(step, ctx, local, attr, outer, value, target)
            make = written
        self.init.add(f"self.{attr} = {'nn.ModuleList' if outer else 'nn.Sequential'}()")
        if target.shape != value.shape:
            self.init.add(f"{target.shape} = {value.shape}", stores=target.shape)
        count = self.expr(step.count, ctx)
        with self.init.inside(self.init.compound("for", f"{index} in range({count})").body):
            self.init.add(f"self.{attr}.append({make})")
            self.init.add(f"{target.shape} = self.{attr}[-1].out_shape", stores=target.shape)
        return self.repeat_forward(ctx, local, attr, outer, value, target)

    def repeat_written_out(
        self, step: ast.Repeat, ctx: Context, local: str, attr: str, outer: tuple[str, ...], value: Value, target: Value
    ) -> Value:
        """A repeat whose iterations cannot share one class (a loop in it names its layers after the
        index): a class for each iteration, where the count is known as the file is written."""
        count = ctx.value_of(step.count)
        if count is UNKNOWN:
            raise NotImplementedError(
                f"the iterations of the repeat at {step.span} name their layers after its "
                "index, and its count is known only when the module is built"
            )
        self.init.add(f"self.{attr} = {'nn.ModuleList' if outer else 'nn.Sequential'}()")
        if target.shape != value.shape:
            self.init.add(f"{target.shape} = {value.shape}", stores=target.shape)
        for i in range(count):
            inner = ctx.child()
            if step.index:
                inner.known[step.index] = inner.inlined[step.index] = i
                inner.consts[step.index] = str(i)
            make = self.body_class(step, inner, local, inner.consts, outer, target.shape, iteration=i)
            self.init.add(f"self.{attr}.append({make})")
            self.init.add(f"{target.shape} = self.{attr}[-1].out_shape", stores=target.shape)
        return self.repeat_forward(ctx, local, attr, outer, value, target)

    def repeat_forward(
        self, ctx: Context, local: str, attr: str, outer: tuple[str, ...], value: Value, target: Value
    ) -> Value:
        comment = self.writer.comment(ctx, local)
        if not outer:
            self.fwd.add(f"{target.var} = self.{attr}({value.var})", comment)
            return target
        self.layer = self.layer or self.fwd_names.fresh("layer")
        layer = self.layer
        if target.var != value.var:
            self.fwd.add(f"{target.var} = {value.var}")
        with self.fwd.inside(self.fwd.compound("for", f"{layer} in self.{attr}").body):
            extra = ", ".join(ctx.values[n].var for n in outer)
            self.fwd.add(f"{target.var} = {layer}({target.var}, {extra})", comment)
        return target

    def body_class(
        self,
        step: ast.Repeat,
        ctx: Context,
        local: str,
        consts: dict[str, str],
        outer: tuple[str, ...],
        shape: str,
        iteration: int | None = None,
    ) -> str:
        """A class for the iterations of a repeat (or, given `iteration`, for that one); returns the
        expression that makes one."""
        free = free_names(step.body.statements)
        params = tuple(
            Param(n, None, "int" if n == step.index else ctx.kinds.get(n, "int")) for n in sorted(free) if n in consts
        )
        shapes_only = tuple(sorted(n for n in free if n in ctx.values and n not in outer))
        cls = self.writer.class_name(f"{self.owner}{_pascal(local)}")
        prefix = None if ctx.ir_prefix is None else ctx.ir_prefix + (local, str(iteration or 0))
        scope = Scope((), labels(step.body.statements))
        doc = f"one iteration of `{local}` in {self.owner}. Shape comments are those of the first."
        if iteration is not None:
            doc = f"iteration {iteration} of `{local}` in {self.owner}, whose layers are named after its index."
        known = {p.name: ctx.known[p.name] for p in params if p.name in ctx.known}
        spec = ClassSpec(cls, doc, params, step.body.statements, scope, prefix, outer, shapes_only)
        self.writer.write_class(spec, values=known, guard=False)
        args = [shape] + [ctx.values[n].shape for n in (*outer, *shapes_only)]
        args += [f"{param_name(p.name)}={consts[p.name]}" for p in params]
        return f"{cls}({', '.join(args)})"


_NONE = Value("None", "None", optional=True)  # a tensor input the call leaves out


def _skipping(merge: str, value: Value) -> str:
    """A merge's operand that may be None (a tensor input left out), which the merge then skips."""
    if not value.optional:
        return value.var
    if merge == "concat":
        return f"*([] if {value.var} is None else [{value.var}])"
    return f"(0 if {value.var} is None else {value.var})"


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
