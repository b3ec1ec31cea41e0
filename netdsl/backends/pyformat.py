"""Black-style line breaking for the simple statements a backend emits.

A statement that fits in 88 columns stays on one line. Otherwise it is split inside its last
bracket pair ("right-hand split"): the bracket's contents on one indented line if they fit,
else one item per line with a trailing comma; an item that is still too long is split again.
This is the subset of `ruff format`/black that generated code needs, so the files we write
are already formatted.
"""

from __future__ import annotations

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


def _last_group(code: str) -> tuple[int, int] | None:
    """The (open, close) positions of the last top-level bracket pair that holds something."""
    stack: list[int] = []
    best = None
    quote = None
    for i, char in enumerate(code):
        if quote:
            quote = None if char == quote and code[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in _PAIRS:
            stack.append(i)
        elif char in ")]}" and stack:
            start = stack.pop()
            if not stack and i > start + 1:
                best = (start, i)
    return best


def _split_items(body: str) -> list[str]:
    """The comma-separated items of a bracket's contents (commas inside brackets or strings kept)."""
    items: list[str] = []
    current: list[str] = []
    depth, quote = 0, None
    for i, char in enumerate(body):
        if quote:
            quote = None if char == quote and body[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in _PAIRS:
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    rest = "".join(current).strip()
    if rest:
        items.append(rest)
    return items
