"""Stage 1b — load: a spec file and everything it imports → `Program`.

Reads and parses each file once, resolves `import "path"` relative to the importing file,
rejects import cycles and duplicate definitions, and keeps every source text so that a
diagnostic anywhere can show its line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netdsl.core.diagnostics import Diagnostic, Span, SpecError, error, normalize_source
from netdsl.language import ast
from netdsl.language.parser import parse

MAX_IMPORT_DEPTH = 64  # a chain of imports longer than this is refused (each level is a stack frame)


@dataclass(frozen=True)
class Program:
    main: ast.Module
    definitions: Mapping[str, ast.Definition]
    sources: Mapping[str, str]
    diagnostics: tuple[Diagnostic, ...]
    functions: Mapping[str, ast.Function] = field(default_factory=dict)  # `def`s, by name

    def networks(self) -> list[str]:
        """The networks of the main file, in the order they are written."""
        return [d.name for d in self.main.definitions if d.kind == "network"]


def load(path: str | Path) -> Program:
    """Load a spec file and its imports; raises `OSError` if the file itself cannot be read."""
    text = Path(path).read_text(encoding="utf-8")
    return load_text(text, str(path))


def load_text(text: str, file: str = "<string>") -> Program:
    """Load spec text (imports resolve relative to `file`'s folder)."""
    loader = _Loader()
    main = loader.module(text, file, ())
    return Program(
        main or ast.Module(file, loader.sources[file], (), ()),
        loader.definitions,
        loader.sources,
        tuple(loader.diagnostics),
        loader.functions,
    )


def _read_utf8(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class _Loader:
    """Reads a file and its imports. `read` and `parse_text` are where an imported file's text and
    AST come from (the language server reads and parses them through its caches); `imported` is
    told of each file an import brings in."""

    def __init__(self, read: Callable[[Path], str] = _read_utf8,
                 parse_text: Callable[[str, str], ast.Module] = parse) -> None:
        self.read, self.parse_text = read, parse_text
        self.sources: dict[str, str] = {}
        self.definitions: dict[str, ast.Definition] = {}
        self.functions: dict[str, ast.Function] = {}
        self.diagnostics: list[Diagnostic] = []
        self.done: set[Path] = set()

    def module(self, text: str, file: str, chain: tuple[Path, ...]) -> ast.Module | None:
        text = normalize_source(text)
        self.sources[file] = text
        try:
            module = self.parse_text(text, file) if chain else parse(text, file)  # the main file: always anew
        except SpecError as exc:
            self.diagnostics.extend(exc.diagnostics)
            return None
        here = _key(file)
        for imp in module.imports:
            self.import_(imp, here, chain + (here,))
        for definition in module.definitions:
            self.define(definition)
        for function in module.functions:
            self.define(function)
        return module

    def import_(self, imp: ast.Import, here: Path, chain: tuple[Path, ...]) -> None:
        if "\0" in imp.path:
            self.diagnostics.append(error(f"cannot import {imp.path!r}: the path holds a NUL character", imp.span))
            return
        if len(chain) > MAX_IMPORT_DEPTH:
            self.diagnostics.append(error(f"imports nest more than {MAX_IMPORT_DEPTH} files deep", imp.span))
            return
        target = (here.parent / imp.path).resolve()
        if target in chain:
            cycle = " → ".join(p.name for p in chain[chain.index(target):] + (target,))
            self.diagnostics.append(error(f"import cycle: {cycle}", imp.span))
            return
        if target in self.done:
            return
        self.done.add(target)
        try:
            text = self.read(target)
        except UnicodeDecodeError:
            self.diagnostics.append(error(f"cannot import '{imp.path}': it is not a text spec (not UTF-8)",
                                          imp.span))
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.diagnostics.append(error(f"cannot import '{imp.path}': {reason.lower()}", imp.span))
            return
        self.imported(imp, target, chain)
        self.module(text, _display(target), chain)

    def imported(self, imp: ast.Import, target: Path, chain: tuple[Path, ...]) -> None:
        """Called for each file an import brings in, before it is read (`chain`: the importing files)."""

    def define(self, definition: ast.Definition | ast.Function) -> None:
        earlier = self.definitions.get(definition.name) or self.functions.get(definition.name)
        if earlier is not None:
            self.diagnostics.append(error(
                f"'{definition.name}' is already defined at {earlier.name_span}", definition.name_span))
            return
        if isinstance(definition, ast.Function):
            self.functions[definition.name] = definition
        else:
            self.definitions[definition.name] = definition


def _key(file: str) -> Path:
    return Path(file).resolve() if not file.startswith("<") else Path.cwd() / "<string>"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["Program", "load", "load_text", "Span"]
