"""`netdsl lsp` end to end: a real client (pytest-lsp) speaking the protocol to the server in a
subprocess. Positions are checked exactly, in UTF-16 code units as the protocol counts them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from netdsl.lsp.analysis import ImportCache, analyze
from netdsl.lsp.positions import Lines

e2e = pytest.mark.asyncio(loop_scope="module")

BLOCKS = """# Two 3x3 convolutions of `width` channels.
block Pair(width, stride = 1) {
    conv(width, 3, stride=stride, padding=1) -> relu
    conv(width, 3, padding=1) -> relu
}
"""
MAIN = """import "blocks.net"

network Small(classes = 10) {
    input image: [3, 32, 32]
    stem: conv(16, 3, padding=1) -> rleu
    body = Pair(16)
    body -> pool: maxpool(2)
    flatten
    head: linear(classes)  @ [classes]
}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lsp")
    (root / "blocks.net").write_text(BLOCKS)
    (root / "broken.net").write_text("block Bad {\n    conv(\n}\n")
    return root


@pytest_lsp.fixture(
    scope="module",
    loop_scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "netdsl", "lsp"]),
)
async def client(lsp_client: LanguageClient, workspace: Path):
    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:  # the server registers a file watcher
        return None

    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"), root_uri=workspace.as_uri())
    )
    yield
    await lsp_client.shutdown_session()


async def published(client: LanguageClient, uri: str, want: int | None = None) -> list[lsp.Diagnostic]:
    """The diagnostics the server publishes for `uri` (waiting until there are `want` of them)."""
    for _ in range(200):
        if uri in client.diagnostics and (want is None or len(client.diagnostics[uri]) == want):
            return client.diagnostics[uri]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no diagnostics for {uri}: {client.diagnostics.get(uri)}")


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "netdsl", version, text)))
    return uri


def at(uri: str, line: int, character: int) -> dict[str, object]:
    return {"text_document": lsp.TextDocumentIdentifier(uri), "position": lsp.Position(line, character)}


@e2e
async def test_diagnostic_at_its_range_then_gone_when_fixed(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "main.net", MAIN)
    (diagnostic,) = await published(client, uri, 1)
    assert diagnostic.range == lsp.Range(lsp.Position(4, 36), lsp.Position(4, 40))
    assert diagnostic.severity == lsp.DiagnosticSeverity.Error
    assert diagnostic.message == "unknown op or block 'rleu'\nhint: did you mean 'relu'?"
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=2, uri=uri),
            [lsp.TextDocumentContentChangePartial(lsp.Range(lsp.Position(4, 36), lsp.Position(4, 40)), "relu")],
        )
    )
    assert list(await published(client, uri, 0)) == []


@e2e
async def test_hover_on_a_label_a_block_and_an_op(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.net").as_uri()
    label = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 4, 5)))
    assert label is not None and isinstance(label.contents, lsp.MarkupContent)
    assert label.contents.value.split("  \n") == [
        "**stem** → `16×32×32` · conv",
        "`stem`",
        "parameters 448 (all trainable) · MACs 442.4 K",
        "receptive field 3×3 · jump 1×1",
    ]
    block = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 5, 12)))
    assert block is not None and isinstance(block.contents, lsp.MarkupContent)
    text = block.contents.value
    assert text.startswith("```netdsl\nblock Pair(width, stride = 1)\n```\n\nTwo 3x3 convolutions of `width` channels.")
    assert "**Pair** → `16×32×32`" in text and "parameters 4,640 (all trainable)" in text
    value = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 6, 5)))
    assert value is not None and isinstance(value.contents, lsp.MarkupContent)
    assert value.contents.value.startswith("**body** → `16×32×32`")
    source = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 3, 8)))
    assert source is not None and isinstance(source.contents, lsp.MarkupContent)
    assert source.contents.value.startswith("**image** → `3×32×32` · input")
    op = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 6, 20)))
    assert op is not None and isinstance(op.contents, lsp.MarkupContent)
    assert op.contents.value.startswith("```netdsl\nmaxpool(kernel, stride=")
    assert "**pool** → `16×16×16` · maxpool" in op.contents.value


@e2e
async def test_inlay_hints_give_each_statements_shape_and_the_totals(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.net").as_uri()
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(10, 0)))
    )
    found = [(h.position.line, h.position.character, h.label) for h in hints]
    assert found == [
        (2, 29, "46.1 K params · 5.2 M MACs · → 10"),
        (4, 40, "→ 16×32×32"),
        (5, 19, "→ 16×32×32"),
        (6, 28, "→ 16×16×16"),
        (7, 11, "→ 4096"),
        (8, 38, "→ 10"),
    ]


@e2e
async def test_definition_of_a_block_a_value_and_an_import(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.net").as_uri()
    block = await client.text_document_definition_async(lsp.DefinitionParams(**at(uri, 5, 13)))
    assert block == lsp.Location(
        (workspace / "blocks.net").as_uri(), lsp.Range(lsp.Position(1, 6), lsp.Position(1, 10))
    )
    value = await client.text_document_definition_async(lsp.DefinitionParams(**at(uri, 6, 6)))
    assert value == lsp.Location(uri, lsp.Range(lsp.Position(5, 4), lsp.Position(5, 8)))
    imported = await client.text_document_definition_async(lsp.DefinitionParams(**at(uri, 0, 10)))
    assert isinstance(imported, lsp.Location) and imported.uri == (workspace / "blocks.net").as_uri()


@e2e
async def test_completion_of_keyword_arguments_ops_blocks_and_values(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.net").as_uri()
    inside = await client.text_document_completion_async(lsp.CompletionParams(**at(uri, 4, 21)))
    labels = [item.label for item in inside.items]
    assert labels[:3] == ["stride=", "padding=", "dilation="]  # `conv(16, 3, `: out and kernel are given
    assert "classes" in labels and "relu" not in labels
    outside = await client.text_document_completion_async(lsp.CompletionParams(**at(uri, 7, 4)))
    labels = [item.label for item in outside.items]
    assert {"conv", "maxpool", "Pair", "body", "classes", "repeat"} <= set(labels)


@e2e
async def test_rename_a_value_and_a_label(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.net").as_uri()
    edit = await client.text_document_rename_async(lsp.RenameParams(**at(uri, 6, 5), new_name="trunk"))
    assert edit is not None and edit.changes is not None
    assert [
        (e.range.start.line, e.range.start.character, e.range.end.character, e.new_text) for e in edit.changes[uri]
    ] == [
        (5, 4, 8, "trunk"),
        (6, 4, 8, "trunk"),
    ]
    label = await client.text_document_rename_async(lsp.RenameParams(**at(uri, 8, 5), new_name="classifier"))
    assert label is not None and label.changes is not None
    assert [(e.range.start.line, e.range.start.character, e.range.end.character) for e in label.changes[uri]] == [
        (8, 4, 8)
    ]


@e2e
async def test_document_symbols_outline_the_network(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.net").as_uri()
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier(uri))
    )
    (network,) = symbols
    assert isinstance(network, lsp.DocumentSymbol)
    assert network.name == "Small" and network.kind == lsp.SymbolKind.Class
    assert [(c.name, c.kind) for c in network.children or []] == [
        ("stem", lsp.SymbolKind.Field),
        ("body", lsp.SymbolKind.Variable),
        ("Pair", lsp.SymbolKind.Module),
        ("pool", lsp.SymbolKind.Field),
        ("head", lsp.SymbolKind.Field),
    ]


@e2e
async def test_positions_count_utf16_code_units(client: LanguageClient, workspace: Path) -> None:
    prefix = '    "🙂x": conv(4, 3) -> '
    text = f"network U {{\n    input [3, 8, 8]\n{prefix}maxpool(3, stride=2)\n}}\n"
    uri = open_doc(client, workspace / "wide.net", text)
    (diagnostic,) = await published(client, uri, 1)  # the pooling drops a row and a column: a warning
    start = len(prefix.encode("utf-16-le")) // 2
    assert start == len(prefix) + 1  # the emoji is two UTF-16 code units
    assert diagnostic.severity == lsp.DiagnosticSeverity.Warning
    assert diagnostic.range == lsp.Range(lsp.Position(2, start), lsp.Position(2, start + 20))
    hover = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 2, 6)))  # on the emoji's second half
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert hover.contents.value.startswith("**🙂x** → `4×6×6` · conv")


@e2e
async def test_errors_in_an_imported_file_show_at_the_import(client: LanguageClient, workspace: Path) -> None:
    text = 'import "broken.net"\n\nnetwork N {\n    input [3, 8, 8]\n    relu\n}\n'
    uri = open_doc(client, workspace / "uses_broken.net", text)
    (diagnostic,) = await published(client, uri, 1)
    assert diagnostic.range == lsp.Range(lsp.Position(0, 0), lsp.Position(0, 19))
    assert diagnostic.message.startswith("broken.net:3:1: unexpected '}'")  # relative to the document's folder
    (related,) = diagnostic.related_information or []
    assert related.location == lsp.Location(
        (workspace / "broken.net").as_uri(), lsp.Range(lsp.Position(2, 0), lsp.Position(2, 1))
    )


@e2e
async def test_hover_keeps_the_last_good_analysis_while_the_text_is_broken(
    client: LanguageClient, workspace: Path
) -> None:
    uri = (workspace / "main.net").as_uri()
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=3, uri=uri),
            [lsp.TextDocumentContentChangePartial(lsp.Range(lsp.Position(9, 0), lsp.Position(9, 1)), "")],
        )
    )
    (diagnostic,) = await published(client, uri, 1)
    assert diagnostic.message.startswith("unexpected end of file")
    hover = await client.text_document_hover_async(lsp.HoverParams(**at(uri, 4, 5)))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert hover.contents.value.startswith("**stem** → `16×32×32` · conv")


@e2e
async def test_formatting_replaces_the_document_with_netdsl_fmt_output(client: LanguageClient, workspace: Path) -> None:
    text = "network F {\r\n  input [3, 8, 8]\r\n  conv(4,3)->relu\r\n}\r\n"
    uri = open_doc(client, workspace / "messy.net", text)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(lsp.TextDocumentIdentifier(uri), lsp.FormattingOptions(4, True))
    )
    assert list(edits or []) == [
        lsp.TextEdit(
            lsp.Range(lsp.Position(0, 0), lsp.Position(4, 0)),
            "network F {\r\n    input [3, 8, 8]\r\n    conv(4, 3) -> relu\r\n}\r\n",
        )
    ]


# ---- in process: positions and the import cache -------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "units"), [("utf-16", [0, 1, 3, 4, 5]), ("utf-8", [0, 1, 5, 7, 8]), ("utf-32", [0, 1, 2, 3, 4])]
)
def test_columns_convert_in_each_encoding(encoding: str, units: list[int]) -> None:
    lines = Lines.of("a\r\nx🙂é!\rlast", encoding)  # three lines: every line end counts
    assert lines.lines == ("a", "x🙂é!", "last")
    assert [lines.to_lsp(2, column).character for column in range(1, 6)] == units
    assert [lines.from_lsp(lsp.Position(1, u)) for u in units] == [(2, column) for column in range(1, 6)]
    assert lines.to_lsp(3, 5) == lsp.Position(2, 4)


def test_a_position_inside_a_character_moves_to_its_start() -> None:
    lines = Lines.of("x🙂y")
    assert lines.from_lsp(lsp.Position(0, 2)) == (1, 2)  # between the emoji's two UTF-16 units
    assert lines.from_lsp(lsp.Position(0, 99)) == (1, 4)  # past the end: the end
    assert lines.from_lsp(lsp.Position(5, 0)) == (6, 1)


def test_a_change_is_analysed_without_reading_or_parsing_unchanged_imports(tmp_path: Path) -> None:
    (tmp_path / "blocks.net").write_text(BLOCKS)
    main = tmp_path / "main.net"
    cache = ImportCache()
    first = analyze(MAIN.replace("rleu", "relu"), str(main), cache)
    assert (cache.reads, cache.parses) == (1, 1) and first.local_diagnostics() == []
    second = analyze(MAIN.replace("rleu", "tanh"), str(main), cache)
    assert (cache.reads, cache.parses) == (1, 1)
    assert second.outcomes["Small"].checked is not None
    cache.overlay[tmp_path / "blocks.net"] = BLOCKS.replace("width, 3, padding=1", "width, 5, padding=2")
    third = analyze(MAIN.replace("rleu", "relu"), str(main), cache)
    assert (cache.reads, cache.parses) == (1, 2)  # the editor's unsaved text, parsed once
    checked = third.outcomes["Small"].checked
    assert checked is not None and checked.total_params > first.outcomes["Small"].checked.total_params


def test_the_server_formatter_and_lexer_load_no_backend() -> None:
    code = (
        "import sys, netdsl.lsp.server, netdsl.cli.fmt, netdsl.report.highlight; "
        "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout == "[]\n"
