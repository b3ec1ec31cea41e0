"""The language server on blocks with several tensor inputs and recursive blocks (in process):
the inputs are names the block binds, signatures show their list, and every position of the
DLA-34 spec answers hover, definition, completion and signature help without failing; `def`
compile-time functions have hover, completion, signature help and go-to-definition."""

from __future__ import annotations

from lsprotocol import types as lsp

from netdsl.lsp import editing, features, navigation
from netdsl.lsp.analysis import ImportCache, analyze
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import bindings

from conftest import ROOT

DLA = ROOT / "tests" / "fixtures" / "lang" / "dla34.net"


def test_tensor_inputs_are_bound_names_and_in_the_signature() -> None:
    text = DLA.read_text()
    analysis = analyze(text, str(DLA), ImportCache())
    tree = analysis.program.definitions["DlaTree"]
    lines = text.split("\n")
    found = {b.name: (b.kind, b.span.line, b.span.column) for b in bindings(tree, lines)}
    assert found["x"] == ("tensor input", 18, 60) and found["children"] == ("tensor input", 18, 63)
    assert features.signature(tree, lines) == (
        "block DlaTree(levels, out, stride = 1, level_root = false)(x, children = none)"
    )
    # go to definition from `children` in a concat: the tensor input's declaration
    uri = DLA.as_uri()
    at = navigation.definition(analysis, Lines.of(text), lsp.Position(24, 41), {str(DLA): uri})
    assert at is not None and (at.range.start.line, at.range.start.character) == (17, 62)


def test_every_position_of_a_recursive_multi_input_spec_answers() -> None:
    text = DLA.read_text()
    analysis = analyze(text, str(DLA), ImportCache())
    lines = Lines.of(text)
    hovers = 0
    for row, line in enumerate(text.split("\n")):
        for column in range(0, len(line) + 1, 3):
            position = lsp.Position(row, column)
            hovers += features.hover(analysis, lines, position) is not None
            navigation.definition(analysis, lines, position, {})
            editing.completion(analysis, lines, position)
            editing.signature_help(analysis, lines, position)
    assert hovers > 100
    assert [s.name for s in navigation.symbols(analysis, lines)] == ["DlaBasic", "DlaRoot", "DlaTree", "DLA34"]


FUNCTIONS = """# rounds v to a multiple of d, never below d
def make_divisible(v, d = 8) = max(d, int(v + d / 2) // d * d)

network N(width = 1.5) {
    input image: [3, 8, 8]
    conv(make_divisible(16 * width), 3)
}
"""
SIGNATURE = "def make_divisible(v, d = 8) = max(d, int(v + d / 2) // d * d)"


def test_compile_time_functions_hover_complete_and_go_to_definition() -> None:
    analysis = analyze(FUNCTIONS, "/tmp/functions.net", ImportCache())
    assert analysis.diagnostics == ()  # calls of a `def` check in the editor as on the command line
    lines = Lines.of(FUNCTIONS)
    for where in (lsp.Position(1, 6), lsp.Position(5, 12)):  # at the def, and at a call
        shown = features.hover(analysis, lines, where)
        assert shown is not None
        assert shown.contents.value == (
            f"```netdsl\n{SIGNATURE}\n```\n\ncompile-time function\n\nrounds v to a multiple of d, never below d"
        )
    items = {i.label: i for i in editing.completion(analysis, lines, lsp.Position(5, 9))}
    assert items["make_divisible"].detail == SIGNATURE
    assert items["make_divisible"].kind == lsp.CompletionItemKind.Function
    help_ = editing.signature_help(analysis, lines, lsp.Position(5, 24))
    assert help_ is not None and help_.signatures[0].label == SIGNATURE and help_.active_parameter == 0
    assert [p.label for p in help_.signatures[0].parameters] == [(19, 20), (22, 23)]
    at = navigation.definition(analysis, lines, lsp.Position(5, 12), {})
    assert at is not None and (at.range.start.line, at.range.start.character, at.range.end.character) == (1, 4, 18)
