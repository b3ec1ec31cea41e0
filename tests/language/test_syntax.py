"""Stage 1: text → AST, with exact spans; syntax errors with exact positions."""

from __future__ import annotations

import pytest

from netdsl.core.diagnostics import SpecError
from netdsl.language import ast
from netdsl.language.parser import grammar_path, parse

LENET_HEAD = """# comment line
network LeNet5(classes = 10) {
    input image: [1, 32, 32]
    C1: conv(6, kernel=5) -> tanh   @ [6, 28, 28]
}
"""


def test_definition_parameters_and_spans() -> None:
    module = parse(LENET_HEAD, "lenet.net")
    (net,) = module.definitions
    assert (net.kind, net.name) == ("network", "LeNet5")
    assert str(net.name_span) == "lenet.net:2:9"
    (param,) = net.params
    assert param.name == "classes" and param.default == ast.Literal(10, param.default.span)
    assert (param.default.span.line, param.default.span.column) == (2, 26)


def test_statement_chain_label_and_assertion() -> None:
    net = parse(LENET_HEAD, "lenet.net").definitions[0]
    inp, flow = net.body.statements
    assert isinstance(inp, ast.Input) and inp.name == "image"
    assert [e.value for e in inp.shape] == [1, 32, 32]
    conv, tanh = flow.chain.steps
    assert conv.label.name == "C1" and str(conv.label.span) == "lenet.net:4:5"
    assert conv.name == "conv" and str(conv.name_span) == "lenet.net:4:9"
    assert [a.name for a in conv.args] == [None, "kernel"]
    assert tanh.args is None and str(tanh.span) == "lenet.net:4:30"
    assert [d.value for d in flow.check.dims] == [6, 28, 28]
    assert str(flow.check.span) == "lenet.net:4:37"


def test_newlines_do_not_matter_and_chains_continue() -> None:
    one = parse("network A { input [3, 8, 8] conv(4, 3) -> relu flatten }")
    many = parse("network A {\n input [3, 8, 8]\n conv(4, 3)\n   -> relu\n flatten\n}")
    shape = [[type(s).__name__ for s in st.chain.steps] for st in many.definitions[0].body.statements[1:]]
    assert shape == [["Call", "Call"], ["Call"]]
    assert len(one.definitions[0].body.statements) == len(many.definitions[0].body.statements)


def test_expressions_precedence() -> None:
    net = parse("network A(c = 2) { input [1 + 2 * 3, 8, 8] }").definitions[0]
    expr = net.body.statements[0].shape[0]
    assert isinstance(expr, ast.BinOp) and expr.op == "+"
    assert isinstance(expr.right, ast.BinOp) and expr.right.op == "*"


def test_if_else_if_and_repeat_with_index() -> None:
    src = """block B(n) {
        x = if n == 1 { relu } else if n == 2 { tanh } else { sigmoid }
        layers: repeat n as i { conv(4, 3, stride = 2 if i == 0 else 1) }
    }"""
    stmts = parse(src).definitions[0].body.statements
    cond = stmts[0].chain.steps[0]
    assert isinstance(cond, ast.If)
    nested = cond.orelse.statements[0].chain.steps[0]
    assert isinstance(nested, ast.If) and nested.orelse is not None
    rep = stmts[1].chain.steps[0]
    assert isinstance(rep, ast.Repeat) and rep.index == "i" and rep.label.name == "layers"
    stride = rep.body.statements[0].chain.steps[0].args[2].value
    assert isinstance(stride, ast.Ternary)


def test_import_and_string_escapes() -> None:
    module = parse('import "blocks/a \\"b\\".net"\nblock X { relu }')
    assert module.imports[0].path == 'blocks/a "b".net'
    assert (module.imports[0].span.line, module.imports[0].span.column) == (1, 1)


def test_weights_literal_and_floats() -> None:
    call = parse("block X { conv(1, 3, weight=[[1, 0, -1]], p=.5, e=1e-5) }").definitions[0].body.statements[0].chain.steps[0]
    weight = call.args[2].value
    assert isinstance(weight, ast.ListExpr) and isinstance(weight.items[0].items[2], ast.UnaryOp)
    assert call.args[3].value.value == 0.5 and call.args[4].value.value == 1e-5


@pytest.mark.parametrize(
    ("source", "where", "message"),
    [
        ("network A {\n  input [1, 8, 8]\n  conv(6, 5\n}", "4:1", "unexpected '}'"),
        ("network A {\n  input [1, 8, 8]\n  conv(6) ?\n}", "3:11", "unexpected character '?'"),
        ("network A {\n  input [1, 8, 8]\n", "2:18", "unexpected end of file"),
        ("network 9 {}", "1:9", "unexpected '9'; expected a name"),
    ],
)
def test_syntax_error_positions(source: str, where: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(source, "x.net")
    (diag,) = info.value.diagnostics
    assert f"{diag.span.line}:{diag.span.column}" == where
    assert diag.message.startswith(message)


def test_grammar_is_shipped_beside_the_package() -> None:
    assert grammar_path().name == "netdsl.lark" and grammar_path().is_file()
