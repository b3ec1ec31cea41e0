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

__version__ = "0.1.0"

if TYPE_CHECKING:
    from netdsl.api import Spec, load
    from netdsl.check import Outcome, check_file, check_text
    from netdsl.diagnostics import SpecError
    from netdsl.elaborate import UsageError

_EXPORTS = {
    "Spec": "netdsl.api",
    "load": "netdsl.api",
    "Outcome": "netdsl.check",
    "check_file": "netdsl.check",
    "check_text": "netdsl.check",
    "SpecError": "netdsl.diagnostics",
    "UsageError": "netdsl.elaborate",
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
