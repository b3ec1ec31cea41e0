"""The language server: pygls wiring, one `Analysis` per open document, diagnostics debounced.

Every request is answered from the document's analysis, made again first if the document
changed since (so an answer never lags the text it is about); a document that no longer
parses answers from its last analysis that did. Diagnostics follow each change after a
short pause in typing.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from netdsl.core.diagnostics import SpecError, normalize_source
from netdsl.core.version import __version__
from netdsl.lsp.positions import Lines
from netdsl.lsp.syntax import TOKEN_TYPES
from netdsl.lsp.workspace import WorkspaceFiles

if TYPE_CHECKING:
    from netdsl.lsp.analysis import Analysis, ImportCache


class _Later:
    """A module imported when first used: `initialize` is answered before the checker, the parser
    and the formatter are loaded (lsprotocol and pygls alone take most of the start-up)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


actions, editing, features, navigation, symbols = (
    _Later(f"netdsl.lsp.{m}") for m in ("actions", "editing", "features", "navigation", "symbols")
)
checking = _Later("netdsl.lsp.analysis")
formatter = _Later("netdsl.format")

DEBOUNCE_S = 0.2  # diagnostics wait for this pause in typing
log = logging.getLogger(__name__)


@dataclass
class Document:
    uri: str
    file: str
    version: int | None = None
    analysed: int | None = None  # the version the current analysis is of
    current: Analysis | None = None
    good: Analysis | None = None  # the last analysis of text that parsed
    pending: asyncio.TimerHandle | None = field(default=None, repr=False)


class NetdslServer(WorkspaceFiles, LanguageServer):
    def __init__(self) -> None:
        super().__init__("netdsl", __version__)
        self._cache: ImportCache | None = None
        self.documents: dict[str, Document] = {}

    @property
    def cache(self) -> ImportCache:
        if self._cache is None:
            self._cache = checking.ImportCache()
        return self._cache

    # ---- analyses
    def document(self, uri: str) -> Document:
        if uri not in self.documents:
            path = to_fs_path(uri) if uri.startswith("file:") else None
            self.documents[uri] = Document(uri, str(Path(path).resolve()) if path else "<untitled>")
        return self.documents[uri]

    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def lines(self, analysis: Analysis) -> Lines:
        return Lines(analysis.lines.lines, self.encoding())

    def refresh(self, uri: str) -> Document:
        """Analyse the document's current text (if not done yet) and publish its diagnostics."""
        doc = self.document(uri)
        if doc.pending is not None:
            doc.pending.cancel()
            doc.pending = None
        text_document = self.workspace.get_text_document(uri)
        if doc.current is not None and doc.analysed == text_document.version:
            return doc
        try:
            analysis = checking.analyze(text_document.source, doc.file, self.cache)
        except Exception:  # a bug of ours must not stop the server: log it, keep the last analysis
            log.exception("analysing %s failed", uri)
            return doc
        if analysis.parsed and not analysis.outcomes.keys() - {""}:
            analysis.host = self.host_of(analysis)
        doc.current, doc.analysed = analysis, text_document.version
        if analysis.parsed:
            doc.good = analysis
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(
                uri, features.diagnostics(analysis, self.lines(analysis)), version=text_document.version
            )
        )
        return doc

    def schedule(self, uri: str) -> None:
        doc = self.document(uri)
        if doc.pending is not None:
            doc.pending.cancel()
        doc.pending = asyncio.get_running_loop().call_later(DEBOUNCE_S, self.refresh_with_dependents, uri)

    def refresh_with_dependents(self, uri: str) -> None:
        """Refresh a document, then the open documents importing it (they read its unsaved text)."""
        doc = self.refresh(uri)
        if doc.file != "<untitled>":
            self.recheck_importers(Path(doc.file))

    def recheck_importers(self, path: Path) -> None:
        """Check again (and publish for) the open documents whose last analysis read `path`."""
        for other in list(self.documents.values()):
            if other.current is not None and other.file != str(path) and path in _reads(other.current):
                other.analysed = None
                self.refresh(other.uri)

    def answering(self, uri: str) -> tuple[Analysis, Lines] | None:
        """The analysis requests are answered from: the current one, or the last one that parsed."""
        doc = self.refresh(uri)
        analysis = doc.current if doc.current is not None and doc.current.parsed else doc.good
        return (analysis, self.lines(analysis)) if analysis is not None else None

    def overlay(self, uri: str, text: str | None) -> None:
        file = self.document(uri).file
        if file != "<untitled>":
            if text is None:
                self.cache.overlay.pop(Path(file), None)
            else:
                self.cache.overlay[Path(file)] = text


def _reads(analysis: Analysis) -> set[Path]:
    """The files an analysis read, and those its document imports (also one missing then)."""
    found = {Path(f).resolve() for f in analysis.program.sources if f != analysis.file}
    if analysis.file != "<untitled>":
        found.update((Path(analysis.file).parent / imp.path).resolve() for imp in analysis.module.imports)
    return found


class Refused(JsonRpcInvalidParams):
    """A request refused for a reason the user is told (logged without a traceback)."""


class _QuietRefusals(logging.Filter):
    """pygls logs every error answer with its traceback; a refusal is an answer, not a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], Refused))


logging.getLogger("pygls.protocol.json_rpc").addFilter(_QuietRefusals())
server = NetdslServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: NetdslServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.overlay(params.text_document.uri, params.text_document.text)
    ls.refresh_with_dependents(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: NetdslServer, params: lsp.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.overlay(uri, ls.workspace.get_text_document(uri).source)
    ls.schedule(uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: NetdslServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.refresh_with_dependents(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: NetdslServer, params: lsp.DidCloseTextDocumentParams) -> None:
    """Forget the document's unsaved text: the open files importing it read it from disk again."""
    uri = params.text_document.uri
    ls.overlay(uri, None)
    doc = ls.documents.pop(uri, None)
    if doc is not None and doc.pending is not None:
        doc.pending.cancel()
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))
    if doc is not None and doc.file != "<untitled>":
        ls.recheck_importers(Path(doc.file))


@server.feature(lsp.INITIALIZED)
async def initialized(ls: NetdslServer, params: lsp.InitializedParams) -> None:
    """Ask the client to tell of `.net` files changed on disk (when it lets servers register)."""
    capability = ls.client_capabilities.workspace
    watched = capability.did_change_watched_files if capability is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    options = lsp.DidChangeWatchedFilesRegistrationOptions([lsp.FileSystemWatcher(glob_pattern="**/*.net")])
    registration = lsp.Registration("netdsl-watch", lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
    try:
        await ls.client_register_capability_async(lsp.RegistrationParams([registration]))
    except Exception:  # a client that refuses: files changed on disk show at the next edit instead
        log.info("the client did not register the file watcher", exc_info=True)


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: NetdslServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    """A spec changed, appeared or went away on disk: check again the open documents importing it."""
    for change in params.changes:
        path = to_fs_path(change.uri)
        if path:
            ls.cache.texts.pop(Path(path).resolve(), None)
            ls.recheck_importers(Path(path).resolve())


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: NetdslServer, params: lsp.HoverParams) -> lsp.Hover | None:
    found = ls.answering(params.text_document.uri)
    return features.hover(found[0], found[1], params.position) if found else None


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
def inlay_hints(ls: NetdslServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    found = ls.answering(params.text_document.uri)
    return features.inlay_hints(found[0], found[1], params.range) if found else []


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: NetdslServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    found = ls.answering(params.text_document.uri)
    if not found:
        return None
    uris = {doc.file: doc.uri for doc in ls.documents.values()}
    return navigation.definition(found[0], found[1], params.position, uris)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(ls: NetdslServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    found = ls.answering(params.text_document.uri)
    return navigation.symbols(found[0], found[1]) if found else []


def _typing(ls: NetdslServer, uri: str) -> tuple[Analysis, Lines] | None:
    """The text being typed (which may not parse) and the analysis whose names complete it."""
    doc = ls.refresh(uri)
    analysis = doc.good if doc.good is not None else doc.current
    if analysis is None:
        return None
    return analysis, Lines.of(ls.workspace.get_text_document(uri).source, ls.encoding())


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", ",", "="]))
def completion(ls: NetdslServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    found = _typing(ls, params.text_document.uri)
    items = editing.completion(found[0], found[1], params.position) if found else []
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","]))
def signature_help(ls: NetdslServer, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
    found = _typing(ls, params.text_document.uri)
    return editing.signature_help(found[0], found[1], params.position) if found else None


def _symbol(ls: NetdslServer, params: lsp.TextDocumentPositionParams) -> tuple[Analysis, Lines, symbols.Symbol] | None:
    found = ls.answering(params.text_document.uri)
    if not found:
        return None
    at = symbols.symbol_at(found[0], found[1], found[1].from_lsp(params.position))
    return (found[0], found[1], at[0]) if at is not None else None


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
def prepare_rename(ls: NetdslServer, params: lsp.PrepareRenameParams) -> lsp.PrepareRenamePlaceholder | None:
    """The word that a rename here would change (None: nothing renamable, as for an op or a keyword)."""
    found = ls.answering(params.text_document.uri)
    if not found:
        return None
    at = symbols.symbol_at(found[0], found[1], found[1].from_lsp(params.position))
    if at is None:
        return None
    return lsp.PrepareRenamePlaceholder(range=found[1].range(at[1]), placeholder=at[0].name)


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def rename(ls: NetdslServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    """Rename across the workspace's files that see the name; a clash or a non-name is refused."""
    found = _symbol(ls, params)
    if found is None:
        raise Refused("nothing to rename here: a label, a value, a block or a parameter can be renamed")
    files, load = ls.workspace_files(found[2]), ls.loader()
    try:
        symbols.refuse_clash(found[2], params.new_name, files, load)
    except symbols.Refusal as exc:
        raise Refused(str(exc)) from None
    changes = {
        ls.uri_of(file): [lsp.TextEdit(lines.range(s), params.new_name) for s in spans]
        for file, spans, lines in ls.occurrences(found[2], files, load)
    }
    return lsp.WorkspaceEdit(changes=changes)


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def references(ls: NetdslServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    found = _symbol(ls, params)
    if found is None:
        return []
    symbol = found[2]
    files, load = ls.workspace_files(symbol), ls.loader()
    return [
        lsp.Location(ls.uri_of(file), lines.range(s))
        for file, spans, lines in ls.occurrences(symbol, files, load)
        for s in spans
        if params.context.include_declaration or s != symbol.declared
    ]


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: NetdslServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    """`netdsl fmt` on the open text: one edit replacing it all (none when it is formatted or does not parse)."""
    text = ls.workspace.get_text_document(params.text_document.uri).source
    try:
        formatted = formatter.format_text(text, ls.document(params.text_document.uri).file)
    except (SpecError, formatter.FormatError):
        return None
    if formatted == text:
        return []
    lines = Lines.of(text, ls.encoding())
    end = lines.to_lsp(len(lines.lines), len(lines.lines[-1]) + 1)
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(0, 0), end=end), new_text=formatted)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
def code_action(ls: NetdslServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    doc = ls.refresh(params.text_document.uri)
    if doc.current is None:
        return []
    return actions.code_actions(doc.current, ls.lines(doc.current), params.range, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
def document_highlight(ls: NetdslServer, params: lsp.DocumentHighlightParams) -> list[lsp.DocumentHighlight]:
    found = ls.answering(params.text_document.uri)
    return actions.highlights(found[0], found[1], params.position) if found else []


@server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
def folding_range(ls: NetdslServer, params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
    found = ls.answering(params.text_document.uri)
    return actions.folding_ranges(found[0]) if found else []


@server.feature(
    lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
    lsp.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=[]),
)
def semantic_tokens(ls: NetdslServer, params: lsp.SemanticTokensParams) -> lsp.SemanticTokens:
    doc = ls.refresh(params.text_document.uri)
    analysis = doc.current if doc.current is not None else doc.good
    if analysis is None:
        return lsp.SemanticTokens(data=[])
    return lsp.SemanticTokens(data=actions.semantic_tokens(analysis, ls.lines(analysis)))


@server.feature(lsp.TEXT_DOCUMENT_RANGE_FORMATTING)
def range_formatting(ls: NetdslServer, params: lsp.DocumentRangeFormattingParams) -> list[lsp.TextEdit] | None:
    """`netdsl fmt` on the open text, keeping only the changes on the lines of the range."""
    text = ls.workspace.get_text_document(params.text_document.uri).source
    try:
        formatted = formatter.format_text(text, ls.document(params.text_document.uri).file)
    except (SpecError, formatter.FormatError):
        return None
    return actions.range_edits(text, formatted, Lines.of(text, ls.encoding()), params.range)


@server.feature(lsp.WORKSPACE_SYMBOL)
def workspace_symbol(ls: NetdslServer, params: lsp.WorkspaceSymbolParams) -> list[lsp.SymbolInformation]:
    modules = []
    for file in ls.workspace_files():
        text = ls.text(file)
        if text is None:
            continue
        try:
            modules.append((ls.uri_of(file), ls.cache.parse(normalize_source(text), file)))
        except SpecError:
            continue
    return actions.workspace_symbols(params.query, modules)


def serve() -> int:
    """Run the server on standard input and output until the client ends it."""
    server.start_io()
    if sys.stdout.closed:  # pygls closes it at exit: the CLI's final flush must find a file
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open for the rest of the process)
    return 0
