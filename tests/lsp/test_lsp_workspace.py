"""`netdsl lsp` over a multi-file workspace, end to end (pytest-lsp speaking to the server in a
subprocess): partial results beside errors, references and rename across files, files changed
on disk. Positions are 0-based UTF-16, as the protocol counts them.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

e2e = pytest.mark.asyncio(loop_scope="module")
INITIALIZED: list[lsp.InitializeResult] = []
REGISTERED: list[lsp.Registration] = []  # what the server asked the client to register
STDERR = Path(tempfile.mkdtemp()) / "server-stderr.txt"  # what the server writes there: no traceback

CBR = """# conv, batchnorm, relu
block CBR(width, stride = 1) {
    conv(width, 3, stride=stride, padding=1) -> batchnorm -> relu
}
"""
MAIN3 = """import "cbr.net"

network Main3(classes = 10) {
    input image: [3, 32, 32]
    C1: CBR(16)
    S2: CBR(width=32, stride=2)  @ [32, 16, 16]
    flatten
    out: linear(classes)
}
"""
OTHER = """import "cbr.net"

network Other {
    input image: [3, 8, 8]
    CBR(width=8, stride=2)
}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    (root / "cbr.net").write_text(CBR)
    (root / "main3.net").write_text(MAIN3)
    (root / "other.net").write_text(OTHER)
    return root


@pytest_lsp.fixture(
    scope="module",
    loop_scope="module",
    config=ClientServerConfig(server_command=["sh", "-c", f'exec "{sys.executable}" -m netdsl lsp 2>"{STDERR}"']),
)
async def client(lsp_client: LanguageClient, workspace: Path):
    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:
        REGISTERED.extend(params.registrations)

    result = await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"), root_uri=workspace.as_uri())
    )
    INITIALIZED.append(result)
    yield
    await lsp_client.shutdown_session()


async def published(client: LanguageClient, uri: str, check) -> list[lsp.Diagnostic]:
    """The diagnostics published for `uri`, once `check` holds of them."""
    for _ in range(200):
        if uri in client.diagnostics and check(client.diagnostics[uri]):
            return client.diagnostics[uri]
        await asyncio.sleep(0.05)
    raise AssertionError(f"diagnostics for {uri}: {client.diagnostics.get(uri)}")


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "netdsl", version, text)))
    return uri


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [lsp.TextDocumentContentChangeWholeDocument(text)],
        )
    )


def at(uri: str, line: int, character: int) -> dict[str, object]:
    return {"text_document": lsp.TextDocumentIdentifier(uri), "position": lsp.Position(line, character)}


async def hover_text(client: LanguageClient, uri: str, line: int, character: int) -> str:
    found = await client.text_document_hover_async(lsp.HoverParams(**at(uri, line, character)))
    assert found is not None and isinstance(found.contents, lsp.MarkupContent)
    return found.contents.value


async def hints(client: LanguageClient, uri: str, first: int = 0, last: int = 99) -> list[tuple[int, int, str]]:
    found = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(first, 0), lsp.Position(last, 0)))
    )
    return [(h.position.line, h.position.character, h.label) for h in found or []]


# ---- 1. partial results -------------------------------------------------------------------


@e2e
async def test_a_wrong_shape_assertion_keeps_every_hint_and_hover(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "partial.net", MAIN3.replace("[32, 16, 16]", "[32, 16, 15]"))
    (error,) = await published(client, uri, lambda ds: len(ds) == 1)
    assert error.message == "shape assertion failed: expected [32, 16, 15], got [32, 16, 16]"
    assert await hints(client, uri) == [
        (2, 29, "87.1 K params · 1.7 M MACs · → 10"),
        (4, 15, "→ 16×32×32"),
        (5, 47, "→ 32×16×16"),
        (6, 11, "→ 8192"),
        (7, 24, "→ 10"),
    ]
    above = await hover_text(client, uri, 4, 5)
    assert above.split("  \n")[0] == "**C1** → `16×32×32`"
    network = await hover_text(client, uri, 2, 10)
    assert "parameters 87.1 K" in network
    assert network.endswith("every layer shaped despite the error at line 6")


@e2e
async def test_what_depends_on_an_error_says_so(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "partial.net").as_uri()
    change(client, uri, 2, MAIN3.replace("CBR(width=32", "CRB(width=32"))
    await published(
        client, uri, lambda ds: [d.message for d in ds] == ["unknown op or block 'CRB'\nhint: did you mean 'CBR'?"]
    )
    assert await hints(client, uri) == [
        (2, 29, "3 of 5 layers shaped before errors"),
        (4, 15, "→ 16×32×32"),
        (6, 11, "→ ?"),
        (7, 24, "→ ?"),
    ]
    assert (await hover_text(client, uri, 4, 5)).startswith("**C1** → `16×32×32`")
    assert await hover_text(client, uri, 7, 5) == (
        "**out** → `?`  \nshape unknown: it depends on the error at line 6 (unknown op or block 'CRB')"
    )
    network = await hover_text(client, uri, 2, 10)
    assert "errors stop the check: 3 of 5 layers shaped, parameters 480" in network
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))


# ---- 2. references and rename across files ------------------------------------------------


def edits_by_file(edit: lsp.WorkspaceEdit | None, root: Path) -> dict[str, list[tuple[int, int, int, str]]]:
    assert edit is not None and edit.changes is not None
    return {
        Path(uri.removeprefix("file://")).relative_to(root).as_posix(): [
            (e.range.start.line, e.range.start.character, e.range.end.character, e.new_text) for e in edits
        ]
        for uri, edits in sorted(edit.changes.items())
    }


@e2e
async def test_references_of_a_block_in_every_file_that_imports_it(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "main3.net", MAIN3)
    found = await client.text_document_references_async(
        lsp.ReferenceParams(**at(uri, 4, 9), context=lsp.ReferenceContext(include_declaration=True))
    )
    assert sorted(
        (Path(loc.uri.removeprefix("file://")).name, loc.range.start.line, loc.range.start.character)
        for loc in found or []
    ) == [("cbr.net", 1, 6), ("main3.net", 4, 8), ("main3.net", 5, 8), ("other.net", 4, 4)]
    without = await client.text_document_references_async(
        lsp.ReferenceParams(**at(uri, 4, 9), context=lsp.ReferenceContext(include_declaration=False))
    )
    assert len(without or []) == 3


@e2e
async def test_rename_a_block_parameter_across_files(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "cbr.net", CBR)
    prepared = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(**at(uri, 1, 11)))
    assert prepared == lsp.PrepareRenamePlaceholder(lsp.Range(lsp.Position(1, 10), lsp.Position(1, 15)), "width")
    edit = await client.text_document_rename_async(lsp.RenameParams(**at(uri, 1, 11), new_name="channels"))
    assert edits_by_file(edit, workspace) == {
        "cbr.net": [(1, 10, 15, "channels"), (2, 9, 14, "channels")],
        "main3.net": [(5, 12, 17, "channels")],
        "other.net": [(4, 8, 13, "channels")],  # on disk only: not open in the editor
    }


@e2e
async def test_rename_a_block_from_a_call_in_another_file(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main3.net").as_uri()
    prepared = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(**at(uri, 5, 9)))
    assert prepared == lsp.PrepareRenamePlaceholder(lsp.Range(lsp.Position(5, 8), lsp.Position(5, 11)), "CBR")
    edit = await client.text_document_rename_async(lsp.RenameParams(**at(uri, 5, 9), new_name="ConvBnRelu"))
    assert edits_by_file(edit, workspace) == {
        "cbr.net": [(1, 6, 9, "ConvBnRelu")],
        "main3.net": [(4, 8, 11, "ConvBnRelu"), (5, 8, 11, "ConvBnRelu")],
        "other.net": [(4, 4, 7, "ConvBnRelu")],
    }


@e2e
async def test_ops_and_keywords_cannot_be_renamed(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "cbr.net").as_uri()
    assert await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(**at(uri, 2, 5))) is None
    main = (workspace / "main3.net").as_uri()
    assert await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(**at(main, 3, 5))) is None


@e2e
async def test_a_clashing_name_is_refused_without_a_traceback(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main3.net").as_uri()
    refusals = []
    for position, name in (((4, 5), "S2"), ((2, 10), "conv"), ((1, 0), "x"), ((4, 5), "in"), ((2, 20), "image")):
        with pytest.raises(Exception) as refused:  # noqa: PT011 (the client raises its own JsonRpc error type)
            await client.text_document_rename_async(lsp.RenameParams(**at(uri, *position), new_name=name))
        refusals.append(str(refused.value))
    wanted = [
        "'S2' already labels a layer of Main3 (line 6)",
        "'conv' is an op",
        "nothing to rename here: a label, a value, a block or a parameter can be renamed",
        "'in' is not a name",
        "'image' is already the input of Main3 (line 4)",
    ]
    assert [w for r, w in zip(refusals, wanted, strict=True) if w in r] == wanted, refusals
    assert "Traceback" not in STDERR.read_text()


# ---- 3. files changed on disk and closed ---------------------------------------------------

LIB = "block Lib(width) {\n    conv(width, 3, padding=1) -> relu\n}\n"
USES_LIB = 'import "lib.net"\n\nnetwork UsesLib {\n    input [3, 8, 8]\n    Lib(4)\n}\n'


@e2e
async def test_the_server_registers_a_watcher_for_specs(client: LanguageClient, workspace: Path) -> None:
    for _ in range(100):
        if REGISTERED:
            break
        await asyncio.sleep(0.05)
    (registration,) = REGISTERED
    assert registration.method == "workspace/didChangeWatchedFiles"
    options = registration.register_options
    watchers = options["watchers"] if isinstance(options, dict) else options.watchers
    assert [w["globPattern"] if isinstance(w, dict) else w.glob_pattern for w in watchers] == ["**/*.net"]


@e2e
async def test_an_import_changed_on_disk_rechecks_its_importers(client: LanguageClient, workspace: Path) -> None:
    (workspace / "lib.net").write_text(LIB)
    uri = open_doc(client, workspace / "uses_lib.net", USES_LIB)
    await published(client, uri, lambda ds: len(ds) == 0)
    (workspace / "lib.net").write_text(LIB.replace("Lib(width)", "Library(width)"))
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams([lsp.FileEvent((workspace / "lib.net").as_uri(), lsp.FileChangeType.Changed)])
    )
    (error,) = await published(client, uri, lambda ds: len(ds) == 1)
    assert error.message == "unknown op or block 'Lib'\nhint: did you mean 'Library'?"
    (workspace / "lib.net").unlink()
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams([lsp.FileEvent((workspace / "lib.net").as_uri(), lsp.FileChangeType.Deleted)])
    )
    await published(client, uri, lambda ds: [d.message.split(":")[0] for d in ds] == ["cannot import 'lib.net'"])


@e2e
async def test_closing_an_unsaved_import_rechecks_with_the_text_on_disk(
    client: LanguageClient, workspace: Path
) -> None:
    (workspace / "lib.net").write_text(LIB)
    lib = open_doc(client, workspace / "lib.net", LIB.replace("3, padding=1", "30"))
    uri = (workspace / "uses_lib.net").as_uri()
    await published(client, uri, lambda ds: len(ds) == 1 and "lib.net" in ds[0].message)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(lib)))
    await published(client, uri, lambda ds: len(ds) == 0)


# ---- 4. completion in context and signature help -------------------------------------------

TYPING = """block Widen(width, grow = 2) {
    conv(width * grow, 3, padding=1, bias=false) -> relu
}

network T(classes = 10) {
    input image: [3, 32, 32]
    let base = 16
    conv(16,~
    conv(16, kernel=
    conv(16, bias=
    Widen(8,~
    linear(classes) @ [6,~
}
""".replace("~", " ")  # a space typed after each comma


TYPING_OK = TYPING.replace("conv(16, \n", "conv(16, 3)\n").replace("kernel=\n", "kernel=3)\n")
TYPING_OK = TYPING_OK.replace("bias=\n", "bias=true)\n").replace("(8, \n", "(8)\n").replace("[6, \n", "[6]\n")


async def labels(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    found = await client.text_document_completion_async(lsp.CompletionParams(**at(uri, line, character)))
    assert isinstance(found, lsp.CompletionList)
    return [item.label for item in found.items]


@e2e
async def test_completion_follows_the_context(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "typing.net", TYPING_OK)  # it parses once, then is being typed
    await published(client, uri, lambda ds: True)
    change(client, uri, 2, TYPING)
    after_positional = await labels(client, uri, 7, 13)  # `conv(16, `
    assert after_positional[:3] == ["kernel=", "stride=", "padding="] and "out=" not in after_positional
    assert "relu" not in after_positional and "classes" in after_positional
    value = await labels(client, uri, 8, 20)  # `conv(16, kernel=`
    assert value == ["classes", "base"]
    switch = await labels(client, uri, 9, 18)  # `conv(16, bias=`
    assert switch == ["true", "false", "classes", "base"]
    block = await labels(client, uri, 10, 13)  # `Widen(8, `
    assert block == ["grow=", "classes", "base"]
    shape = await labels(client, uri, 11, 26)  # `@ [6, `
    assert shape == ["classes", "base"]
    inside_block = await labels(client, uri, 1, 34)  # `conv(width * grow, 3, padding=`
    assert inside_block == ["width", "grow"]


@e2e
async def test_signature_help_marks_the_argument_being_typed(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "typing.net").as_uri()
    positional = await client.text_document_signature_help_async(lsp.SignatureHelpParams(**at(uri, 7, 13)))
    assert positional is not None and positional.active_parameter == 1
    (info,) = positional.signatures
    assert info.label.startswith("conv(out, kernel, stride=[1, 1], padding=[0, 0]")
    assert info.parameters is not None
    start, end = info.parameters[1].label
    assert info.label[start:end] == "kernel"
    keyword = await client.text_document_signature_help_async(lsp.SignatureHelpParams(**at(uri, 9, 18)))
    assert keyword is not None and keyword.signatures[0].parameters is not None
    start, end = keyword.signatures[0].parameters[keyword.active_parameter or 0].label
    assert keyword.signatures[0].label[start:end] == "bias"
    block = await client.text_document_signature_help_async(lsp.SignatureHelpParams(**at(uri, 10, 13)))
    assert block is not None and block.signatures[0].label == "block Widen(width, grow = 2)"
    assert block.active_parameter == 1
    outside = await client.text_document_signature_help_async(lsp.SignatureHelpParams(**at(uri, 5, 10)))
    assert outside is None


# ---- 5. loops, and a file of blocks opened alone ---------------------------------------------

LOOP = """import "cbr.net"

network Loop {
    input image: [3, 32, 32]
    for w in [8, 16, 32] {
        CBR(w, stride=2)
    }
    repeat 2 { conv(4, 1) }
}
"""


@e2e
async def test_a_block_call_in_a_loop_shows_each_iteration(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "loop.net", LOOP)
    await published(client, uri, lambda ds: len(ds) == 0)
    assert await hints(client, uri, 4, 8) == [
        (5, 24, "→ 8×16×16 … 32×4×4 (3)"),
        (6, 5, "→ 32×4×4"),
        (7, 25, "→ 4×4×4 (×2)"),  # the conv, made twice
        (7, 27, "→ 4×4×4"),  # the repeat
    ]
    assert (await hover_text(client, uri, 5, 9)).split("\n\n")[-1].split("  \n") == [
        "**CBR** → `8×16×16 … 32×4×4 (3)` · 3 times",
        "`cbr_1` → `8×16×16` · parameters 240",
        "`cbr_2` → `16×8×8` · parameters 1,200",
        "`cbr_3` → `32×4×4` · parameters 4,704",
        "in all: parameters 6,144 · MACs 202.8 K · 9 layers",
    ]


@e2e
async def test_a_repeat_inside_a_for_shows_each_group(client: LanguageClient, workspace: Path) -> None:
    text = 'network G {\n    input image: [3, 8, 8]\n    for c in [4, 8] {\n        "stage{c}": repeat 2 { conv(c, 1) }\n    }\n}\n'
    uri = open_doc(client, workspace / "groups.net", text)
    await published(client, uri, lambda ds: len(ds) == 0)
    assert await hints(client, uri, 2, 5) == [
        (3, 41, "→ 4×8×8 … 8×8×8 (4)"),  # the conv: twice per stage
        (3, 43, "→ 4×8×8 … 8×8×8 (2)"),  # the repeat: once per iteration of the for
        (4, 5, "→ 8×8×8"),  # the for: its last output
    ]
    assert (await hover_text(client, uri, 3, 12)).split("  \n") == [
        "**stage{c}** → `4×8×8 … 8×8×8 (2)` · 2 times",
        "`stage4` → `4×8×8` · parameters 36",  # 3·4 + 4, then 4·4 + 4
        "`stage8` → `8×8×8` · parameters 112",  # 4·8 + 8, then 8·8 + 8
        "in all: parameters 148 · MACs 7,936 · 4 layers",  # (12 + 16 + 32 + 64) · 64 pixels
    ]


@e2e
async def test_a_file_of_blocks_opened_alone_takes_shapes_from_a_network_using_it(
    client: LanguageClient, workspace: Path
) -> None:
    uri = (workspace / "cbr.net").as_uri()
    change(client, uri, 2, CBR + "\n")  # analysed again
    await asyncio.sleep(0.3)
    assert await hints(client, uri) == [
        (1, 30, "shapes from Loop (loop.net)"),  # the first file by name whose network uses CBR
        (2, 65, "→ 8×16×16 | 16×8×8 | 32×4×4"),
    ]
    text = await hover_text(client, uri, 2, 64)
    assert text.split("\n\n")[-1].split("  \n")[:2] == [
        "**relu** → `8×16×16` · relu",
        "3 uses: `cbr_1.relu_1` … `cbr_3.relu_1` — outputs `8×16×16`, `16×8×8`, `32×4×4` in Loop (loop.net)",
    ]


# ---- 6. quick fixes, highlights, folding, semantic tokens, range formatting, workspace symbols --

FIXES = """network Fix {
    input image: [3, 8, 8]
    conv(4, 3)  @ [4, 5, 6]
    fc: linear(10)
    reul
}
"""


def whole(lines: int = 99) -> lsp.Range:
    return lsp.Range(lsp.Position(0, 0), lsp.Position(lines, 0))


@e2e
async def test_quick_fixes_for_a_typo_a_missing_flatten_and_a_wrong_assertion(
    client: LanguageClient, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "fixes.net", FIXES)
    await published(client, uri, lambda ds: len(ds) == 3)
    found = await client.text_document_code_action_async(
        lsp.CodeActionParams(lsp.TextDocumentIdentifier(uri), whole(), lsp.CodeActionContext(diagnostics=[]))
    )
    fixes = {}
    for action in found or []:
        assert isinstance(action, lsp.CodeAction) and action.edit is not None and action.edit.changes is not None
        assert action.kind == lsp.CodeActionKind.QuickFix
        (edit,) = action.edit.changes[uri]
        r = edit.range
        fixes[action.title] = (r.start.line, r.start.character, r.end.line, r.end.character, edit.new_text)
    assert fixes == {
        "Update the shape assertion to [4, 6, 6]": (2, 18, 2, 27, "[4, 6, 6]"),
        "Add flatten before linear": (3, 0, 3, 0, "    flatten\n"),
        "Replace with 'relu'": (4, 4, 4, 8, "relu"),
    }
    only_line_5 = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri),
            lsp.Range(lsp.Position(4, 5), lsp.Position(4, 5)),
            lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert [a.title for a in only_line_5 or []] == ["Replace with 'relu'"]
    fixed = FIXES.replace("[4, 5, 6]", "[4, 6, 6]").replace("    fc:", "    flatten\n    fc:").replace("reul", "relu")
    change(client, uri, 2, fixed)
    await published(client, uri, lambda ds: len(ds) == 0)  # the three fixes leave a clean spec


@e2e
async def test_highlight_a_parameter_and_its_uses(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main3.net").as_uri()
    found = await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(**at(uri, 7, 18)))
    assert [(h.range.start.line, h.range.start.character, h.range.end.character, h.kind) for h in found or []] == [
        (2, 14, 21, lsp.DocumentHighlightKind.Write),
        (7, 16, 23, lsp.DocumentHighlightKind.Read),
    ]


@e2e
async def test_folding_ranges_of_bodies(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "loop.net").as_uri()
    found = await client.text_document_folding_range_async(lsp.FoldingRangeParams(lsp.TextDocumentIdentifier(uri)))
    assert [(f.start_line, f.end_line) for f in found or []] == [(2, 7), (4, 5)]


@e2e
async def test_semantic_tokens_tell_in_as_a_value_from_in_as_a_keyword(client: LanguageClient, workspace: Path) -> None:
    text = "# widen\nblock W(out) {\n    conv(in.channels * out, 1)\n    for w in [1] { relu }\n}\n"
    uri = open_doc(client, workspace / "tokens.net", text)
    found = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(lsp.TextDocumentIdentifier(uri))
    )
    assert found is not None
    legend = INITIALIZED[0].capabilities.semantic_tokens_provider.legend.token_types  # type: ignore[union-attr]
    tokens, line, char = [], 0, 0
    data = list(found.data)
    for i in range(0, len(data), 5):
        line += data[i]
        char = data[i + 1] if data[i] else char + data[i + 1]
        tokens.append((line, char, text.split("\n")[line][char : char + data[i + 2]], legend[data[i + 3]]))
    assert tokens == [
        (0, 0, "# widen", "comment"),
        (1, 0, "block", "keyword"),
        (1, 6, "W", "class"),
        (1, 8, "out", "parameter"),
        (2, 4, "conv", "function"),
        (2, 9, "in", "variable"),
        (2, 12, "channels", "variable"),
        (2, 21, "*", "operator"),
        (2, 23, "out", "parameter"),
        (2, 28, "1", "number"),
        (3, 4, "for", "keyword"),
        (3, 8, "w", "variable"),
        (3, 10, "in", "keyword"),
        (3, 14, "1", "number"),
        (3, 19, "relu", "function"),
    ]


@e2e
async def test_range_formatting_changes_only_the_lines_asked(client: LanguageClient, workspace: Path) -> None:
    text = "network R {\n  input [3, 8, 8]\n  conv(4,3)->relu\n  conv(4,1)\n}\n"
    uri = open_doc(client, workspace / "range.net", text)
    edits = await client.text_document_range_formatting_async(
        lsp.DocumentRangeFormattingParams(
            lsp.TextDocumentIdentifier(uri),
            lsp.Range(lsp.Position(2, 0), lsp.Position(2, 5)),
            lsp.FormattingOptions(4, True),
        )
    )
    assert [(e.range.start.line, e.range.end.line, e.new_text) for e in edits or []] == [
        (2, 3, "    conv(4, 3) -> relu\n")
    ]


@e2e
async def test_workspace_symbols_find_networks_and_blocks_by_their_letters(
    client: LanguageClient, workspace: Path
) -> None:
    found = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="cbr"))
    assert [(s.name, Path(s.location.uri).name, s.location.range.start.line) for s in found or []] == [  # type: ignore[union-attr]
        ("CBR", "cbr.net", 1)
    ]
    found = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="mn3"))
    assert [s.name for s in found or []] == ["Main3"]


# ---- 7. polish ----------------------------------------------------------------------------


@e2e
async def test_a_duplicate_label_points_at_the_first(client: LanguageClient, workspace: Path) -> None:
    text = "network D {\n    input [3, 8, 8]\n    a: conv(4, 3)\n    a: relu\n}\n"
    uri = open_doc(client, workspace / "dup.net", text)
    (error,) = await published(client, uri, lambda ds: len(ds) == 1)
    assert error.message == "label 'a' is already used in this scope, at dup.net:3:5"
    assert error.range == lsp.Range(lsp.Position(3, 4), lsp.Position(3, 5))
    (first,) = error.related_information or []
    assert first.message == "first here"
    assert first.location == lsp.Location(uri, lsp.Range(lsp.Position(2, 4), lsp.Position(2, 5)))


@e2e
async def test_inlay_hints_only_inside_the_range_asked(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main3.net").as_uri()
    assert await hints(client, uri, 5, 7) == [(5, 47, "→ 32×16×16"), (6, 11, "→ 8192")]


@e2e
async def test_initialize_announces_every_method(client: LanguageClient, workspace: Path) -> None:
    caps = INITIALIZED[0].capabilities
    assert isinstance(caps.rename_provider, lsp.RenameOptions) and caps.rename_provider.prepare_provider is True
    assert caps.references_provider and caps.document_highlight_provider and caps.folding_range_provider
    assert caps.workspace_symbol_provider and caps.document_range_formatting_provider
    assert isinstance(caps.code_action_provider, lsp.CodeActionOptions)
    assert list(caps.code_action_provider.code_action_kinds or []) == [lsp.CodeActionKind.QuickFix]
    assert caps.signature_help_provider is not None and list(caps.signature_help_provider.trigger_characters or []) == [
        "(",
        ",",
    ]
    assert isinstance(caps.semantic_tokens_provider, lsp.SemanticTokensOptions)
    assert caps.semantic_tokens_provider.full is True
