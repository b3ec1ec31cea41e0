"""Backend — PyTorch: a checked spec → the Python source of its `nn.Module` classes.

`emit_torch(program, checked)` writes one class per block definition the network uses, one
per repeat body, and the network class last. Classes are parametric, as a person would write
them: a block's constructor takes its input shape and the block's parameters; the network's
takes the network's parameters with the spec's defaults. `if` becomes a Python `if` in
`__init__` and `forward`; `repeat` a loop that fills an `nn.Sequential`. Attributes are named
as elaboration names layers (netdsl.naming), so state_dict keys are the spec's labels.
Shapes inside `__init__` are worked out by PyTorch itself (`layer_shape`, on the meta device).

Nothing here imports torch: `netdsl.api` executes the source when a module is wanted.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from netdsl import __version__, ast
from netdsl.analyze import Checked
from netdsl.backends.pyformat import format_statement
from netdsl.backends.torch_ops import LOWERINGS, PRELUDE, py_literal
from netdsl.calls import pair_args
from netdsl.naming import Scope, labels, single_instance, snake
from netdsl.ops import OPS, REQUIRED, Shape
from netdsl.program import Program

# nn.Module's own members (and two of ours): a layer labelled like one gets a trailing `_`
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half input_shape ipu
load_state_dict modules mtia named_buffers named_children named_modules named_parameters out_shape parameters
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty
train training type xpu zero_grad
""".split())
# module-level names of a generated file, and the fixed local names of __init__ and forward
FILE_NAMES = frozenset({"torch", "nn", "math", "annotations", *PRELUDE})
INIT_NAMES = frozenset({"self", "in_shape", "shape"})
FORWARD_NAMES = frozenset({"self", "x", "out", "layer"})


def python_name(name: str, taken: frozenset[str] | set[str] = frozenset()) -> str:
    """`name`, with `_` appended until it is no Python keyword and not in `taken`."""
    while keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in taken:
        name += "_"
    return name


def param_name(name: str) -> str:
    """A spec parameter as a constructor argument (class names are capitalized, so a parameter
    named like a block is caught by `class_name`, which avoids every parameter name)."""
    return python_name(name, FILE_NAMES | INIT_NAMES)


def attribute_name(label: str) -> str:
    """A layer's attribute name: its label, unless that is a keyword or a member of nn.Module."""
    if label.startswith("__") or label in MODULE_ATTRIBUTES:
        return label + "_"
    return python_name(label)


def state_prefix(node_name: str) -> str:
    """The state_dict prefix, in the generated module, of the IR node called `node_name`."""
    return ".".join(part if part.isdigit() else attribute_name(part) for part in node_name.split("."))


@dataclass(frozen=True)
class TorchSource:
    text: str
    class_name: str  # the network's class, defined last


def emit_torch(program: Program, checked: Checked, input_shape: tuple[int, ...] | None = None,
               overrides: Mapping[str, Any] | None = None) -> TorchSource:
    """The Python source of the network's module: deterministic, and needing only torch.
    Overridden network parameters become the written defaults."""
    writer = _Writer(program, checked)
    network = program.definitions[checked.graph.network]
    first, *statements = network.body.statements
    assert isinstance(first, ast.Input)
    values = checked.graph.params
    params = [(p.name, ast.Literal(values[p.name], p.span) if p.name in (overrides or {}) else p.default,
               type(values[p.name]).__name__) for p in network.params]
    consts = {p.name: param_name(p.name) for p in network.params}
    if input_shape is None:
        shape = _tuple(writer.expr(d, consts, {}) for d in first.shape)
    else:
        shape = _tuple(str(d) for d in input_shape)
    scope = Scope((), labels(network.body.statements))
    scope.take(first.name, first.span)
    cls = writer.class_name(network.name)
    doc = f"network {network.name}, {network.name_span}. Shape comments are for the spec's defaults."
    writer.write_class(_Class(cls, doc, params, tuple(statements), scope, ()), network_input=(first.name, shape))
    return TorchSource(writer.assemble(cls), cls)


def _escape(text: str) -> str:
    """Text from the spec (file paths) made safe inside a comment or a docstring: no line breaks,
    backslashes or double quotes survive, so nothing can end the comment or the string."""
    return text.encode("unicode_escape").decode("ascii").replace('"', "'")


def _tuple(items: Iterator[str] | list[str]) -> str:
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


# ---- classes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A tensor value while a class is written: its forward variable, its __init__ shape variable."""

    var: str
    shape: str


@dataclass(frozen=True)
class _Class:
    name: str
    doc: str
    params: list[tuple[str, ast.Expr | None, str]]  # spec name, default, type name
    statements: tuple[ast.Statement, ...]
    scope: Scope
    ir_prefix: tuple[str, ...] | None  # the IR path of its first use (for shape comments)
    outer: tuple[str, ...] = ()  # values of an enclosing scope that a repeat body reads


@dataclass
class _Lines:
    rows: list[str] = field(default_factory=list)
    depth: int = 2

    def add(self, text: str, comment: str | None = None) -> None:
        self.rows += format_statement("    " * self.depth, text, comment)


class _Writer:
    """Writes the classes of one generated file."""

    def __init__(self, program: Program, checked: Checked):
        self.program = program
        self.graph = checked.graph
        self.shapes = {node.name: node.shape for node in self.graph.nodes}
        self.shapes.update({path: self.graph.nodes[i].shape for path, i in self.graph.outputs.items()})
        self.classes: dict[str, str] = {}  # name → source; a class comes after those it uses
        self.class_names: set[str] = set()
        self.blocks: dict[str, str] = {}  # block → class name
        self.used: set[str] = set()  # prelude helpers and imports the file needs
        self.param_names = {param_name(p.name) for d in program.definitions.values() for p in d.params}

    def class_name(self, wish: str) -> str:
        name = python_name(wish[:1].upper() + wish[1:], self.class_names | FILE_NAMES | self.param_names)
        self.class_names.add(name)
        return name

    def block_class(self, name: str) -> str:
        if name not in self.blocks:
            self.blocks[name] = self.class_name(name)
            block = self.program.definitions[name]
            first = next((i for i in self.graph.instances if i.block == name), None)
            prefix = first.path if first else None
            args = dict(first.args) if first else {}
            params = [(p.name, p.default, type(args.get(p.name, 0)).__name__) for p in block.params]
            used = f"`{'.'.join(prefix)}`" if prefix else "nowhere"
            doc = f"block {name}, {block.name_span}. Shape comments are those of its first use, {used}."
            scope = Scope((), labels(block.body.statements))
            self.write_class(_Class(self.blocks[name], doc, params, block.body.statements, scope, prefix))
        return self.blocks[name]

    def write_class(self, spec: _Class, network_input: tuple[str, str] | None = None) -> None:
        init, fwd = _Lines(), _Lines()
        consts = {name: param_name(name) for name, _, _ in spec.params}
        signature = self.signature(spec, consts, init, network_input is None)
        init_names = _Names(set(consts.values()) | INIT_NAMES | self.class_names | FILE_NAMES)
        fwd_names = _Names({"self", "layer"})
        if network_input is not None:  # forward(self, image): x = self.C1(image) ...
            init.add(f"self.input_shape = {network_input[1]}")
            start = _Value(fwd_names.fresh(python_name(network_input[0])), "self.input_shape")
            flow = _Value(fwd_names.fresh("x"), "shape")
        else:  # forward(self, x): x = ..., or out = ... where the block reads `in` again later
            start = _Value(fwd_names.fresh("x"), "in_shape")
            flow = _Value(fwd_names.fresh("out") if "in" in _value_refs(spec.statements) else start.var, "shape")
        outer = {name: _Value(fwd_names.fresh(name), init_names.fresh(f"{name}_shape")) for name in spec.outer}
        for name, value in outer.items():
            init.add(f"{value.shape} = {name}_shape")
        kinds = {name: kind for name, _, kind in spec.params}
        ctx = _Context(consts, {"in": start, **outer}, spec.scope, spec.ir_prefix, kinds)
        result = _Body(self, init, fwd, init_names, fwd_names, spec.name).body(spec.statements, ctx, start, flow)
        init.add(f"self.out_shape = {result.shape}")
        fwd.add(f"return {result.var}")
        inputs = ", ".join(f"{v.var}: torch.Tensor" for v in (start, *outer.values()))
        self.classes[spec.name] = "\n".join([
            f"class {spec.name}(nn.Module):", f'    """{_escape(spec.doc)}"""', "",
            *format_statement("    ", f"def __init__({signature}) -> None:"), "        super().__init__()",
            *init.rows, "",
            *format_statement("    ", f"def forward(self, {inputs}) -> torch.Tensor:"), *fwd.rows,
        ])

    def signature(self, spec: _Class, consts: dict[str, str], init: _Lines, takes_shape: bool) -> str:
        parts = ["self"] + (["in_shape: tuple[int, ...]"] if takes_shape else [])
        parts += [f"{name}_shape: tuple[int, ...]" for name in spec.outer]
        for name, default, kind in spec.params:
            py = consts[name]
            if default is None:
                parts.append(f"{py}: {kind}")
            elif isinstance(default, ast.Literal):
                parts.append(f"{py}: {kind} = {py_literal(default.value)}")
            else:  # computed from the parameters before it
                parts.append(f"{py}: {kind} | None = None")
                init.add(f"{py} = {self.expr(default, consts, {})} if {py} is None else {py}")
        return ", ".join(parts)

    def expr(self, expr: ast.Expr, consts: dict[str, str], values: dict[str, _Value]) -> str:
        return _Expr(self, consts, values).emit(expr, 0)

    def shape_at(self, ctx: _Context, local: str) -> Shape | None:
        """The IR's shape of the layer `local` at this class's first use (None where unknown)."""
        return None if ctx.ir_prefix is None else self.shapes.get(".".join(ctx.ir_prefix + (local,)))

    def comment(self, ctx: _Context, local: str) -> str | None:
        shape = self.shape_at(ctx, local)
        return None if shape is None else "[N, " + ", ".join(str(d) for d in shape) + "]"

    def assemble(self, network_class: str) -> str:
        header = [
            f"# Generated by netdsl {__version__} from {py_literal(_escape(self.program.main.file))}, "
            f"network {self.graph.network}.",
            "# Edit the spec, not this file: `netdsl build` writes it again.",
            f'"""{network_class}: a PyTorch module generated by netdsl."""',
            "",
            "from __future__ import annotations",
            "",
            *(["import math", ""] if "math" in self.used else []),
            "import torch",
            "from torch import nn",
        ]
        parts = ["\n".join(header), *(PRELUDE[name] for name in PRELUDE if name in self.used), *self.classes.values()]
        return "\n\n\n".join(parts) + "\n"


@dataclass
class _Names:
    """The local variable names of one method."""

    taken: set[str]

    def fresh(self, wish: str) -> str:
        name = python_name(wish, self.taken)
        self.taken.add(name)
        return name


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

    def __init__(self, writer: _Writer, init: _Lines, fwd: _Lines, init_names: _Names, fwd_names: _Names,
                 owner: str):
        self.writer, self.init, self.fwd = writer, init, fwd
        self.init_names, self.fwd_names, self.owner = init_names, fwd_names, owner
        self.flags = 0

    def body(self, statements: tuple[ast.Statement, ...], ctx: _Context, current: _Value, flow: _Value) -> _Value:
        """`current`: the value the body starts from; `flow`: where its flow statements write."""
        for stmt in statements:
            if isinstance(stmt, ast.Bind):
                target = _Value(self.fwd_names.fresh(stmt.name), self.init_names.fresh(f"{stmt.name}_shape"))
                ctx.values[stmt.name] = self.chain(stmt.chain, ctx, current, target)
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
            return self.merge(step, ctx, value, target) if OPS[step.name].merge else self.op(step, ctx, value, target)
        return self.instance(step, ctx, value, target)

    def op(self, call: ast.Call, ctx: _Context, value: _Value, target: _Value) -> _Value:
        op = OPS[call.name]
        local = ctx.scope.name(call.label, op.name)
        attr = attribute_name(local)
        matched, _ = pair_args(call.args or (), [a.name for a in op.args], op.name)
        args = {spec.name: py_literal(spec.default) for spec in op.args if spec.default is not REQUIRED}
        args |= {name: self.writer.expr(arg.value, ctx.consts, ctx.values) for name, arg in matched.items()}
        lowering = LOWERINGS[op.name]
        rank = len(self.writer.shape_at(ctx, local) or ()) or 3
        made, after = lowering.build(args, value.shape, rank), lowering.after(attr, args)
        self.init.add(f"self.{attr} = {made}")
        for line in after:
            self.init.add(line)
        self.writer.used |= {name for name in PRELUDE for line in (made, *after) if f"{name}(" in line}
        shape = value.shape
        if not lowering.keeps_shape:
            self.writer.used.add("layer_shape")
            self.init.add(f"{target.shape} = layer_shape(self.{attr}, {value.shape})")
            shape = target.shape
        self.fwd.add(f"{target.var} = self.{attr}({value.var})", self.writer.comment(ctx, local))
        return _Value(target.var, shape)

    def merge(self, call: ast.Call, ctx: _Context, value: _Value, target: _Value) -> _Value:
        inputs = [ctx.values[a.value.id] for a in call.args or () if isinstance(a.value, ast.Name)]
        if len(inputs) == 1:
            inputs.insert(0, value)
        local = ctx.scope.name(call.label, call.name)  # no module, but the name is spent as in the IR
        comment = self.writer.comment(ctx, local)
        if call.name == "add":
            self.fwd.add(f"{target.var} = {' + '.join(v.var for v in inputs)}", comment)
            return _Value(target.var, inputs[0].shape)
        self.init.add(f"{target.shape} = ({' + '.join(f'{v.shape}[0]' for v in inputs)}, *{inputs[0].shape}[1:])")
        self.fwd.add(f"{target.var} = torch.cat([{', '.join(v.var for v in inputs)}], dim=1)", comment)
        return _Value(target.var, target.shape)

    def instance(self, call: ast.Call, ctx: _Context, value: _Value, target: _Value) -> _Value:
        local = ctx.scope.name(call.label, snake(call.name))
        attr = attribute_name(local)
        self.init.add(f"self.{attr} = {self.construct(call, ctx, value.shape)}")
        self.init.add(f"{target.shape} = self.{attr}.out_shape")
        self.fwd.add(f"{target.var} = self.{attr}({value.var})", self.writer.comment(ctx, local))
        return _Value(target.var, target.shape)

    def construct(self, call: ast.Call, ctx: _Context, shape: str) -> str:
        """`Block(shape, args...)`, the arguments written as the spec wrote them."""
        cls = self.writer.block_class(call.name)
        parts = [shape]
        for arg in call.args or ():
            text = self.writer.expr(arg.value, ctx.consts, ctx.values)
            parts.append(text if arg.name is None else f"{param_name(arg.name)}={text}")
        return f"{cls}({', '.join(parts)})"

    def if_(self, step: ast.If, ctx: _Context, value: _Value, target: _Value) -> _Value:
        self.flags += 1
        flag = f"branch_{self.flags}"
        while flag in ctx.scope.reserved or flag in ctx.scope.taken:
            flag += "_"
        self.init.add(f"self.{flag} = {self.writer.expr(step.condition, ctx.consts, ctx.values)}")
        for keyword_, branch in (("if", step.then), ("else", step.orelse)):
            for lines in (self.init, self.fwd):
                lines.add(f"if self.{flag}:" if keyword_ == "if" else "else:")
                lines.depth += 1
            result = self.body(branch.statements if branch else (), ctx.child(), value, target)
            if result.var != target.var:
                self.fwd.add(f"{target.var} = {result.var}")
            if result.shape != target.shape:
                self.init.add(f"{target.shape} = {result.shape}")
            for lines in (self.init, self.fwd):
                lines.depth -= 1
        return target

    def repeat(self, step: ast.Repeat, ctx: _Context, value: _Value, target: _Value) -> _Value:
        local = ctx.scope.name(step.label, "repeat")
        attr = attribute_name(local)
        # a loop index only lives in its loop: the same name serves every loop of the class
        index = python_name(step.index, self.init_names.taken - {step.index}) if step.index else "_"
        consts = dict(ctx.consts) | ({step.index: index} if step.index else {})
        outer = tuple(sorted(n for n in _value_refs(step.body.statements) if n in ctx.values))
        if single_instance(step.body, self.writer.program.definitions) and not outer:
            call = step.body.statements[0].chain.steps[0]  # type: ignore[union-attr]
            assert isinstance(call, ast.Call)
            make = self.construct(call, _Context(consts, ctx.values, ctx.scope, None, ctx.kinds), target.shape)
        else:
            make = self.body_class(step, ctx, local, consts, outer, target.shape)
        container = "nn.ModuleList" if outer else "nn.Sequential"
        self.init.add(f"self.{attr} = {container}()")
        if target.shape != value.shape:
            self.init.add(f"{target.shape} = {value.shape}")
        self.init.add(f"for {index} in range({self.writer.expr(step.count, ctx.consts, ctx.values)}):")
        self.init.add(f"    self.{attr}.append({make})")
        self.init.add(f"    {target.shape} = self.{attr}[-1].out_shape")
        comment = self.writer.comment(ctx, local)
        if outer:
            extra = ", ".join(ctx.values[n].var for n in outer)
            self.fwd.add(f"{target.var} = {value.var}")
            self.fwd.add(f"for layer in self.{attr}:")
            self.fwd.add(f"    {target.var} = layer({target.var}, {extra})", comment)
        else:
            self.fwd.add(f"{target.var} = self.{attr}({value.var})", comment)
        return target

    def body_class(self, step: ast.Repeat, ctx: _Context, local: str, consts: dict[str, str],
                   outer: tuple[str, ...], shape: str) -> str:
        """A class for one iteration of a repeat; returns the expression that makes one."""
        free = sorted(n for n in _free_names(step.body.statements) if n in consts)
        cls = self.writer.class_name(f"{self.owner}{_pascal(local)}")
        prefix = None if ctx.ir_prefix is None else ctx.ir_prefix + (local, "0")
        scope = Scope((), labels(step.body.statements))
        params: list[tuple[str, ast.Expr | None, str]] = [
            (n, None, "int" if n == step.index else ctx.kinds.get(n, "int")) for n in free]
        doc = f"one iteration of `{local}` in {self.owner}. Shape comments are those of the first."
        self.writer.write_class(_Class(cls, doc, params, step.body.statements, scope, prefix, outer))
        args = [shape] + [ctx.values[n].shape for n in outer] + [f"{param_name(n)}={consts[n]}" for n in free]
        return f"{cls}({', '.join(args)})"


class _Expr:
    """A spec expression as Python source, parenthesized only where precedence needs it."""

    _LEVEL = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
              "+": 5, "-": 5, "*": 6, "//": 6, "%": 6}
    _INDEX = {"channels": "[0]", "height": "[1]", "width": "[2]"}

    def __init__(self, writer: _Writer, consts: dict[str, str], values: dict[str, _Value]):
        self.writer, self.consts, self.values = writer, consts, values

    def emit(self, expr: ast.Expr, outer: int) -> str:
        text, level = self.visit(expr)
        return f"({text})" if level < outer else text

    def visit(self, expr: ast.Expr) -> tuple[str, int]:
        if isinstance(expr, ast.Literal):
            return py_literal(expr.value), 9
        if isinstance(expr, ast.Name):  # a bare name bound to nothing is a word: padding=same
            return self.consts.get(expr.id, py_literal(expr.id)), 9
        if isinstance(expr, ast.Attr):
            shape = self.values[expr.value.id].shape
            if expr.attr == "features":
                self.writer.used.add("math")
                return f"math.prod({shape})", 9
            return f"{shape}{self._INDEX[expr.attr]}", 9
        if isinstance(expr, ast.ListExpr):
            return _tuple([self.emit(item, 0) for item in expr.items]), 9
        if isinstance(expr, ast.FuncCall):
            return f"{expr.name}({', '.join(self.emit(a.value, 0) for a in expr.args)})", 9
        if isinstance(expr, ast.Ternary):
            return f"{self.emit(expr.then, 1)} if {self.emit(expr.condition, 1)} else {self.emit(expr.orelse, 0)}", 0
        if isinstance(expr, ast.UnaryOp):
            if expr.op == "not":
                return f"not {self.emit(expr.operand, 3)}", 3
            return f"-{self.emit(expr.operand, 7)}", 7
        if expr.op == "/":  # the spec's division: an integer when exact
            self.writer.used.add("exact_div")
            return f"exact_div({self.emit(expr.left, 0)}, {self.emit(expr.right, 0)})", 9
        level = self._LEVEL[expr.op]
        return f"{self.emit(expr.left, level)} {expr.op} {self.emit(expr.right, level + 1)}", level


# ---- what a body reads ------------------------------------------------------------------------


def _value_refs(statements: tuple[ast.Statement, ...]) -> set[str]:
    """Tensor values a body reads but does not bind: chain steps that name them, merge arguments."""
    found: set[str] = set()
    for step in ast.nested_steps(statements):
        if isinstance(step, ast.Call):
            if step.args is None and step.name not in OPS:
                found.add(step.name)
            if step.name in OPS and OPS[step.name].merge:
                found |= {a.value.id for a in step.args or () if isinstance(a.value, ast.Name)}
    bound = {s.name for s in statements if isinstance(s, ast.Bind)}
    return found - bound


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
