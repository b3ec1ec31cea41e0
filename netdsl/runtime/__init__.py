"""Runtime — onnxruntime: sessions that say which provider runs them (`session`), inputs read from
images or .npy files and outputs read as classes or ranks, and static int8 quantization
(`quantize`).

In: an ONNX model (a file, or one built from a `netdsl.api.Spec`). Out: numpy outputs.
May import: `netdsl.api` and everything below it, `netdsl.data`; onnxruntime inside functions.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "open_session": "netdsl.runtime.session",
    "Session": "netdsl.runtime.session",
    "RuntimeUsageError": "netdsl.runtime.session",
    "quantize_spec": "netdsl.runtime.quantize",
    "QuantizeError": "netdsl.runtime.quantize",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # PEP 562: onnxruntime loads only when a name is used
    if name not in _EXPORTS:
        raise AttributeError(f"module 'netdsl.runtime' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
