"""`netdsl fmt`: spec text → the same spec in the one canonical layout, comments kept.

parse → find and attach comments → lay out (`printer`, `doc`) → align the tails (`@ [shape]`
and trailing comments) of each body's statements into one column. The result parses to the
same AST (spans aside) and formats to itself; `format_text` makes sure of both.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from netdsl.core.diagnostics import normalize_source
from netdsl.format.comments import Attachments, find_comments
from netdsl.format.doc import render
from netdsl.format.printer import MARK, Printer
from netdsl.language import ast
from netdsl.language.parser import parse

WIDTH = 100  # the shipped specs' widest lines
_MARKED = re.compile(MARK + "(.)")


class FormatError(Exception):
    """The formatter would change a spec's meaning or lose a comment: a bug in netdsl, never written out."""


def format_text(text: str, file: str = "<string>") -> str:
    """The canonical layout of spec text; raises `SpecError` when the text does not parse."""
    source = normalize_source(text)
    module = parse(source, file)
    comments = find_comments(source)
    printer = Printer(source, Attachments(module, comments))
    laid_out = render(printer.node(module), WIDTH)
    out = align(laid_out).strip("\n") + "\n"
    if out == "\n":
        out = ""
    _verify(module, [c.text for c in comments], out, file)
    return out.replace("\n", "\r\n") if "\r\n" in text.split("\n", 1)[0] + "\n" else out


def align(text: str) -> str:
    """Pad each marked tail to its body's column: two past the widest code before one, unless that
    would push a line past WIDTH (then the widest is left out, as many times as needed)."""
    lines = text.split("\n")
    bodies: dict[str, list[tuple[int, int, int]]] = {}
    for i, line in enumerate(lines):
        found = _MARKED.search(line)
        if found:
            bodies.setdefault(found.group(1), []).append((i, found.start(), len(line) - found.end()))
    for tails in bodies.values():
        column = _column(tails)
        for i, code, _tail in tails:
            head, rest = lines[i][:code], _MARKED.sub("", lines[i][code:], count=1)
            lines[i] = head + " " * max(column - code, 2) + rest
    return "\n".join(lines)


def _column(tails: list[tuple[int, int, int]]) -> int:
    fitting = sorted(tails, key=lambda t: t[1])
    while fitting:
        column = fitting[-1][1] + 2
        if all(column + tail <= WIDTH for _, _, tail in fitting):
            return column
        fitting.pop()
    return 0


def _verify(module: ast.Module, comments: list[str], out: str, file: str) -> None:
    again = parse(out, file)
    if strip_spans(again) != strip_spans(module):
        raise FormatError(f"{file}: formatting would change the spec's meaning (a bug in netdsl fmt)")
    if [c.text for c in find_comments(out)] != comments:
        raise FormatError(f"{file}: formatting would move or lose a comment (a bug in netdsl fmt)")


def strip_spans(node: Any) -> Any:
    """An AST without positions (and without the source text): what formatting must keep."""
    if isinstance(node, tuple):
        return tuple(strip_spans(item) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        return (type(node).__name__,) + tuple(
            (f.name, strip_spans(getattr(node, f.name)))
            for f in fields(node)
            if f.name not in ("span", "name_span", "source", "file")
        )
    return node


__all__ = ["FormatError", "WIDTH", "align", "format_text", "strip_spans"]
