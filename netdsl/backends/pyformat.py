"""Black-style line breaking for the simple statements a backend emits.

A statement that fits in 88 columns stays on one line. Otherwise it is split inside its last
bracket pair ("right-hand split"): the bracket's contents on one indented line if they fit,
else one item per line with a trailing comma; an item that is still too long is split again.
This is the subset of `ruff format`/black that generated code needs, so the files we write
are already formatted.
"""

from __future__ import annotations

from collections.abc import Iterator

WIDTH = 88
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def format_statement(indent: str, code: str, comment: str | None = None) -> list[str]:
    """`code` at `indent`, broken into lines no wider than WIDTH where brackets allow."""
    tail = f"  # {comment}" if comment else ""
    if len(indent) + len(code) + len(tail) <= WIDTH:
        return [indent + code + tail]
    found = _last_group(code)
    if found is None:
        return [indent + code + tail]
    start, end = found
    head, body, close = code[: start + 1], code[start + 1 : end], code[end:]
    inner = indent + "    "
    items = _split_items(body)
    if len(inner) + len(body) <= WIDTH and not (len(items) > 1 and body.rstrip().endswith(",")):
        return [indent + head + tail, inner + body, indent + close]
    if len(items) == 1:
        return [indent + head + tail, *format_statement(inner, items[0]), indent + close]
    lines = [indent + head + tail]
    for item in items:
        lines += format_statement(inner, item + ",")
    return lines + [indent + close]


def _scan(code: str) -> Iterator[tuple[int, str, int]]:
    """(position, character, bracket depth before it) for each character outside string literals."""
    depth, quote = 0, None
    for i, char in enumerate(code):
        if quote:
            quote = None if char == quote and code[i - 1] != "\\" else quote
            continue
        if char in "\"'":
            quote = char
            continue
        yield i, char, depth
        depth += (char in _PAIRS) - (char in ")]}")


def _last_group(code: str) -> tuple[int, int] | None:
    """The (open, close) positions of the last top-level bracket pair that holds something."""
    best, start = None, 0
    for i, char, depth in _scan(code):
        if char in _PAIRS and depth == 0:
            start = i
        elif char in ")]}" and depth == 1 and i > start + 1:
            best = (start, i)
    return best


def _split_items(body: str) -> list[str]:
    """The comma-separated items of a bracket's contents (commas inside brackets or strings kept)."""
    cuts = [i for i, char, depth in _scan(body) if char == "," and depth == 0]
    pieces = [body[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(body)], strict=True)]
    return [piece.strip() for piece in pieces if piece.strip()]
