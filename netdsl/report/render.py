"""Stage 4 — report: `Checked` and diagnostics → a rich table, JSON or markdown.

The only place (with the CLI) that writes for people. Diagnostics are drawn compiler-style:
`file:line:col: severity: message`, the source line, a caret under the span, then the hint.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.checker.values import Symbol
from netdsl.core.diagnostics import Diagnostic, source_lines

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
    return Text("").join(part for part in diagnostic_parts(diagnostic, sources) if part is not None)


def diagnostic_parts(
    diagnostic: Diagnostic, sources: Mapping[str, str]
) -> tuple[Text, Text | None, Text | None]:
    """A diagnostic as its message (place, severity, text), its source line with the caret
    (None without a line), and its hint (None without one), each ending in a line break."""
    span = diagnostic.span
    head = Text()
    head.append(f"{span if span.line else span.file}: ", style="bold")  # line 0: a flag or a file
    head.append(f"{diagnostic.severity}: ", style=_STYLE[diagnostic.severity])
    head.append(diagnostic.message + "\n", style="bold")
    source_text = None
    lines = source_lines(sources.get(span.file, ""))
    if 1 <= span.line <= len(lines):
        # one character, one column: tabs and invisible characters show as one space each
        source = "".join(c if c.isprintable() else " " for c in lines[span.line - 1])
        end = span.end_column if span.end_line == span.line else len(source) + 1
        width = max(1, min(end, len(source) + 1) - span.column)
        gutter = f"{span.line:>5} | "
        source_text = Text()
        source_text.append(gutter, style="dim")
        source_text.append(source + "\n")
        source_text.append(" " * (len(gutter) - 2) + "| ", style="dim")
        source_text.append(
            " " * (span.column - 1) + "^" + "~" * (width - 1) + "\n", style=_STYLE[diagnostic.severity]
        )
    hint = None
    if diagnostic.hint:
        hint = Text()
        hint.append("      = hint: ", style="bold cyan")
        hint.append(diagnostic.hint + "\n")
    return head, source_text, hint


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> None:
    """Print the diagnostics; on a terminal, messages and hints wrap at its width between words
    (never inside a number), while a source line and its caret keep their columns. A pipe or a
    file gets each on one line."""
    for diagnostic in diagnostics:
        for part, prose in zip(diagnostic_parts(diagnostic, sources), (True, False, True), strict=True):
            if part is None:
                continue
            if prose and console.is_terminal:
                part.rstrip()
                console.print(part, highlight=False, overflow="fold")
            else:
                console.print(part, end="", highlight=False, soft_wrap=True)


def summary_line(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(d.severity == "error" for d in items)
    warnings = sum(d.severity == "warning" for d in items)
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


# ---- reports ------------------------------------------------------------------------------

# The table's columns, and the order in which they give way when the terminal is too narrow:
# the jump first, then the receptive field, the MACs (their total stays under the table) and
# last the op, which says what a layer is where its name does not (`features.0.0`); the layer,
# its output shape and its parameters always stay.
COLUMNS = ("layer", "op", "output", "params", "MACs", "RF", "jump")
DROP_ORDER = ("jump", "RF", "MACs", "op")
_TITLES = {"RF": "receptive field"}
WRAP_SHARE = 0.1  # at most this share of the rows may have their name wrapped to keep a column


@dataclass(frozen=True)
class Report:
    """The check report laid out for a width: what to print, and what gave way."""

    title: Text
    table: Table
    width: int  # what the table needs
    dropped: tuple[str, ...]  # columns left out to fit
    rows: tuple[tree.Row, ...]
    depth: int | None  # the depth asked for (None: every layer)
    notes: tuple[str, ...]


def report(checked: Checked, depth: int | None = None, width: int | None = None) -> Report:
    """The report table of `checked` at `depth` (None: every layer); with `width`, columns are
    left out (in DROP_ORDER) and layer names wrap at their dots, never inside a word, until it fits."""
    rows = tuple(tree.rows(checked, depth))
    names = [row.name for row in rows]
    shortest = max((len(word) for name in names + ["layer", "total"] for word in _words(name)), default=1)
    chosen = None
    # left out in DROP_ORDER; where the MACs are not enough, the op goes and the MACs come back
    drops = [DROP_ORDER[:count] for count in range(len(DROP_ORDER) + 1)]
    drops.insert(len(DROP_ORDER), (*DROP_ORDER[:-2], DROP_ORDER[-1]))
    for drop in drops:
        columns = [c for c in COLUMNS if c not in drop]
        table = _table(checked, rows, columns, None)
        needed = table_width(table)
        if width is None or needed <= width:
            chosen = (table, needed, columns)
            break
        # names may wrap at their dots rather than lose a column, when few of them have to
        room = max(len(n) for n in names + ["layer", "total"]) - (needed - width)
        if room >= shortest and sum(len(n) > room for n in names) <= len(names) * WRAP_SHARE:
            table = _table(checked, rows, columns, room)
            chosen = (table, table_width(table), columns)
            break
    if chosen is None:  # the narrowest table, with names wrapped as far as their longest piece allows
        columns = [c for c in COLUMNS if c not in DROP_ORDER]
        table = _table(checked, rows, columns, None)
        needed = table_width(table)
        if width is not None and needed > width:
            room = max(shortest, max(len(n) for n in names + ["layer", "total"]) - (needed - width))
            table = _table(checked, rows, columns, room)
            needed = table_width(table)
        chosen = (table, needed, columns)
    table, needed, columns = chosen
    dropped = tuple(c for c in COLUMNS if c not in columns)
    return Report(
        report_title(checked), table, needed, dropped, rows, depth, _notes(checked, rows, depth, dropped, width)
    )


def column_widths(table: Table) -> list[int]:
    """The width of each column's text when nothing limits the table, as rich measures it (a test
    compares the two), from the cells' text: its widest line, within the column's min and max width."""
    widths = []
    for column in table.columns:
        lines = [str(column.header), str(column.footer), *(str(cell) for cell in column.cells)]
        widest = max(cell_len(line) for text in lines for line in text.split("\n"))
        if column.min_width is not None:
            widest = max(widest, column.min_width)
        if column.max_width is not None:
            widest = min(widest, column.max_width)
        widths.append(widest)
    return widths


def table_width(table: Table) -> int:
    """The width `table` takes when nothing limits it: rich's `Measurement.get(...).maximum`,
    without measuring each cell through rich. Its columns, their padding, then the borders."""
    padding = table.padding[1] + table.padding[3]
    borders = (2 if table.show_edge else 0) + len(table.columns) - 1 if table.box else 0
    return sum(width + padding for width in column_widths(table)) + borders


def report_title(checked: Checked) -> Text:
    graph = checked.graph
    params = ", ".join(f"{k}={v}" for k, v in graph.params.items() if k != "in")
    return Text(f"{graph.network}({params})", style="bold")


def print_report(console: Console, checked: Checked, depth: int | None, fit: bool) -> None:
    """The report on `console`: fitted to its width when `fit` (a terminal), else as wide as it needs."""
    laid = report(checked, depth, console.width if fit else None)
    if not fit or laid.width > console.width:  # a pipe, or a terminal too narrow for any table: never cut
        console.width = max(console.width, laid.width)
    console.print(laid.title, soft_wrap=True)
    for column, width in zip(laid.table.columns, column_widths(laid.table), strict=True):
        column.width = width  # what rich would measure, as the table fits: it then measures no cell again
    console.print(laid.table)
    for note in laid.notes:  # wrapped here: rich's own wrapping leaves a space at the end of each line
        for line in textwrap.wrap(note, console.width) if fit else [note]:
            console.print(Text(line, style="dim"), soft_wrap=True)
    for line in totals_text(checked).splitlines():
        for part in textwrap.wrap(line, console.width) if fit else [line]:
            console.print(part, markup=False, highlight=False, emoji=False, soft_wrap=True)


def _words(name: str) -> list[str]:
    """A dotted name's pieces, each with its dot: where a name may wrap."""
    return re.findall(r"[^.]+\.?|\.", name) or [name]


def wrap_name(name: str, width: int) -> str:
    """`name` on lines of at most `width` characters, broken only after a dot (a piece longer
    than `width` keeps its own line whole)."""
    lines: list[str] = []
    for word in _words(name):
        if lines and len(lines[-1]) + len(word) <= width:
            lines[-1] += word
        else:
            lines.append(word)
    return "\n".join(lines)


def _table(checked: Checked, rows: Sequence[tree.Row], columns: Sequence[str], name_width: int | None) -> Table:
    # rich's own title would be padded to the table's width with trailing spaces: it is printed apart
    table = Table(show_footer=True, header_style="bold", footer_style="bold")
    footers = {
        "layer": "total",
        "output": shape_text(checked.output_shape),
        "params": f"{checked.total_params:,}",
        "MACs": f"{checked.total_macs:,}",
    }
    for column in columns:
        right = column not in ("layer", "op", "output")
        fixed = name_width if column == "layer" else None
        table.add_column(  # Text, not str: rich reads no markup (nor emoji codes) in them
            Text(column),
            footer=Text(footers.get(column, "")),
            justify="right" if right else "left",
            no_wrap=True,
            min_width=fixed,
            max_width=fixed,
        )
    for row in rows:
        cells = _cells(row)
        if name_width:
            cells["layer"] = wrap_name(row.name, name_width)
        table.add_row(*(Text(cells[c], style="dim" if c == "op" and row.folded else "") for c in columns))
    return table


def _cells(row: tree.Row) -> dict[str, str]:
    params = f"{row.params:,}" + (
        ""
        if row.params == row.trainable
        else " (frozen)"
        if row.trainable == 0
        else f" ({row.params - row.trainable:,} frozen)"
    )
    return {
        "layer": row.name,
        "op": row.op,
        "output": shape_text(row.output_shape),
        "params": params,
        "MACs": f"{row.macs:,}",
        "RF": field_text(row.receptive_field),
        "jump": field_text(row.jump),
    }


def _notes(
    checked: Checked, rows: Sequence[tree.Row], depth: int | None, dropped: Sequence[str], width: int | None
) -> tuple[str, ...]:
    notes = []
    if any(row.folded for row in rows):
        notes.append(
            f"{len(checked.layers)} layers in {len(rows)} rows, blocks folded at depth {depth}: --depth all "
            "unfolds them"
        )
    if dropped:
        names = [_TITLES.get(c, c) for c in dropped]
        shown = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        notes.append(f"{shown} left out to fit {width} columns (--format markdown shows every column)")
    return tuple(notes)


def report_table(checked: Checked, depth: int | None = None) -> Table:
    """The whole table, as wide as it needs (every column)."""
    return report(checked, depth).table


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
        _add_tree(data, checked)
    else:
        keys = ("network", "input_shape", "output_shape", "total_params", "trainable_params", "total_macs")
        data = {key: None for key in keys} | {"layers": []}
    data["diagnostics"] = [d.to_json() for d in diagnostics]
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_word)


def _add_tree(data: dict[str, Any], checked: Checked) -> None:
    """Each layer's `scope` (the groups around it, outermost first) and every group's totals."""
    for layer, node in zip(data["layers"], checked.graph.nodes, strict=True):
        layer["scope"] = list(tree.scope_paths(node.scope))
    found = tree.groups(checked)
    data["groups"] = [
        {
            "path": row.name,
            "block": group.block,
            "contents": row.op,
            "layers": len(row.nodes),
            "output_shape": list(row.output_shape),
            "params": row.params,
            "trainable_params": row.trainable,
            "macs": row.macs,
        }
        for group in found.values()
        for row in [tree.group_row(group, found, checked)]
    ]


def _json_word(value: Any) -> str:
    """A parameter bound to a bare word (`c = relu`, `padding = same`) is that word in JSON."""
    if isinstance(value, Symbol):
        return value.name
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_markdown(checked: Checked, depth: int | None = None) -> str:
    """The report as a markdown table, at `depth` as the terminal table (None: every layer)."""
    rows = tree.rows(checked, depth)
    lines = [
        f"## {checked.graph.network}",
        "",
        "| layer | op | output | params | MACs | receptive field | jump |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| `{row.name}` | {row.op} | {shape_text(row.output_shape)} | {row.params:,} | "
            f"{row.macs:,} | {field_text(row.receptive_field)} | {field_text(row.jump)} |"
        )
    lines += [
        f"| **total** | | {shape_text(checked.output_shape)} | **{checked.total_params:,}** | "
        f"**{checked.total_macs:,}** | | |",
        "",
        *(f"- {note}" for note in _notes(checked, rows, depth, (), None)),
        *(f"- {line}" for line in totals_text(checked).splitlines()),
    ]
    return "\n".join(lines) + "\n"


def markdown_diagnostics(diagnostics: Iterable[Diagnostic]) -> str:
    return "".join(
        f"- `{d.span}` **{d.severity}**: {d.message}" + (f" ({d.hint})" if d.hint else "") + "\n" for d in diagnostics
    )


__all__ = ["Any"]
