"""The answers: diagnostics, hover and inlay hints, from an `Analysis` (`navigation` holds
go to definition and the outline).

Each function takes the analysis (and the document's `Lines` for positions) and returns
lsprotocol values; none of them touches the server or the disk.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

from netdsl.checker.ops import OPS, REQUIRED, OpDef
from netdsl.core.diagnostics import Diagnostic, Span
from netdsl.language import ast
from netdsl.lsp.analysis import Analysis, Use
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import (
    Pos,
    bodies,
    contains,
    path_at,
    statements,
    visible,
)

_SEVERITY = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "note": lsp.DiagnosticSeverity.Information,
}


# ---- numbers as people read them ----------------------------------------------------------


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if shape else "?"


def count_text(n: int) -> str:
    if n < 10_000:
        return f"{n:,}"
    for size, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


# ---- diagnostics --------------------------------------------------------------------------


def diagnostics(analysis: Analysis, lines: Lines) -> list[lsp.Diagnostic]:
    """The document's diagnostics; a place named in a message (`file:line:column`: the first of a
    duplicate label, an error inside an imported file) is written relative to the document's
    folder and given as a related location."""
    files = sorted(analysis.program.sources, key=len, reverse=True)
    places = re.compile("(" + "|".join(re.escape(f) for f in files) + r"):(\d+):(\d+)") if files else None
    return [_diagnostic(d, lines, analysis, places) for d in analysis.local_diagnostics()]


def _diagnostic(d: Diagnostic, lines: Lines, analysis: Analysis, places: re.Pattern[str] | None) -> lsp.Diagnostic:
    message = f"{d.message}\nhint: {d.hint}" if d.hint else d.message
    related = []
    for match in places.finditer(message) if places is not None else ():
        file, line, column = match.group(1), int(match.group(2)), int(match.group(3))
        source = Lines.of(analysis.program.sources.get(file, ""), lines.encoding)
        word = re.match(r"[A-Za-z_0-9]+|\S", source.line(line)[column - 1 :])
        end = column + (len(word.group()) if word else 0)
        where = lsp.Location(_uri(file), source.range(Span(file, line, column, line, end)))
        related.append(lsp.DiagnosticRelatedInformation(where, "first here" if "already" in d.message else "here"))
    if places is not None:
        message = places.sub(lambda m: f"{_relative(analysis, m.group(1))}:{m.group(2)}:{m.group(3)}", message)
    return lsp.Diagnostic(
        lines.range(d.span),
        message,
        severity=_SEVERITY[d.severity],
        source="netdsl",
        related_information=related or None,
    )


def _uri(file: str) -> str:
    return Path(file).resolve().as_uri() if not file.startswith("<") else file


# ---- hover --------------------------------------------------------------------------------


def hover(analysis: Analysis, lines: Lines, position: lsp.Position) -> lsp.Hover | None:
    pos = lines.from_lsp(position)
    path = path_at(analysis.module, pos)
    definition = next((n for n in path if isinstance(n, ast.Definition)), None)
    text = _function_hover(analysis, pos) or _hover_text(analysis, path, definition, pos)
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text)) if text else None


def _hover_text(analysis: Analysis, path: list[object], definition: ast.Definition | None, pos: Pos) -> str | None:
    if definition is None:
        return None
    if contains(definition.name_span, pos):
        return _definition_doc(analysis, definition) + "\n\n" + _totals(analysis, definition)
    call = next((n for n in reversed(path) if isinstance(n, ast.Call)), None)
    if call is not None and contains(call.name_span, pos) and call.args is None and call.label is None:
        bound = _bound_value(analysis, definition, call.name, pos)
        if bound is not None:  # `main -> relu`: what `main` holds
            return _stats(analysis, bound.chain.steps[-1].span, definition, bound.name)
    if call is not None and contains(call.name_span, pos):
        about = _callee_doc(analysis, call.name)
        stats = _stats(analysis, call.span, definition, call.label.name if call.label else call.name)
        return "\n\n".join(t for t in (about, stats) if t) or None
    target = next(
        (n for n in reversed(path) if isinstance(n, (ast.Call, ast.If, ast.Repeat, ast.For, ast.Seq))), None
    ) or next((n for n in reversed(path) if isinstance(n, (ast.Flow, ast.Bind, ast.Input))), None)
    if target is None:
        return None
    title = _title(target)
    return _stats(analysis, target.span, definition, title, _in_loop(analysis, target))


def _function_hover(analysis: Analysis, pos: Pos) -> str | None:
    """A compile-time function's signature and comment, over its name: where it is defined (`def
    make_divisible`) or called in an expression (`make_divisible(c * 1.2)`)."""
    functions = analysis.program.functions
    for node in ast.walk(analysis.module):
        if isinstance(node, ast.Function) and contains(node.name_span, pos):
            return function_doc(analysis, node)
        if isinstance(node, ast.FuncCall) and node.name in functions:
            s = node.span
            if s.line == pos[0] and s.column <= pos[1] <= s.column + len(node.name):
                return function_doc(analysis, functions[node.name])
    return None


def function_signature(function: ast.Function, lines: list[str]) -> str:
    """`def make_divisible(v, d = 8) = max(d, ...)`, as written (its expression if on one line)."""
    params = ", ".join(_param_text(p, lines) for p in function.params)
    s = function.body.span
    body = lines[s.line - 1][s.column - 1 : s.end_column - 1] if s.line == s.end_line <= len(lines) else "…"
    return f"def {function.name}({params}) = {body}"


def function_doc(analysis: Analysis, function: ast.Function) -> str:
    lines = analysis.program.sources.get(function.span.file, "").split("\n")
    comment = comment_above(function, lines)
    doc = f"```netdsl\n{function_signature(function, lines)}\n```\n\ncompile-time function"
    return doc + (f"\n\n{comment}" if comment else "")


def _bound_value(analysis: Analysis, definition: ast.Definition, name: str, pos: Pos) -> ast.Bind | None:
    binding = visible(definition, analysis.text.split("\n"), pos).get(name)
    if binding is None or binding.kind != "value":
        return None
    return next(
        (s for s in statements(definition.body) if isinstance(s, ast.Bind) and s.name_span == binding.span), None
    )


def _title(node: object) -> str:
    label = getattr(node, "label", None)
    if label is not None:
        return label.name
    if isinstance(node, (ast.Bind, ast.Input)):
        return node.name
    if isinstance(node, ast.Call):
        return node.name
    return {ast.If: "if", ast.Repeat: "repeat", ast.For: "for", ast.Seq: "seq"}.get(type(node), "statement")


def _stats(analysis: Analysis, span: Span, definition: ast.Definition, title: str, loop: bool = False) -> str | None:
    uses = analysis.uses(span, definition, loop)
    if not uses:
        return None
    first = uses[0]
    node, layer = first.output
    if not layer.output_shape:
        return f"**{title}** → `?`  \n{_unknown_note(analysis, first.network)}"
    if first.iterations:
        return _iterations_text(first, title)
    lines = [f"**{title}** → `{shape_text(layer.output_shape)}`" + (f" · {layer.op}" if len(first.layers) == 1 else "")]
    if len(uses) > 1:
        shapes = list(dict.fromkeys(shape_text(u.output[1].output_shape) for u in uses))
        lines.append(
            f"{len(uses)} uses: `{uses[0].output[0].name}` … `{uses[-1].output[0].name}`"
            + (f" — outputs {', '.join(f'`{s}`' for s in shapes[:4])}" if len(shapes) > 1 else "")
        )
        lines[-1] += _host_note(analysis, first)
    elif first.network not in analysis.outcomes and analysis.host is not None:
        lines.append(f"`{node.name}`" + _host_note(analysis, first))
    else:
        lines.append(f"`{node.name}`" + (f" in {first.network}" if len(analysis.outcomes) > 1 else ""))
    params = sum(lay.params for _, lay in first.layers)
    trainable = sum(lay.trainable for _, lay in first.layers)
    frozen = params - trainable
    macs = sum(lay.macs for _, lay in first.layers)
    split = "all trainable" if not frozen else f"{count_text(trainable)} trainable, {count_text(frozen)} frozen"
    unknown = sum(1 for _, lay in first.layers if not lay.output_shape)
    lines.append(
        f"parameters {count_text(params)} ({split}) · MACs {count_text(macs)}"
        + (f" · {len(first.layers)} layers" if len(first.layers) > 1 else "")
        + (f" ({unknown} unknown: they depend on an error)" if unknown else "")
    )
    if layer.receptive_field is not None and layer.jump is not None:
        rf, jump = layer.receptive_field, layer.jump
        lines.append(f"receptive field {rf[0]}×{rf[1]} · jump {jump[0]}×{jump[1]}")
    return "  \n".join(lines)


def _host_note(analysis: Analysis, use: Use) -> str:
    """ " in Main3 (main3.net)" when the shapes come from another file's network."""
    if use.network in analysis.outcomes or analysis.host is None:
        return ""
    return f" in {use.network} ({_relative(analysis, analysis.host.file)})"


def _iterations_text(use: Use, title: str, most: int = 8) -> str:
    """A step made again and again (a block call in a loop): each time's output and size, then the sum."""
    lines = [f"**{title}** → `{_use_shapes(use)}` · {len(use.iterations)} times"]
    start = 0
    for number, ((node, layer), name) in enumerate(zip(use.iterations, use.names, strict=True)):
        made = [lay for n, lay in use.layers if start <= n.id <= node.id]
        start = node.id + 1
        if number < most:
            params = count_text(sum(lay.params for lay in made))
            lines.append(f"`{name}` → `{shape_text(layer.output_shape)}` · parameters {params}")
    if len(use.iterations) > most:
        lines.append(f"… {len(use.iterations) - most} more")
    params, macs = sum(lay.params for _, lay in use.layers), sum(lay.macs for _, lay in use.layers)
    lines.append(f"in all: parameters {count_text(params)} · MACs {count_text(macs)} · {len(use.layers)} layers")
    return "  \n".join(lines)


def _first_error(analysis: Analysis, network: str) -> Diagnostic | None:
    outcome = analysis.outcomes.get(network)
    return next((d for d in outcome.diagnostics if d.severity == "error"), None) if outcome is not None else None


def _unknown_note(analysis: Analysis, network: str) -> str:
    """What an unknown shape depends on: the network's first error, where it is."""
    d = _first_error(analysis, network)
    if d is None:
        return "shape unknown"
    where = (
        f"line {d.span.line}" if d.span.file == analysis.file else f"{_relative(analysis, d.span.file)}:{d.span.line}"
    )
    return f"shape unknown: it depends on the error at {where} ({d.message})"


def _relative(analysis: Analysis, file: str) -> str:
    """A file's name relative to the document's folder when it lies below it, else as it is."""
    try:
        return Path(file).resolve().relative_to(Path(analysis.file).resolve().parent).as_posix()
    except ValueError:
        return file


def _totals(analysis: Analysis, definition: ast.Definition) -> str:
    c = analysis.checked(definition.name) if definition.kind == "network" else None
    if c is None:
        return ""
    known = [lay for lay in c.layers[1:] if lay.output_shape]
    if not analysis.complete(definition.name) and len(known) < len(c.layers) - 1:
        return (
            f"input `{shape_text(c.input_shape)}` → output `{shape_text(c.layers[-1].output_shape)}`  \n"
            f"errors stop the check: {len(known)} of {len(c.layers) - 1} layers shaped, "
            f"parameters {count_text(sum(lay.params for lay in known))} · "
            f"MACs {count_text(sum(lay.macs for lay in known))} so far  \n"
            + _unknown_note(analysis, definition.name).replace("shape unknown: it", "the rest")
        )
    error = _first_error(analysis, definition.name)
    return (
        f"input `{shape_text(c.input_shape)}` → output `{shape_text(c.output_shape)}`  \n"
        f"parameters {count_text(c.total_params)} ({count_text(c.trainable_params)} trainable) · "
        f"MACs {count_text(c.total_macs)} · {len(c.layers) - 1} layers"
        + (f"  \nevery layer shaped despite the error at line {error.span.line}" if error is not None else "")
    )


def signature(definition: ast.Definition, lines: list[str]) -> str:
    params = ", ".join(_param_text(p, lines) for p in definition.params)
    head = f"{'seq ' if definition.seq else ''}{definition.kind} {definition.name}"
    if definition.inputs is not None:  # `block Tree(levels)(x, skip)`: the tensor inputs' list too
        return head + f"({params})(" + ", ".join(_param_text(p, lines) for p in definition.inputs) + ")"
    return head + (f"({params})" if definition.params else "")


def _param_text(p: ast.Param, lines: list[str]) -> str:
    if p.default is None:
        return p.name
    s = p.default.span
    default = lines[s.line - 1][s.column - 1 : s.end_column - 1] if s.line == s.end_line <= len(lines) else "…"
    return f"{p.name} = {default}"


def comment_above(definition: ast.Definition | ast.Function, lines: list[str]) -> str:
    """The comment lines right above a definition, without their `#`."""
    found: list[str] = []
    number = definition.span.line - 1
    while number >= 1 and lines[number - 1].lstrip().startswith("#"):
        found.insert(0, lines[number - 1].lstrip()[1:].strip())
        number -= 1
    return "\n".join(found)


def _lines_of(analysis: Analysis, definition: ast.Definition) -> list[str]:
    return analysis.program.sources.get(definition.span.file, "").split("\n")


def _definition_doc(analysis: Analysis, definition: ast.Definition) -> str:
    lines = _lines_of(analysis, definition)
    doc = f"```netdsl\n{signature(definition, lines)}\n```"
    comment = comment_above(definition, lines)
    return doc + (f"\n\n{comment}" if comment else "")


def op_signature(op: OpDef) -> str:
    args = ", ".join(a.name if a.default is REQUIRED else f"{a.name}={_value_text(a.default)}" for a in op.args)
    return f"{op.name}({args})"


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value).replace("(", "[").replace(")", "]")


def _callee_doc(analysis: Analysis, name: str) -> str | None:
    op = OPS.get(name)
    if op is not None:
        return f"```netdsl\n{op_signature(op)}\n```\n\n{op.summary}"
    definition = analysis.program.definitions.get(name)
    return _definition_doc(analysis, definition) if definition is not None else None


# ---- inlay hints --------------------------------------------------------------------------


def inlay_hints(analysis: Analysis, lines: Lines, visible_range: lsp.Range) -> list[lsp.InlayHint]:
    """The hints whose position lies inside `visible_range` (its ends included)."""
    first, last = visible_range.start.line + 1, visible_range.end.line + 1
    hints = []
    for definition in analysis.module.definitions:
        if definition.span.end_line < first or definition.span.line > last:
            continue
        totals = _network_hint(analysis, definition, lines) or _host_hint(analysis, definition, lines)
        if totals is not None:
            hints.append(totals)
        looped = _in_loops(definition)
        for stmt in statements(definition.body):
            if isinstance(stmt, (ast.Flow, ast.Bind)) and first <= stmt.span.end_line <= last:
                hint = _statement_hint(analysis, definition, stmt, lines, looped)
                if hint is not None:
                    hints.append(hint)
    start, end = visible_range.start, visible_range.end
    inside = [
        h
        for h in hints
        if (start.line, start.character) <= (h.position.line, h.position.character) <= (end.line, end.character)
    ]
    return sorted(inside, key=lambda h: (h.position.line, h.position.character))


def _statement_hint(
    analysis: Analysis, definition: ast.Definition, stmt: ast.Flow | ast.Bind, lines: Lines, looped: set[int]
) -> lsp.InlayHint | None:
    step = stmt.chain.steps[-1]
    uses = analysis.uses(step.span, definition, loop=id(step) in looped)
    shapes = list(dict.fromkeys(_use_shapes(u) for u in uses))
    if not shapes:
        return None
    label = "→ " + " | ".join(shapes[:3]) + (" | …" if len(shapes) > 3 else "")
    end = stmt.span
    return lsp.InlayHint(lines.to_lsp(end.end_line, end.end_column), label, padding_left=True)


def _in_loop(analysis: Analysis, step: object) -> bool:
    """Whether a repeat or a for encloses `step` (which then runs once per iteration)."""
    span = step.span  # type: ignore[attr-defined]
    path = path_at(analysis.module, (span.line, span.column))
    return any(isinstance(n, (ast.Repeat, ast.For)) and n is not step and n.span != span for n in path)


def _in_loops(definition: ast.Definition) -> set[int]:
    """The ids of the steps of `definition` that a repeat or a for encloses (one walk over the
    statements, not their expressions)."""
    found: set[int] = set()

    def visit(body: ast.Body, inside: bool) -> None:
        for stmt in body.statements:
            for step in stmt.chain.steps if isinstance(stmt, (ast.Flow, ast.Bind)) else ():
                if inside:
                    found.add(id(step))
                for inner in bodies(step):
                    visit(inner, inside or isinstance(step, (ast.Repeat, ast.For)))

    visit(definition.body, False)
    return found


def _use_shapes(use: Use) -> str:
    """A use's output shape; a step made again and again: its first and last shapes, and how often."""
    if not use.iterations:
        return shape_text(use.output[1].output_shape)
    shapes = [shape_text(layer.output_shape) for _, layer in use.iterations]
    if len(set(shapes)) == 1:
        return f"{shapes[0]} (×{len(shapes)})"
    return f"{shapes[0]} … {shapes[-1]} ({len(shapes)})"


def _host_hint(analysis: Analysis, definition: ast.Definition, lines: Lines) -> lsp.InlayHint | None:
    """On a block of a file opened alone: which network its shapes come from."""
    host = analysis.host
    if definition.kind != "block" or host is None or not analysis.uses(definition.body.span, definition):
        return None
    network = next((u.network for u in host.uses(definition.body.span, definition)), "?")
    label = f"shapes from {network} ({_relative(analysis, host.file)})"
    brace = definition.body.span
    return lsp.InlayHint(lines.to_lsp(brace.line, brace.column + 1), label, padding_left=True)


def _network_hint(analysis: Analysis, definition: ast.Definition, lines: Lines) -> lsp.InlayHint | None:
    c = analysis.checked(definition.name) if definition.kind == "network" else None
    if c is None:
        return None
    brace = definition.body.span
    known = [lay for lay in c.layers[1:] if lay.output_shape]
    if not analysis.complete(definition.name) and len(known) < len(c.layers) - 1:
        label = f"{len(known)} of {len(c.layers) - 1} layers shaped before errors"
    else:
        label = (
            f"{count_text(c.total_params)} params · {count_text(c.total_macs)} MACs · → {shape_text(c.output_shape)}"
        )
    return lsp.InlayHint(lines.to_lsp(brace.line, brace.column + 1), label, padding_left=True)
