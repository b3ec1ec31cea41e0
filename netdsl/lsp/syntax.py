"""Where things are in a document's AST: the nodes around a position, the definitions, the
names each definition binds (with the span of the binding word) and the places that use them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from netdsl.core.diagnostics import Span
from netdsl.language import ast

KEYWORDS = ("input", "let", "repeat", "for", "in", "as", "seq", "if", "else", "and", "or", "not", "true", "false")
# the semantic token types the server answers with, in the order of its legend
TOKEN_TYPES = [
    "keyword",
    "function",
    "class",
    "parameter",
    "variable",
    "label",
    "number",
    "comment",
    "string",
    "operator",
]
Pos = tuple[int, int]  # netdsl's 1-based line and column


def contains(span: Span, pos: Pos, inclusive_end: bool = True) -> bool:
    end = (span.end_line, span.end_column)
    return (span.line, span.column) <= pos and (pos <= end if inclusive_end else pos < end)


def children(node: Any) -> list[Any]:
    """The AST nodes directly inside `node` (a definition's params and body, a step's bodies...)."""
    if isinstance(node, ast.Module):
        return [*node.imports, *node.definitions]
    found: list[Any] = []
    for name in getattr(node, "__dataclass_fields__", ()):
        if name in ("span", "name_span"):
            continue
        value = getattr(node, name)
        for item in value if isinstance(value, tuple) else (value,):
            if hasattr(item, "span") and hasattr(item, "__dataclass_fields__") and not isinstance(item, str):
                found.append(item)
    return found


def path_at(module: ast.Module, pos: Pos) -> list[Any]:
    """The nodes containing `pos`, outermost first (empty outside every definition and import)."""
    path: list[Any] = []
    node: Any = module
    while True:
        inner = [c for c in children(node) if contains(c.span, pos) and not isinstance(c, ast.Label)]
        labels = [c for c in children(node) if isinstance(c, ast.Label) and contains(c.span, pos)]
        if labels:
            path.append(labels[0])
            return path
        if not inner:
            return path
        node = inner[-1]
        path.append(node)


def definition_at(module: ast.Module, pos: Pos) -> ast.Definition | None:
    for d in module.definitions:
        if contains(d.span, pos):
            return d
    return None


@dataclass(frozen=True)
class Binding:
    """A name a definition binds: a parameter, a `let`, a named value, a loop variable, a repeat index."""

    name: str
    kind: str  # "parameter" | "constant" | "value" | "loop variable" | "repeat index"
    span: Span  # the binding word
    scope: Span  # where it can be used


def _word(source_lines: list[str], within: Span, word: str, after: int = 0) -> Span | None:
    """The span of `word` written as a whole word inside `within` (its first line), from column `after`."""
    text = source_lines[within.line - 1] if within.line <= len(source_lines) else ""
    start = max(within.column - 1, after)
    limit = within.end_column - 1 if within.end_line == within.line else len(text)
    match = re.compile(rf"\b{re.escape(word)}\b").search(text, start, limit)
    if match is None:
        return None
    return Span(within.file, within.line, match.start() + 1, within.line, match.end() + 1)


def bindings(definition: ast.Definition, lines: list[str]) -> list[Binding]:
    """Every name `definition` binds, in source order."""
    found = []
    for p in definition.params:
        found.append(
            Binding(
                p.name,
                "parameter",
                Span(p.span.file, p.span.line, p.span.column, p.span.line, p.span.column + len(p.name)),
                definition.span,
            )
        )
    for p in definition.inputs or ():  # `block Tree(levels)(x, skip)`: named tensor values
        span = Span(p.span.file, p.span.line, p.span.column, p.span.line, p.span.column + len(p.name))
        found.append(Binding(p.name, "tensor input", span, definition.span))
    found.extend(_body_bindings(definition.body, lines))
    return found


def _body_bindings(body: ast.Body, lines: list[str]) -> Iterator[Binding]:
    for stmt in body.statements:
        if isinstance(stmt, ast.Let):
            yield Binding(stmt.name, "constant", stmt.name_span, body.span)
        elif isinstance(stmt, ast.Bind):
            yield Binding(stmt.name, "value", stmt.name_span, body.span)
        if not isinstance(stmt, (ast.Flow, ast.Bind)):
            continue
        for step in stmt.chain.steps:
            yield from _step_bindings(step, lines)


def _step_bindings(step: ast.Step, lines: list[str]) -> Iterator[Binding]:
    if isinstance(step, ast.For):
        keyword = _word(lines, step.span, "for")
        after = keyword.end_column - 1 if keyword is not None else 0
        for name in step.names:
            span = _word(lines, step.span, name, after)
            if span is not None:
                after = span.end_column - 1
                yield Binding(name, "loop variable", span, step.body.span)
    if isinstance(step, ast.Repeat) and step.index:
        span = _word(lines, step.span, step.index, step.count.span.end_column - 1)
        if span is not None:
            yield Binding(step.index, "repeat index", span, step.body.span)
    if isinstance(step, ast.If):
        yield from _body_bindings(step.then, lines)
        if step.orelse is not None:
            yield from _body_bindings(step.orelse, lines)
    elif isinstance(step, (ast.Repeat, ast.For, ast.Seq)):
        yield from _body_bindings(step.body, lines)


def visible(definition: ast.Definition, lines: list[str], pos: Pos) -> dict[str, Binding]:
    """The bindings usable at `pos` (the latest of a name wins)."""
    return {b.name: b for b in bindings(definition, lines) if contains(b.scope, pos)}


def references(definition: ast.Definition, name: str) -> Iterator[Span]:
    """Where `definition` uses `name` as a value: in expressions, and as a step (`main -> relu`)."""
    for node in _walk(definition):
        if isinstance(node, ast.Name) and node.id == name:
            yield node.span
        elif isinstance(node, ast.Call) and node.name == name and node.args is None:
            yield node.name_span
        elif isinstance(node, ast.Attr) and node.value.id == name:
            yield node.value.span


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in children(node):
        if not isinstance(child, ast.Label):
            yield from _walk(child)


def walk(node: Any) -> Iterator[Any]:
    """`node` and every node inside it, labels included, in source order."""
    yield node
    for child in children(node):
        yield from walk(child)


def calls(node: Any) -> Iterator[ast.Call]:
    for item in _walk(node):
        if isinstance(item, ast.Call):
            yield item


def keyword_spans(module: ast.Module, callee: str, keyword: str) -> Iterator[Span]:
    """The `keyword` of every `callee(keyword=...)` in the module."""
    for call in calls(module):
        if call.name == callee:
            for arg in call.args or ():
                if arg.name == keyword:
                    s = arg.span
                    yield Span(s.file, s.line, s.column, s.line, s.column + len(keyword))


def statements(body: ast.Body) -> Iterator[ast.Statement]:
    """Every statement of a body, nested ones included."""
    yield from ast.nested_statements(body.statements)


def bodies(step: ast.Step) -> list[ast.Body]:
    """The bodies a step holds: an if's branches, a repeat's, a for's or a seq's body."""
    if isinstance(step, ast.If):
        return [step.then] + ([step.orelse] if step.orelse else [])
    if isinstance(step, (ast.Repeat, ast.For, ast.Seq)):
        return [step.body]
    return []
