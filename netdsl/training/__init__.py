"""Training in PyTorch: heads and their losses (`heads`), batches fed to the device (`feed`), the
training loop (`loop`), experiments over seeds (`experiment`); data sources live in `netdsl.data`.
Nothing here is imported by `netdsl check`; the names below load torch only when first used.

    import netdsl
    from netdsl.training import TrainConfig, load_data, train

    spec = netdsl.load("specs/lenet5.net")
    data = load_data("digits", spec.checked.input_shape, classes=10)
    result = train(spec, data, TrainConfig(data="digits", out="runs/api", epochs=5))
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {"load_data": "netdsl.data.sources", "DataError": "netdsl.data.sources",
            "train": "netdsl.training.loop", "TrainConfig": "netdsl.training.loop",
            "TrainError": "netdsl.training.loop", "Result": "netdsl.training.loop"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'netdsl.training' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
