"""Go to definition and the outline (document symbols), from an `Analysis`.

Like `features`, each function returns lsprotocol values and touches neither the server nor
the disk.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

from netdsl.core.diagnostics import Span
from netdsl.language import ast
from netdsl.lsp.analysis import Analysis
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import Pos, bodies, contains, definition_at, visible

# ---- go to definition ---------------------------------------------------------------------


def definition(analysis: Analysis, lines: Lines, position: lsp.Position, uri_of: dict[str, str]) -> lsp.Location | None:
    """Where the name under the cursor is defined; `uri_of` maps a file name to its URI."""
    pos = lines.from_lsp(position)
    for imp in analysis.module.imports:
        if contains(imp.span, pos):
            target = (Path(analysis.file).parent / imp.path).resolve()
            return lsp.Location(target.as_uri(), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)))
    found = _defining_span(analysis, lines, pos)
    if found is None:
        return None
    return lsp.Location(uri_of.get(found.file) or Path(found.file).resolve().as_uri(), _range_in(analysis, found))


def _range_in(analysis: Analysis, span: Span) -> lsp.Range:
    return Lines.of(analysis.program.sources.get(span.file, "")).range(span)


def _defining_span(analysis: Analysis, lines: Lines, pos: Pos) -> Span | None:
    word = word_at(lines, pos)
    home = definition_at(analysis.module, pos)
    if word is None or home is None:
        return None
    if contains(home.name_span, pos):
        return home.name_span
    binding = visible(home, list(lines.lines), pos).get(word[0])
    if binding is not None:
        return binding.span
    target = analysis.program.definitions.get(word[0]) or analysis.program.functions.get(word[0])
    return target.name_span if target is not None else None


def word_at(lines: Lines, pos: Pos) -> tuple[str, Span] | None:
    text = lines.line(pos[0])
    for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", text):
        if match.start() + 1 <= pos[1] <= match.end() + 1:
            return match.group(), Span("", pos[0], match.start() + 1, pos[0], match.end() + 1)
    return None


# ---- outline ------------------------------------------------------------------------------


def symbols(analysis: Analysis, lines: Lines) -> list[lsp.DocumentSymbol]:
    blocks = frozenset(n for n, d in analysis.program.definitions.items() if d.kind == "block")
    out = []
    for d in analysis.module.definitions:
        kind = lsp.SymbolKind.Class if d.kind == "network" else lsp.SymbolKind.Function
        out.append(
            lsp.DocumentSymbol(
                d.name,
                kind,
                lines.range(d.span),
                lines.range(d.name_span),
                detail=d.kind,
                children=_body_symbols(d.body, lines, blocks),
            )
        )
    return out


def _body_symbols(body: ast.Body, lines: Lines, blocks: frozenset[str]) -> list[lsp.DocumentSymbol]:
    out = []
    for stmt in body.statements:
        if isinstance(stmt, ast.Bind):
            out.append(
                lsp.DocumentSymbol(
                    stmt.name,
                    lsp.SymbolKind.Variable,
                    lines.range(stmt.span),
                    lines.range(stmt.name_span),
                    detail="value",
                )
            )
        if not isinstance(stmt, (ast.Flow, ast.Bind)):
            continue
        for step in stmt.chain.steps:
            out.extend(_step_symbols(step, lines, blocks))
    return out


def _step_symbols(step: ast.Step, lines: Lines, blocks: frozenset[str]) -> list[lsp.DocumentSymbol]:
    """A labelled step, a repeat or a block's use (its inner steps beneath it); others are skipped."""
    inner: list[lsp.DocumentSymbol] = []
    for body in bodies(step):
        inner.extend(_body_symbols(body, lines, blocks))
    block = isinstance(step, ast.Call) and step.name in blocks
    if step.label is None and not isinstance(step, ast.Repeat) and not block:
        return inner
    kind = (
        lsp.SymbolKind.Array
        if isinstance(step, ast.Repeat)
        else lsp.SymbolKind.Module
        if block
        else lsp.SymbolKind.Field
    )
    name = step.label.name if step.label is not None else "repeat" if isinstance(step, ast.Repeat) else step.name
    detail = step.name if isinstance(step, ast.Call) else type(step).__name__.lower()
    selection = step.label.span if step.label is not None else step.span
    return [
        lsp.DocumentSymbol(name, kind, lines.range(step.span), lines.range(selection), detail=detail, children=inner)
    ]
