"""One document's analysis: its text loaded (imports from a cache), every network checked,
and an index from source positions to what the checker found there.

Nothing here speaks the protocol: `features` turns an `Analysis` into answers. Imported
files are read and parsed once and kept while their size and modification time stay the
same (an imported file open in the editor is taken from the editor instead), so a change to
the open document re-parses that document alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from netdsl.checker.analyze import Checked, Layer, analyze_partial
from netdsl.checker.check import Outcome, check_program
from netdsl.checker.elaborate import UsageError
from netdsl.checker.ir import Graph, Instance, Node
from netdsl.core.diagnostics import Diagnostic, Span, SpecError, error, normalize_source, warning
from netdsl.language import ast
from netdsl.language.parser import parse
from netdsl.language.program import Program, _Loader
from netdsl.lsp.positions import Lines

T = TypeVar("T")


class ImportCache:
    """Imported files: their text by (modification time, size) and their parse by text."""

    def __init__(self) -> None:
        self.texts: dict[Path, tuple[tuple[int, int], str]] = {}
        self.parsed: dict[str, tuple[str, ast.Module | SpecError]] = {}
        self.overlay: dict[Path, str] = {}  # files open in the editor: their unsaved text
        self.reads = self.parses = 0

    def read(self, path: Path) -> str:
        """The text of `path`; raises `OSError` or `UnicodeDecodeError` as `Path.read_text` does."""
        if path in self.overlay:
            return self.overlay[path]
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = self.texts.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        text = path.read_text(encoding="utf-8")
        self.reads += 1
        self.texts[path] = (stamp, text)
        return text

    def parse(self, text: str, file: str) -> ast.Module:
        known = self.parsed.get(file)
        if known is None or known[0] != text:
            self.parses += 1
            try:
                known = (text, parse(text, file))
            except SpecError as exc:
                known = (text, exc)
            self.parsed[file] = known
        if isinstance(known[1], SpecError):
            raise known[1]
        return known[1]


class _CachedLoader(_Loader):
    """`netdsl.language.program`'s loader reading and parsing through an `ImportCache`, and noting for each
    imported file the import statement of the main file that brought it in."""

    def __init__(self, cache: ImportCache):
        super().__init__(read=cache.read, parse_text=cache.parse)
        self.origins: dict[str, ast.Import] = {}
        self.origin: ast.Import | None = None

    def imported(self, imp: ast.Import, target: Path, chain: tuple[Path, ...]) -> None:
        if len(chain) == 1:  # an import of the main file
            self.origin = imp
        if self.origin is not None:
            self.origins[str(target)] = self.origin

    def module(self, text: str, file: str, chain: tuple[Path, ...]) -> ast.Module | None:
        # every file by its absolute path, as the editor names it (not relative to the server's folder)
        return super().module(text, str(Path(file).resolve()) if chain else file, chain)


def load(text: str, file: str, cache: ImportCache) -> tuple[Program, Mapping[str, ast.Import]]:
    """`netdsl.language.program.load_text` through the cache; also where each imported file came from."""
    loader = _CachedLoader(cache)
    main = loader.module(text, file, ())
    program = Program(
        main or ast.Module(file, loader.sources[file], (), ()),
        loader.definitions,
        loader.sources,
        tuple(loader.diagnostics),
        loader.functions,  # without them, every call of a `def` was an "unknown function" in the editor
    )
    return program, loader.origins


@dataclass(frozen=True)
class Use:
    """One elaboration of a piece of source: the layers it made (in graph order) in one network."""

    network: str
    graph: Graph
    layers: tuple[tuple[Node, Layer], ...]
    # a step a loop or a repeat elaborated again and again: each time's output, in order (else empty)
    iterations: tuple[tuple[Node, Layer], ...] = ()
    names: tuple[str, ...] = ()  # each iteration's name: its block instance or group, else its layer

    @property
    def output(self) -> tuple[Node, Layer]:
        return self.layers[-1]


@dataclass
class Analysis:
    file: str
    text: str  # normalized
    program: Program
    origins: Mapping[str, ast.Import]
    outcomes: dict[str, Outcome]
    diagnostics: tuple[Diagnostic, ...]  # every file's, deduplicated
    seconds: float
    _indexes: dict[int, _Index] = field(default_factory=dict, repr=False)
    _checked: dict[str, Checked | None] = field(default_factory=dict, repr=False)
    # a file of blocks: the analysis of the first workspace file whose network uses them (see `uses`)
    host: Analysis | None = field(default=None, repr=False)

    @property
    def module(self) -> ast.Module:
        return self.program.main

    @property
    def parsed(self) -> bool:
        """The document itself parsed (its AST can answer requests)."""
        return not any(
            d.span.file == self.file and d.message.startswith(("unexpected", "nesting"))
            for d in self.program.diagnostics
        ) and bool(self.module.definitions or self.module.imports)

    @cached_property
    def lines(self) -> Lines:
        return Lines.of(self.text)

    def local_diagnostics(self) -> list[Diagnostic]:
        """Every diagnostic placed in this document: one in an imported file at the import that brings it."""
        found = []
        for d in self.diagnostics:
            if d.span.file == self.file:
                found.append(d)
                continue
            origin = self.origins.get(d.span.file)
            at = origin.span if origin is not None else Span(self.file, 1, 1, 1, 1)
            found.append(Diagnostic(d.severity, f"{d.span}: {d.message}", at, d.hint))
        return list(dict.fromkeys(found))

    def checked(self, network: str) -> Checked | None:
        """The network's report; when errors stopped its check, the report of what could be shaped
        before and beside them (an unknown layer has shape ()): see `complete`."""
        if network not in self._checked:
            outcome = self.outcomes.get(network)
            found = None
            if outcome is not None:
                if outcome.checked is not None:
                    found = outcome.checked
                elif outcome.partial is not None:
                    found = analyze_partial(outcome.partial)
            self._checked[network] = found
        return self._checked[network]

    def complete(self, network: str) -> bool:
        outcome = self.outcomes.get(network)
        return outcome is not None and outcome.checked is not None

    def graphs(self) -> Iterator[tuple[str, Graph, tuple[Layer, ...]]]:
        for name in self.outcomes:
            checked = self.checked(name)
            if checked is not None:
                yield name, checked.graph, checked.layers

    def _index(self, graph: Graph) -> _Index:
        index = self._indexes.get(id(graph))
        if index is None:
            index = self._indexes[id(graph)] = _Index.of(graph)
        return index

    def uses(self, span: Span, definition: ast.Definition, loop: bool = False) -> list[Use]:
        """What the source at `span` (a step or a statement of `definition`) made, once per use:
        once a network for a network's own code, once per instance for a block's. `loop`: the
        step is a repeat or a for, whose groups (`layer1` ... `layer4`) count as its iterations."""
        found = []
        for network, graph, layers in self.graphs():
            index = self._index(graph)
            if definition.kind == "network":
                scopes: list[tuple[str, ...]] = [()] if network == definition.name else []
            else:
                scopes = [i.path for i in graph.instances if i.block == definition.name]
            written = [n for n in index.at_lines(index.nodes, span) if _within(graph.nodes[n].span, span)]
            inner = [i.path for i in index.at_lines(index.instances, span) if _within(i.span, span)]
            for scope in scopes:
                depth = len(scope)
                ids = {n for n in written if graph.nodes[n].scope[:depth] == scope}
                for path in inner:
                    if path[:depth] == scope:
                        ids.update(index.by_scope.get(path, ()))
                if ids:
                    made = tuple((graph.nodes[n], layers[n]) for n in sorted(ids))
                    again = (
                        _iterations(graph, span, scope, written, index.at_lines(index.instances, span))
                        if len(written) > 1 or inner
                        else []
                    )
                    if not again and loop:
                        again = _groups(graph, scope, sorted(ids))
                    outputs = tuple((graph.nodes[n], layers[n]) for n, _ in again)
                    found.append(Use(network, graph, made, outputs, tuple(name for _, name in again)))
        if not found and self.host is not None and definition.kind == "block":
            return self.host.uses(span, definition, loop)
        return found


def _iterations(
    graph: Graph, span: Span, scope: tuple[str, ...], written: list[int], instances: Iterator[Instance]
) -> list[tuple[int, str]]:
    """The output node (and name) of each time the step written at `span` was elaborated in `scope`
    (a block call: each instance it made; an op: its node in each iteration), when more than once."""
    depth = len(scope)
    outputs = {
        graph.outputs[".".join(i.path)]: ".".join(i.path)
        for i in instances
        if _same_place(i.span, span) and i.path[:depth] == scope and ".".join(i.path) in graph.outputs
    }
    if not outputs:
        last: dict[tuple[str, ...], int] = {}
        for n in written:
            node = graph.nodes[n]
            if _same_place(node.span, span) and node.scope[:depth] == scope:
                last[node.scope] = max(n, last.get(node.scope, n))
        outputs = {n: graph.nodes[n].name for n in last.values()}
    return sorted(outputs.items()) if len(outputs) > 1 else []


def _groups(graph: Graph, scope: tuple[str, ...], ids: list[int]) -> list[tuple[int, str]]:
    """The output (and name) of each group right below `scope` that the nodes `ids` fall in (a step
    inside a loop that makes a group each time: `layer1` ... `layer4`), when more than one."""
    depth = len(scope)
    last: dict[tuple[str, ...], int] = {}
    for n in ids:
        node = graph.nodes[n]
        if len(node.scope) > depth:
            group = node.scope[: depth + 1]
            last[group] = graph.outputs.get(".".join(group), n)
    return sorted((n, ".".join(group)) for group, n in last.items()) if len(last) > 1 else []


def _same_place(a: Span, b: Span) -> bool:
    return (a.file, a.line, a.column, a.end_line, a.end_column) == (b.file, b.line, b.column, b.end_line, b.end_column)


@dataclass(frozen=True)
class _Index:
    """A graph's nodes by the line they were written on and by every prefix of their scope, and its
    block instances by the line of their call: what `Analysis.uses` looks things up in."""

    nodes: Mapping[tuple[str, int], list[int]]
    instances: Mapping[tuple[str, int], list[Instance]]
    by_scope: Mapping[tuple[str, ...], list[int]]

    @classmethod
    def of(cls, graph: Graph) -> _Index:
        nodes: dict[tuple[str, int], list[int]] = {}
        by_scope: dict[tuple[str, ...], list[int]] = {}
        for node in graph.nodes:
            nodes.setdefault((node.span.file, node.span.line), []).append(node.id)
            for depth in range(1, len(node.scope) + 1):
                by_scope.setdefault(node.scope[:depth], []).append(node.id)
        instances: dict[tuple[str, int], list[Instance]] = {}
        for instance in graph.instances:
            instances.setdefault((instance.span.file, instance.span.line), []).append(instance)
        return cls(nodes, instances, by_scope)

    @staticmethod
    def at_lines(table: Mapping[tuple[str, int], list[T]], span: Span) -> Iterator[T]:
        for line in range(span.line, span.end_line + 1):
            yield from table.get((span.file, line), ())


def _within(inner: Span, outer: Span) -> bool:
    return (
        inner.file == outer.file
        and (outer.line, outer.column) <= (inner.line, inner.column)
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
    )


def analyze(text: str, file: str, cache: ImportCache) -> Analysis:
    """Load and check every network of a document (a file of blocks: its static checks)."""
    started = time.perf_counter()
    text = normalize_source(text)
    program, origins = load(text, file, cache)
    outcomes: dict[str, Outcome] = {}
    found: list[Diagnostic] = list(program.diagnostics)
    for name in program.networks() or [None]:
        try:
            outcome = check_program(program, name)
        except UsageError as exc:
            at = program.definitions[name].name_span if name in program.definitions else Span(file, 1, 1, 1, 1)
            found.append(warning(f"not checked: {exc}", at, "give every parameter of a network a default"))
            continue
        except RecursionError:
            found.append(error("this spec nests blocks or expressions too deeply to follow", Span(file, 1, 1, 1, 1)))
            continue
        outcomes[name or ""] = outcome
        found.extend(outcome.diagnostics)
    return Analysis(file, text, program, origins, outcomes, tuple(dict.fromkeys(found)), time.perf_counter() - started)
