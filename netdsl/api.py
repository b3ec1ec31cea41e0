"""The Python API: `netdsl.load(spec, **overrides)` → `Spec`, whose `to_torch()` is the module.

`to_torch()` executes the very source that `netdsl build --target torch` writes (one code
path for the file and the module in memory, as torch.fx does). torch is imported only there.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import types
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.analyze import Checked
from netdsl.backends.pytorch import TorchSource, emit_torch, param_name
from netdsl.check import check_program
from netdsl.diagnostics import SpecError
from netdsl.program import Program, load_text
from netdsl.program import load as load_file

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Spec:
    """One network of a spec, checked, with its parameter overrides applied."""

    program: Program
    checked: Checked
    overrides: dict[str, Any]
    input_shape: tuple[int, ...] | None

    @property
    def network(self) -> str:
        return self.checked.graph.network

    @cached_property
    def torch_source(self) -> TorchSource:
        return emit_torch(self.program, self.checked, self.input_shape, self.overrides)

    def to_torch(self) -> nn.Module:
        """A new `nn.Module` of this network (freshly initialized weights)."""
        namespace = _execute(self.torch_source.text, self.network)
        module: nn.Module = namespace[self.torch_source.class_name](
            **{param_name(k): v for k, v in self.overrides.items()})
        return module


def load(spec: str | os.PathLike[str], *, network: str | None = None,
         input_shape: tuple[int, ...] | None = None, **overrides: Any) -> Spec:
    """Check a spec (a path, or spec text) and return it; raises `SpecError` with every
    diagnostic when it has errors, `UsageError` for an unknown network or parameter."""
    program = _program(spec)
    outcome = check_program(program, network, overrides, input_shape)
    if outcome.checked is None or not outcome.ok:
        raise SpecError(outcome.diagnostics)
    return Spec(program, outcome.checked, dict(overrides), tuple(input_shape) if input_shape else None)


def _program(spec: str | os.PathLike[str]) -> Program:
    if isinstance(spec, os.PathLike) or ("{" not in spec and "\n" not in spec):
        return load_file(Path(spec))
    return load_text(spec, "<string>")


_COUNTER = iter(range(1, 1 << 62))


def _execute(source: str, network: str) -> dict[str, Any]:
    """Run generated source as a module of its own (so its classes pickle and show their lines)."""
    name = f"netdsl_generated.{re.sub(r'[^0-9A-Za-z_]', '_', network)}_{next(_COUNTER)}"
    filename = f"<netdsl generated {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # our own generated code, never spec text
    return module.__dict__
