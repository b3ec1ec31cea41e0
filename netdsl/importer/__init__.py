"""Import — a PyTorch module (torch.fx) → netdsl spec text.

Input: `path/to/file.py:Factory` or `package.module:Factory` (with `Factory(arg=value)`
literal arguments), or a module object. Output: spec text laid out by `netdsl.format`, whose
generated module has the source's state_dict keys, in the source's order, so that
`load_state_dict(strict=True)` takes the source's weights.

May import: api, backends, checker, format, language, core. torch is imported inside functions.
"""

from __future__ import annotations

from netdsl.importer.refusal import ImportRefused
from netdsl.importer.torch_import import from_torch, load_factory

__all__ = ["ImportRefused", "from_torch", "load_factory"]
