"""Line breaking for the statements a backend emits, as `ruff format` breaks them (88 columns).

A backend writes each statement on one line. One that fits stays as it is; a longer one is
parsed with `ast`, turned into a document of groups and line breaks built by ruff's own rules
(its `FormatExpr` implementations, cut down to the expressions generated code uses), and
printed by a port of ruff's printer (`netdsl.backends.pytorch.pyprint`): a group is written flat when
it fits on the line, its breaks become newlines otherwise. So generated files pass
`ruff format --check` as written.

Covered: names, literals, attributes, calls, subscripts, tuples, lists, unary, binary,
boolean and comparison chains, conditional expressions; assignments, expression statements,
`return`, `raise`, `for`, `if`, `def` and `class` headers; a trailing comment. Not covered: fluent call chains,
comments inside expressions, lambdas, comprehensions, dicts and strings that ruff would split.

Kept over black's library API by measurement (bench/formatter_speed.py, issue 17): `black.format_str`
once over the file made `netdsl build --target torch` 1.72x slower on ResNet-152 and 8.31x on a chain
of 10,000 layers (emit_torch alone 8.7x and 17.4x); the port's files are black-stable as written.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Iterator

from netdsl.backends.pytorch.pyprint import (
    EXPANDED,
    FLAT,
    WIDTH,
    Doc,
    block_indent,
    group,
    if_,
    line,
    print_doc,
    tag,
    text,
)

_NEVER, _ALWAYS, _BEST_FIT, _MULTILINE = "never", "always", "best fit", "multiline"  # OptionalParentheses

Level = int | str | None  # ruff's NodeLevel: None top level, "paren" inside brackets, int an optional group


def format_statement(indent: str, code: str, comment: str | None = None) -> list[str]:
    """`code` (one statement, or a compound statement's header ending in `:`) at `indent`, with an
    optional trailing `# comment`, broken into lines as ruff formats it."""
    tail = f"  # {comment}" if comment else ""
    if len(indent) + len(code) + len(tail) <= WIDTH or code == "else:":
        return [indent + code + tail]
    doc = _Layout(code).statement(tail)
    return print_doc(doc, len(indent) // 4)


# ---- ruff's layout rules, for the expressions and statements generated code uses --------------

_PRECEDENCE = {  # ruff's OperatorPrecedence: the higher, the earlier a chain breaks there
    ast.Pow: 2,
    ast.Mult: 4,
    ast.MatMult: 4,
    ast.Div: 4,
    ast.FloorDiv: 4,
    ast.Mod: 4,
    ast.Add: 5,
    ast.Sub: 5,
    ast.LShift: 6,
    ast.RShift: 6,
    ast.BitAnd: 7,
    ast.BitXor: 8,
    ast.BitOr: 9,
}
_ATTRIBUTE, _INVERSION, _COMPARATOR, _BOOLEAN, _CONDITIONAL = 1, 3, 10, 11, 12
_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.BitOr: "|",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.And: "and",
    ast.Or: "or",
    ast.Not: "not",
    ast.USub: "-",
    ast.UAdd: "+",
    ast.Invert: "~",
}


class _Layout:
    """Builds the document of one statement; `level` is ruff's node level (see `Level`)."""

    def __init__(self, code: str):
        self.code = code
        self.source = code + "\n    pass" if code.endswith(":") else code  # a header needs a body
        self.ids = itertools.count()

    # -- statements

    def statement(self, comment: str) -> Doc:
        node = ast.parse(self.source).body[0]
        suffix = [("suffix", comment)] if comment else []
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            return [*self.expr(node.targets[0], None), *text(" = "), *self.last_value(node.value, suffix)]
        if isinstance(node, ast.Return) and node.value is not None:
            return [*text("return "), *self.last_value(node.value, suffix)]
        if isinstance(node, ast.Expr):
            arithmetic = isinstance(node.value, ast.BinOp) and isinstance(
                node.value.op, (ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.Add, ast.Sub)
            )
            value = self.maybe_parenthesize(node.value, optional=True) if arithmetic else self.expr(node.value, None)
            return [*value, *suffix]
        if isinstance(node, ast.Raise) and node.exc is not None and node.cause is None:
            return [*text("raise "), *self.maybe_parenthesize(node.exc, optional=True)]
        if isinstance(node, ast.For):
            return [
                *text("for "),
                *self.maybe_parenthesize(node.target),
                *text(" in "),
                *self.maybe_parenthesize(node.iter),
                *text(":"),
            ]
        if isinstance(node, ast.If):
            return [*text("if "), *self.maybe_parenthesize(node.test), *text(":")]
        if isinstance(node, ast.FunctionDef):
            return self.function(node)
        if isinstance(node, ast.ClassDef) and (node.bases or node.keywords):  # its bases: a call's arguments
            bases = ast.Call(ast.Name(node.name), node.bases, node.keywords)
            bases.end_col_offset = len(self.code) - 1  # just after the `)` before the colon
            return [*text(f"class {node.name}"), *self.arguments(bases, None), *text(":")]
        raise ValueError(f"cannot lay out {type(node).__name__}: {self.code}")

    def last_value(self, value: ast.expr, suffix: Doc) -> Doc:
        """The value of an assignment or `return`; a trailing comment goes inside the parentheses
        that an unsplittable value gets (ruff's FormatStatementsLastExpression)."""
        if not suffix or not isinstance(value, (ast.Name, ast.Constant)):
            return [*self.maybe_parenthesize(value), *suffix]
        gid = next(self.ids)
        return [
            *tag("best_fit", [*self.expr(value, gid, _NEVER), *if_(gid, EXPANDED, suffix)], gid),
            *if_(gid, FLAT, suffix),
        ]

    def function(self, node: ast.FunctionDef) -> Doc:
        params = [self.parameter(arg, default) for arg, default in _defaults(node.args)]
        joined: Doc = []
        for n, param in enumerate(params):
            joined += [*(text(",") + line("space") if n else []), *param]
        joined += if_(None, EXPANDED, text(","))
        inner = joined if len(params) == 1 else group(joined)
        returns = [*text(" -> "), *self.maybe_parenthesize(node.returns)] if node.returns else []
        return [*text(f"def {node.name}"), *group([*text("("), *block_indent(inner), *text(")"), *returns]), *text(":")]

    def parameter(self, arg: ast.arg, default: ast.expr | None) -> Doc:
        annotation = f": {self.segment(arg.annotation)}" if arg.annotation else ""
        if default is None:
            return text(arg.arg + annotation)
        return [*text(arg.arg + annotation + (" = " if annotation else "=")), *self.expr(default, "paren")]

    # -- parentheses a statement may add (ruff's maybe_parenthesize_expression)

    def maybe_parenthesize(self, node: ast.expr, optional: bool = False) -> Doc:
        if optional and self.parenthesized(node):
            return self.expr(node, None, _ALWAYS)
        needs = self.needs_parentheses(node)
        if needs == _MULTILINE:
            gid = next(self.ids)
            if self.can_omit_parentheses(node):  # split its own brackets first (optional_parentheses)
                content = self.expr(node, gid, _NEVER)
            else:  # parenthesize_if_expands
                content = self.expr(node, "paren", _NEVER)
            return group(
                [
                    *if_(gid, EXPANDED, text("(")),
                    *tag("indent_if", [*line("soft"), *content], gid),
                    *line("soft"),
                    *if_(gid, EXPANDED, text(")")),
                ],
                gid,
            )
        if needs == _BEST_FIT and not optional:
            gid = next(self.ids)
            return tag("best_fit", self.expr(node, gid, _NEVER), gid)
        return self.expr(node, None, _ALWAYS if needs == _ALWAYS else _NEVER)

    def needs_parentheses(self, node: ast.expr) -> str:
        if isinstance(node, (ast.Name, ast.Constant)):
            return _BEST_FIT
        if isinstance(node, (ast.Tuple, ast.List)):
            return _NEVER
        if isinstance(node, ast.UnaryOp):
            return _NEVER if self.parenthesized(node.operand) else self.needs_parentheses(node.operand)
        if isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            inner = node.func if isinstance(node, ast.Call) else node.value
            if _fluent(node):
                return _MULTILINE
            return _NEVER if self.parenthesized(inner) else self.needs_parentheses(inner)
        return _MULTILINE

    def can_omit_parentheses(self, node: ast.expr) -> bool:
        """ruff's can_omit_optional_parentheses: one operator of the lowest precedence and a
        first or last operand with brackets of its own, which can break instead."""
        seen = _Omit(self)
        seen.sub(node)
        if not seen.any_parentheses or seen.count > 1:
            return False
        if seen.precedence in (0, _ATTRIBUTE):
            return True
        return any(
            isinstance(e, ast.expr) and not isinstance(e, ast.Subscript) and self.has_parentheses(e)
            for e in (seen.last, seen.first)
        )

    def has_parentheses(self, node: ast.expr, empty: bool = False) -> bool:
        """Brackets of its own (non-empty ones, unless `empty`), or parentheses around it."""
        if isinstance(node, ast.Subscript) or self.parenthesized(node):
            return True
        if isinstance(node, (ast.List, ast.Tuple)):
            return empty or bool(node.elts)
        if isinstance(node, ast.Call):
            return empty or bool(node.args or node.keywords)
        return False

    # -- expressions (ruff's FormatExpr)

    def expr(self, node: ast.expr, level: Level, parens: str = "preserve") -> Doc:
        if parens == _ALWAYS or (parens == "preserve" and self.parenthesized(node)):
            return self.bracketed("(", lambda inner: self.fields(node, inner), ")", level)
        return self.fields(node, level)

    def fields(self, node: ast.expr, level: Level) -> Doc:
        if isinstance(node, ast.Attribute):
            return [*self.expr(node.value, level), *text("." + node.attr)]
        if isinstance(node, ast.Call):
            return [*self.expr(node.func, level, self.keep(node.func)), *self.arguments(node, level)]
        if isinstance(node, ast.Subscript):
            return [
                *self.expr(node.value, level, self.keep(node.value)),
                *self.bracketed("[", lambda inner: self.expr(node.slice, inner), "]", level),
            ]
        if isinstance(node, (ast.Tuple, ast.List)):
            left, right = ("(", ")") if isinstance(node, ast.Tuple) else ("[", "]")
            if isinstance(node, ast.Tuple) and len(node.elts) == 1:
                return self.bracketed("(", lambda inner: [*self.expr(node.elts[0], inner), *text(",")], ")", level)
            return self.bracketed(
                left, lambda inner: self.commas([self.expr(e, inner) for e in node.elts]), right, level
            )
        if _hugged_power(node):  # ruff's `2**k`: a power of simple operands takes no spaces
            return text(f"{self.segment(node.left)}**{self.segment(node.right)}")  # type: ignore[attr-defined]
        if isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare)):
            return _in_parentheses_group(self.chain(self.flat_chain(node), level), level)
        if isinstance(node, ast.UnaryOp):
            symbol = _SYMBOLS[type(node.op)]
            return [*text(symbol + (" " if symbol == "not" else "")), *self.expr(node.operand, level)]
        if isinstance(node, ast.IfExp):
            return _in_parentheses_group(self.conditional(node, level), level)
        if isinstance(node, ast.Starred):
            return [*text("*"), *self.expr(node.value, level)]
        return text(self.segment(node))  # names, literals, slices: as written

    def keep(self, node: ast.expr) -> str:
        return _ALWAYS if self.parenthesized(node) else _NEVER

    def arguments(self, call: ast.Call, level: Level) -> Doc:
        if not call.args and not call.keywords:
            return text("()")

        if len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.GeneratorExp):
            return self.bracketed("(", lambda inner: self.generator(call.args[0], inner), ")", level)  # type: ignore[arg-type]

        def content(inner: Level) -> Doc:
            if len(call.args) == 1 and not call.keywords:  # `f((x))` keeps its second parentheses
                double = self.code[call.args[0].end_col_offset : call.end_col_offset].replace(" ", "").startswith("))")
                return group(self.commas([self.expr(call.args[0], inner, _ALWAYS if double else _NEVER)]))
            items = sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))
            return group(
                self.commas(
                    [
                        self.expr(i, inner)
                        if isinstance(i, ast.expr)
                        else [*text(f"{i.arg}=" if i.arg else "**"), *self.expr(i.value, inner)]
                        for i in items
                    ]
                )
            )

        return self.bracketed("(", content, ")", level)

    def generator(self, node: ast.GeneratorExp, level: Level) -> Doc:
        """`x for x in xs if c`, the sole argument of a call: its clauses on lines of their own
        when it does not fit on one (as ruff writes a comprehension)."""
        parts = [self.expr(node.elt, level)]
        for comp in node.generators:
            parts.append([*text(f"for {self.segment(comp.target)} in "), *self.expr(comp.iter, level)])
            parts += [[*text("if "), *self.expr(test, level)] for test in comp.ifs]
        out: Doc = []
        for n, part in enumerate(parts):
            out += [*(line("space") if n else []), *part]
        return group(out)

    def commas(self, entries: list[Doc]) -> Doc:
        """ruff's join_comma_separated: a trailing comma once the enclosing group breaks."""
        out: Doc = []
        for n, entry in enumerate(entries):
            out += [*(text(",") + line("space") if n else []), *entry]
        return out + (if_(None, EXPANDED, text(",")) if len(entries) > 1 else [])

    def bracketed(self, left: str, content: Callable[[Level], Doc], right: str, level: Level) -> Doc:
        """ruff's `parenthesized`: brackets around contents that move to their own lines when the
        group breaks; inside optional parentheses, measured as if broken (`fits_expanded`)."""
        inner = group(block_indent(content("paren")))
        if isinstance(level, int):
            inner = tag("fits_expanded", inner, level)
        return [*text(left), *inner, *text(right)]

    def chain(self, parts: list, level: Level) -> Doc:
        """A flattened binary chain, broken before its lowest-precedence operators first."""
        if len(parts) == 1:
            return self.expr(parts[0], level)
        lowest = max(p[1] for p in parts[1::2])
        out: Doc = []
        start = 0
        for n in range(1, len(parts), 2):
            if parts[n][1] == lowest:
                out += [*self.operands(parts[start:n], level), *_in_parentheses_line(level), *text(parts[n][0] + " ")]
                start = n + 1
        return out + self.operands(parts[start:], level)

    def operands(self, parts: list, level: Level) -> Doc:
        return self.expr(parts[0], level) if len(parts) == 1 else _in_parentheses_group(self.chain(parts, level), level)

    def flat_chain(self, node: ast.expr, root: bool = True) -> list:
        """Operands and (symbol, precedence) operators of a chain of unparenthesized binary,
        comparison and boolean operations, left to right (ruff's FlatBinaryExpression)."""
        if (not root and self.parenthesized(node)) or _hugged_power(node):
            return [node]
        if isinstance(node, ast.BinOp):
            op = (_SYMBOLS[type(node.op)], _PRECEDENCE[type(node.op)])
            return [*self.flat_chain(node.left, False), op, *self.flat_chain(node.right, False)]
        if isinstance(node, ast.Compare):
            out = self.flat_chain(node.left, False)
            for op, right in zip(node.ops, node.comparators, strict=True):
                out += [(_SYMBOLS[type(op)], _COMPARATOR), *self.flat_chain(right, False)]
            return out
        if isinstance(node, ast.BoolOp):
            out = self.flat_chain(node.values[0], False)
            for value in node.values[1:]:
                out += [(_SYMBOLS[type(node.op)], _BOOLEAN), *self.flat_chain(value, False)]
            return out
        return [node]

    def conditional(self, node: ast.IfExp, level: Level) -> Doc:
        if isinstance(node.orelse, ast.IfExp) and not self.parenthesized(node.orelse):
            orelse = self.conditional(node.orelse, level)  # a chain of them shares one group
        else:
            orelse = _in_parentheses_group(self.expr(node.orelse, level), level)
        gap = _in_parentheses_line(level)
        return [
            *self.expr(node.body, level),
            *gap,
            *text("if "),
            *self.expr(node.test, level),
            *gap,
            *text("else "),
            *orelse,
        ]

    # -- the source

    def parenthesized(self, node: ast.AST) -> bool:
        """Written inside parentheses of its own (ruff's is_expression_parenthesized: the tokens
        around it are `(` and `)`; a single call argument counts, as in ruff)."""
        before = self.code[: node.col_offset].rstrip()
        after = self.code[node.end_col_offset :].lstrip()  # type: ignore[misc]
        return before.endswith("(") and after.startswith(")")

    def segment(self, node: ast.AST) -> str:
        return self.code[node.col_offset : node.end_col_offset]  # type: ignore[misc]


def _hugged_power(node: ast.expr) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and _simple(node.left) and _simple(node.right)


def _simple(node: ast.expr) -> bool:
    """ruff's is_simple_power_operand: a name, a number, an attribute chain, or one negated."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _simple(node.operand)
    if isinstance(node, ast.Attribute):
        return _simple(node.value) and isinstance(node.value, (ast.Name, ast.Attribute))
    return isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and isinstance(node.value, (int, float)))


def _in_parentheses_line(level: Level) -> Doc:
    """A space that may break, but only inside brackets (or the optional parentheses `level`)."""
    if level is None:
        return text(" ")
    if level == "paren":
        return line("space")
    return [*if_(level, EXPANDED, line("space")), *if_(level, FLAT, text(" "))]


def _in_parentheses_group(content: Doc, level: Level) -> Doc:
    if level is None:
        return content
    if level == "paren":
        return group(content)
    return tag("cgroup", content, level)


class _Omit:
    """What ruff's CanOmitOptionalParenthesesVisitor records about an expression."""

    def __init__(self, layout: _Layout):
        self.layout = layout
        self.precedence, self.count, self.any_parentheses = 0, 0, False
        self.first: ast.expr | str | None = None
        self.last: ast.expr | None = None

    def update(self, precedence: int, count: int = 1) -> None:
        if precedence > self.precedence:
            self.precedence, self.count = precedence, count
        elif precedence == self.precedence:
            self.count += count

    def visit(self, node: ast.expr) -> None:
        self.last = node
        if self.layout.parenthesized(node):
            self.any_parentheses = True
        else:
            self.sub(node)
        self.first = node if self.first is None else self.first

    def sub(self, node: ast.expr) -> None:
        if isinstance(node, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
            self.any_parentheses = True
            return
        if isinstance(node, (ast.Call, ast.Subscript)):
            self.any_parentheses = True
            self.visit(node.func if isinstance(node, ast.Call) else node.value)
            self.last = node
            return
        if isinstance(node, ast.Attribute):
            self.visit(node.value)
            if self.layout.has_parentheses(node.value, empty=True):
                self.update(_ATTRIBUTE)
            self.last = node
            return
        if isinstance(node, ast.BoolOp):
            self.update(_BOOLEAN, len(node.values) - 1)
        elif isinstance(node, ast.BinOp):
            self.update(_PRECEDENCE[type(node.op)])
        elif isinstance(node, ast.IfExp):
            self.update(_CONDITIONAL, 2)
        elif isinstance(node, ast.Compare):
            self.update(_COMPARATOR, len(node.ops))
        elif isinstance(node, (ast.UnaryOp, ast.Starred)):
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
                self.update(_INVERSION)
            self.first = "token" if self.first is None else self.first
        else:
            return
        children = (
            [node.body, node.test, node.orelse] if isinstance(node, ast.IfExp) else list(ast.iter_child_nodes(node))
        )
        for child in children:
            if isinstance(child, ast.expr):
                self.visit(child)


def _fluent(node: ast.expr) -> bool:
    """ruff's fluent call chains (`a.b().c().d`): at least two called or subscripted attribute values."""
    count = 0
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        inner = node.func if isinstance(node, ast.Call) else node.value
        count += isinstance(node, ast.Attribute) and isinstance(inner, (ast.Call, ast.Subscript))
        node = inner
    return count >= 2


def _defaults(args: ast.arguments) -> Iterator[tuple[ast.arg, ast.expr | None]]:
    positional = args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    yield from zip(positional, defaults, strict=True)
