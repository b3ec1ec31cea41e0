"""Static checks of definitions that elaboration did not reach: AST → diagnostics.

A block that no checked network uses (or a file of blocks only) cannot be elaborated — its
shapes depend on where it is used — but some mistakes need no shapes: unknown ops, blocks
or values, and unknown keyword arguments of ops. Messages match elaboration's.
"""

from __future__ import annotations

from collections.abc import Iterator

from netdsl import ast
from netdsl.calls import pair_args
from netdsl.diagnostics import Diagnostic, did_you_mean, error
from netdsl.ops import OPS
from netdsl.program import Program


def lint(program: Program, reached: set[str]) -> list[Diagnostic]:
    """Diagnostics for every definition whose name is not in `reached`."""
    found: list[Diagnostic] = []
    blocks = [name for name, d in program.definitions.items() if d.kind == "block"]
    for definition in program.definitions.values():
        if definition.name not in reached:
            found.extend(_definition(definition, program, blocks))
    return found


def _definition(definition: ast.Definition, program: Program, blocks: list[str]) -> Iterator[Diagnostic]:
    values = {"in"} | {p.name for p in definition.params} | set(_bound(definition.body.statements))
    for call in _calls(definition.body.statements):
        if call.name in values and call.args is None:
            continue
        op = OPS.get(call.name)
        if op is not None:
            if not op.merge:
                yield from pair_args(call.args or (), [a.name for a in op.args], op.name)[1]
        elif call.name not in program.definitions:
            choices = list(OPS) + blocks + sorted(values)
            yield error(f"unknown op or block '{call.name}'", call.name_span, did_you_mean(call.name, choices))


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
