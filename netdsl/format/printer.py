"""The formatter's layout: AST (with its comments) → a document for `netdsl.format.doc.render`.

One `visit_<Node>` method per node type, as pycparser's generator. Literals and labels are
printed as written (the source slice of their span), so `1e-4`, `"a\\"b"` and `007` stay.
"""

from __future__ import annotations

from typing import Any

from netdsl.core.diagnostics import source_lines
from netdsl.format.comments import Attachments, Comment
from netdsl.format.doc import HARD, LINE, SOFT, Doc, Fill, Group, IfBreak, Indent, Suffix, join
from netdsl.language import ast

MARK = "\0"  # MARK + one private-use character (a column's number): where a line's tail aligns
_COLUMNS = 65_000  # numbers of the columns: two a body (shape checks, trailing comments)

# how tightly each expression binds (the grammar's levels): a child looser than its slot needs brackets
_TERNARY, _OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _PRIMARY = range(10)
_BINARY = {
    "or": _OR,
    "and": _AND,
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
    "//": _PRODUCT,
    "%": _PRODUCT,
    "**": _POWER,
    **{op: _COMPARE for op in ("==", "!=", "<", "<=", ">", ">=")},
}
_SELF_HANDLED = (ast.Module, ast.Body, ast.Call, ast.FuncCall, ast.ListExpr, ast.Definition, ast.Input, ast.ShapeCheck)
_STATEMENTS = (ast.Input, ast.Let, ast.Flow, ast.Bind)


def precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Ternary):
        return _TERNARY
    if isinstance(expr, ast.BinOp):
        return _BINARY[expr.op]
    if isinstance(expr, ast.UnaryOp):
        return _NOT if expr.op == "not" else _UNARY
    return _PRIMARY


class Printer:
    def __init__(self, source: str, comments: Attachments):
        self.lines = source_lines(source)
        self.comments = comments
        self.bodies = 0
        self.body_group: Group | None = None  # the group of the body being printed (for IfBreak)

    # ---- helpers
    def text(self, span: Any) -> str:
        """The source text of a span (a literal, a label, an import)."""
        if span.line == span.end_line:
            return self.lines[span.line - 1][span.column - 1 : span.end_column - 1]
        middle = self.lines[span.line : span.end_line - 1]
        last = self.lines[span.end_line - 1][: span.end_column - 1]
        return "\n".join([self.lines[span.line - 1][span.column - 1 :], *middle, last])

    def loose(self, node: Any) -> tuple[Doc, Doc]:
        """The comments around a node printed inline (a label, a body): held to the ends of their lines."""
        attached = self.comments.of(node)
        before = [Suffix("  " + c.text) for c in attached.leading]
        return before, [Suffix("  " + c.text) for c in attached.trailing]

    def blank_above(self, line: int) -> bool:
        return line > 1 and not self.lines[line - 2].strip()

    def node(self, node: Any, prefix: str = "") -> Doc:
        """A node with the comments around it (`prefix`, such as a chain's `-> `, after those above it)."""
        attached = self.comments.of(node)
        doc: list[Doc] = [self.leading(attached.leading)]
        if attached.leading and self.blank_above(node.span.line):
            doc.append(HARD)
        doc.append(prefix)
        doc.append(getattr(self, f"visit_{type(node).__name__}")(node))
        if not isinstance(node, _SELF_HANDLED):
            doc += [Suffix("  " + c.text) for c in attached.dangling]
        if not isinstance(node, _STATEMENTS):  # a statement aligns its own (`statement`)
            doc += [self.trailing(c) for c in attached.trailing]
        return doc

    def leading(self, comments: list[Comment]) -> Doc:
        out: list[Doc] = []
        for i, comment in enumerate(comments):
            out += [HARD] if i and comment.blank_before else []
            out += [comment.text, HARD]
        return out

    @staticmethod
    def trailing(comment: Comment) -> Doc:
        return Suffix("  " + comment.text) if not comment.own_line else [HARD, comment.text]

    def bracketed(self, node: Any, opening: str, items: list[Doc], closing: str) -> Doc:
        """`(a, b)` flat; broken: one item a line, a trailing comma, comments inside kept."""
        dangling = self.comments.of(node).dangling
        inner: list[Doc] = [Suffix("  " + c.text) for c in dangling if not c.own_line]
        inner += [SOFT, join([",", LINE], items)] if items else []
        own = [c for c in dangling if c.own_line]
        tail: list[Doc] = [[HARD, c.text] for c in own]
        return Group([opening, Indent([inner, IfBreak(",", "") if items else "", tail]), SOFT, closing])

    # ---- files
    def visit_Module(self, module: ast.Module) -> Doc:
        items = sorted(
            [*module.imports, *module.definitions, *module.functions], key=lambda n: (n.span.line, n.span.column)
        )
        out: list[Doc] = []
        previous: Any = None
        for item in items:
            if previous is not None:
                out.append(HARD)
                if self.blank_between(previous, item):
                    out.append(HARD)
            out.append(self.node(item))
            previous = item
        for i, comment in enumerate(self.comments.of(module).dangling):
            if out:
                out += (
                    [HARD, HARD]
                    if (
                        comment.blank_before
                        or (i == 0 and previous is not None and isinstance(previous, ast.Definition))
                    )
                    else [HARD]
                )
            out.append(comment.text)
        return out

    def blank_between(self, previous: Any, item: Any) -> bool:
        """Definitions stand apart; imports and comments keep the blank lines they had (at most one)."""
        if isinstance(previous, ast.Definition) or isinstance(item, ast.Definition):
            return True
        if isinstance(item, ast.Function) and isinstance(previous, ast.Import):
            return True
        return self.blank_above(self.first_line(item))

    def first_line(self, node: Any) -> int:
        leading = self.comments.of(node).leading
        return leading[0].line if leading else node.span.line

    def visit_Import(self, node: ast.Import) -> Doc:
        written = self.text(node.span)
        return ["import ", written[written.index('"') :]]

    def visit_Definition(self, d: ast.Definition) -> Doc:
        head: list[Doc] = ["seq " if d.seq else "inline " if d.inline else "", d.kind, " ", d.name]
        if d.params or d.inputs is not None:  # `block Tree()(x, skip)`: the parameters' list stays, if empty
            head.append(self.bracketed(d, "(", [self.node(p) for p in d.params], ")"))
        else:
            head += [Suffix("  " + c.text) for c in self.comments.of(d).dangling]
        if d.inputs is not None:
            head.append(self.bracketed(d.inputs, "(", [self.node(p) for p in d.inputs], ")"))
        return [head, " ", self.body(d.body, always_broken=True)]

    def visit_Function(self, f: ast.Function) -> Doc:
        return ["def ", f.name, self.bracketed(f, "(", [self.node(p) for p in f.params], ")"), " = ", self.expr(f.body)]

    def visit_Param(self, p: ast.Param) -> Doc:
        return [p.name, " = ", self.expr(p.default)] if p.default is not None else p.name

    # ---- bodies and statements
    def body(self, body: ast.Body, always_broken: bool = False) -> Doc:
        attached = self.comments.of(body)
        before, after = self.loose(body)
        group = Group([])
        self.bodies += 1
        marks = tuple(MARK + chr(0xF0000 + (2 * self.bodies + k) % _COLUMNS) for k in (0, 1))
        outer, self.body_group = self.body_group, group
        statements: list[Doc] = []
        for i, stmt in enumerate(body.statements):
            if i:
                statements.append([HARD, HARD] if self.blank_above(self.first_line(stmt)) else HARD)
            statements.append(self.statement(stmt, marks, group))
        self.body_group = outer
        opening: list[Doc] = ["{"] + [Suffix("  " + c.text) for c in attached.dangling if not c.own_line]
        closing = [c for c in attached.dangling if c.own_line]
        if not statements and not closing:
            group.contents = [opening, IfBreak([HARD] if always_broken else [], "")] + ["}"]
            return [before, group, after]
        inner: list[Doc] = [statements]
        for j, comment in enumerate(closing):
            if statements or j:
                inner.append([HARD, HARD] if comment.blank_before else HARD)
            inner.append(comment.text)
        first = HARD if always_broken else LINE
        group.contents = [opening, Indent([first, inner]), first, "}"]
        return [before, group, after]

    def statement(self, stmt: ast.Statement, marks: tuple[str, str], group: Group) -> Doc:
        """A statement and its tail: `@ [shape]` in the body's shape column, a trailing comment
        in its comment column (or two spaces after the shape)."""
        attached = self.comments.of(stmt)
        doc: list[Doc] = [self.node(stmt)]
        check = getattr(stmt, "check", None)
        if check is not None:
            doc += [IfBreak(marks[0], " ", group), "@ ", self.node(check)]
        for i, comment in enumerate(attached.trailing):
            if comment.own_line:
                doc += [HARD, comment.text]
            else:
                gap = marks[1] if check is None and i == 0 else "  "
                doc.append(Suffix(gap + comment.text))
        return doc

    def visit_Input(self, stmt: ast.Input) -> Doc:
        name = "" if stmt.name == "input" else f"{stmt.name}: "
        return ["input ", name, self.bracketed(stmt, "[", [self.expr(e) for e in stmt.shape], "]")]

    def visit_Let(self, stmt: ast.Let) -> Doc:
        # a let's value binds no looser than `or`: a conditional takes brackets (an `if` after a let starts a statement)
        return ["let ", stmt.name, " = ", self.expr(stmt.value, _OR)]

    def visit_Bind(self, stmt: ast.Bind) -> Doc:
        return [stmt.name, " = ", self.node(stmt.chain)]

    def visit_Flow(self, stmt: ast.Flow) -> Doc:
        return self.node(stmt.chain)

    def visit_ShapeCheck(self, check: ast.ShapeCheck) -> Doc:
        return self.bracketed(check, "[", [self.expr(e) for e in check.dims], "]")

    def visit_Chain(self, chain: ast.Chain) -> Doc:
        """Steps joined by `->`, as many to a line as fit; later lines indented once."""
        first, *rest = chain.steps
        steps = tuple((LINE, self.node(step, "-> ")) for step in rest)
        return [self.node(first), Indent(Fill("", steps))] if rest else self.node(first)

    # ---- steps
    def label(self, label: ast.Label | None) -> Doc:
        if label is None:
            return ""
        before, after = self.loose(label)
        return [before, self.text(label.span), ":", after, " "]

    def visit_Call(self, call: ast.Call) -> Doc:
        doc: list[Doc] = [self.label(call.label), call.name]
        if call.args is not None:
            doc.append(self.bracketed(call, "(", [self.node(a) for a in call.args], ")"))
            if call.inputs is not None:
                doc.append(self.bracketed(call.inputs, "(", [self.node(a) for a in call.inputs], ")"))
        else:
            doc += [Suffix("  " + c.text) for c in self.comments.of(call).dangling]
        return doc

    def visit_If(self, step: ast.If) -> Doc:
        doc: list[Doc] = [self.label(step.label), "if ", self.expr(step.condition), " ", self.body(step.then)]
        if step.orelse is None:
            return doc
        nested = _else_if(step.orelse)
        return doc + [" else ", self.node(nested) if nested is not None else self.body(step.orelse)]

    def visit_Repeat(self, step: ast.Repeat) -> Doc:
        index = f" as {step.index}" if step.index is not None else ""
        return [self.label(step.label), "repeat ", self.expr(step.count), index, " ", self.body(step.body)]

    def visit_For(self, step: ast.For) -> Doc:
        names = ", ".join(step.names)
        return [self.label(step.label), "for ", names, " in ", self.expr(step.iterable), " ", self.body(step.body)]

    def visit_Seq(self, step: ast.Seq) -> Doc:
        return [self.label(step.label), "seq ", self.body(step.body)]

    # ---- expressions
    def visit_Arg(self, arg: ast.Arg) -> Doc:
        if arg.name is None:
            return self.expr(arg.value)
        # `stride=2`, `padding=(k - 1) // 2`, but `stride = 2 if i == 0 else 1`: spaces where the value reads as words
        value = arg.value
        spaced = (
            isinstance(value, ast.Ternary)
            or (isinstance(value, ast.BinOp) and value.op in ("and", "or"))
            or (isinstance(value, ast.UnaryOp) and value.op == "not")
        )
        return [arg.name, " = " if spaced else "=", self.expr(value)]

    def expr(self, expr: ast.Expr, level: int = _TERNARY) -> Doc:
        doc = self.node(expr)
        return ["(", doc, ")"] if precedence(expr) < level else doc

    def visit_Literal(self, lit: ast.Literal) -> Doc:
        return self.text(lit.span)

    def visit_Name(self, name: ast.Name) -> Doc:
        return name.id

    def visit_Attr(self, attr: ast.Attr) -> Doc:
        return f"{attr.value.id}.{attr.attr}"

    def visit_BinOp(self, op: ast.BinOp) -> Doc:
        if op.op == "**":  # right-associative: its left operand is a primary, its right may be negated
            return [self.expr(op.left, _PRIMARY), " ** ", self.expr(op.right, _UNARY)]
        level = _BINARY[op.op]
        # left-associative: the right operand binds one level tighter; comparisons do not chain
        left = level + 1 if level == _COMPARE else level
        return [self.expr(op.left, left), f" {op.op} ", self.expr(op.right, level + 1)]

    def visit_UnaryOp(self, op: ast.UnaryOp) -> Doc:
        if op.op == "not":
            return ["not ", self.expr(op.operand, _NOT)]
        operand = self.expr(op.operand, _UNARY)
        return ["- " if isinstance(op.operand, ast.UnaryOp) and op.operand.op == "-" else "-", operand]

    def visit_Ternary(self, t: ast.Ternary) -> Doc:
        return [self.expr(t.then, _OR), " if ", self.expr(t.condition, _OR), " else ", self.expr(t.orelse)]

    def visit_ListExpr(self, lst: ast.ListExpr) -> Doc:
        return self.bracketed(lst, "[", [self.expr(item) for item in lst.items], "]")

    def visit_Index(self, index: ast.Index) -> Doc:
        return [self.expr(index.value, _PRIMARY), "[", self.expr(index.index), "]"]

    def visit_Slice(self, s: ast.Slice) -> Doc:
        start = self.expr(s.start) if s.start is not None else ""
        stop = self.expr(s.stop) if s.stop is not None else ""
        return [self.expr(s.value, _PRIMARY), "[", start, ":", stop, "]"]

    def visit_ListComp(self, c: ast.ListComp) -> Doc:
        condition: Doc = [" if ", self.expr(c.condition, _OR)] if c.condition is not None else ""
        return ["[", self.expr(c.item), " for ", ", ".join(c.names), " in ", self.expr(c.iterable, _OR), condition, "]"]

    def visit_FuncCall(self, call: ast.FuncCall) -> Doc:
        return [call.name, self.bracketed(call, "(", [self.node(a) for a in call.args], ")")]


def _else_if(body: ast.Body) -> ast.If | None:
    """The `if` of an `else if` (the parser wraps it in a body spanning just that `if`)."""
    if len(body.statements) != 1 or not isinstance(body.statements[0], ast.Flow):
        return None
    flow = body.statements[0]
    steps = flow.chain.steps
    if flow.check is None and len(steps) == 1 and isinstance(steps[0], ast.If) and steps[0].span == body.span:
        return steps[0] if steps[0].label is None else None
    return None
