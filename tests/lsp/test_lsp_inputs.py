"""The language server on blocks with several tensor inputs and recursive blocks (in process):
the inputs are names the block binds, signatures show their list, and every position of the
DLA-34 spec answers hover, definition, completion and signature help without failing."""

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
