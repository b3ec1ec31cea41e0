"""Documents of groups and line breaks, and their printer: a port of ruff_formatter's `Printer`
and `FitsMeasurer`, for the elements that `netdsl.backends.pytorch.pyformat` builds.

A document is a nested list of elements: `("text", s)`, `("line", "soft" | "space" | "hard")`,
a trailing comment `("suffix", text)`, and tags that enclose content: `group` (flat when it
fits, else its lines break), `cgroup` (a group only while an enclosing group is broken), `if`
(content for one mode of a group), `indent`, `indent_if`, `fits_expanded` (measured as if
broken) and `best_fit` (flat, else parenthesized if that fits on every line, else flat).
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 88
FLAT, EXPANDED = "flat", "expanded"
_FIRST_LINE, _ALL_LINES, _OVERFLOW = 0, 1, 2  # what a measurement checks: ruff's MeasureMode

Doc = list


def print_doc(doc: Doc, indent: int) -> list[str]:
    """The lines of `doc`, starting at indent level `indent` (four spaces each)."""
    return _Printer(flatten(doc), indent).run()


def text(value: str) -> Doc:
    return [("text", value)]


def line(kind: str) -> Doc:
    return [("line", kind)]


def tag(name: str, content: Doc, *args: object) -> Doc:
    return [(name, *args), content, ("/" + name,)]


def group(content: Doc, gid: int | None = None, expand: bool = False) -> Doc:
    return tag("group", content, gid, expand)


def if_(gid: int | None, mode: str, content: Doc) -> Doc:
    """Content printed only when group `gid` (None: the enclosing group) has `mode`."""
    return tag("if", content, gid, mode)


def block_indent(content: Doc) -> Doc:
    """ruff's soft_block_indent: the content on its own indented lines when the group breaks."""
    return [*tag("indent", [*line("soft"), *content]), *line("soft")]


def flatten(doc: Doc) -> list[tuple]:
    out: list[tuple] = []
    stack = [iter(doc)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            out.append(item)
    return out


# ---- the printer (ruff_formatter's Printer and FitsMeasurer, for the elements above) ----------


@dataclass(frozen=True)
class _Frame:
    kind: str
    mode: str
    indent: int
    measure: int = _FIRST_LINE


class _Printer:
    def __init__(self, doc: list[tuple], indent: int):
        self.doc, self.ends = doc, _matching_ends(doc)
        self.stack = [_Frame("root", EXPANDED, indent)]
        self.lines: list[str] = []
        self.line, self.width, self.pending = "", 0, indent  # pending: the indent of a new line
        self.suffix: str | None = None  # a trailing comment, written at the end of the line
        self.modes: dict[int, str] = {}  # group id → how it was printed (or measured)
        self.measured = False  # an enclosing group was measured to fit: its flat groups fit too

    def run(self) -> list[str]:
        i = 0
        while i < len(self.doc):
            i = self.element(i)
        self.newline(0)
        return self.lines

    def element(self, i: int) -> int:
        kind, *args = self.doc[i]
        top = self.stack[-1]
        if kind == "text":
            self.print(args[0])
        elif kind == "line":
            if top.mode == FLAT and args[0] != "hard":
                self.print(" " if args[0] == "space" else "")
            else:
                self.newline(top.indent)
        elif kind in ("group", "cgroup"):
            self.group(i, kind, *args)
        elif kind == "if":
            if self.mode_of(args[0]) != args[1]:
                return self.ends[i] + 1
            self.stack.append(top)
        elif kind in ("indent", "indent_if"):
            more = kind == "indent" or self.modes[args[0]] == EXPANDED
            self.stack.append(_Frame(kind, top.mode, top.indent + more, top.measure))
        elif kind == "fits_expanded":
            if self.modes[args[0]] == FLAT:
                self.measured = False  # measured as expanded: its groups must be measured again
            self.stack.append(top)
        elif kind == "best_fit":
            self.best_fit(i, args[0])
        elif kind == "suffix":
            self.width += len(args[0])
            self.suffix = args[0]
        elif kind == "/best_fit" and top.mode == EXPANDED:
            self.stack.pop()  # the indent
            self.stack.pop()
            self.newline(self.stack[-1].indent)
            self.print(")")
        else:
            self.stack.pop()
        return i + 1

    def mode_of(self, gid: int | None) -> str:
        return self.stack[-1].mode if gid is None else self.modes[gid]

    def group(self, i: int, kind: str, gid: int | None, expand: bool = False) -> None:
        top = self.stack[-1]
        if kind == "cgroup" and self.modes[gid] != EXPANDED:  # a group only inside parentheses
            self.stack.append(_Frame(kind, top.mode, top.indent, top.measure))
            return
        mode = EXPANDED if expand else self.flat_mode(i, kind, gid if kind == "group" else None)
        if gid is not None and kind == "group":
            self.modes[gid] = mode
        self.stack.append(_Frame(kind, mode, top.indent, top.measure))

    def flat_mode(self, i: int, kind: str, gid: int | None) -> str:
        top = self.stack[-1]
        if top.mode == FLAT and self.measured:
            return FLAT
        self.measured = True
        if gid is not None:
            self.modes[gid] = FLAT
        self.stack.append(_Frame(kind, FLAT, top.indent, top.measure))
        fits = self.fits(i + 1)
        self.stack.pop()
        return FLAT if fits else EXPANDED

    def best_fit(self, i: int, gid: int) -> None:
        """Flat if it fits; else parenthesized if every line of that fits; else flat anyway."""
        top = self.stack[-1]
        mode = self.flat_mode(i, "best_fit", gid)
        if mode == EXPANDED:
            self.modes[gid] = EXPANDED
            self.stack.append(_Frame("best_fit", top.mode, top.indent, _ALL_LINES))
            opened = (("text", "("), ("indent",), ("line", "hard"))
            mode = EXPANDED if self.fits(i + 1, opened) else FLAT
            self.stack.pop()
        self.modes[gid] = mode
        self.stack.append(_Frame("best_fit", mode, top.indent, top.measure))
        if mode == EXPANDED:
            self.print("(")
            self.stack.append(_Frame("indent", mode, top.indent + 1, top.measure))
            self.newline(top.indent + 1)

    def print(self, text: str) -> None:
        if text and self.pending is not None:
            self.line, self.width, self.pending = " " * 4 * self.pending, 4 * self.pending, None
        self.line += text
        self.width += len(text)

    def newline(self, indent: int) -> None:
        if self.line.strip():
            self.lines.append(self.line + (self.suffix or ""))
            self.line, self.width, self.suffix, self.measured = "", 0, None, False
        self.pending = indent

    def fits(self, start: int, opened: tuple[tuple, ...] = ()) -> bool:
        """Whether what follows fits on the line (or, measuring all lines, on every line)."""
        return _Measure(self, list(self.stack)).fits(start, opened)


class _Measure:
    """ruff's FitsMeasurer: prints nothing, follows the same rules, stops at the first verdict."""

    def __init__(self, printer: _Printer, stack: list[_Frame]):
        self.printer, self.stack, self.modes = printer, stack, printer.modes
        self.width, self.pending = printer.width, printer.pending

    def fits(self, start: int, opened: tuple[tuple, ...]) -> bool:
        for kind, *args in opened:  # what `best_fit` would write before its contents
            verdict = self.element(kind, args)
            if verdict is not None:
                return bool(verdict)
        i, doc = start, self.printer.doc
        while i < len(doc):
            kind, *args = doc[i]
            verdict = self.element(kind, args)
            if verdict == "skip":
                i = self.printer.ends[i]
            elif verdict is not None:
                return bool(verdict)
            i += 1
        return True

    def element(self, kind: str, args: list) -> bool | str | None:
        top = self.stack[-1]
        if kind == "text":
            return self.text(args[0])
        if kind == "line":
            if top.mode == FLAT:
                return self.text(" ") if args[0] == "space" else (True if args[0] == "hard" else None)
            if top.measure == _FIRST_LINE:
                return True
            self.width, self.pending = 0, top.indent
        elif kind in ("group", "cgroup"):
            if kind == "cgroup" and self.modes[args[0]] != EXPANDED:
                self.stack.append(top)
                return None
            mode = EXPANDED if kind == "group" and args[1] else top.mode
            if kind == "group" and args[0] is not None:
                self.modes[args[0]] = mode
            self.stack.append(_Frame(kind, mode, top.indent, top.measure))
        elif kind == "if":
            mode = top.mode if args[0] is None else self.modes[args[0]]
            if mode != args[1]:
                return "skip"
            self.stack.append(top)
        elif kind in ("indent", "indent_if"):
            more = kind == "indent" or self.modes[args[0]] == EXPANDED
            self.stack.append(_Frame(kind, top.mode, top.indent + more, top.measure))
        elif kind == "fits_expanded":
            if top.mode == FLAT and self.modes[args[0]] == FLAT:  # measured expanded, may overflow
                self.stack.append(_Frame(kind, EXPANDED, top.indent, _OVERFLOW))
            else:
                self.stack.append(top)
        elif kind == "best_fit":
            self.modes[args[0]] = top.mode
            self.stack.append(top)
        elif kind == "/best_fit" and top.mode == EXPANDED and top.kind == "indent":
            self.stack.pop()
            outer = self.stack.pop()
            self.width, self.pending = 0, outer.indent
            return self.text(")")
        elif kind == "suffix":
            self.width += len(args[0])
            return False if self.width > WIDTH else None
        else:
            self.stack.pop()
        return None

    def text(self, text: str) -> bool | None:
        if self.pending is not None:
            self.width, self.pending = self.width + 4 * self.pending, None
        self.width += len(text)
        return False if self.width > WIDTH and self.stack[-1].measure != _OVERFLOW else None


def _matching_ends(doc: list[tuple]) -> dict[int, int]:
    ends, opened = {}, []
    for i, (kind, *_) in enumerate(doc):
        if kind.startswith("/"):
            ends[opened.pop()] = i
        elif kind not in ("text", "line", "suffix"):
            opened.append(i)
    return ends
