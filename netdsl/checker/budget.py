"""What a network would allocate, judged before anything is: `oversize(checked)`.

`netdsl check` reports any size, however large, analytically. `build`, `infer`, `train` and
`experiment` make the weights (and run samples through them), so they ask here first and
refuse a network that cannot be allocated, rather than failing inside torch with an
allocation error or C++ frames. The rule:

- a layer's parameters, and a layer's output for one sample, hold at most 2^31 - 1 values:
  past that, torch and onnxruntime kernels that index with 32 bits fail, and an ONNX model
  cannot hold the tensor in one protobuf message;
- all parameters together, as float32, fit in this machine's memory.

Pure arithmetic over the `Checked` report; the numbers may be arbitrarily large integers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

from netdsl.checker.analyze import Checked

TENSOR_LIMIT = 2**31 - 1
FLOAT32 = 4
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


@dataclass(frozen=True)
class Oversize:
    """The first thing too big to allocate: whose (a layer, or the network for the total), how
    many values, and the limit it passes."""

    owner: str
    count: int
    what: str
    limit: str

    def __str__(self) -> str:
        size = size_text(FLOAT32 * self.count)
        return f"{self.owner}: {scientific(self.count)} {self.what}, {size} as float32; {self.limit}"


def oversize(checked: Checked, memory: int | None = None) -> Oversize | None:
    """The first layer (in graph order) whose parameters or per-sample output pass
    `TENSOR_LIMIT`, else the network when its float32 parameters pass `memory` bytes (default:
    this machine's physical memory; unknown → not judged), else None."""
    limit = f"netdsl builds at most 2^31-1 ({scientific(TENSOR_LIMIT)}) per layer, the 32-bit index limit of kernels"
    for layer in checked.layers:
        if layer.params > TENSOR_LIMIT:
            return Oversize(layer.name, layer.params, "parameters", limit)
        if layer.activations > TENSOR_LIMIT:
            return Oversize(layer.name, layer.activations, "values per sample", limit)
    memory = machine_memory() if memory is None else memory
    total = checked.total_params
    if memory is not None and FLOAT32 * total > memory:
        return Oversize(
            checked.graph.network, total, "parameters in all", f"more than this machine's {size_text(memory)} of memory"
        )
    return None


def machine_memory() -> int | None:
    """Physical memory in bytes, where the system says (None elsewhere)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def scientific(count: int) -> str:
    """1.08e13; exact below 10,000. Decimal, since a count may be past a float's range."""
    return f"{count:,}" if count < 10_000 else f"{Decimal(count):.2e}".replace("e+", "e")


def size_text(count: int) -> str:
    """Bytes in binary units, 1,024 at a time, up to YiB."""
    size, unit = Decimal(count), _UNITS[0]
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            break
        size /= 1024
    if unit == _UNITS[0]:
        return f"{count:,} B"
    return f"{size:,.1f} {unit}" if size < 10**6 else f"{size:.2e} {unit}".replace("e+", "e")
