"""While typing: completion and signature help, read from the text before the cursor (which
need not parse) with the names of the last analysis that did.

The text before the cursor says where it is: inside a list (`[1, ` or `@ [6, `: values only),
in a call's arguments (`conv(16, `: the arguments not given yet, then values), after a keyword
(`kernel=`: values — names in scope, `true`/`false` for a switch), or between steps (ops,
blocks, values, keywords).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types as lsp

from netdsl.checker.ops import OPS, REQUIRED
from netdsl.language import ast
from netdsl.lsp.analysis import Analysis
from netdsl.lsp.features import _lines_of, _value_text, function_signature, op_signature, signature
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import KEYWORDS, Pos, bindings, definition_at

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class Context:
    """Where the cursor is: `bracket` "(" (a call's arguments), "[" (a list) or "" (between steps)."""

    bracket: str
    callee: str | None = None  # the call's name
    positional: int = 0  # arguments given before the cursor without a name
    given: tuple[str, ...] = ()  # keywords given before the cursor
    keyword: str | None = None  # the cursor is in the value of this keyword


def context(before: str) -> Context:
    """Read the text before the cursor on its line (`conv(16, kernel=`)."""
    stack: list[tuple[str, int]] = []
    for index, char in enumerate(before):
        if char == "#":
            return Context("")
        if char in "([":
            stack.append((char, index))
        elif char in ")]" and stack:
            stack.pop()
    if not stack:
        return Context("")
    bracket, at = stack[-1]
    if bracket == "[":
        return Context("[")
    callee = re.search(rf"({_NAME})\s*$", before[:at])
    parts = _top_level_parts(before[at + 1 :])
    given = tuple(m.group(1) for p in parts[:-1] if (m := re.match(rf"\s*({_NAME})\s*=(?!=)", p)))
    positional = sum(1 for p in parts[:-1] if not re.match(rf"\s*{_NAME}\s*=(?!=)", p))
    current = re.match(rf"\s*({_NAME})\s*=(?!=)", parts[-1])
    return Context("(", callee.group(1) if callee else None, positional, given, current.group(1) if current else None)


def _top_level_parts(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    return parts + [text[start:]]


def _arguments(analysis: Analysis, callee: str | None) -> list[tuple[str, str, str | None]]:
    """A callee's arguments: (name, detail, kind), kind "bool" for a switch."""
    op = OPS.get(callee or "")
    if op is not None:
        return [
            (a.name, "required" if a.default is REQUIRED else f"default {_value_text(a.default)}", a.kind)
            for a in op.args
        ]
    function = analysis.program.functions.get(callee or "")
    if function is not None:
        return [(p.name, "required" if p.default is None else "optional", None) for p in function.params]
    block = analysis.program.definitions.get(callee or "")
    if block is None or block.kind != "block":
        return []
    return [(p.name, "required" if p.default is None else "optional", None) for p in block.params]


def completion(analysis: Analysis, lines: Lines, position: lsp.Position) -> list[lsp.CompletionItem]:
    pos = lines.from_lsp(position)
    where = context(lines.line(pos[0])[: pos[1] - 1])
    values = _values(analysis, lines, pos)
    if where.bracket == "[":
        return values
    if where.bracket == "(":
        arguments = _arguments(analysis, where.callee)
        if where.keyword is not None:
            kind = next((k for n, _, k in arguments if n == where.keyword), None)
            switches = [lsp.CompletionItem(v, kind=lsp.CompletionItemKind.Keyword) for v in ("true", "false")]
            return (switches if kind == "bool" else []) + values
        left = [a for a in arguments[where.positional :] if a[0] not in where.given]
        items = [lsp.CompletionItem(f"{n}=", kind=lsp.CompletionItemKind.Property, detail=d) for n, d, _ in left]
        return items + values
    items = values + [
        lsp.CompletionItem(
            name, kind=lsp.CompletionItemKind.Function, detail=op_signature(op), documentation=op.summary
        )
        for name, op in OPS.items()
    ]
    items += [
        lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Class, detail=signature(d, _lines_of(analysis, d)))
        for name, d in analysis.program.definitions.items()
        if d.kind == "block"
    ]
    items += [lsp.CompletionItem(k, kind=lsp.CompletionItemKind.Keyword) for k in KEYWORDS]
    return list({i.label: i for i in reversed(items)}.values())[::-1]


def _values(analysis: Analysis, lines: Lines, pos: Pos) -> list[lsp.CompletionItem]:
    """The names in scope at `pos`: parameters, constants, values, loop variables, repeat indexes."""
    home = definition_at(analysis.module, pos) or _nearest_definition(analysis.module, pos)
    if home is None:
        return []
    found = {
        b.name: lsp.CompletionItem(b.name, kind=lsp.CompletionItemKind.Variable, detail=b.kind)
        for b in bindings(home, list(lines.lines))
    }
    for name, function in analysis.program.functions.items():  # callable wherever a value is
        if name not in found:
            detail = function_signature(function, analysis.program.sources.get(function.span.file, "").split("\n"))
            found[name] = lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Function, detail=detail)
    return list(found.values())


def _nearest_definition(module: ast.Module, pos: Pos) -> ast.Definition | None:
    before = [d for d in module.definitions if d.span.line <= pos[0]]
    return before[-1] if before else None


def signature_help(analysis: Analysis, lines: Lines, position: lsp.Position) -> lsp.SignatureHelp | None:
    """The signature of the call the cursor is in, its current argument active."""
    pos = lines.from_lsp(position)
    where = context(lines.line(pos[0])[: pos[1] - 1])
    if where.bracket != "(" or where.callee is None:
        return None
    op = OPS.get(where.callee)
    block = analysis.program.definitions.get(where.callee)
    if op is not None:
        label, doc = op_signature(op), op.summary
    elif block is not None and block.kind == "block":
        label, doc = signature(block, _lines_of(analysis, block)), None
    elif where.callee in analysis.program.functions:
        function = analysis.program.functions[where.callee]
        lines_of = analysis.program.sources.get(function.span.file, "").split("\n")
        label, doc = function_signature(function, lines_of), "compile-time function"
    else:
        return None
    names = [n for n, _, _ in _arguments(analysis, where.callee)]
    parameters = [lsp.ParameterInformation(_label_span(label, names, i)) for i in range(len(names))]
    if where.keyword is not None:
        active = names.index(where.keyword) if where.keyword in names else None
    elif where.given:
        active = None  # positional after keywords: no single parameter
    else:
        active = where.positional if where.positional < len(names) else None
    info = lsp.SignatureInformation(label, documentation=doc, parameters=parameters, active_parameter=active)
    return lsp.SignatureHelp([info], active_signature=0, active_parameter=active)


def _label_span(label: str, names: list[str], index: int) -> tuple[int, int]:
    """Where argument `index` is written in the signature's label (as offsets)."""
    open_at = label.index("(") if "(" in label else len(label)
    at = open_at
    for number, name in enumerate(names):
        match = re.compile(rf"\b{re.escape(name)}\b").search(label, at)
        if match is None:
            return (0, 0)
        if number == index:
            return (match.start(), match.end())
        at = match.end()
    return (0, 0)
