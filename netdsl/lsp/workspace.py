"""The workspace as the server sees it: its specs (open in the editor or on disk under the
workspace's folders), each loaded with its imports, and where a block's shapes come from when
its file is opened alone. A mixin of `server.NetdslServer`; the checker loads at first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.uris import to_fs_path

from netdsl.core.diagnostics import Span
from netdsl.lsp.positions import Lines

if TYPE_CHECKING:
    from netdsl.language.program import Program
    from netdsl.lsp.analysis import Analysis, ImportCache
    from netdsl.lsp.symbols import Loader, Symbol


class WorkspaceFiles:
    """What the server needs of its workspace (its `documents`, `cache` and `workspace`)."""

    documents: dict[str, Any]
    cache: ImportCache
    workspace: Any
    encoding: Callable[[], str]

    def workspace_files(self, symbol: Symbol | None = None) -> list[str]:
        """The open documents and the specs under the workspace's folders (those that could name
        `symbol`: a file that does not hold its name as a word cannot)."""
        files = {doc.file for doc in self.documents.values() if doc.file != "<untitled>"}
        for folder in self.folders():
            files.update(spec_files(folder))
        if symbol is not None:
            files.add(symbol.declared.file)
            word = re.compile(rf"\b{re.escape(symbol.name)}\b")
            files = {f for f in files if f == symbol.declared.file or word.search(self.text(f) or "")}
        return sorted(files)

    def host_of(self, blocks: Analysis) -> Analysis | None:
        """The analysis of the first workspace file (by name) whose networks use a block of `blocks`."""
        from netdsl.lsp.analysis import analyze
        from netdsl.lsp.symbols import Symbol, sees

        if blocks.file == "<untitled>":
            return None
        mine = [d for d in blocks.module.definitions if d.kind == "block"]
        words = re.compile(r"\b(" + "|".join(re.escape(d.name) for d in mine) + r")\b") if mine else None
        load_file = self.loader()
        for file in self.workspace_files():
            text = self.text(file) if file != blocks.file and words is not None else None
            if text is None or not words.search(text):  # type: ignore[union-attr]
                continue
            program = load_file(file)
            if program is None or not program.networks():
                continue
            if any(sees(program, Symbol("block", d.name, d.name_span, d)) for d in mine):
                return analyze(text, file, self.cache)
        return None

    def folders(self) -> list[Path]:
        found = [Path(to_fs_path(f.uri)) for f in (self.workspace.folders or {}).values() if to_fs_path(f.uri)]
        if not found and self.workspace.root_path:
            found.append(Path(self.workspace.root_path))
        return found

    def text(self, file: str) -> str | None:
        try:
            return self.cache.read(Path(file))
        except (OSError, UnicodeDecodeError):
            return None

    def loader(self) -> Loader:
        """Loads a workspace file (its unsaved text when open) with its imports, once per request."""
        from netdsl.lsp.analysis import load

        memo: dict[str, Program | None] = {}

        def load_file(file: str) -> Program | None:
            if file not in memo:
                text = self.text(file)
                memo[file] = load(text, file, self.cache)[0] if text is not None else None
            return memo[file]

        return load_file

    def occurrences(self, symbol: Symbol, files: list[str], load: Loader) -> Iterator[tuple[str, list[Span], Lines]]:
        from netdsl.lsp.symbols import occurrences

        for file, spans in occurrences(symbol, files, load).items():
            program = load(file)
            text = program.main.source if program is not None else ""
            yield file, spans, Lines.of(text, self.encoding())

    def uri_of(self, file: str) -> str:
        return next((d.uri for d in self.documents.values() if d.file == file), None) or Path(file).as_uri()


def spec_files(folder: Path, limit: int = 2000) -> list[str]:
    """The `.net` files under `folder`, hidden folders and node_modules left out (at most `limit`)."""
    found: list[str] = []
    for path in sorted(folder.rglob("*.net")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "node_modules" for p in parts[:-1]):
            continue
        found.append(str(path.resolve()))
        if len(found) >= limit:
            break
    return found
