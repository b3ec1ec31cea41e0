"""Stage 4 — report: `Checked` and diagnostics → a rich table, JSON or markdown.

The only place (with the CLI) that writes for people. Diagnostics are drawn compiler-style:
`file:line:col: severity: message`, the source line, a caret under the span, then the hint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from netdsl.analyze import Checked
from netdsl.diagnostics import Diagnostic, source_lines
from netdsl.values import Symbol

_STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


def shape_text(shape: Iterable[int]) -> str:
    return "×".join(str(d) for d in shape)


def field_text(field: tuple[int, int] | None) -> str:
    if field is None:
        return "-"
    return str(field[0]) if field[0] == field[1] else f"{field[0]}×{field[1]}"


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# ---- diagnostics --------------------------------------------------------------------------


def diagnostic_text(diagnostic: Diagnostic, sources: Mapping[str, str]) -> Text:
    span = diagnostic.span
    text = Text()
    text.append(f"{span}: ", style="bold")
    text.append(f"{diagnostic.severity}: ", style=_STYLE[diagnostic.severity])
    text.append(diagnostic.message + "\n", style="bold")
    lines = source_lines(sources.get(span.file, ""))
    if 1 <= span.line <= len(lines):
        # one character, one column: tabs and invisible characters show as one space each
        source = "".join(c if c.isprintable() else " " for c in lines[span.line - 1])
        end = span.end_column if span.end_line == span.line else len(source) + 1
        width = max(1, min(end, len(source) + 1) - span.column)
        gutter = f"{span.line:>5} | "
        text.append(gutter, style="dim")
        text.append(source + "\n")
        text.append(" " * (len(gutter) - 2) + "| ", style="dim")
        text.append(" " * (span.column - 1) + "^" + "~" * (width - 1) + "\n", style=_STYLE[diagnostic.severity])
    if diagnostic.hint:
        text.append("      = hint: ", style="bold cyan")
        text.append(diagnostic.hint + "\n")
    return text


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> None:
    for diagnostic in diagnostics:
        console.print(diagnostic_text(diagnostic, sources), end="", highlight=False, soft_wrap=True)


def summary_line(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(d.severity == "error" for d in items)
    warnings = sum(d.severity == "warning" for d in items)
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


# ---- reports ------------------------------------------------------------------------------


def report_table(checked: Checked) -> Table:
    graph = checked.graph
    params = ", ".join(f"{k}={v}" for k, v in graph.params.items() if k != "in")
    table = Table(title=f"{graph.network}({params})", title_justify="left", show_footer=True,
                  header_style="bold", footer_style="bold")
    # numbers never wrap or shorten; a long layer name folds onto a second line
    table.add_column("layer", footer="total", overflow="fold")
    table.add_column("op", no_wrap=True)
    table.add_column("output", footer=shape_text(checked.output_shape), no_wrap=True)
    table.add_column("params", justify="right", footer=f"{checked.total_params:,}", no_wrap=True)
    table.add_column("MACs", justify="right", footer=f"{checked.total_macs:,}", no_wrap=True)
    table.add_column("RF", justify="right", no_wrap=True)
    table.add_column("jump", justify="right", no_wrap=True)
    for layer in checked.layers:
        params = f"{layer.params:,}" + ("" if layer.params == layer.trainable else " (frozen)")
        table.add_row(layer.name, layer.op, shape_text(layer.output_shape), params, f"{layer.macs:,}",
                      field_text(layer.receptive_field), field_text(layer.jump))
    return table


def totals_text(checked: Checked) -> str:
    return (
        f"parameters: {checked.total_params:,} ({checked.trainable_params:,} trainable, "
        f"{checked.total_params - checked.trainable_params:,} frozen)\n"
        f"multiply-accumulates: {checked.total_macs:,} per sample\n"
        f"activation memory: {human_bytes(checked.activation_bytes)} per float32 sample "
        f"({checked.activation_bytes // 4:,} values)"
    )


def to_json(checked: Checked | None, diagnostics: Iterable[Diagnostic]) -> str:
    if checked is not None:
        data = checked.to_json()
    else:
        keys = ("network", "input_shape", "output_shape", "total_params", "trainable_params", "total_macs")
        data = {key: None for key in keys} | {"layers": []}
    data["diagnostics"] = [d.to_json() for d in diagnostics]
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_word)


def _json_word(value: Any) -> str:
    """A parameter bound to a bare word (`c = relu`, `padding = same`) is that word in JSON."""
    if isinstance(value, Symbol):
        return value.name
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_markdown(checked: Checked) -> str:
    rows = [
        f"## {checked.graph.network}",
        "",
        "| layer | op | output | params | MACs | receptive field | jump |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for layer in checked.layers:
        rows.append(
            f"| `{layer.name}` | {layer.op} | {shape_text(layer.output_shape)} | {layer.params:,} | "
            f"{layer.macs:,} | {field_text(layer.receptive_field)} | {field_text(layer.jump)} |"
        )
    rows += [
        f"| **total** | | {shape_text(checked.output_shape)} | **{checked.total_params:,}** | "
        f"**{checked.total_macs:,}** | | |",
        "",
        *(f"- {line}" for line in totals_text(checked).splitlines()),
    ]
    return "\n".join(rows) + "\n"


def markdown_diagnostics(diagnostics: Iterable[Diagnostic]) -> str:
    return "".join(f"- `{d.span}` **{d.severity}**: {d.message}" + (f" ({d.hint})" if d.hint else "") + "\n"
                   for d in diagnostics)


__all__ = ["Any"]
