"""Static checks of definitions that elaboration did not reach: AST → diagnostics.

A block that no checked network uses (or a file of blocks only) cannot be elaborated — its
shapes depend on where it is used — but some mistakes need no shapes: unknown ops, blocks
or values, and unknown keyword arguments of ops. Messages match elaboration's.
"""

from __future__ import annotations

from collections.abc import Iterator

from netdsl.checker.calls import pair_args
from netdsl.checker.ops import OPS
from netdsl.core.diagnostics import Diagnostic, did_you_mean, error
from netdsl.language import ast
from netdsl.language.program import Program


def lint(program: Program, reached: set[str]) -> list[Diagnostic]:
    """Diagnostics for every definition whose name is not in `reached`."""
    found: list[Diagnostic] = []
    blocks = [name for name, d in program.definitions.items() if d.kind == "block"]
    for definition in program.definitions.values():
        if definition.name not in reached:
            found.extend(_definition(definition, program, blocks))
    return found


def _definition(definition: ast.Definition, program: Program, blocks: list[str]) -> Iterator[Diagnostic]:
    tensors = {"in"} if definition.inputs is None else {p.name for p in definition.inputs}
    names = tensors | {p.name for p in definition.params}
    yield from input_problems(definition)
    yield from statements(definition.body.statements, program, names)


def input_problems(definition: ast.Definition) -> list[Diagnostic]:
    """Mistakes in a block's list of tensor inputs: an empty list, a first input that may be left
    out (the body starts from it), a default other than `none`."""
    inputs = definition.inputs
    if inputs is None:
        return []
    if not inputs:
        return [error(f"block '{definition.name}' declares an empty list of tensor inputs: it names one or more, "
                      "or the list is left out (one input, `in`)", definition.name_span)]
    found = []
    if inputs[0].default is not None:
        found.append(error("the first tensor input is where the body starts: it cannot be left out (= none)",
                           inputs[0].span))
    for p in inputs[1:]:
        if p.default is not None and not (isinstance(p.default, ast.Name) and p.default.id == "none"):
            found.append(error(f"a tensor input's default can only be `none` (left out), as in ({inputs[0].name}, "
                               f"{p.name} = none)", p.default.span))
    return found


def statements(body: tuple[ast.Statement, ...], program: Program, names: set[str]) -> Iterator[Diagnostic]:
    """The checks that need no shapes, over statements that are not elaborated (a definition no
    network reaches, the branch of an `if` not taken); `names`: what is bound around them."""
    blocks = [name for name, d in program.definitions.items() if d.kind == "block"]
    values = names | set(_bound(body))
    for call in _calls(body):
        if call.name in values and call.args is None:
            continue
        op = OPS.get(call.name)
        if op is not None:
            if not op.merge:
                yield from pair_args(call.args or (), [a.name for a in op.args], op.name)[1]
        elif call.name not in program.definitions:
            choices = list(OPS) + blocks + sorted(values)
            yield error(f"unknown op or block '{call.name}'", call.name_span, did_you_mean(call.name, choices))
    yield from _merges_read_bound_values(body, set(names))


def _merges_read_bound_values(body: tuple[ast.Statement, ...], known: set[str]) -> Iterator[Diagnostic]:
    """A merge reads values bound before it (in source order, nested bodies seeing their outside)."""
    for stmt in body:
        if isinstance(stmt, ast.Let):
            known.add(stmt.name)
        if not isinstance(stmt, (ast.Flow, ast.Bind)):
            continue
        for step in stmt.chain.steps:
            if isinstance(step, ast.Call) and step.name in OPS and OPS[step.name].merge:
                for arg in step.args or ():
                    if isinstance(arg.value, ast.Name) and arg.value.id not in known:
                        yield error(f"{step.name} takes named values, as in {step.name}(main, skip)", arg.span,
                                    did_you_mean(arg.value.id, sorted(known)))
            inner = set(known) | ({step.index} if isinstance(step, ast.Repeat) and step.index else set())
            inner |= set(step.names) if isinstance(step, ast.For) else set()
            yield from _merges_read_bound_values(ast.step_bodies(step), inner)
        if isinstance(stmt, ast.Bind):
            known.add(stmt.name)


def _bound(statements: tuple[ast.Statement, ...]) -> Iterator[str]:
    for stmt in ast.nested_statements(statements):
        if isinstance(stmt, (ast.Bind, ast.Let)):
            yield stmt.name
    for step in ast.nested_steps(statements):
        if isinstance(step, ast.Repeat) and step.index:
            yield step.index
        elif isinstance(step, ast.For):
            yield from step.names


def _calls(statements: tuple[ast.Statement, ...]) -> Iterator[ast.Call]:
    return (step for step in ast.nested_steps(statements) if isinstance(step, ast.Call))
