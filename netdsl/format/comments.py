"""Comments for the formatter: found in the source text (the parser drops them) and attached
to the AST nodes around them, as prettier does.

A comment alone on its line leads the node after it; one after code trails the node before it
on that line. A comment with no such neighbour inside its innermost enclosing node dangles
there (after a body's `{`, before its `}`, at the end of the file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from netdsl.core.diagnostics import source_lines
from netdsl.language import ast

_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')
Pos = tuple[int, int]  # 1-based line, column


@dataclass(frozen=True)
class Comment:
    text: str
    line: int
    column: int
    own_line: bool  # nothing but blanks before it on its line
    blank_before: bool  # an empty line lies just above it

    @property
    def pos(self) -> Pos:
        return (self.line, self.column)


@dataclass
class Attached:
    leading: list[Comment] = field(default_factory=list)
    trailing: list[Comment] = field(default_factory=list)
    dangling: list[Comment] = field(default_factory=list)


def find_comments(source: str) -> list[Comment]:
    """Every comment of normalized spec text, in order (a `#` inside a string is no comment)."""
    lines = source_lines(source)
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text) + 1)
    found = []
    line = 0
    for match in _TOKENS.finditer(source):
        if not match.group().startswith("#"):
            continue
        while starts[line + 1] <= match.start():
            line += 1
        column = match.start() - starts[line]
        own = not lines[line][:column].strip()
        blank = own and line > 0 and not lines[line - 1].strip()
        found.append(Comment(match.group().rstrip(), line + 1, column + 1, own, blank))
    return found


def start(node: Any) -> Pos:
    return (node.span.line, node.span.column)


def end(node: Any) -> Pos:
    return (node.span.end_line, node.span.end_column)


def children(node: Any) -> list[Any]:
    """The AST nodes directly inside `node`, in source order (a label is one leaf)."""
    if isinstance(node, ast.Module):
        return sorted([*node.imports, *node.definitions, *node.functions], key=start)
    if isinstance(node, ast.Label) or not hasattr(node, "__dataclass_fields__"):
        return []
    found: list[Any] = []
    for f in fields(node):
        if f.name not in ("span", "name_span"):
            found.extend(_nodes(getattr(node, f.name)))
    return sorted(found, key=start)


def _nodes(value: Any) -> Iterator[Any]:
    if isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)
    elif hasattr(value, "__dataclass_fields__") and hasattr(value, "span"):
        yield value


class Attachments:
    """Where each comment goes: `of(node)` gives the comments leading, trailing and dangling in it."""

    def __init__(self, module: ast.Module, comments: list[Comment]):
        self.table: dict[int, Attached] = {}
        self.keep: list[Any] = []  # the nodes keyed by id stay alive while the table is used
        for comment in comments:
            self.attach(module, comment)

    def of(self, node: Any) -> Attached:
        return self.table.get(id(node)) or Attached()

    def _slot(self, node: Any) -> Attached:
        if id(node) not in self.table:
            self.table[id(node)] = Attached()
            self.keep.append(node)
        return self.table[id(node)]

    def attach(self, enclosing: Any, comment: Comment) -> None:
        preceding = following = None
        for child in children(enclosing):
            if end(child) <= comment.pos:
                preceding = child
            elif start(child) >= comment.pos:
                following = child
                break
            else:  # the comment lies inside this child
                self.attach(child, comment)
                return
        if comment.own_line:
            if following is not None:
                self._slot(following).leading.append(comment)
            else:
                self._slot(enclosing).dangling.append(comment)
        elif preceding is not None and preceding.span.end_line == comment.line:
            self._slot(preceding).trailing.append(comment)
        else:  # after an opening bracket
            self._slot(enclosing).dangling.append(comment)
