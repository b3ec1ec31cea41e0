"""netdsl — a declarative architecture language and compiler for convolutional networks.

Pipeline: text → `parser.parse` (AST) → `program.load` (imports) → `elaborate` (IR graph)
→ `analyze` (shapes, parameters, MACs, receptive fields) → reports and backends.
This package's front end imports neither torch nor onnx nor onnxruntime.

The names below are imported when first used: `netdsl check` (which runs `import netdsl`
first) then loads neither backend's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netdsl.api import Spec, load
    from netdsl.checker.check import Outcome, check_file, check_text
    from netdsl.checker.elaborate import UsageError
    from netdsl.core.diagnostics import SpecError
    from netdsl.core.version import __version__

_EXPORTS = {
    "Spec": "netdsl.api",
    "load": "netdsl.api",
    "Outcome": "netdsl.checker.check",
    "check_file": "netdsl.checker.check",
    "check_text": "netdsl.checker.check",
    "SpecError": "netdsl.core.diagnostics",
    "UsageError": "netdsl.checker.elaborate",
    "__version__": "netdsl.core.version",
}

__all__ = ["Outcome", "Spec", "SpecError", "UsageError", "__version__", "check_file", "check_text", "load"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'netdsl' has no attribute '{name}'")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # once found, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
