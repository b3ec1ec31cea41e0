"""The Python API: `netdsl.load(spec, **overrides)` → `Spec`, whose `to_torch()` is the module.

`to_torch()` executes the very source that `netdsl build --target torch` writes (one code
path for the file and the module in memory, as torch.fx does). torch is imported only there.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.backends.onnx.emit import WeightsError, WeightsFileError
from netdsl.backends.pytorch.emit import TorchSource, emit_torch, param_name
from netdsl.checker.analyze import Checked
from netdsl.checker.check import check_program
from netdsl.core.diagnostics import SpecError
from netdsl.language.program import Program, load_text
from netdsl.language.program import load as load_file

if TYPE_CHECKING:
    import numpy as np
    import onnx
    from torch import nn

    from netdsl.backends.onnx.emit import OnnxParts

Weights = str | os.PathLike[str] | Mapping[str, Any] | None


@dataclass(frozen=True)
class Spec:
    """One network of a spec, checked, with its parameter overrides applied."""

    program: Program
    checked: Checked
    overrides: dict[str, Any]
    input_shape: tuple[int, ...] | None

    @property
    def network(self) -> str:
        return self.checked.graph.network

    @cached_property
    def torch_source(self) -> TorchSource:
        return emit_torch(self.program, self.checked, self.input_shape, self.overrides)

    def to_torch(self) -> nn.Module:
        """A new `nn.Module` of this network (freshly initialized weights)."""
        namespace = _execute(self.torch_source.text, self.network)
        module: nn.Module = namespace[self.torch_source.class_name](
            **{param_name(k): v for k, v in self.overrides.items()})
        return module

    def weights(self, weights: Weights = None, seed: int = 0) -> dict[str, np.ndarray]:
        """Float32 arrays by state_dict key: from a file (a state_dict saved with torch.save, or a
        netdsl checkpoint holding one under "model"), from a mapping, or — without weights — the
        PyTorch module's own initialization under `seed`."""
        import torch

        if weights is None:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                state: Mapping[str, Any] = self.to_torch().state_dict()
        elif isinstance(weights, Mapping):
            state = weights
        else:
            state = read_state_dict(weights)
        return {k: _array(v) for k, v in state.items()}

    def to_onnx(self, weights: Weights = None, seed: int = 0, opset: int | None = None,
                graph: str = "inference", target: str = "cpu") -> onnx.ModelProto:
        """The ONNX model, emitted from the checked graph (see `weights` for where weights come from):
        the inference graph (batchnorms folded into their convs, dropout left out) or, with
        graph="training", every layer; at netdsl.backends.onnx.emit.DEFAULT_OPSET unless `opset` is given;
        `target` ("cpu" or "cuda"): the provider whose faster lowerings it takes (netdsl.for)."""
        return self.onnx_parts(weights, seed, opset, graph=graph, target=target).proto()

    def onnx_parts(self, weights: Weights = None, seed: int = 0, opset: int | None = None,
                   metadata: Mapping[str, str] | None = None, graph: str = "inference",
                   target: str = "cpu") -> OnnxParts:
        """The ONNX model as skeleton and weights, whose `save(path)` streams it to disk;
        `metadata`: extra model properties."""
        from netdsl.backends.onnx.emit import DEFAULT_OPSET, emit_onnx_parts

        path, trained_for = None, None
        if weights is not None and not isinstance(weights, Mapping):  # a file: its normalization comes along
            path = weights
            weights, found, trained_for = _read_weights(path)
            metadata = found | dict(metadata or {})
        try:
            return emit_onnx_parts(self.checked, self.weights(weights, seed), opset or DEFAULT_OPSET,
                                   self.program.sources, self.program.main.file, metadata, graph, target)
        except WeightsFileError:
            raise
        except WeightsError as exc:
            if path is None:
                raise
            if trained_for and trained_for != self.network:
                raise WeightsError(f"'{path}' is a netdsl checkpoint of {trained_for}, not of {self.network}: "
                                   f"{exc}") from None
            kind = "a netdsl checkpoint" if trained_for else "a state_dict"
            raise WeightsError(f"'{path}' is {kind} that does not fit {self.network}: {exc}") from None


def load(spec: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None, /, *,
         network: str | None = None, input_shape: tuple[int, ...] | None = None, **more: Any) -> Spec:
    """Check a spec (a path, or spec text) and return it; raises `SpecError` with every
    diagnostic when it has errors, `UsageError` for an unknown network or parameter or a bad
    input shape. Parameters are overridden by keyword (`classes=26`), or through the mapping
    `overrides` for any name, `network` and `input_shape` included."""
    program = _program(spec)
    values = dict(overrides or {}) | more
    outcome = check_program(program, network, values, input_shape)
    if outcome.checked is None or not outcome.ok:
        raise SpecError(outcome.diagnostics)
    return Spec(program, outcome.checked, values, tuple(input_shape) if input_shape else None)


def read_state_dict(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """A state_dict from a file saved with torch.save (tensors only: nothing is unpickled blindly)."""
    return read_weights(path)[0]


# what an ONNX model says of its input normalization (netdsl.runtime.session reads it back)
UNNORMALIZED = {"netdsl.normalize": "unknown"}


def read_weights(path: str | os.PathLike[str]) -> tuple[Mapping[str, Any], dict[str, str]]:
    """The state_dict of a weights file, and ONNX metadata for its input normalization: a netdsl
    checkpoint's mean and std (images are read as in training), or, for a bare state_dict,
    that it is unknown (infer then warns when it reads images)."""
    return _read_weights(path)[:2]


def _read_weights(path: str | os.PathLike[str]) -> tuple[Mapping[str, Any], dict[str, str], str | None]:
    """As `read_weights`, and the network a netdsl checkpoint was trained for (None for a bare state_dict)."""
    state, checkpoint = _load_weights(path)
    network = checkpoint.get("network") if checkpoint else None
    network = network if isinstance(network, str) else None
    normalize = checkpoint.get("normalize") if checkpoint else None
    if not isinstance(normalize, Mapping) or not {"mean", "std"} <= set(normalize):
        return state, dict(UNNORMALIZED), network
    metadata = {"netdsl.mean": ",".join(f"{float(m):.9g}" for m in normalize["mean"]),
                "netdsl.std": ",".join(f"{float(s):.9g}" for s in normalize["std"])}
    if isinstance(checkpoint.get("source"), str):
        metadata["netdsl.trained_on"] = checkpoint["source"]
    return state, metadata, network


def _load_weights(path: str | os.PathLike[str]) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """The state_dict in a file, and the netdsl checkpoint around it (None for a bare state_dict)."""
    import torch

    try:
        loaded = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsFileError(f"cannot read weights '{path}': no such file") from None
    except IsADirectoryError:
        raise WeightsFileError(f"cannot read weights '{path}': it is a folder") from None
    except Exception:  # noqa: BLE001 - a corrupt or foreign file: say what it is, never torch's text
        raise WeightsFileError(f"cannot read weights '{path}': {_what_file(Path(path))}") from None
    checkpoint = None
    if isinstance(loaded, Mapping) and isinstance(loaded.get("model"), Mapping):
        checkpoint, loaded = loaded, loaded["model"]  # a netdsl checkpoint
    if not isinstance(loaded, Mapping):
        raise WeightsFileError(f"'{path}' holds a {type(loaded).__name__}, not a state_dict")
    return loaded, checkpoint


_WEIGHTS_HINT = "give a state_dict saved with torch.save or a checkpoint of netdsl train (runs/NAME/best.pt)"


def _what_file(path: Path) -> str:
    """What a file torch.load cannot read is, said for a user."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not head:
        return f"the file is empty; {_WEIGHTS_HINT}"
    if _is_onnx(path, head):
        return f"it is an ONNX model, not PyTorch weights; run it with netdsl infer {path} --input IMAGE"
    if b"\0" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            first = text.splitlines()[0][:40] if text.strip() else ""
            return f"it is a text file (it begins '{first}'), not weights; {_WEIGHTS_HINT}"
    if head.startswith(b"PK"):
        return f"a zip archive torch cannot read as tensors (damaged, or objects other than tensors); {_WEIGHTS_HINT}"
    return f"it is not a file saved with torch.save; {_WEIGHTS_HINT}"


def _is_onnx(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".onnx":
        return True
    if not head.startswith(b"\x08"):  # ModelProto's first field: ir_version
        return False
    try:
        import onnx

        onnx.load_model(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - not a model
        return False
    return True


def _array(value: Any) -> np.ndarray:
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _program(spec: str | os.PathLike[str]) -> Program:
    """A path is a path; a string is spec text when it is no existing file and reads as code
    (it has a brace, a line break, or starts with a keyword or a comment)."""
    if isinstance(spec, os.PathLike):
        return load_file(Path(spec))
    if not isinstance(spec, str):
        raise TypeError(f"netdsl.load takes a path or spec text, not {type(spec).__name__}")
    code = spec.lstrip("\ufeff \t\r\n")
    if _is_file(spec):
        return load_file(Path(spec))
    if "{" in spec or "\n" in spec or re.match(r"(network|block|import)\b|#", code):
        return load_text(spec, "<string>")
    return load_file(Path(spec))


def _is_file(spec: str) -> bool:
    try:
        return "\0" not in spec and Path(spec).is_file()
    except OSError:  # a name too long for the file system: spec text
        return False


_COUNTER = iter(range(1, 1 << 62))


def _execute(source: str, network: str) -> dict[str, Any]:
    """Run generated source as a module of its own (so its classes pickle and show their lines)."""
    name = f"netdsl_generated.{re.sub(r'[^0-9A-Za-z_]', '_', network)}_{next(_COUNTER)}"
    filename = f"<netdsl generated {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # our own generated code, never spec text
    return module.__dict__
