"""More answers: quick fixes, highlights of a name, folding ranges, semantic tokens, range
formatting and workspace symbols. Like `features`, each takes an analysis or text and returns
lsprotocol values; none touches the server or the disk.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from lsprotocol import types as lsp

from netdsl.checker.ops import OPS
from netdsl.core.diagnostics import Diagnostic
from netdsl.language import ast
from netdsl.lsp import symbols
from netdsl.lsp.analysis import Analysis
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import TOKEN_TYPES, children

# ---- quick fixes --------------------------------------------------------------------------

_DID_YOU_MEAN = re.compile(r"did you mean '([^']+)'\?")
_GOT = re.compile(r"^shape assertion failed: expected .*, got (\[[^\]]*\])$")


def code_actions(analysis: Analysis, lines: Lines, wanted: lsp.Range, uri: str) -> list[lsp.CodeAction]:
    """Quick fixes for the document's diagnostics that touch `wanted`: the did-you-mean
    replacement, a flatten before a dense layer given an image, a shape assertion set to the
    shape the checker inferred."""
    found = []
    for d in analysis.local_diagnostics():
        if d.span.file != analysis.file:
            continue
        at = lines.range(d.span)
        if (at.end.line, at.end.character) < (wanted.start.line, wanted.start.character) or (
            at.start.line,
            at.start.character,
        ) > (wanted.end.line, wanted.end.character):
            continue
        found.extend(_fixes(d, at, lines, uri))
    return found


def _fixes(d: Diagnostic, at: lsp.Range, lines: Lines, uri: str) -> Iterable[lsp.CodeAction]:
    word = _DID_YOU_MEAN.search(d.hint or "")
    if word is not None:
        yield _action(f"Replace with '{word.group(1)}'", d, lines, uri, [lsp.TextEdit(at, word.group(1))])
    if d.message.startswith(("linear expects an input of shape [features]", "coral expects", "ordinal expects")):
        text = lines.line(d.span.line)
        indent = text[: len(text) - len(text.lstrip())]
        if d.span.column == len(indent) + 1:  # the statement's first step: a line of its own above it
            start = lines.to_lsp(d.span.line, 1)
            edit = lsp.TextEdit(lsp.Range(start, start), f"{indent}flatten\n")
        else:
            edit = lsp.TextEdit(lsp.Range(at.start, at.start), "flatten -> ")
        op = d.message.split()[0]
        yield _action(f"Add flatten before {op}", d, lines, uri, [edit])
    got = _GOT.match(d.message)
    if got is not None:
        written = lines.line(d.span.line)[d.span.column - 1 : d.span.end_column - 1]
        bracket = written.find("[")
        if bracket >= 0 and d.span.line == d.span.end_line:
            start = lines.to_lsp(d.span.line, d.span.column + bracket)
            edit = lsp.TextEdit(lsp.Range(start, at.end), got.group(1))
            yield _action(f"Update the shape assertion to {got.group(1)}", d, lines, uri, [edit])


def _action(title: str, d: Diagnostic, lines: Lines, uri: str, edits: list[lsp.TextEdit]) -> lsp.CodeAction:
    return lsp.CodeAction(
        title,
        kind=lsp.CodeActionKind.QuickFix,
        diagnostics=[lsp.Diagnostic(lines.range(d.span), d.message, source="netdsl")],
        edit=lsp.WorkspaceEdit(changes={uri: edits}),
        is_preferred=True,
    )


# ---- highlights ---------------------------------------------------------------------------


def highlights(analysis: Analysis, lines: Lines, position: lsp.Position) -> list[lsp.DocumentHighlight]:
    """The places in this document naming what the cursor is on (its declaration written)."""
    found = symbols.symbol_at(analysis, lines, lines.from_lsp(position))
    if found is None:
        return []
    symbol = found[0]
    spans = symbols.spans_in(analysis.module, symbol, list(lines.lines))
    return [
        lsp.DocumentHighlight(
            lines.range(s),
            lsp.DocumentHighlightKind.Write if s == symbol.declared else lsp.DocumentHighlightKind.Read,
        )
        for s in sorted(set(spans), key=lambda s: (s.line, s.column))
    ]


# ---- folding ------------------------------------------------------------------------------


def folding_ranges(analysis: Analysis) -> list[lsp.FoldingRange]:
    """Each body of more than one line (definitions, loops, branches) and each run of comment lines."""
    found = []
    stack: list[object] = [analysis.module]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Body) and node.span.end_line - 1 > node.span.line:
            # from the `{` to the line before the `}`: the closing brace stays in sight
            found.append(lsp.FoldingRange(node.span.line - 1, node.span.end_line - 2))
        stack.extend(children(node))
    lines = analysis.text.split("\n")
    run: list[int] = []
    for number, text in enumerate(lines + [""]):
        if text.lstrip().startswith("#"):
            run.append(number)
            continue
        if len(run) > 1:
            found.append(lsp.FoldingRange(run[0], run[-1], kind=lsp.FoldingRangeKind.Comment))
        run = []
    imports = analysis.module.imports
    if len(imports) > 1:
        found.append(lsp.FoldingRange(imports[0].span.line - 1, imports[-1].span.line - 1, kind="imports"))
    return sorted(found, key=lambda f: (f.start_line, f.end_line))


# ---- semantic tokens ----------------------------------------------------------------------


def semantic_tokens(analysis: Analysis, lines: Lines) -> list[int]:
    """The document's tokens as the protocol packs them (line and start relative to the previous
    token). Words come from the Pygments lexer; the analysis sorts names into ops, blocks,
    parameters and values. `in` before a `.` (`in.channels`) is a value, not the keyword."""
    from pygments.token import Comment, Keyword, Name, Number, Operator, String

    from netdsl.report.highlight import NetdslLexer

    blocks = {n for n, d in analysis.program.definitions.items() if d.kind == "block"}
    params = {p.name for d in analysis.module.definitions for p in d.params}
    data: list[int] = []
    previous = (0, 0)
    for number, text in enumerate(lines.lines, start=1):
        for offset, token, value in NetdslLexer().get_tokens_unprocessed(text):
            kind = _kind(token, value, text, offset, blocks, params, (Comment, Keyword, Name, Number, Operator, String))
            if kind is None:
                continue
            start = lines.to_lsp(number, offset + 1)
            end = lines.to_lsp(number, offset + len(value) + 1)
            line, char = start.line, start.character
            delta_char = char - previous[1] if line == previous[0] else char
            data += [line - previous[0], delta_char, end.character - char, TOKEN_TYPES.index(kind), 0]
            previous = (line, char)
    return data


def _kind(token, value, text, offset, blocks, params, kinds) -> str | None:  # type: ignore[no-untyped-def]
    comment, keyword, name, number, operator, string = kinds
    if value == "in" and text[offset + 2 : offset + 3] == ".":
        return "variable"
    if token in comment:
        return "comment"
    if token in keyword or token in operator.Word:
        return "keyword"
    if token in string:
        return "string"
    if token in number:
        return "number"
    if token in operator:
        return "operator"
    if token in name.Label:
        return "label"
    if token in name:
        if value in OPS:
            return "function"
        if value in blocks or token in name.Class:
            return "class"
        return "parameter" if value in params else "variable"
    return None


# ---- range formatting ---------------------------------------------------------------------


def range_edits(text: str, formatted: str, lines: Lines, wanted: lsp.Range) -> list[lsp.TextEdit]:
    """The edits turning `text` into `formatted` whose lines meet `wanted` (others left alone)."""
    old, new = text.splitlines(keepends=True), formatted.splitlines(keepends=True)
    first, last = wanted.start.line, wanted.end.line
    edits = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        # a block of lines changed one for one: each line its own edit, so a range takes only its own
        pieces = (
            [(i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            if i2 - i1 == j2 - j1
            else []
        )
        for a1, a2, b1, b2 in pieces or [(i1, i2, j1, j2)]:
            if max(a2 - 1, a1) < first or a1 > last:
                continue
            edits.append(lsp.TextEdit(lsp.Range(lsp.Position(a1, 0), lsp.Position(a2, 0)), "".join(new[b1:b2])))
    return edits


# ---- workspace symbols --------------------------------------------------------------------


def workspace_symbols(query: str, modules: Iterable[tuple[str, ast.Module]]) -> list[lsp.SymbolInformation]:
    """The networks and blocks of the workspace whose name holds the query's letters in order
    (case ignored), as editors' fuzzy pickers expect."""
    pattern = re.compile(".*?".join(re.escape(c) for c in query), re.IGNORECASE)
    found = []
    for uri, module in modules:
        source = Lines.of(module.source)
        for d in module.definitions:
            if pattern.search(d.name):
                kind = lsp.SymbolKind.Class if d.kind == "network" else lsp.SymbolKind.Function
                where = lsp.Location(uri, source.range(d.name_span))
                found.append(lsp.SymbolInformation(name=d.name, kind=kind, location=where, container_name=d.kind))
    return found
