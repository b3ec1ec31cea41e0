"""Backend — PyTorch: a checked spec → the Python source of its `nn.Module` classes.

`emit_torch(program, checked)` writes one class per block definition the network uses, one
per repeat body, and the network class last. Classes are parametric, as a person would write
them: a block's constructor takes its input shape and the block's parameters; the network's
takes the network's parameters with the spec's defaults. `if` becomes a Python `if` in
`__init__` and `forward`; `repeat` a loop that fills an `nn.Sequential`. Attributes are named
as elaboration names layers (netdsl.checker.naming), so state_dict keys are the spec's labels.
Shapes inside `__init__` are worked out by PyTorch itself (`layer_shape`, on the meta device).
Every name the file introduces comes from one `Namespace` per scope (netdsl.backends.pytorch.pysource).

Nothing here imports torch: `netdsl.api` executes the source when a module is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from netdsl.backends.pytorch.body import BodyWriter
from netdsl.backends.pytorch.lowerings import PRELUDE, py_literal
from netdsl.backends.pytorch.names import LOCAL_RESERVED, attribute_name, param_name, state_prefix
from netdsl.backends.pytorch.pyexpr import calls_a_function, python_expr
from netdsl.backends.pytorch.pyformat import format_statement
from netdsl.backends.pytorch.pysource import Body, Namespace
from netdsl.backends.pytorch.scope import (
    ClassSpec,
    Container,
    Context,
    Param,
    Value,
    free_names,
    holds_parameters,
    kind_of,
    value_refs,
    value_source,
)
from netdsl.checker.analyze import Checked
from netdsl.checker.functions import inline
from netdsl.checker.layers import Layer, layer_params
from netdsl.checker.naming import Scope, labels
from netdsl.checker.ops import Shape
from netdsl.checker.values import functions_in_scope
from netdsl.core.version import __version__
from netdsl.language import ast
from netdsl.language.program import Program

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
    with functions_in_scope(program.functions):  # what is known as the file is written may call them
        return _emit(program, checked, input_shape, overrides)


def _emit(
    program: Program, checked: Checked, input_shape: tuple[int, ...] | None, overrides: Mapping[str, Any] | None
) -> TorchSource:
    writer = FileWriter(program, checked)
    network = program.definitions[checked.graph.network]
    first, *statements = network.body.statements
    assert isinstance(first, ast.Input)
    values = checked.graph.params
    params = [
        Param(
            p.name,
            ast.Literal(values[p.name], p.span) if p.name in (overrides or {}) else p.default,
            kind_of(values[p.name]),
        )
        for p in network.params
    ]
    consts = {p.name: param_name(p.name) for p in network.params}
    if input_shape is None:
        shape = _tuple(writer.expr(d, consts, {}) for d in first.shape)
    else:
        shape = _tuple(str(d) for d in input_shape)
    cls = writer.class_name(network.name)
    doc = f"network {network.name}, {network.name_span}. Shape comments are for the spec's defaults."

    def write(values: dict[str, Any] | None = None) -> str:
        scope = Scope((), labels(network.body.statements))
        scope.take(first.name, first.span)
        spec = ClassSpec(cls, doc, tuple(params), tuple(statements), scope, ())
        writer.write_class(spec, network_input=(first.name, shape), values=values)
        return cls

    if writer.attempt(write) is None:  # layers named after a parameter's value: a class for these values
        write(dict(values))
    return TorchSource(writer.assemble(cls), cls)


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _for(args: Mapping[str, Any], values: dict[str, Any] | None) -> bool:
    """Whether an instance's arguments are `values` (None: any)."""
    return values is None or all(args.get(name) == value for name, value in values.items())


def _escape(text: str) -> str:
    """Text from the spec (file paths) made safe inside a comment or a docstring: no line breaks,
    backslashes or double quotes survive, so nothing can end the comment or the string."""
    return text.encode("unicode_escape").decode("ascii").replace('"', "'")


def _tuple(items: Iterator[str] | list[str]) -> str:
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


# ---- classes --------------------------------------------------------------------------------


class FileWriter:
    """Writes the classes of one generated file."""

    def __init__(self, program: Program, checked: Checked):
        self.program = program
        self.graph = checked.graph
        self.shapes = {node.name: node.shape for node in self.graph.nodes}
        self.shapes.update({path: self.graph.nodes[i].shape for path, i in self.graph.outputs.items()})
        self.classes: dict[str, str] = {}  # name → source; a class comes after those it uses
        self.blocks: dict[str, str] = {}  # block (and the values it is written for, if any) → class name
        self.specialized: set[str] = set()  # blocks with no class for every value of their parameters
        self.names = Namespace(LOCAL_RESERVED)  # the file's: class names
        for definition in program.definitions.values():  # no class may shadow a constructor argument
            indices = [s.index for s in ast.nested_steps(definition.body.statements) if isinstance(s, ast.Repeat)]
            self.names.inner |= {param_name(n) for n in [p.name for p in definition.params] + indices if n}

    def class_name(self, wish: str) -> str:
        return self.names.fresh(wish[:1].upper() + wish[1:])

    def attempt(self, write: Callable[[], str]) -> str | None:
        """Write a class for every value of its parameters; where the backend cannot (a loop whose
        layers' names depend on a parameter: NotImplementedError), undo what it wrote: None."""
        saved = (dict(self.classes), dict(self.blocks), set(self.names.taken), set(self.names.inner))
        try:
            return write()
        except NotImplementedError:
            self.classes, self.blocks = saved[0], saved[1]
            self.names.taken, self.names.inner = saved[2], saved[3]
            return None

    def block_class(self, name: str, values: dict[str, Any] | None = None) -> str:
        """The class of block `name`: one for all its instances, or, given `values`, the class written
        for those values of its parameters (for a block whose layers' names depend on them)."""
        key = name if values is None else f"{name} {sorted(values.items())!r}"
        if key not in self.blocks:
            layers = [str(v).split("(")[0] for v in (values or {}).values() if isinstance(v, Layer)]
            self.blocks[key] = self.class_name(name + "".join(_pascal(n) for n in layers))
            block = self.program.definitions[name]
            first = next((i for i in self.graph.instances if i.block == name and _for(i.args, values)), None)
            prefix = first.path if first else None
            args = dict(first.args) if first else {}
            layered = layer_params(block, self.program.definitions)  # a class per layer given: no constructor argument
            params = tuple(
                Param(p.name, p.default, kind_of(args.get(p.name, 0))) for p in block.params if p.name not in layered
            )
            used = f"`{'.'.join(prefix)}`" if prefix else "nowhere"
            doc = f"block {name}, {block.name_span}. Shape comments are those of its first use, {used}."
            scope = Scope((), labels(block.body.statements), seq=block.seq)
            self.write_class(
                ClassSpec(
                    self.blocks[key],
                    doc,
                    params,
                    block.body.statements,
                    scope,
                    prefix,
                    keyword_only=self.keyword_only(name),
                    seq=block.seq,
                    inputs=block.inputs,
                ),
                values=values,
            )
        return self.blocks[key]

    def keyword_only(self, block: str) -> bool:
        """Whether a required parameter of `block` follows one with a default, which Python allows
        only for keyword-only parameters (so every call passes that block's arguments by name)."""
        definition = self.program.definitions[block]
        layered = layer_params(definition, self.program.definitions)
        defaults = [p.default is not None for p in definition.params if p.name not in layered]
        return any(defaults[i] and not defaults[j] for i in range(len(defaults)) for j in range(i, len(defaults)))

    def write_class(
        self,
        spec: ClassSpec,
        network_input: tuple[str, str] | None = None,
        values: dict[str, Any] | None = None,
        guard: bool = True,
    ) -> None:
        """Write one class. `values`: parameters whose values the class is written for (its layers'
        names depend on them); __init__ refuses others (`guard`), which need the spec built again."""
        init, fwd = Body(), Body()
        init_names, fwd_names = self.names.child(), self.names.child()
        consts = {p.name: init_names.claim(param_name(p.name)) for p in spec.params}
        if values and guard:
            self.guard(spec, consts, values, init)
        declared = self.tensor_inputs(spec, init_names, fwd_names) if network_input is None else {}
        in_shapes = [(v.shape, v.optional) for v in declared.values()]
        shapes = {n: init_names.fresh(f"{n}_shape") for n in (*spec.outer, *spec.outer_shapes)}
        signature = self.signature(spec, consts, init, in_shapes, shapes)
        if network_input is not None:  # forward(self, image): x = self.C1(image) ...
            init.add(f"self.input_shape = {network_input[1]}")
            start = Value(fwd_names.fresh(network_input[0]), "self.input_shape")
            flow = Value(fwd_names.fresh("x"), init_names.fresh("shape"))
        else:  # forward(self, x): x = ..., or out = ... where the block reads its input again later
            first, start = next(iter(declared.items()))
            reads_input = first in value_refs(spec.statements)
            flow = Value(fwd_names.fresh("out") if reads_input else start.var, init_names.fresh("shape"))
        chain = spec.seq and holds_parameters(spec.statements)
        base = "Chain" if chain else "nn.Sequential" if spec.seq else "nn.Module"
        tensors = (declared or {"in": start}) | {
            n: Value(fwd_names.fresh(n) if n in spec.outer else "", shapes[n]) for n in shapes
        }
        ctx = Context(
            consts,
            tensors,
            spec.scope,
            spec.ir_prefix,
            {p.name: p.kind for p in spec.params},
            known=dict(values or {}),
            seq=Container("self", track=[spec.ir_prefix, 0], chain=chain) if spec.seq else None,
            inlined=dict(values or {}),
        )
        body = BodyWriter(self, init, fwd, init_names, fwd_names, spec)
        result = body.body(spec.statements, ctx, start, flow)
        init.add(f"self.out_shape = {result.shape}")
        fwd.add(f"return {result.var}")
        given = [*(declared.values() or [start]), *(tensors[n] for n in spec.outer)]
        # an input the call may leave out is None by default where only such inputs follow it (an
        # nn.Sequential calls a module with its one input)
        inputs = ", ".join(
            f"{v.var}: torch.Tensor"
            + (" | None = None" if all(w.optional for w in given[i:]) else " | None" * v.optional)
            for i, v in enumerate(given)
        )
        forward = (
            []
            if spec.seq
            else [
                "",
                *format_statement("    ", f"def forward(self, {inputs}) -> torch.Tensor:"),
                *fwd.write(2),
            ]
        )
        self.classes[spec.name] = "\n".join(
            [
                *format_statement("", f"class {spec.name}({base}):"),
                f'    """{_escape(spec.doc)}"""',
                "",
                *format_statement("    ", f"def __init__({signature}) -> None:"),
                "        super().__init__()",
                *init.write(2),
                *forward,
            ]
        )

    def tensor_inputs(self, spec: ClassSpec, init_names: Namespace, fwd_names: Namespace) -> dict[str, Value]:
        """A block's tensor inputs: forward's arguments and __init__'s shape arguments (`x`, `x_shape`);
        an input that may be left out is None in both where the call leaves it out."""
        if spec.inputs is None:
            return {"in": Value(fwd_names.fresh("x"), init_names.fresh("in_shape"))}
        return {
            p.name: Value(fwd_names.fresh(p.name), init_names.fresh(f"{p.name}_shape"), p.default is not None)
            for p in spec.inputs
        }

    def guard(self, spec: ClassSpec, consts: dict[str, str], values: dict[str, Any], init: Body) -> None:
        """`if (a, b) != (3, 4): raise ValueError(...)`: a class written for these values only."""
        names = [p.name for p in spec.params if p.name in values]
        if not names:
            return
        written = ", ".join(f"{name}={value_source(values[name])}" for name in names)
        left = consts[names[0]] if len(names) == 1 else "(" + ", ".join(consts[n] for n in names) + ")"
        right = value_source(values[names[0]]) if len(names) == 1 else value_source([values[n] for n in names])
        with init.inside(init.compound("if", f"{left} != {right}").body):
            message = f"{spec.name} is written for {written}, which its layers' names follow: build the spec again"
            init.add(f"raise ValueError({py_literal(_escape(message))})")

    def signature(
        self,
        spec: ClassSpec,
        consts: dict[str, str],
        init: Body,
        in_shapes: list[tuple[str, bool]],
        shapes: dict[str, str],
    ) -> str:
        parts = ["self"] + [f"{name}: tuple[int, ...]{' | None' * optional}" for name, optional in in_shapes]
        parts += [f"{name}: tuple[int, ...]" for name in shapes.values()]
        parts += ["*"] if spec.keyword_only else []
        for param in spec.params:
            py = consts[param.name]
            if param.default is None:
                parts.append(f"{py}: {param.kind}")
            elif not free_names(param.default) & set(consts) and not calls_a_function(param.default):
                parts.append(f"{py}: {param.kind} = {self.expr(param.default, consts, {})}")
            else:  # worked out in __init__: from the parameters before it, or by a function
                parts.append(f"{py}: {param.kind} | None = None")
                init.add(f"{py} = {self.expr(param.default, consts, {})} if {py} is None else {py}")
        return ", ".join(parts)

    def expr(
        self, expr: ast.Expr, consts: dict[str, str], values: dict[str, Value], literals: dict[str, Any] | None = None
    ) -> str:
        expr = inline(expr, self.program.functions)  # a function's call: its expression, written in place
        return python_expr(expr, consts, lambda name: values[name].shape, literals)

    def shape_at(self, ctx: Context, local: str) -> Shape | None:
        """The IR's shape of the layer `local` at this class's first use (None where unknown)."""
        return None if ctx.ir_prefix is None else self.shapes.get(".".join(ctx.ir_prefix + (local,)))

    def comment(self, ctx: Context, local: str) -> str | None:
        shape = self.shape_at(ctx, local)
        return None if shape is None else "[N, " + ", ".join(str(d) for d in shape) + "]"

    def assemble(self, network_class: str) -> str:
        classes = "\n\n\n".join(self.classes.values())
        helpers = [PRELUDE[name] for name in PRELUDE if re.search(rf"(?<![\w.]){name}\b", classes)]
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
