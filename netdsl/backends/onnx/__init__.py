"""Backend — ONNX: a checked graph + weights → an ONNX model, built with onnx.helper.

`emit` builds the inference and training graphs and writes them; `lowerings` is the table of
ONNX nodes for every op. onnx is imported inside the functions that need it.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = ("DEFAULT_OPSET", "MIN_OPSET", "PROTOBUF_LIMIT", "WeightsError", "emit_onnx", "save_model")
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:  # PEP 562: `emit` (and through it onnx) loads when a name is used
    if name not in _EXPORTS:
        raise AttributeError(f"module 'netdsl.backends.onnx' has no attribute '{name}'")
    from netdsl.backends.onnx import emit

    return getattr(emit, name)
