"""Backend — PyTorch: lets, for loops and seqs in a class's __init__ (a part of `BodyWriter`).

A seq is an nn.Sequential: its layers are appended in order, so their names are their
positions as elaboration gives them, and `if`, `repeat` and `for` inside it are Python
statements of __init__ that decide which layers and how many. A for loop elsewhere is written
out in place when its list is known as the file is written, as elaboration writes it; over a
list known only when the module is built, its layers (each labelled) are registered under their
computed names, as torchvision's DenseNet does.
"""

from __future__ import annotations

from netdsl.backends.pytorch.lowerings import LOWERINGS, py_literal
from netdsl.backends.pytorch.pysource import Body, Namespace
from netdsl.backends.pytorch.scope import (
    UNKNOWN,
    Container,
    Context,
    Value,
    Writer,
    holds_parameters,
    kind_of,
    value_source,
)
from netdsl.checker.layers import layer_params
from netdsl.checker.naming import Scope, labels
from netdsl.checker.ops import OPS
from netdsl.checker.values import Symbol
from netdsl.language import ast


class SeqSteps:
    """The lets, loops and seqs of `BodyWriter`, which provides the rest."""

    writer: Writer
    init: Body
    fwd: Body
    init_names: Namespace
    fwd_names: Namespace
    attributes: Namespace
    lets: dict[int, str]
    flags: int
    layer: str | None

    def let(self, stmt: ast.Let, ctx: Context) -> None:
        """`let name = value`: a local of __init__ (forward needs no constant), one per let however
        often a loop writes it out; its value is kept too where it is known as the file is written."""
        value = ctx.value_of(stmt.value)
        if value is UNKNOWN:
            ctx.known.pop(stmt.name, None)
        else:
            ctx.known[stmt.name] = value
        local = self.lets.get(id(stmt)) or self.init_names.fresh(stmt.name)
        self.lets[id(stmt)] = local
        self.init.add(f"{local} = {self.expr(stmt.value, ctx)}", stores=local)
        ctx.consts[stmt.name] = local
        listed = isinstance(stmt.value, (ast.ListExpr, ast.ListComp, ast.Slice))
        ctx.kinds[stmt.name] = ("tuple" if listed else "int") if value is UNKNOWN else kind_of(value)

    def scoped_name(self, label: ast.Label | None, base: str, ctx: Context) -> str:
        """A layer's name in this class's scope: its label (a computed one worked out now), or the
        next automatic name."""
        if label is not None and label.computed:
            text = self.label_text(label, ctx)
            if text is None:
                raise NotImplementedError(
                    f"the PyTorch backend cannot name '{label.name}' ({label.span}) here: its value is known only "
                    "when the module is built; such labels are written inside a seq or a for loop"
                )
            label = ast.Label(text, label.span)
        return ctx.scope.name(label, base)

    def label_text(self, label: ast.Label, ctx: Context) -> str | None:
        """A computed label's text where it is known as the file is written."""
        pieces = []
        for part in label.parts or ():
            value = part if isinstance(part, str) else ctx.value_of(part)
            if value is UNKNOWN:
                return None
            pieces.append(value.name if isinstance(value, Symbol) else str(value))
        return "".join(pieces)

    def label_source(self, label: ast.Label, ctx: Context) -> str:
        """A label as a Python expression: a string, or an f-string for a computed label."""
        if not label.computed:
            return py_literal(label.name)
        text = self.label_text(label, ctx)
        if text is not None:
            return py_literal(text)
        pieces = "".join(p if isinstance(p, str) else "{" + self.expr(p, ctx) + "}" for p in label.parts or ())
        quote = "'" if '"' in pieces else '"'  # an f-string cannot hold its own quotes before Python 3.12
        return f"f{quote}{pieces}{quote}"

    def for_(self, step: ast.For, ctx: Context, value: Value, target: Value) -> Value:
        """A for loop outside a seq writes its body out in place, once per item, as elaboration does;
        over a list known only when the module is built, see `loop_of_named_layers`."""
        items = ctx.value_of(step.iterable)
        if items is UNKNOWN:
            return self.loop_of_named_layers(step, ctx, value, target)
        for item in items:
            inner = ctx.child()
            for name, part in zip(step.names, [item] if len(step.names) == 1 else item, strict=True):
                inner.known[name], inner.consts[name], inner.inlined[name] = part, value_source(part), part
            value = self.body(step.body.statements, inner, value, target)
        return value

    def loop_of_named_layers(self, step: ast.For, ctx: Context, value: Value, target: Value) -> Value:
        """A for loop, outside a seq, over a list known only when the module is built (DenseNet's
        `for i in range(layers) { "denselayer{i + 1}": ... }`): the layers are registered under
        their computed names, as torchvision does with add_module, and forward runs them in order.
        Every layer in it needs a label: an automatic name would depend on the list's length."""
        registry = f"self.{self.attributes.fresh(f'layers{self.flags + 1}')}"
        self.flags += 1
        self.init.add(f"{registry}: list[str] = []")
        container = Container("self", registry)
        result = self.seq_loop(step, ctx.child(seq=container), value, target)
        self.layer = self.layer or self.fwd_names.fresh("layer")
        if target.var != value.var:
            self.fwd.add(f"{target.var} = {value.var}")
        with self.fwd.inside(self.fwd.compound("for", f"{self.layer} in {registry}").body):
            self.fwd.add(f"{target.var} = self.get_submodule({self.layer})({target.var})")
        return Value(target.var, result.shape)

    def seq(self, step: ast.Seq, ctx: Context, value: Value, target: Value) -> Value:
        """A seq is an nn.Sequential: its layers are appended in order (so their names are their
        positions, as in the IR), and forward is one call. Inside a seq, a seq is filled as a local
        and appended when complete."""
        chain = holds_parameters(step.body.statements)
        if ctx.seq is None:
            local = self.scoped_name(step.label, "seq", ctx)
            where = None if ctx.ir_prefix is None else (*ctx.ir_prefix, local)
            container = Container(f"self.{self.attribute(local)}", track=[where, 0], chain=chain)
        else:
            where = ctx.seq.next_path(self.static_label(step.label, ctx))
            container = Container(
                track=[where, 0],
                chain=chain,
                expr=self.init_names.fresh(
                    step.label.name
                    if step.label and not step.label.computed and step.label.name.isidentifier()
                    else "seq"
                ),
            )
        self.init.add(f"{container.expr} = {'Chain' if chain else 'nn.Sequential'}()")
        with self.forward_unread():  # nn.Sequential's forward runs its layers
            inner = ctx.child(seq=container, scope=Scope((), labels(step.body.statements), seq=True))
            result = self.body(step.body.statements, inner, value, target)
        if ctx.seq is None:
            self.fwd.add(f"{target.var} = {container.expr}({value.var})")
        else:
            self.add_layer(ctx, step.label, container.expr)
        return Value(target.var, result.shape)

    def in_seq(self, step: ast.Step, ctx: Context, value: Value, target: Value) -> Value:
        """A step inside a seq (or a loop of named layers): its layers go into the container, in
        order; `if` and loops decide in __init__ which and how many."""
        if isinstance(step, ast.Seq):
            return self.seq(step, ctx, value, target)
        if isinstance(step, (ast.Repeat, ast.For)):
            return self.seq_loop(step, ctx, value, target)
        if isinstance(step, ast.If):
            return self.seq_if(step, ctx, value, target)
        where = ctx.seq.next_path(self.static_label(step.label, ctx)) if ctx.seq else None
        if step.name not in OPS:  # a block
            module = self.add_layer(ctx, step.label, self.construct(step, ctx, value.shape))
            self.init.add(f"{target.shape} = {module}.out_shape", stores=target.shape)
            return Value(target.var, target.shape)
        lowering = LOWERINGS[step.name]
        if not lowering.plain_module and not (lowering.build and ctx.seq and ctx.seq.chain):
            raise NotImplementedError(
                f"the PyTorch backend cannot put {step.name} ({step.span}) in a seq: "
                "it is no module that nn.Sequential can call"
            )
        args = self.op_args(step, ctx)
        shape = None if where is None else self.writer.shapes.get(".".join(where))
        module = self.add_layer(ctx, step.label, lowering.build(args, value.shape, len(shape or ())))  # 0: unknown
        for line in lowering.after(module, args):
            self.init.add(line)
        if lowering.shape is None:
            return Value(target.var, value.shape)
        self.init.add(f"{target.shape} = {lowering.shape(module, [value.shape])}", stores=target.shape)
        return Value(target.var, target.shape)

    def static_label(self, label: ast.Label | None, ctx: Context) -> str | None:
        """A label's text where it is known as the file is written (a number label included)."""
        if label is None:
            return None
        return self.label_text(label, ctx) if label.computed else label.name

    def add_layer(self, ctx: Context, label: ast.Label | None, make: str) -> str:
        """Put a module into the current container; returns the expression of the module."""
        container = ctx.seq
        assert container is not None
        if container.chain:  # the prelude's Chain: a number label is the position anyway
            number = label is None or (not label.computed and label.name.isdigit())
            self.init.add(f"{container.expr}.add({'None' if number else self.label_source(label, ctx)}, {make})")
            return f"{container.expr}[-1]"
        if container.registry is None:  # an nn.Sequential: a number label is the position anyway
            if label is None or (not label.computed and label.name.isdigit()):
                self.init.add(f"{container.expr}.append({make})")
            else:
                self.init.add(f"{container.expr}.add_module({self.label_source(label, ctx)}, {make})")
            return f"{container.expr}[-1]"
        if label is None:
            raise NotImplementedError(
                "the PyTorch backend writes a for loop over a list known only when the module is built, outside "
                'a seq, when every layer in it has a label: give each one ("block{i}": ...), or put the loop '
                "in a seq"
            )
        name = self.layer_name_local()
        self.init.add(f"{name} = {self.label_source(label, ctx)}")
        self.init.add(f"self.add_module({name}, {make})")
        self.init.add(f"{container.registry}.append({name})")
        return f"self.get_submodule({name})"

    def layer_name_local(self) -> str:
        self.name_local = getattr(self, "name_local", None) or self.init_names.fresh("name")
        return self.name_local

    def seq_if(self, step: ast.If, ctx: Context, value: Value, target: Value) -> Value:
        """In a seq a layer's position depends on the branch taken, as in nn.Sequential: __init__
        decides (forward is the seq's)."""
        taken = ctx.value_of(step.condition)
        if isinstance(taken, bool):
            branch = step.then if taken else step.orelse
            return self.body(branch.statements, ctx.child(), value, target) if branch else value
        if ctx.seq is not None:
            ctx.seq.track[0] = None  # positions from here on depend on the branch
        negated = self.expr(ast.UnaryOp("not", step.condition, step.condition.span), ctx)
        node = self.init.compound("if", self.expr(step.condition, ctx), negated)
        for branch, suite in ((step.then, node.body), (step.orelse, node.orelse)):
            with self.init.inside(suite):
                result = self.body(branch.statements if branch else (), ctx.child(), value, target)
                if result.shape != target.shape:
                    self.init.add(f"{target.shape} = {result.shape}", stores=target.shape)
        return Value(target.var, target.shape)

    def seq_loop(self, step: ast.Repeat | ast.For, ctx: Context, value: Value, target: Value) -> Value:
        """A repeat or for loop inside a seq: a Python loop in __init__ that appends as it goes; a
        for loop whose body gives layers to blocks, over a list known here, is written out."""
        items = ctx.value_of(step.iterable) if isinstance(step, ast.For) else UNKNOWN
        if items is not UNKNOWN and self.gives_layers(step.body.statements):
            for item in items:
                inner = ctx.child()
                for name, part in zip(step.names, [item] if len(step.names) == 1 else item, strict=True):
                    inner.known[name], inner.consts[name], inner.inlined[name] = part, value_source(part), part
                value = self.body(step.body.statements, inner, value, target)
            return value
        if ctx.seq is not None:
            ctx.seq.track[0] = None  # positions from here on depend on the count
        inner = ctx.child()
        if isinstance(step, ast.Repeat):
            names = [step.index] if step.index else []
            header = f"range({self.expr(step.count, ctx)})"
        else:
            names = list(step.names)
            header = self.iterable_source(step.iterable, ctx)
        locals_ = [self.init_names.fresh(name) for name in names] or ["_"]
        for name, local in zip(names, locals_, strict=False):
            inner.consts[name] = local
            inner.known.pop(name, None)
            inner.inlined.pop(name, None)
        if target.shape != value.shape:
            self.init.add(f"{target.shape} = {value.shape}", stores=target.shape)
        with self.init.inside(self.init.compound("for", f"{', '.join(locals_)} in {header}").body):
            result = self.body(step.body.statements, inner, Value(value.var, target.shape), target)
            if result.shape != target.shape:
                self.init.add(f"{target.shape} = {result.shape}", stores=target.shape)
        return Value(target.var, target.shape)

    def gives_layers(self, statements: tuple[ast.Statement, ...]) -> bool:
        """Whether a body calls a block that takes a layer (whose class depends on the layer given)."""
        definitions = self.writer.program.definitions
        return any(
            isinstance(step, ast.Call)
            and step.name in definitions
            and layer_params(definitions[step.name], self.writer.program.definitions)
            for step in ast.nested_steps(statements)
        )

    def iterable_source(self, iterable: ast.Expr, ctx: Context) -> str:
        """What a loop goes through: `range(n)` as Python's own range, any other list as a tuple."""
        if isinstance(iterable, ast.FuncCall) and iterable.name == "range":
            return "range(" + ", ".join(self.expr(a.value, ctx) for a in iterable.args) + ")"
        return self.expr(iterable, ctx)
