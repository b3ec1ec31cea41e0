"""One diagnostic type, end to end: severity, message, source span, optional hint.

Every stage reports problems as `Diagnostic` values; the CLI renders them (rich, json).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Literal

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns are 1-based, `end_column` exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to(self, other: Span) -> Span:
        """The span from the start of `self` to the end of `other`."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column)


NOWHERE = Span("<command line>", 0, 0, 0, 0)

# ---- what a line is -----------------------------------------------------------------------
# One definition everywhere positions are computed (parser, diagnostics, caret rendering, ONNX
# doc strings, the language server): spec text is read with its line ends made "\n" (from
# "\r\n", "\r" or "\n", the three that the Language Server Protocol counts), and a line is what
# lies between two "\n". Other characters that Python's `str.splitlines` breaks at (form feed,
# "\v", "\x1c"-"\x1e", "\x85", U+2028, U+2029) are characters inside a line.


def normalize_source(text: str) -> str:
    """Spec text as netdsl reads it: a leading byte-order mark dropped, every line end "\n"."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def source_lines(text: str) -> list[str]:
    """The lines of normalized spec text (see `normalize_source`), without their ends."""
    return text.split("\n")


def source_line(text: str, number: int) -> str:
    """Line `number` (1-based) of normalized spec text, or "" past its end."""
    lines = source_lines(text)
    return lines[number - 1] if 0 < number <= len(lines) else ""


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.span}: {self.severity}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "hint": self.hint,
        }


class SpecError(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic], partial: object = None):
        self.diagnostics = tuple(diagnostics)
        self.partial = partial  # what the stage could make before and beside the errors (or None)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def error(message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic("error", message, span, hint)


def warning(message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic("warning", message, span, hint)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None when nothing is close."""
    close = get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)
