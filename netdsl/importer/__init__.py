"""Import — a PyTorch module (torch.fx) → netdsl spec text.

Input: `path/to/file.py:Factory` or `package.module:Factory` (with `Factory(arg=value)`
literal arguments), or a module object. Output: spec text laid out by `netdsl.format`, whose
generated module has the source's state_dict keys, in the source's order, so that
`load_state_dict(strict=True)` takes the source's weights.

May import: api, backends, checker, format, language, core. torch is imported inside functions.
"""

from __future__ import annotations

from typing import Any

from netdsl.importer.refusal import ImportRefused, UsageError

__all__ = ["ImportRefused", "UsageError", "from_onnx", "from_torch", "load_factory"]


def __getattr__(name: str) -> Any:
    """The importers, loaded when first used (`netdsl check x.net` loads the refusal types only)."""
    if name in ("from_torch", "load_factory"):
        from netdsl.importer import torch_import

        return getattr(torch_import, name)
    if name == "from_onnx":
        from netdsl.importer import onnx_import

        return onnx_import.from_onnx
    raise AttributeError(name)
