"""Positions: netdsl's (1-based line, 1-based column in characters, see `netdsl.core.diagnostics`)
and the Language Server Protocol's (0-based line, 0-based column in code units of the
negotiated encoding: UTF-16 unless the client asked for UTF-8 or UTF-32).

A character outside the Basic Multilingual Plane is one netdsl column, two UTF-16 units and
four UTF-8 bytes. Lines are those of `source_lines` (the text normalized: "\\r\\n" and "\\r"
end lines too), which are the protocol's lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types as lsp

from netdsl.core.diagnostics import Span, normalize_source, source_lines


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    if encoding == "utf-32":
        return 1
    return 2 if code >= 0x10000 else 1


@dataclass(frozen=True)
class Lines:
    """One document's lines, for converting positions both ways."""

    lines: tuple[str, ...]
    encoding: str = "utf-16"

    @classmethod
    def of(cls, text: str, encoding: str = "utf-16") -> Lines:
        return cls(tuple(source_lines(normalize_source(text))), encoding)

    def line(self, number: int) -> str:
        """Line `number` (1-based), or "" past the end."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def to_lsp(self, line: int, column: int) -> lsp.Position:
        """netdsl's (line, column) → the protocol's position (a column past the line's end clamps)."""
        text = self.line(line)
        chars = text[: max(column - 1, 0)]
        if self.encoding == "utf-16" and chars.isascii():
            return lsp.Position(max(line - 1, 0), len(chars))
        return lsp.Position(max(line - 1, 0), sum(_units(c, self.encoding) for c in chars))

    def from_lsp(self, position: lsp.Position) -> tuple[int, int]:
        """The protocol's position → netdsl's (line, column); a column inside a character (half of
        a surrogate pair) or past the line's end moves to the nearest character boundary before it."""
        text = self.line(position.line + 1)
        units = 0
        for index, char in enumerate(text):
            width = _units(char, self.encoding)
            if units + width > position.character:
                return position.line + 1, index + 1
            units += width
        return position.line + 1, len(text) + 1

    def range(self, span: Span) -> lsp.Range:
        return lsp.Range(self.to_lsp(span.line, span.column), self.to_lsp(span.end_line, span.end_column))
