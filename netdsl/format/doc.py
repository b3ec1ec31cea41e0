"""A small document printer (Wadler's "prettier printer", as JavaScript's prettier builds it).

A document is text, a list of documents, or one of the dataclasses below. `render` lays it out
in a given width: a `Group` prints flat (its `Line`s as spaces) when it fits on the rest of the
line, and broken (its `Line`s as line ends) otherwise; `Fill` breaks only the separators it
must. A trailing comment is a `Suffix`: held back to the end of its line, which it then ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Union

INDENT = 4


@dataclass(frozen=True)
class Line:
    """A space (or nothing, when `soft`) in flat mode; a line end in broken mode. `hard`: always a line end."""

    soft: bool = False
    hard: bool = False


@dataclass(frozen=True)
class Indent:
    contents: Doc


@dataclass(eq=False)
class Group:
    contents: Doc
    broken: bool = False  # set by `_propagate` when a hard line end lies inside


@dataclass(frozen=True)
class IfBreak:
    """`broken` when `group` (default: the innermost enclosing group) is broken, else `flat`."""

    broken: Doc
    flat: Doc
    group: Group | None = None


@dataclass(frozen=True)
class Fill:
    """first, then (separator, item) pairs: a separator breaks only when its item does not fit after it."""

    first: Doc
    rest: tuple[tuple[Doc, Doc], ...]


@dataclass(frozen=True)
class Suffix:
    """Text put at the end of the line it falls on (a trailing comment): that line ends after it."""

    text: str


Doc = Union[str, list["Doc"], Line, Indent, Group, IfBreak, Fill, Suffix]  # noqa: UP007 (a forward reference)

LINE, SOFT, HARD = Line(), Line(soft=True), Line(hard=True)
FLAT, BREAK = False, True


def join(separator: Doc, docs: list[Doc]) -> list[Doc]:
    out: list[Doc] = []
    for i, doc in enumerate(docs):
        out += [separator, doc] if i else [doc]
    return out


def _children(doc: Doc) -> Iterator[Doc]:
    if isinstance(doc, list):
        yield from doc
    elif isinstance(doc, (Indent, Group)):
        yield doc.contents
    elif isinstance(doc, IfBreak):
        yield doc.broken
        yield doc.flat
    elif isinstance(doc, Fill):
        yield doc.first
        for sep, item in doc.rest:
            yield sep
            yield item


def _propagate(doc: Doc) -> bool:
    """Mark every group holding a hard line end broken; True if `doc` holds one. (A trailing comment
    breaks a group only where text would follow it on the line: `fits` sees to that.)"""
    if isinstance(doc, Line):
        return doc.hard
    hard = False
    for child in _children(doc):
        hard = _propagate(child) or hard
    if isinstance(doc, Group) and hard:
        doc.broken = True
    return hard


@dataclass(frozen=True)
class _Separator:
    """A fill's separator, whose mode is chosen when it is reached: flat if its item fits after it.
    An item that holds a line end (a body written out) always starts a line of its own."""

    sep: Doc
    item: Doc
    hard: bool


@dataclass
class _Printer:
    width: int
    out: list[str] = field(default_factory=list)
    column: int = 0
    suffixes: list[str] = field(default_factory=list)
    modes: dict[int, bool] = field(default_factory=dict)  # id(group) → BREAK / FLAT

    def run(self, doc: Doc) -> str:
        stack: list[tuple[int, bool, Doc]] = [(0, BREAK, doc)]
        while stack:
            indent, mode, item = stack.pop()
            self.step(indent, mode, item, stack)
        self.flush_suffixes()
        return "".join(self.out)

    def step(self, indent: int, mode: bool, item: Doc, stack: list[tuple[int, bool, Doc]]) -> None:
        if isinstance(item, str):
            self.out.append(item)
            self.column += len(item)
        elif isinstance(item, list):
            stack.extend((indent, mode, child) for child in reversed(item))
        elif isinstance(item, Indent):
            stack.append((indent + INDENT, mode, item.contents))
        elif isinstance(item, Group):
            flat = not item.broken and (mode == FLAT or self.fits([(indent, FLAT, item.contents)], stack))
            self.modes[id(item)] = FLAT if flat else BREAK
            stack.append((indent, FLAT if flat else BREAK, item.contents))
        elif isinstance(item, IfBreak):
            broken = self.modes.get(id(item.group), mode) if item.group is not None else mode
            stack.append((indent, mode, item.broken if broken else item.flat))
        elif isinstance(item, Fill):
            self.fill(indent, mode, item, stack)
        elif isinstance(item, _Separator):
            fits = not item.hard and self.fits([(indent, FLAT, [item.sep, item.item])], stack[:-1])
            stack.append((indent, FLAT if fits else BREAK, item.sep))
        elif isinstance(item, Suffix):
            self.suffixes.append(item.text)
        elif isinstance(item, Line):
            self.line(indent, mode, item)

    def line(self, indent: int, mode: bool, item: Line) -> None:
        if mode == FLAT and not item.hard and not self.suffixes:
            if not item.soft:
                self.out.append(" ")
                self.column += 1
            return
        self.flush_suffixes()
        while self.out and self.out[-1].endswith(" "):  # no trailing blanks
            self.out[-1] = self.out[-1].rstrip(" ")
        self.out.append("\n" + " " * indent)
        self.column = indent

    def flush_suffixes(self) -> None:
        for text in self.suffixes:
            self.out.append(text)
            self.column += len(text)
        self.suffixes.clear()

    def fill(self, indent: int, mode: bool, item: Fill, stack: list[tuple[int, bool, Doc]]) -> None:
        """Push the items back to front; each separator's mode is chosen when it is reached."""
        parts: list[tuple[int, bool, Doc]] = [(indent, mode, item.first)]
        for sep, doc in item.rest:
            parts.append((indent, mode, _Separator(sep, doc, _propagate(doc))))
            parts.append((indent, mode, doc))
        stack.extend(reversed(parts))

    def fits(self, items: list[tuple[int, bool, Doc]], rest: list[tuple[int, bool, Doc]]) -> bool:
        """Whether `items` (then what follows on the stack, up to the next line end) fit the line."""
        room = self.width - self.column
        pending = bool(self.suffixes)
        todo = list(reversed(items))
        rest_index = len(rest)
        while room >= 0:
            if not todo:
                if rest_index == 0:
                    return True
                rest_index -= 1
                todo.append(rest[rest_index])
            indent, mode, doc = todo.pop()
            if isinstance(doc, str):
                if doc and pending:
                    return False
                room -= len(doc)
            elif isinstance(doc, list):
                todo.extend((indent, mode, child) for child in reversed(doc))
            elif isinstance(doc, Indent):
                todo.append((indent + INDENT, mode, doc.contents))
            elif isinstance(doc, Group):
                todo.append((indent, BREAK if doc.broken else mode, doc.contents))
            elif isinstance(doc, IfBreak):
                broken = self.modes.get(id(doc.group), mode) if doc.group is not None else mode
                todo.append((indent, mode, doc.broken if broken else doc.flat))
            elif isinstance(doc, Fill):
                todo.append((indent, mode, [doc.first] + [[s, d] for s, d in doc.rest]))
            elif isinstance(doc, _Separator):
                todo.append((indent, mode, doc.sep))
            elif isinstance(doc, Suffix):
                pending = True
            elif isinstance(doc, Line):
                if mode == BREAK or doc.hard:
                    return True
                room -= 0 if doc.soft else 1
        return False


def render(doc: Doc, width: int) -> str:
    """Lay `doc` out in `width` columns."""
    _propagate(doc)
    return _Printer(width).run(doc)
