"""One definition of a line: line ends are "\\n", "\\r\\n" or "\\r"; nothing else breaks a line.

The parser, the diagnostics and the caret rendering agree on it (and the language server will).
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from netdsl.checker.check import check_text
from netdsl.core.diagnostics import normalize_source, source_lines
from netdsl.language.program import load_text
from netdsl.report.render import print_diagnostics

# characters that Python's str.splitlines() breaks at, but a spec line does not
INLINE = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", INLINE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_character_inside_a_line_does_not_move_the_lines_after_it(char: str) -> None:
    text = f"network N {{ {char} input [4]\n  relu\n  nosuchop\n}}"
    (diag,) = check_text(text).diagnostics
    if char == "\f":  # white space, as in Python
        assert (diag.span.line, diag.span.column, diag.message) == (3, 3, "unknown op or block 'nosuchop'")
    else:
        assert (diag.span.line, diag.span.column) == (1, 13)
        assert diag.message.startswith(f"unexpected character {char!r}")


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_end_counts_once(end: str) -> None:
    text = end.join(["network N {", "  input [4]", "  relu", "  nosuchop(1)", "}"])
    (diag,) = check_text(text).diagnostics
    assert (diag.span.line, diag.span.column) == (4, 3)


def test_a_byte_order_mark_is_not_a_character_of_the_first_line() -> None:
    (diag,) = check_text("\ufeffnetwork N { input [4] nosuchop }").diagnostics
    assert (diag.span.line, diag.span.column) == (1, 23)


def test_the_caret_sits_under_the_column_whatever_the_line_holds() -> None:
    text = "network N {\n\t\f input [4] \x85 nosuchop\n}"
    program = load_text(text, "t.net")
    (diag,) = check_text(text, "t.net").diagnostics
    console = Console(file=io.StringIO(), width=200, no_color=True, highlight=False)
    print_diagnostics(console, [diag], program.sources)
    shown = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    source_row, caret_row = shown[1], shown[2]
    assert diag.message.startswith("unexpected character '\\x85'")
    assert (diag.span.line, diag.span.column) == (2, 14)
    assert source_row.endswith("|    input [4]   nosuchop")  # tab, form feed and U+0085 as one space each
    gutter = source_row.index("|") + 2
    assert caret_row.index("^") == gutter + 13


def test_normalized_text_splits_into_the_lines_the_parser_counts() -> None:
    text = normalize_source("a\r\nb\rc\nd\u2028e\f")
    assert source_lines(text) == ["a", "b", "c", "d\u2028e\f"]
