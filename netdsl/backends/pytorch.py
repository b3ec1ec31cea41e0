"""Backend — PyTorch: a checked spec → the Python source of its `nn.Module` classes.

`emit_torch(program, checked)` writes one class per block definition the network uses, one
per repeat body, and the network class last. Classes are parametric, as a person would write
them: a block's constructor takes its input shape and the block's parameters; the network's
takes the network's parameters with the spec's defaults. `if` becomes a Python `if` in
`__init__` and `forward`; `repeat` a loop that fills an `nn.Sequential`. Attributes are named
as elaboration names layers (netdsl.naming), so state_dict keys are the spec's labels.
Shapes inside `__init__` are worked out by PyTorch itself (`layer_shape`, on the meta device).
Every name the file introduces comes from one `Namespace` per scope (netdsl.backends.pysource).

Nothing here imports torch: `netdsl.api` executes the source when a module is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from netdsl import __version__, ast
from netdsl.analyze import Checked
from netdsl.backends.pyexpr import calls_a_function, python_expr
from netdsl.backends.pyformat import format_statement
from netdsl.backends.pysource import Body, Namespace
from netdsl.backends.torch_names import LOCAL_RESERVED, MODULE_ATTRIBUTES, attribute_name, param_name, state_prefix
from netdsl.backends.torch_ops import LOWERINGS, PRELUDE, py_literal
from netdsl.calls import pair_args
from netdsl.naming import Scope, labels, single_instance, snake
from netdsl.ops import OPS, REQUIRED, Shape
from netdsl.program import Program

__all__ = ["TorchSource", "attribute_name", "emit_torch", "param_name", "state_prefix"]


@dataclass(frozen=True)
class TorchSource:
    text: str
    class_name: str  # the network's class, defined last


def emit_torch(
    program: Program,
    checked: Checked,
    input_shape: tuple[int, ...] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TorchSource:
    """The Python source of the network's module: deterministic, and needing only torch.
    Overridden network parameters become the written defaults."""
    writer = _Writer(program, checked)
    network = program.definitions[checked.graph.network]
    first, *statements = network.body.statements
    assert isinstance(first, ast.Input)
    values = checked.graph.params
    params = [
        _Param(
            p.name,
            ast.Literal(values[p.name], p.span) if p.name in (overrides or {}) else p.default,
            _kind(values[p.name]),
        )
        for p in network.params
    ]
    consts = {p.name: param_name(p.name) for p in network.params}
    if input_shape is None:
        shape = _tuple(writer.expr(d, consts, {}) for d in first.shape)
    else:
        shape = _tuple(str(d) for d in input_shape)
    scope = Scope((), labels(network.body.statements))
    scope.take(first.name, first.span)
    cls = writer.class_name(network.name)
    doc = f"network {network.name}, {network.name_span}. Shape comments are for the spec's defaults."
    writer.write_class(_Class(cls, doc, tuple(params), tuple(statements), scope, ()), network_input=(first.name, shape))
    return TorchSource(writer.assemble(cls), cls)


def _escape(text: str) -> str:
    """Text from the spec (file paths) made safe inside a comment or a docstring: no line breaks,
    backslashes or double quotes survive, so nothing can end the comment or the string."""
    return text.encode("unicode_escape").decode("ascii").replace('"', "'")


def _tuple(items: Iterator[str] | list[str]) -> str:
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _kind(value: Any) -> str:
    """The Python type of a parameter's value, as an annotation (a word such as `same` is a str,
    a list is written as a tuple)."""
    if isinstance(value, (bool, int, float, str, tuple)):
        return type(value).__name__
    return {"Symbol": "str", "list": "tuple"}.get(type(value).__name__, "object")


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


# ---- classes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A tensor value while a class is written: its forward variable, its __init__ shape variable."""

    var: str
    shape: str


@dataclass(frozen=True)
class _Param:
    name: str  # as the spec writes it
    default: ast.Expr | None
    kind: str  # its Python type's name


@dataclass(frozen=True)
class _Class:
    name: str
    doc: str
    params: tuple[_Param, ...]
    statements: tuple[ast.Statement, ...]
    scope: Scope
    ir_prefix: tuple[str, ...] | None  # the IR path of its first use (for shape comments)
    outer: tuple[str, ...] = ()  # values of an enclosing scope that a repeat body reads
    outer_shapes: tuple[str, ...] = ()  # values of an enclosing scope whose shapes only it reads
    keyword_only: bool = False  # a required parameter follows one with a default: `*` before them


class _Writer:
    """Writes the classes of one generated file."""

    def __init__(self, program: Program, checked: Checked):
        self.program = program
        self.graph = checked.graph
        self.shapes = {node.name: node.shape for node in self.graph.nodes}
        self.shapes.update({path: self.graph.nodes[i].shape for path, i in self.graph.outputs.items()})
        self.classes: dict[str, str] = {}  # name → source; a class comes after those it uses
        self.blocks: dict[str, str] = {}  # block → class name
        self.names = Namespace(LOCAL_RESERVED)  # the file's: class names
        for definition in program.definitions.values():  # no class may shadow a constructor argument
            indices = [s.index for s in ast.nested_steps(definition.body.statements) if isinstance(s, ast.Repeat)]
            self.names.inner |= {param_name(n) for n in [p.name for p in definition.params] + indices if n}

    def class_name(self, wish: str) -> str:
        return self.names.fresh(wish[:1].upper() + wish[1:])

    def block_class(self, name: str) -> str:
        if name not in self.blocks:
            self.blocks[name] = self.class_name(name)
            block = self.program.definitions[name]
            first = next((i for i in self.graph.instances if i.block == name), None)
            prefix = first.path if first else None
            args = dict(first.args) if first else {}
            params = tuple(_Param(p.name, p.default, _kind(args.get(p.name, 0))) for p in block.params)
            used = f"`{'.'.join(prefix)}`" if prefix else "nowhere"
            doc = f"block {name}, {block.name_span}. Shape comments are those of its first use, {used}."
            scope = Scope((), labels(block.body.statements))
            self.write_class(
                _Class(
                    self.blocks[name],
                    doc,
                    params,
                    block.body.statements,
                    scope,
                    prefix,
                    keyword_only=self.keyword_only(name),
                )
            )
        return self.blocks[name]

    def keyword_only(self, block: str) -> bool:
        """Whether a required parameter of `block` follows one with a default, which Python allows
        only for keyword-only parameters (so every call passes that block's arguments by name)."""
        defaults = [p.default is not None for p in self.program.definitions[block].params]
        return any(defaults[i] and not defaults[j] for i in range(len(defaults)) for j in range(i, len(defaults)))

    def write_class(self, spec: _Class, network_input: tuple[str, str] | None = None) -> None:
        init, fwd = Body(), Body()
        init_names, fwd_names = self.names.child(), self.names.child()
        consts = {p.name: init_names.claim(param_name(p.name)) for p in spec.params}
        in_shape = init_names.fresh("in_shape") if network_input is None else None
        shapes = {n: init_names.fresh(f"{n}_shape") for n in (*spec.outer, *spec.outer_shapes)}
        signature = self.signature(spec, consts, init, [in_shape] if in_shape else [], shapes)
        if network_input is not None:  # forward(self, image): x = self.C1(image) ...
            init.add(f"self.input_shape = {network_input[1]}")
            start = _Value(fwd_names.fresh(network_input[0]), "self.input_shape")
            flow = _Value(fwd_names.fresh("x"), init_names.fresh("shape"))
        else:  # forward(self, x): x = ..., or out = ... where the block reads `in` again later
            start = _Value(fwd_names.fresh("x"), in_shape or "")
            reads_input = "in" in _value_refs(spec.statements)
            flow = _Value(fwd_names.fresh("out") if reads_input else start.var, init_names.fresh("shape"))
        values = {"in": start} | {n: _Value(fwd_names.fresh(n) if n in spec.outer else "", shapes[n]) for n in shapes}
        ctx = _Context(consts, values, spec.scope, spec.ir_prefix, {p.name: p.kind for p in spec.params})
        body = _Body(self, init, fwd, init_names, fwd_names, spec)
        result = body.body(spec.statements, ctx, start, flow)
        init.add(f"self.out_shape = {result.shape}")
        fwd.add(f"return {result.var}")
        inputs = ", ".join(f"{v.var}: torch.Tensor" for v in (start, *(values[n] for n in spec.outer)))
        self.classes[spec.name] = "\n".join(
            [
                *format_statement("", f"class {spec.name}(nn.Module):"),
                f'    """{_escape(spec.doc)}"""',
                "",
                *format_statement("    ", f"def __init__({signature}) -> None:"),
                "        super().__init__()",
                *init.write(2),
                "",
                *format_statement("    ", f"def forward(self, {inputs}) -> torch.Tensor:"),
                *fwd.write(2),
            ]
        )

    def signature(
        self, spec: _Class, consts: dict[str, str], init: Body, in_shape: list[str], shapes: dict[str, str]
    ) -> str:
        parts = ["self"] + [f"{name}: tuple[int, ...]" for name in (*in_shape, *shapes.values())]
        parts += ["*"] if spec.keyword_only else []
        for param in spec.params:
            py = consts[param.name]
            if param.default is None:
                parts.append(f"{py}: {param.kind}")
            elif not _free_names(param.default) & set(consts) and not calls_a_function(param.default):
                parts.append(f"{py}: {param.kind} = {self.expr(param.default, consts, {})}")
            else:  # worked out in __init__: from the parameters before it, or by a function
                parts.append(f"{py}: {param.kind} | None = None")
                init.add(f"{py} = {self.expr(param.default, consts, {})} if {py} is None else {py}")
        return ", ".join(parts)

    def expr(self, expr: ast.Expr, consts: dict[str, str], values: dict[str, _Value]) -> str:
        return python_expr(expr, consts, lambda name: values[name].shape)

    def shape_at(self, ctx: _Context, local: str) -> Shape | None:
        """The IR's shape of the layer `local` at this class's first use (None where unknown)."""
        return None if ctx.ir_prefix is None else self.shapes.get(".".join(ctx.ir_prefix + (local,)))

    def comment(self, ctx: _Context, local: str) -> str | None:
        shape = self.shape_at(ctx, local)
        return None if shape is None else "[N, " + ", ".join(str(d) for d in shape) + "]"

    def assemble(self, network_class: str) -> str:
        classes = "\n\n\n".join(self.classes.values())
        helpers = [PRELUDE[name] for name in PRELUDE if re.search(rf"(?<![\w.]){name}\(", classes)]
        header = [
            f"# Generated by netdsl {__version__} from {py_literal(_escape(self.program.main.file))}, "
            f"network {self.graph.network}.",
            "# Edit the spec, not this file: `netdsl build` writes it again.",
            f'"""{network_class}: a PyTorch module generated by netdsl."""',
            "",
            "from __future__ import annotations",
            "",
            *(["import math", ""] if re.search(r"(?<![\w.])math\.", classes) else []),
            "import torch",
            "from torch import nn",
        ]
        return "\n\n\n".join(["\n".join(header), *helpers, classes]) + "\n"


@dataclass
class _Context:
    consts: dict[str, str]  # spec constant (parameter, repeat index) → Python source
    values: dict[str, _Value]  # spec tensor value → its variables
    scope: Scope
    ir_prefix: tuple[str, ...] | None
    kinds: dict[str, str] = field(default_factory=dict)  # spec constant → its Python type's name

    def child(self) -> _Context:
        return _Context(dict(self.consts), dict(self.values), self.scope, self.ir_prefix, self.kinds)


class _Body:
    """Writes the statements of one class into its __init__ and its forward."""

    def __init__(
        self, writer: _Writer, init: Body, fwd: Body, init_names: Namespace, fwd_names: Namespace, spec: _Class
    ):
        self.writer, self.init, self.fwd = writer, init, fwd
        self.init_names, self.fwd_names, self.owner = init_names, fwd_names, spec.name
        self.attributes = Namespace(MODULE_ATTRIBUTES)  # labels first: a flag yields to them
        for label in spec.scope.reserved:
            self.attributes.claim(attribute_name(label))
        self.flags = 0
        self.indices: dict[str, str] = {}  # a loop index lives in its loop: one name serves every loop
        self.layer: str | None = None  # forward's loop variable over a ModuleList

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

    def body(self, statements: tuple[ast.Statement, ...], ctx: _Context, current: _Value, flow: _Value) -> _Value:
        """`current`: the value the body starts from; `flow`: where its flow statements write."""
        read = _read_binds(statements)
        for n, stmt in enumerate(statements):
            if isinstance(stmt, ast.Bind):
                target = _Value(self.fwd_names.fresh(stmt.name), self.init_names.fresh(f"{stmt.name}_shape"))
                with nullcontext() if n in read else self.forward_unread():
                    value = self.chain(stmt.chain, ctx, current, target)
                if value.shape == flow.shape:  # which later flow statements change: keep this shape apart
                    self.init.add(f"{target.shape} = {value.shape}", stores=target.shape)
                    value = _Value(value.var, target.shape)
                ctx.values[stmt.name] = value
            elif isinstance(stmt, ast.Flow):
                current = self.chain(stmt.chain, ctx, current, flow)
        return current

    def chain(self, chain: ast.Chain, ctx: _Context, value: _Value, target: _Value) -> _Value:
        for step in chain.steps:
            value = self.step(step, ctx, value, target)
        return value

    def step(self, step: ast.Step, ctx: _Context, value: _Value, target: _Value) -> _Value:
        if isinstance(step, ast.If):
            return self.if_(step, ctx, value, target)
        if isinstance(step, ast.Repeat):
            return self.repeat(step, ctx, value, target)
        if step.name in ctx.values and step.args is None and step.label is None:
            return ctx.values[step.name]
        if step.name in OPS:
            return self.op(step, ctx, value, target)
        return self.instance(step, ctx, value, target)

    def op(self, call: ast.Call, ctx: _Context, value: _Value, target: _Value) -> _Value:
        """Any op, merges included: its module (if it has one), shape and forward, as its lowering says."""
        op, lowering = OPS[call.name], LOWERINGS[call.name]
        local = ctx.scope.name(call.label, op.name)  # a merge has no module, but spends the name as the IR does
        inputs = self.merge_inputs(call, ctx, value) if op.merge else [value]
        module = None
        if lowering.build is not None:
            attr = self.attribute(local)
            matched, _ = pair_args(() if op.merge else call.args or (), [a.name for a in op.args], op.name)
            args = {spec.name: py_literal(spec.default) for spec in op.args if spec.default is not REQUIRED}
            args |= {name: self.writer.expr(arg.value, ctx.consts, ctx.values) for name, arg in matched.items()}
            args |= {
                f"not {name}": self.writer.expr(ast.UnaryOp("not", arg.value, arg.span), ctx.consts, ctx.values)
                for name, arg in matched.items()
            }  # for a lowering that needs the negation
            rank = len(self.writer.shape_at(ctx, local) or ()) or 3
            self.init.add(f"self.{attr} = {lowering.build(args, inputs[0].shape, rank)}")
            for line in lowering.after(attr, args):
                self.init.add(line)
            module = f"self.{attr}"
        shape = inputs[0].shape
        if lowering.shape is not None:
            self.init.add(f"{target.shape} = {lowering.shape(module, [v.shape for v in inputs])}", stores=target.shape)
            shape = target.shape
        forward = lowering.forward(module, [v.var for v in inputs])
        self.fwd.add(f"{target.var} = {forward}", self.writer.comment(ctx, local))
        return _Value(target.var, shape)

    def merge_inputs(self, call: ast.Call, ctx: _Context, value: _Value) -> list[_Value]:
        inputs = [ctx.values[a.value.id] for a in call.args or () if isinstance(a.value, ast.Name)]
        return [value, *inputs] if len(inputs) == 1 else inputs

    def instance(self, call: ast.Call, ctx: _Context, value: _Value, target: _Value) -> _Value:
        local = ctx.scope.name(call.label, snake(call.name))
        attr = self.attribute(local)
        self.init.add(f"self.{attr} = {self.construct(call, ctx, value.shape)}")
        self.init.add(f"{target.shape} = self.{attr}.out_shape", stores=target.shape)
        self.fwd.add(f"{target.var} = self.{attr}({value.var})", self.writer.comment(ctx, local))
        return _Value(target.var, target.shape)

    def construct(self, call: ast.Call, ctx: _Context, shape: str) -> str:
        """`Block(shape, args...)`, the arguments written as the spec wrote them (by keyword where
        the block's constructor takes keywords only)."""
        cls = self.writer.block_class(call.name)
        names = [p.name for p in self.writer.program.definitions[call.name].params]
        keywords = self.writer.keyword_only(call.name)
        parts = [shape]
        for n, arg in enumerate(call.args or ()):
            text = self.writer.expr(arg.value, ctx.consts, ctx.values)
            name = arg.name or (names[n] if keywords else None)
            parts.append(text if name is None else f"{param_name(name)}={text}")
        return f"{cls}({', '.join(parts)})"

    def if_(self, step: ast.If, ctx: _Context, value: _Value, target: _Value) -> _Value:
        """`self.condN = <condition>` in __init__; the same `if` in __init__ and forward. A branch
        left empty is not written (an `if` without `else`, or one whose then-branch is empty)."""
        self.flags += 1
        flag = f"self.{self.attributes.fresh(f'cond{self.flags}')}"
        self.init.add(f"{flag} = {self.writer.expr(step.condition, ctx.consts, ctx.values)}")
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

    def repeat(self, step: ast.Repeat, ctx: _Context, value: _Value, target: _Value) -> _Value:
        local = ctx.scope.name(step.label, "repeat")
        attr = self.attribute(local)
        if step.index and step.index not in self.indices:
            self.indices[step.index] = self.init_names.fresh(step.index)
        index = self.indices[step.index] if step.index else "_"
        consts = dict(ctx.consts) | ({step.index: index} if step.index else {})
        outer = tuple(sorted(n for n in _value_refs(step.body.statements) if n in ctx.values))
        if single_instance(step.body, self.writer.program.definitions) and not outer:
            call = step.body.statements[0].chain.steps[0]  # type: ignore[union-attr]
            assert isinstance(call, ast.Call)
            make = self.construct(call, _Context(consts, ctx.values, ctx.scope, None, ctx.kinds), target.shape)
        else:
            make = self.body_class(step, ctx, local, consts, outer, target.shape)
        self.init.add(f"self.{attr} = {'nn.ModuleList' if outer else 'nn.Sequential'}()")
        if target.shape != value.shape:
            self.init.add(f"{target.shape} = {value.shape}", stores=target.shape)
        count = self.writer.expr(step.count, ctx.consts, ctx.values)
        with self.init.inside(self.init.compound("for", f"{index} in range({count})").body):
            self.init.add(f"self.{attr}.append({make})")
            self.init.add(f"{target.shape} = self.{attr}[-1].out_shape", stores=target.shape)
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
        self, step: ast.Repeat, ctx: _Context, local: str, consts: dict[str, str], outer: tuple[str, ...], shape: str
    ) -> str:
        """A class for one iteration of a repeat; returns the expression that makes one."""
        free = _free_names(step.body.statements)
        params = tuple(
            _Param(n, None, "int" if n == step.index else ctx.kinds.get(n, "int")) for n in sorted(free) if n in consts
        )
        shapes_only = tuple(sorted(n for n in free if n in ctx.values and n not in outer))
        cls = self.writer.class_name(f"{self.owner}{_pascal(local)}")
        prefix = None if ctx.ir_prefix is None else ctx.ir_prefix + (local, "0")
        scope = Scope((), labels(step.body.statements))
        doc = f"one iteration of `{local}` in {self.owner}. Shape comments are those of the first."
        self.writer.write_class(_Class(cls, doc, params, step.body.statements, scope, prefix, outer, shapes_only))
        args = [shape] + [ctx.values[n].shape for n in (*outer, *shapes_only)]
        args += [f"{param_name(p.name)}={consts[p.name]}" for p in params]
        return f"{cls}({', '.join(args)})"


# ---- what a body reads ------------------------------------------------------------------------


def _value_refs(statements: tuple[ast.Statement, ...]) -> set[str]:
    """Tensor values a body reads but does not bind: chain steps that name them, merge arguments."""
    bound = {s.name for s in statements if isinstance(s, ast.Bind)}
    return _reads(ast.nested_steps(statements)) - bound


def _reads(steps: Iterator[ast.Step]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        if isinstance(step, ast.Call):
            if step.args is None and step.name not in OPS:
                found.add(step.name)
            if step.name in OPS and OPS[step.name].merge:
                found |= {a.value.id for a in step.args or () if isinstance(a.value, ast.Name)}
    return found


def _read_binds(statements: tuple[ast.Statement, ...]) -> set[int]:
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
        wanted |= _reads(ast.nested_steps((stmt,)))
    return read


def _free_names(node: Any) -> set[str]:
    """Every name that the expressions under `node` read."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attr):
        return {node.value.id}
    if isinstance(node, tuple):
        return set().union(*(_free_names(item) for item in node)) if node else set()
    if hasattr(node, "__dataclass_fields__"):
        return set().union(*(_free_names(getattr(node, f)) for f in node.__dataclass_fields__))
    return set()
