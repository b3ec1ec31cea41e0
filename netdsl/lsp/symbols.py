"""References and rename across a workspace: what the word under the cursor names (a label, a
value a definition binds, a block, a block's parameter), every place that names it in the
files that can see it, and whether a new name would clash.

A block and its parameters are seen by the file that defines them and by every file whose
imports (directly or through others) bring that definition in: a call `CBR(width=32)` in
`main3.net` names block `CBR` of `cbr.net` and its parameter `width`. Labels and the other
values live inside one definition. Nothing here touches the disk or the protocol: `Workspace`
is given each file's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from netdsl.checker.ops import OPS
from netdsl.core.diagnostics import Span
from netdsl.language import ast
from netdsl.language.program import Program
from netdsl.lsp.analysis import Analysis
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import KEYWORDS, Pos, bindings, contains, definition_at, keyword_spans, path_at, references, walk


class Refusal(ValueError):
    """A rename that cannot be done, said in a sentence for the user."""


@dataclass(frozen=True)
class Symbol:
    kind: str  # "label" | "value" | "block" | "network" | "parameter"
    name: str
    declared: Span  # the defining word
    home: ast.Definition  # the definition it lives in (a block's own definition for the block)


# a file of the workspace: its name and program (loaded with its imports), or None when unreadable
Loader = Callable[[str], Program | None]


def symbol_at(analysis: Analysis, lines: Lines, pos: Pos) -> tuple[Symbol, Span] | None:
    """What the word at `pos` names, and the word's span; None for an op, a keyword, a literal."""
    module = analysis.module
    path = path_at(module, pos)
    if path and isinstance(path[-1], ast.Label):
        label = path[-1]
        home = definition_at(module, pos)
        plain = label.parts is None and lines.line(label.span.line)[label.span.column - 1] != '"'
        if home is None or not plain:
            return None
        return Symbol("label", label.name, label.span, home), label.span
    home = definition_at(module, pos)
    if home is None:
        return None
    if contains(home.name_span, pos):
        return Symbol(home.kind, home.name, home.name_span, home), home.name_span
    word = _word(lines, pos)
    if word is None:
        return None
    name, span = word
    span = Span(module.file, span.line, span.column, span.end_line, span.end_column)
    call = next((n for n in reversed(path) if isinstance(n, ast.Call)), None)
    arg = next((n for n in reversed(path) if isinstance(n, ast.Arg)), None)
    if call is not None and arg is not None and arg.name == name and contains(_keyword(arg), pos):
        block = analysis.program.definitions.get(call.name)
        param = next((p for p in (*block.params, *(block.inputs or ())) if p.name == name), None) if block else None
        return (Symbol("parameter", name, _param_span(param), block), span) if param else None
    near = [b for b in bindings(home, list(lines.lines)) if b.name == name]
    binding = next((b for b in near if contains(b.span, pos) or contains(b.scope, pos)), None)
    if binding is not None:
        kind = "parameter" if binding.kind == "parameter" and home.kind == "block" else "value"
        return Symbol(kind, name, binding.span, home), span
    if call is not None and contains(call.name_span, pos):
        target = analysis.program.definitions.get(call.name)
        if target is not None and target.kind == "block":
            return Symbol("block", target.name, target.name_span, target), call.name_span
    return None


def _word(lines: Lines, pos: Pos) -> tuple[str, Span] | None:
    for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", lines.line(pos[0])):
        if match.start() + 1 <= pos[1] <= match.end() + 1:
            return match.group(), Span("", pos[0], match.start() + 1, pos[0], match.end() + 1)
    return None


def _keyword(arg: ast.Arg) -> Span:
    s = arg.span
    return Span(s.file, s.line, s.column, s.line, s.column + len(arg.name or ""))


def _param_span(p: ast.Param | None) -> Span:
    assert p is not None
    s = p.span
    return Span(s.file, s.line, s.column, s.line, s.column + len(p.name))


def _same(a: Span, b: Span) -> bool:
    return (a.file, a.line, a.column) == (b.file, b.line, b.column)


def sees(program: Program, symbol: Symbol) -> bool:
    """Whether a program's name `symbol.name` is this very block (a file that imports it)."""
    found = program.definitions.get(symbol.home.name)
    return found is not None and _same(found.name_span, symbol.home.name_span)


def spans_in(module: ast.Module, symbol: Symbol, lines: list[str]) -> list[Span]:
    """Every place `module` names `symbol` (its declaration too when the module holds it)."""
    found: list[Span] = []
    if symbol.kind in ("label", "value"):
        if module.file != symbol.declared.file:
            return []
        if symbol.kind == "label":
            return [symbol.declared]
        scope = next((b.scope for b in bindings(symbol.home, lines) if _same(b.span, symbol.declared)), None)
        found = [symbol.declared]
        if scope is not None:
            found += [s for s in references(symbol.home, symbol.name) if contains(scope, (s.line, s.column))]
        return found
    if symbol.kind in ("block", "network"):
        if module.file == symbol.declared.file:
            found.append(symbol.declared)
        found += [c.name_span for c in _calls(module) if c.name == symbol.name]
        return found
    # a block's parameter: inside the block, and as a keyword of every call to the block
    if module.file == symbol.home.span.file:
        found.append(symbol.declared)
        found += [
            s
            for s in references(symbol.home, symbol.name)
            if contains(symbol.home.span, (s.line, s.column)) and s.file == module.file
        ]
    found += keyword_spans(module, symbol.home.name, symbol.name)
    return found


def _calls(module: ast.Module) -> Iterator[ast.Call]:
    for node in walk(module):
        if isinstance(node, ast.Call):
            yield node


def occurrences(symbol: Symbol, files: Iterable[str], load: Loader) -> dict[str, list[Span]]:
    """Every place each file names `symbol`, by file (files that cannot see it left out)."""
    local = symbol.kind in ("label", "value")
    found: dict[str, list[Span]] = {}
    for file in files:
        if local and file != symbol.declared.file:
            continue
        program = load(file)
        if program is None or (not local and not sees(program, symbol)):
            continue
        spans = spans_in(program.main, symbol, program.main.source.split("\n"))
        if spans:
            found[file] = sorted(set(spans), key=lambda s: (s.line, s.column))
    return found


def refuse_clash(symbol: Symbol, new: str, files: Iterable[str], load: Loader) -> None:
    """Raise `Refusal` when `new` is not a name, or would clash with a name the symbol's users see."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", new) or new in KEYWORDS:
        raise Refusal(f"'{new}' is not a name")
    if new == symbol.name:
        return
    home = symbol.home
    if symbol.kind == "label":
        taken = [n for n in walk(home) if isinstance(n, ast.Label) and n.name == new]
        if taken:
            raise Refusal(f"'{new}' already labels a layer of {home.name} (line {taken[0].span.line})")
        return
    if symbol.kind in ("value", "parameter"):
        program = load(home.span.file)
        lines = program.main.source.split("\n") if program is not None else []
        clash = next((b for b in bindings(home, lines) if b.name == new), None)
        if clash is not None:
            raise Refusal(f"'{new}' is already a {clash.kind} of {home.name} (line {clash.span.line})")
        source = next((n for n in walk(home) if isinstance(n, ast.Input) and n.name == new), None)
        if source is not None:
            raise Refusal(f"'{new}' is already the input of {home.name} (line {source.span.line})")
        if new in OPS:
            raise Refusal(f"'{new}' is an op: a value of that name would hide it")
        return
    if new in OPS:
        raise Refusal(f"'{new}' is an op")
    for file in files:
        program = load(file)
        if program is not None and (file == symbol.declared.file or sees(program, symbol)):
            other = program.definitions.get(new)
            if other is not None:
                raise Refusal(f"'{new}' is already defined at {other.name_span.file}:{other.name_span.line}")
