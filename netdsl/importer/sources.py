"""A source named on the command line → spec text: an `.onnx` file, or `FILE.py:Factory` /
`package.module:Factory(arg=value)` for a PyTorch module. Also its weights, for --weights-out."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from netdsl.importer.refusal import Imported, ImportRefused, UsageError

DEFAULT_INPUT = (3, 224, 224)


def is_import_source(path: str) -> bool:
    """Whether `path` names something to import rather than a .net file."""
    if path.lower().endswith(".onnx"):
        return True
    head, sep, tail = path.rpartition(":")
    if not sep or not tail or os.path.exists(path):
        return False
    # FILE.py:Factory, or package.module:Factory (a dotted name; SPEC.net:NETWORK is compare's)
    return head.endswith(".py") or (re.fullmatch(r"[A-Za-z_][\w.]*", head) is not None and not head.endswith(".net"))


def import_source(source: str, input_shape: tuple[int, ...] | None = None, name: str | None = None) -> Imported:
    """Spec text (and weights) for `source`; raises `UsageError` (exit 2) or `ImportRefused` (exit 1)."""
    if source.lower().endswith(".onnx"):
        from netdsl.importer.onnx_import import from_onnx_file

        return from_onnx_file(source, input_shape, name)
    from netdsl.importer.torch_import import from_torch, load_factory

    module, factory = load_factory(source)
    text = from_torch(module, input_shape or DEFAULT_INPUT, name or _network_name(module, factory), source)
    return Imported(text, {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})


def _network_name(module: Any, factory: str) -> str:
    name = factory if factory[:1].isupper() else type(module).__name__
    return name if name.isidentifier() else "Imported"


def import_program(source: str, input_shape: tuple[int, ...] | None) -> Any:
    """The `Program` of `source` imported in memory (for check, draw and compare)."""
    from netdsl.language.program import load_text

    text = import_source(source, input_shape).text
    return load_text(text, str(Path(source.rpartition(":")[0] or source).with_suffix(".net")))


__all__ = ["ImportRefused", "Imported", "UsageError", "import_program", "import_source", "is_import_source"]
