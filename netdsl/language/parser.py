"""Stage 1 — parse: source text → `netdsl.language.ast.Module`.

Lark's LALR(1) parser reads `grammars/netdsl.lark`; a Transformer with one method per rule
builds the frozen AST, giving every node the span it was written at. Syntax errors become
a `SpecError` with one `Diagnostic` pointing at the offending token.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.core.diagnostics import Span, SpecError, error, normalize_source, source_lines
from netdsl.core.gcpause import paused_gc
from netdsl.core.version import __version__
from netdsl.language import ast, lalr

_HERE = Path(__file__).resolve().parent.parent  # the netdsl package
# In a wheel the grammar lies inside the package; in a source checkout, beside it.
_GRAMMAR_PLACES = (_HERE / "grammars" / "netdsl.lark", _HERE.parent / "grammars" / "netdsl.lark")

_TOKEN_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*', '/', '//' or '%'",
    "DEFKIND": "'network', 'block'",
    "LAYER": "a layer",
    "$END": "end of file",
}


def grammar_path() -> Path:
    for place in _GRAMMAR_PLACES:
        if place.is_file():
            return place
    raise FileNotFoundError("netdsl.lark not found beside the netdsl package")


_GRAMMAR = grammar_path().read_text(encoding="utf-8")
# lark's standalone parser generated for this grammar and cached, or lark itself (netdsl.language.lalr)
_RUNTIME, _NAMES = lalr.runtime(_GRAMMAR, __version__)
if TYPE_CHECKING:
    from lark import Lark, Token, Transformer, Tree
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
else:
    Token, Tree, Transformer = _NAMES["Token"], _NAMES["Tree"], _NAMES["Transformer"]
    UnexpectedCharacters, UnexpectedInput = _NAMES["UnexpectedCharacters"], _NAMES["UnexpectedInput"]
    UnexpectedToken, VisitError = _NAMES["UnexpectedToken"], _NAMES["VisitError"]


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return lalr.make_parser(_RUNTIME, _GRAMMAR)


# Nesting deeper than this (brackets, bodies, operators: levels of the parse tree) is refused
# with its position, so that no later stage — each walks the tree recursively — can run out of
# Python's stack. The shipped specs nest 18 levels deep.
MAX_NESTING = 100
MAX_DIGITS = 4300  # Python's own limit for reading an integer (sys.get_int_max_str_digits)


def parse(source: str, file: str = "<string>") -> ast.Module:
    """Parse one spec file's text into an AST `Module`; raises `SpecError` on a syntax error.
    The text is read as `normalize_source` makes it (the positions refer to that)."""
    source = normalize_source(source)
    with paused_gc():
        try:
            tree = _lark().parse(source)
        except UnexpectedInput as exc:
            raise SpecError([_syntax_diagnostic(exc, source, file)]) from None
        _check_nesting(tree, file)
        try:
            items = _ToAst(file).transform(tree).children
        except VisitError as exc:  # a literal the transformer refused
            if isinstance(exc.orig_exc, SpecError):
                raise exc.orig_exc from None
            raise
    imports = tuple(item for item in items if isinstance(item, ast.Import))
    definitions = tuple(item for item in items if isinstance(item, ast.Definition))
    functions = tuple(item for item in items if isinstance(item, ast.Function))
    return ast.Module(file, source, imports, definitions, functions)


def _expression(text: str, at: Span) -> ast.Expr:
    """One expression written inside a computed label, with the label's span for every node."""
    source = f"network _ {{ _({text}) }}"
    try:
        module = parse(source, at.file)
    except SpecError:
        raise SpecError([error("not an expression", at)]) from None
    call = module.definitions[0].body.statements[0].chain.steps[0]  # type: ignore[union-attr]
    if not isinstance(call, ast.Call) or not call.args or len(call.args) != 1 or call.args[0].name:
        raise SpecError([error("not an expression", at)])
    return _relocate(call.args[0].value, at)


def _relocate(node: Any, at: Span) -> Any:
    """`node` with every span replaced by `at` (the label it was read from)."""
    if isinstance(node, tuple):
        return tuple(_relocate(item, at) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        changes = {f: _relocate(getattr(node, f), at) for f in node.__dataclass_fields__ if f != "span"}
        return replace(node, span=at, **changes)
    return node


def _check_nesting(tree: Tree[Token], file: str) -> None:
    """Raise `SpecError` at the first token nested more than MAX_NESTING levels deep."""
    stack: list[tuple[Tree[Token] | Token, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in reversed(node.children) if child is not None)
        elif depth > MAX_NESTING:
            span = Span(file, node.line or 1, node.column or 1, node.end_line or 1, node.end_column or 1)
            raise SpecError([error(f"nesting is too deep: netdsl follows at most {MAX_NESTING} levels of "
                                   "brackets, bodies and operators", span,
                                   "split the expression, or give a deeply nested part a name")])


# ---- syntax errors ------------------------------------------------------------------------


def _describe_terminal(name: str) -> str:
    if name in _TOKEN_WORDS:
        return _TOKEN_WORDS[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name.lower()


_STEP_START = {"NAME", "INT", "STRING"}  # where a step starts: a layer, or a label before it


def _expected_text(expected: set[str]) -> str:
    if _STEP_START <= expected and "FLOAT" not in expected:
        expected = (expected - _STEP_START) | {"LAYER"}
    words = sorted({_describe_terminal(t) for t in expected})
    if not words or len(words) > 6:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_diagnostic(exc: UnexpectedInput, source: str, file: str) -> Any:
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        width = max(len(str(token)), 1)
        message = f"unexpected {_describe_token(token)}"
        if str(token) == ">" and source[exc.token.start_pos - 1 : exc.token.start_pos] == "-":
            # inside an expression `->` lexes as minus, greater: say what was written
            column, width, message = column - 1, 2, "unexpected '->'"
        expected = _expected_text(set(exc.expected))
    elif isinstance(exc, UnexpectedCharacters):
        width = 1
        message = f"unexpected character {source[exc.pos_in_stream or 0]!r}"
        expected = _expected_text(set(exc.allowed or ()))
    else:  # UnexpectedEOF or an UnexpectedToken at the end
        line, column = _end_of_code(source)
        width = 0  # a point just past the last character: the span stays inside the line
        message = "unexpected end of file"
        expected = _expected_text(set(getattr(exc, "expected", ()) or ()))
    if expected:
        message += f"; expected {expected}"
    span = Span(file, line, column, line, column + width)
    expected_terms = set(getattr(exc, "expected", None) or ())
    hint = _closing_hint(source, _offset(source, line, column), expected_terms, message)
    if message.startswith("unexpected 'else'") and hint is None:
        # `let s = 2 if first else 1`: the let ended before `if`, which began an if statement
        hint = "a conditional value needs parentheses in a let: let s = (2 if first else 1)"
    return error(message, span, hint)


def _end_of_code(source: str) -> tuple[int, int]:
    """Line and column just past the last code in the file (trailing comments skipped)."""
    lines = source_lines(source)
    for number in range(len(lines), 0, -1):
        code = re.sub(r"#.*", "", lines[number - 1]).rstrip()
        if code:
            return number, len(code) + 1
    return 1, 1


_CLOSERS = {"(": (")", "RPAR"), "[": ("]", "RSQB"), "{": ("}", "RBRACE")}


def _offset(source: str, line: int, column: int) -> int:
    return sum(len(text) + 1 for text in source_lines(source)[: line - 1]) + column - 1


def _closing_hint(source: str, offset: int, expected: set[str], message: str) -> str | None:
    """'is a ')' missing?' when the innermost bracket open at the error could close there."""
    stack: list[int] = []
    for match in re.finditer(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[()\[\]{}]', source[:offset]):
        char = match.group()
        if char in _CLOSERS:
            stack.append(match.start())
        elif char in ")]}" and stack:
            stack.pop()
    if not stack:
        return None
    opener = source[stack[-1]]
    closer, terminal = _CLOSERS[opener]
    if terminal not in expected and "'->'" not in message and "end of file" not in message:
        return None
    line = source.count("\n", 0, stack[-1]) + 1
    column = stack[-1] - (source.rfind("\n", 0, stack[-1]) + 1) + 1
    return f"is a '{closer}' missing? the '{opener}' at {line}:{column} is still open"


def _describe_token(token: Token) -> str:
    if token.type == "NAME":
        return f"name '{token}'"
    return f"'{token}'"


# ---- parse tree → AST ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """A bracketed list (call arguments, parameters, a shape) with the span of its brackets."""

    items: tuple[Any, ...]
    span: Span


def _present(items: list[Any]) -> tuple[Any, ...]:
    return tuple(item for item in items if item is not None and not isinstance(item, Token))


class _ToAst(Transformer[Any, Any]):
    """One method per grammar rule; each returns an AST node.

    A node's span runs from the start of its first child to the end of its last (tokens and
    nodes alike), so positions cost nothing while parsing.
    """

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _tspan(self, token: Token) -> Span:
        return Span(self.file, token.line or 0, token.column or 0, token.end_line or 0, token.end_column or 0)

    def _span(self, *parts: Any) -> Span:
        present = [p for p in parts if p is not None]
        first, last = present[0], present[-1]
        start = self._tspan(first) if isinstance(first, Token) else first.span
        end = self._tspan(last) if isinstance(last, Token) else last.span
        return start.to(end)

    def _group(self, c: list[Any]) -> _Group:
        return _Group(_present(c), self._span(c[0], c[-1]))

    # -- files
    def import_stmt(self, c: list[Any]) -> ast.Import:
        return ast.Import(_unquote(c[1]), self._span(*c))

    def definition(self, c: list[Any]) -> ast.Definition:
        mark, kind, name, params, inputs, body = c
        return ast.Definition(str(kind), str(name), params.items if params else (), body,
                              self._span(mark or kind, body), self._tspan(name),
                              mark is not None and mark.type == "SEQ", mark is not None and mark.type == "INLINE",
                              inputs.items if inputs else None)

    def inputs(self, c: list[Any]) -> _Group:
        return c[0]  # type: ignore[no-any-return]

    params = _group

    def param(self, c: list[Any]) -> ast.Param:
        return ast.Param(str(c[0]), c[1], self._span(*c))

    def body(self, c: list[Any]) -> ast.Body:
        return ast.Body(_present(c), self._span(c[0], c[-1]))

    # -- statements
    def input_stmt(self, c: list[Any]) -> ast.Input:
        keyword, name, shape = c
        return ast.Input(str(name) if name else "input", shape.items, self._span(keyword, shape))

    def let_stmt(self, c: list[Any]) -> ast.Let:
        keyword, name, value = c
        return ast.Let(str(name), value, self._span(keyword, value), self._tspan(name))

    def bind_stmt(self, c: list[Any]) -> ast.Bind:
        name, chain, check = c
        return ast.Bind(str(name), chain, check, self._span(name, chain, check), self._tspan(name))

    def flow_stmt(self, c: list[Any]) -> ast.Flow:
        return ast.Flow(c[0], c[1], self._span(*c))

    def shape_assert(self, c: list[Any]) -> ast.ShapeCheck:
        return ast.ShapeCheck(c[1].items, self._span(*c))

    shape = _group

    def chain(self, c: list[Any]) -> ast.Chain:
        return ast.Chain(tuple(c), self._span(c[0], c[-1]))

    def step(self, c: list[Any]) -> ast.Step:
        label, action = c
        if label is None:
            return action  # type: ignore[no-any-return]
        return replace(  # type: ignore[no-any-return]
            action, label=label, span=self._span(label, action))

    def label(self, c: list[Any]) -> ast.Label:
        (token,) = c
        span = self._tspan(token)
        if token.type != "STRING":
            return ast.Label(str(token), span)
        text = _unquote(token)
        if "{" not in text and "}" not in text:
            return ast.Label(text, span)
        return ast.Label(text, span, self._label_parts(text, span))

    def _label_parts(self, text: str, span: Span) -> tuple[str | ast.Expr, ...]:
        """`"block{i + 1}-{j}"` → ("block", i + 1, "-", j): each `{...}` parsed as an expression."""
        parts: list[str | ast.Expr] = []
        for piece in re.split(r"(\{[^{}]*\})", text):
            if not (piece.startswith("{") and piece.endswith("}")):
                if "{" in piece or "}" in piece:
                    raise SpecError([error("a label's braces hold one expression each, as in \"layer{i + 1}\"",
                                           span)])
                parts += [piece] if piece else []
                continue
            try:
                parts.append(_expression(piece[1:-1], span))
            except SpecError:
                raise SpecError([error(f"cannot read {piece} in this label as an expression", span)]) from None
        return tuple(parts)

    def call(self, c: list[Any]) -> ast.Call:
        name, args, inputs = c
        return ast.Call(None, str(name), args.items if args else None, self._span(name, args, inputs),
                        self._tspan(name), inputs.items if inputs else None)

    call_args = _group

    def arg(self, c: list[Any]) -> ast.Arg:
        name, value = c
        return ast.Arg(str(name) if name else None, value, self._span(name, value))

    def if_step(self, c: list[Any]) -> ast.If:
        keyword, condition, then, orelse = (c + [None])[:4]  # `_else` is inlined: absent, not None
        if isinstance(orelse, ast.If):  # `else if`: a body holding the nested conditional
            chain = ast.Chain((orelse,), orelse.span)
            orelse = ast.Body((ast.Flow(chain, None, orelse.span),), orelse.span)
        return ast.If(None, condition, then, orelse, self._span(keyword, then, orelse))

    def repeat_step(self, c: list[Any]) -> ast.Repeat:
        keyword, count, index, body = c
        return ast.Repeat(None, count, str(index) if index else None, body, self._span(keyword, body))

    def for_step(self, c: list[Any]) -> ast.For:
        keyword, *names, iterable, body = c
        return ast.For(None, tuple(str(n) for n in names), iterable, body, self._span(keyword, body))

    def seq_step(self, c: list[Any]) -> ast.Seq:
        keyword, body = c
        return ast.Seq(None, body, self._span(keyword, body))

    # -- expressions
    def ternary(self, c: list[Any]) -> ast.Ternary:
        then, condition, orelse = c
        return ast.Ternary(condition, then, orelse, self._span(then, orelse))

    def int_lit(self, c: list[Any]) -> ast.Literal:
        digits = str(c[0])
        if len(digits) > MAX_DIGITS:
            raise SpecError([error(f"an integer of {len(digits):,} digits is too long: netdsl reads at most "
                                   f"{MAX_DIGITS:,}", self._tspan(c[0]))])
        return ast.Literal(int(digits), self._tspan(c[0]))

    def float_lit(self, c: list[Any]) -> ast.Literal:
        value = float(c[0])
        if math.isinf(value):
            raise SpecError([error(f"the number {_abbreviate(str(c[0]))} is too large (over 1.8e308)",
                                   self._tspan(c[0]))])
        return ast.Literal(value, self._tspan(c[0]))

    def str_lit(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(_unquote(c[0]), self._tspan(c[0]))

    def true_lit(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(True, self._tspan(c[0]))

    def false_lit(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(False, self._tspan(c[0]))

    def name(self, c: list[Any]) -> ast.Name:
        return ast.Name(str(c[0]), self._tspan(c[0]))

    def attr(self, c: list[Any]) -> ast.Attr:
        return ast.Attr(ast.Name(str(c[0]), self._tspan(c[0])), str(c[1]), self._span(*c))

    def index(self, c: list[Any]) -> ast.Index:
        value, _, index, close = c
        return ast.Index(value, index, self._span(value, close))

    def slice(self, c: list[Any]) -> ast.Slice:
        value, _, start, stop, close = c
        return ast.Slice(value, start, stop, self._span(value, close))

    def list_comp(self, c: list[Any]) -> ast.ListComp:
        open_, item, _, *rest = c
        close = rest.pop()
        names = [str(t) for t in rest if isinstance(t, Token) and t.type == "NAME"]
        exprs = [x for x in rest if x is not None and not isinstance(x, Token)]
        condition = exprs[1] if len(exprs) > 1 else None
        return ast.ListComp(item, tuple(names), exprs[0], condition, self._span(open_, close))

    def function(self, c: list[Any]) -> ast.Function:
        keyword, name, params, body = c
        return ast.Function(str(name), params.items, body, self._span(keyword, body), self._tspan(name))

    def func(self, c: list[Any]) -> ast.FuncCall:
        return ast.FuncCall(str(c[0]), c[1].items, self._span(*c))

    def list_lit(self, c: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(_present(c), self._span(c[0], c[-1]))

    def binop(self, c: list[Any]) -> ast.BinOp:
        return ast.BinOp(str(c[1]), c[0], c[2], self._span(c[0], c[2]))

    compare = binop

    def or_op(self, c: list[Any]) -> ast.BinOp:
        return ast.BinOp("or", c[0], c[1], self._span(*c))

    def and_op(self, c: list[Any]) -> ast.BinOp:
        return ast.BinOp("and", c[0], c[1], self._span(*c))

    def not_op(self, c: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp("not", c[1], self._span(*c))

    def neg(self, c: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp("-", c[1], self._span(*c))


def _abbreviate(text: str, width: int = 24) -> str:
    return text if len(text) <= width else f"{text[: width // 2]}…{text[-width // 2 :]}"


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(token: Token) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), str(token)[1:-1])
