"""The front end in one call: spec (file or text) → `Checked`, or the diagnostics that stop it.

parse → load imports → elaborate → analyze. Imports nothing heavy: `netdsl check` stays
free of torch, onnx and onnxruntime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netdsl.checker.analyze import Checked, analyze
from netdsl.checker.elaborate import elaborate
from netdsl.checker.ir import Graph
from netdsl.core.diagnostics import Diagnostic, SpecError, has_errors
from netdsl.core.gcpause import paused_gc
from netdsl.language.program import Program, load, load_text


@dataclass(frozen=True)
class Outcome:
    """What checking gave: the report (None when errors stopped it), every diagnostic, the sources."""

    checked: Checked | None
    diagnostics: tuple[Diagnostic, ...]
    program: Program
    partial: Graph | None = None  # when errors stopped the check: the graph as far as it was shaped

    @property
    def ok(self) -> bool:
        """No errors: a clean network, or a file of blocks whose static checks pass."""
        return not has_errors(self.diagnostics)


def check_program(
    program: Program,
    network: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    input_shape: Sequence[int] | None = None,
) -> Outcome:
    """Elaborate and analyze one network of a loaded program; raises only `UsageError`."""
    with paused_gc():
        try:
            graph = elaborate(program, network, overrides, input_shape)
        except SpecError as exc:
            partial = exc.partial if isinstance(exc.partial, Graph) else None
            return Outcome(None, exc.diagnostics, program, partial)
        checked = analyze(graph)
    return Outcome(checked, checked.diagnostics, program)


def check_file(path: str | Path, **options: Any) -> Outcome:
    return check_program(load(path), **options)


def check_text(text: str, file: str = "<string>", **options: Any) -> Outcome:
    return check_program(load_text(text, file), **options)
