"""`paused_gc()`: no cyclic garbage collection while a stage builds many small objects.

Parsing and elaboration make tens of thousands of acyclic objects; CPython's collector
would walk the whole growing heap again and again, making a 10,000-layer spec cost more
per layer than a 1,000-layer one. Reference counting still frees everything it can.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
