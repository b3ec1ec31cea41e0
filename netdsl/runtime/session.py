"""Inference through onnxruntime: sessions that say which provider really runs, inputs read
from .npy files or images, and outputs read as classes or ordinal ranks.

onnxruntime-gpu lists the CUDA provider even where its libraries cannot load, then falls back
to the CPU while logging two red lines; here its own log is silenced, the provider is decided
from the session's `get_providers()` after it is made, and one plain line says which ran.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.data.images import IMAGE_SUFFIXES

if TYPE_CHECKING:
    import numpy as np
    import onnx

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
# The newest opset whose ops onnxruntime's CUDA provider all runs: onnxruntime-gpu 1.31.1 has no
# MaxPool-22 kernel (measured on an H200), so from opset 22 on the max pooling runs on the CPU.
CUDA_MAX_OPSET = 21


class RuntimeUsageError(Exception):
    """Inputs or options that cannot run (exit status 2 on the command line)."""


@functools.lru_cache(maxsize=1)
def max_opset() -> int:
    """The newest ONNX opset that the installed onnxruntime runs (probed once per process)."""
    import onnx
    import onnxruntime as ort

    from netdsl.backends.onnx.emit import MIN_OPSET

    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    for opset in range(onnx.defs.onnx_opset_version(), MIN_OPSET - 1, -1):
        opsets = [helper.make_opsetid("", opset)]
        model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
        try:
            ort.InferenceSession(model.SerializeToString(), _quiet_options(), providers=[CPU])
        except Exception:  # noqa: BLE001 - an opset too new for this onnxruntime: try the one before
            continue
        return opset
    raise RuntimeUsageError(f"the installed onnxruntime runs no opset from {MIN_OPSET} on")


def check_opset(opset: int) -> str | None:
    """Validate an opset asked for on the command line (build, train and experiment alike):
    `RuntimeUsageError` outside MIN_OPSET .. the newest the installed onnx knows; a warning
    (the model is written all the same) when the installed onnxruntime cannot run it."""
    import onnx
    import onnxruntime as ort

    from netdsl.backends.onnx.emit import DEFAULT_OPSET, MIN_OPSET

    newest, runs = onnx.defs.onnx_opset_version(), max_opset()
    if not MIN_OPSET <= opset <= newest:
        raise RuntimeUsageError(
            f"--opset {opset}: netdsl writes ONNX opsets {MIN_OPSET} to {newest} (the newest the "
            f"installed onnx {onnx.__version__} knows); the installed onnxruntime runs up to "
            f"{runs}; the default is {DEFAULT_OPSET}"
        )
    if opset > runs:
        return (
            f"--opset {opset}: the installed onnxruntime {ort.__version__} runs opsets up to {runs}; the model is "
            f"written, but cannot be run here"
        )
    return None


def cuda_opset_warning(opset: int | None) -> str | None:
    """A line for the user when a model built for CUDA at `opset` would run some nodes on the CPU."""
    if opset is None or opset <= CUDA_MAX_OPSET:
        return None
    return (
        f"--opset {opset}: onnxruntime's CUDA provider has no kernels for some ops of opset {CUDA_MAX_OPSET + 1} and "
        f"later (MaxPool-22): they run on the CPU, with copies around them; --opset {CUDA_MAX_OPSET} or lower keeps "
        f"every node on the GPU"
    )


def node_placement(session: Any) -> list[tuple[str, str, str]]:
    """(provider, op type, node name) of every node of the session's optimized graph, as
    onnxruntime assigned them (recorded when the session was made with `_quiet_options(True)`),
    the copies it inserts between providers left out."""
    return [
        (subgraph.ep_name, node.op_type, node.name)
        for subgraph in session.get_provider_graph_assignment_info()
        for node in subgraph.get_nodes()
        if not node.op_type.startswith("Memcpy")
    ]


def placement_notice(placement: list[tuple[str, str, str]], opset: int) -> str | None:
    """One line when a CUDA session left nodes on the CPU: how many, which ops and why, and the
    opset that keeps them on the GPU where a newer op version is the cause. None when all run on CUDA."""
    import onnx

    from netdsl.backends.onnx.emit import MIN_OPSET

    on_cpu = [op for provider, op, _ in placement if provider == CPU]
    if not on_cpu:
        return None
    counts: dict[str, int] = {}
    for op in on_cpu:
        counts[op] = counts.get(op, 0) + 1
    newer, kept = [], []
    lowest = None
    for op, n in counts.items():
        try:
            since = onnx.defs.get_schema(op, opset).since_version
        except Exception:  # noqa: BLE001 - a contrib op (com.microsoft): no opset to change
            since = 0
        times = f" ({n} nodes)" if n > 1 else ""
        if since > CUDA_MAX_OPSET and since - 1 >= MIN_OPSET:
            newer.append(f"{op}-{since} has no CUDA kernel{times}")
            lowest = since - 1 if lowest is None else min(lowest, since - 1)
        else:
            kept.append(f"{op}{times}")
    parts = newer + ([f"onnxruntime keeps {', '.join(kept)} there"] if kept else [])
    advice = f"; build with --opset {lowest} or lower" if lowest is not None else ""
    return f"{len(on_cpu)} of {len(placement)} nodes run on the CPU: {', '.join(parts)}{advice}"


def _quiet_options(record_placement: bool = False) -> Any:
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # FATAL only: provider load failures are said our way
    options = ort.SessionOptions()
    options.log_severity_level = 4
    if record_placement:
        options.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    return options


@dataclass
class Session:
    """An onnxruntime session of a netdsl model, and what it needs to be read."""

    session: Any
    provider: str  # the provider that really runs
    notice: str | None  # one line for the user when the choice was not theirs (fallback to the CPU)
    input_name: str
    input_shape: tuple[int, ...]
    head: str
    # the per-channel (mean, std) that training normalized its images with, if it was trained
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    # its weights came from a bare state_dict, which does not say how images were normalized
    normalize_unknown: bool = False
    # on CUDA: one line when some nodes run on the CPU all the same (how many, why), else None
    placement: str | None = None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for `batch`, as numpy. On CUDA through I/O binding: the input is
        copied to the GPU once, the output back once."""
        import numpy as np

        check_batch(batch, self.input_shape)
        if self.provider == CUDA:
            return np.asarray(self.bound_run(batch, "cuda", keep_output=False))
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(batch)})
        return np.asarray(outputs[0])

    def run_on_device(self, batch: np.ndarray) -> Any:
        """The output left where the session computed it (an onnxruntime `OrtValue`: on the GPU
        for a CUDA session), for a caller that feeds it on without a copy back; `.numpy()` reads it."""
        check_batch(batch, self.input_shape)
        return self.bound_run(batch, "cuda" if self.provider == CUDA else "cpu", keep_output=True)

    def bound_run(self, batch: np.ndarray, device: str, keep_output: bool) -> Any:
        """One run through onnxruntime's I/O binding on `device` ("cuda" or "cpu"): the input
        copied there once; the output left there (an OrtValue) or copied to numpy."""
        import numpy as np
        import onnxruntime as ort

        binding = self.session.io_binding()
        value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch), device, 0)
        binding.bind_ortvalue_input(self.input_name, value)
        output = self.session.get_outputs()[0].name
        binding.bind_output(output, device if keep_output else "cpu")
        self.session.run_with_iobinding(binding)
        if keep_output:
            return binding.get_outputs()[0]
        return binding.copy_outputs_to_cpu()[0]


def open_session(model: onnx.ModelProto | bytes | str | Path, provider: str = "auto") -> Session:
    """A session on the best provider allowed: `auto` (CUDA where it works, else the CPU),
    `cuda` (an error if CUDA cannot run) or `cpu`."""
    import onnx
    import onnxruntime as ort

    shown = "the model" if isinstance(model, (bytes, onnx.ModelProto)) else f"'{model}'"
    try:
        if isinstance(model, onnx.ModelProto):
            proto, source = model, model.SerializeToString()
        elif isinstance(model, bytes):
            proto, source = onnx.load_model_from_string(model), model
        else:
            proto, source = onnx.load(str(model), load_external_data=False), str(model)
    except FileNotFoundError:
        raise RuntimeUsageError(f"cannot read {shown}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and the like: not an ONNX model
        raise RuntimeUsageError(f"cannot read {shown} as an ONNX model: {type(exc).__name__}") from None
    available = ort.get_available_providers()
    wants_cuda = provider in ("auto", "cuda") and CUDA in available
    if provider == "cuda" and not wants_cuda:
        raise RuntimeUsageError(
            "--provider cuda: this onnxruntime has no CUDA provider (install netdsl[cuda] "
            "on a machine with an NVIDIA GPU)"
        )
    if wants_cuda:
        _preload_cuda(ort)
    try:
        session = ort.InferenceSession(
            source, _quiet_options(record_placement=wants_cuda), providers=[CUDA, CPU] if wants_cuda else [CPU]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime refuses the model: say why, plainly
        raise RuntimeUsageError(f"onnxruntime cannot load {shown}: {str(exc).splitlines()[0][:300]}") from None
    actual = session.get_providers()[0]
    notice = None
    if provider == "cuda" and actual != CUDA:
        raise RuntimeUsageError(
            "--provider cuda: the CUDA provider could not start (no usable GPU, or the CUDA "
            "13 / cuDNN 9 libraries are missing: pip install 'netdsl[cuda]')"
        )
    if provider == "auto" and actual != CUDA:
        why = "the CUDA provider could not start" if wants_cuda else "this onnxruntime has no CUDA provider"
        notice = f"running on the CPU: {why}"
    meta = {p.key: p.value for p in proto.metadata_props}
    graph_input = proto.graph.input[0]
    dims = [d.dim_value for d in graph_input.type.tensor_type.shape.dim][1:]
    shape = (
        tuple(int(d) for d in meta["netdsl.input_shape"].split(",")) if "netdsl.input_shape" in meta else (tuple(dims))
    )
    normalize = read_normalization(meta, shown)
    unknown = normalize is None and meta.get("netdsl.normalize") == "unknown"
    placement = None
    if actual == CUDA:
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        placement = placement_notice(node_placement(session), opset)
    return Session(
        session,
        actual,
        notice,
        graph_input.name,
        shape,
        meta.get("netdsl.head", "logits"),
        normalize,
        unknown,
        placement,
    )


def read_normalization(
    meta: Mapping[str, str], shown: str = "the model"
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The per-channel (mean, std) that a model's metadata says its inputs are normalized with
    (netdsl.mean, netdsl.std: written from a checkpoint), if it says so."""
    if "netdsl.mean" not in meta or "netdsl.std" not in meta:
        return None
    try:
        return tuple(map(float, meta["netdsl.mean"].split(","))), tuple(map(float, meta["netdsl.std"].split(",")))
    except ValueError:
        raise RuntimeUsageError(f"{shown}: unreadable netdsl.mean / netdsl.std metadata") from None


def _preload_cuda(ort: Any) -> None:
    """Load CUDA and cuDNN from pip's nvidia-* packages (netdsl[cuda]) where they are installed;
    quietly, since what is missing shows as the CPU fallback."""
    import contextlib
    import importlib.util
    import io

    if not hasattr(ort, "preload_dlls") or importlib.util.find_spec("nvidia") is None:
        return
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            ort.preload_dlls()
        except Exception:  # noqa: BLE001, S110 - see above
            pass


# ---- inputs -------------------------------------------------------------------------------


def check_batch(batch: np.ndarray, shape: tuple[int, ...]) -> None:
    import numpy as np

    if batch.dtype != np.float32:
        raise RuntimeUsageError(f"the input is {batch.dtype}; the model takes float32")
    if batch.ndim != len(shape) + 1 or tuple(batch.shape[1:]) != shape:
        raise RuntimeUsageError(
            f"the input has shape {list(batch.shape)}; the model takes [N, " + ", ".join(map(str, shape)) + "]"
        )


def normalization_warning(session: Session, paths: list[str]) -> str | None:
    """One line for `infer` when images go into a model whose weights came without their input
    normalization (a bare state_dict): they are only scaled to [0, 1]."""
    if not session.normalize_unknown or not any(Path(p).suffix.lower() in IMAGE_SUFFIXES for p in paths):
        return None
    return (
        "the weights came from a bare state_dict, which does not say how training normalized its images: "
        "they are only scaled to [0, 1]; give the run's checkpoint (best.pt) to read them as training did"
    )


def read_inputs(
    paths: list[str], shape: tuple[int, ...], normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None
) -> tuple[np.ndarray, list[str]]:
    """One float32 batch [N, *shape] from .npy files and images, and a label per sample.
    Images are scaled to [0, 1] and, for a trained model, normalized as in training
    (`normalize`: per-channel mean and std); .npy arrays are taken as they are."""
    import numpy as np

    arrays, labels = [], []
    if normalize is not None:
        mean, std = (np.asarray(v, dtype=np.float32)[:, None, None] for v in normalize)
    for path in paths:
        file = Path(path)
        if file.is_dir():
            raise RuntimeUsageError(
                f"'{path}' is a folder; give the images or .npy arrays in it, e.g. --input {file / '*.png'}"
            )
        if not file.is_file():
            raise RuntimeUsageError(f"cannot read '{path}': no such file")
        if file.suffix.lower() == ".npy":
            batch = _read_npy(file, shape)
            arrays.append(batch)
            labels += [f"{path}[{i}]" for i in range(len(batch))] if len(batch) > 1 else [path]
        elif file.suffix.lower() in IMAGE_SUFFIXES:
            image = read_image(file, shape)
            if normalize is not None:
                image = (image - mean) / std
            arrays.append(image[None])
            labels.append(path)
        else:
            raise RuntimeUsageError(f"'{path}': give a .npy array or an image ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return np.concatenate(arrays), labels


def _read_npy(file: Path, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    try:
        array: np.ndarray = np.load(file, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise RuntimeUsageError(f"cannot read '{file}' as a numpy array: {exc}") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise RuntimeUsageError(f"'{file}' holds {array.dtype} values; the model takes float32")
    if tuple(array.shape) == shape:
        array = array[None]
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != shape:
        raise RuntimeUsageError(
            f"'{file}' has shape {list(array.shape)}; the model takes "
            f"{list(shape)} or a batch [N, {', '.join(map(str, shape))}]"
        )
    if len(array) == 0:
        raise RuntimeUsageError(f"'{file}' is an empty batch (shape {list(array.shape)}): no sample to run")
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        kinds = " and ".join(k for k, f in (("NaN", np.isnan), ("infinite", np.isinf)) if f(array).any())
        raise RuntimeUsageError(
            f"'{file}' holds {int((~finite).sum()):,} {kinds} value{'s' * int((~finite).sum() != 1)} "
            f"(the first at index {list(map(int, bad))}): the model takes finite numbers"
        )
    return array.astype(np.float32)


def read_image(file: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An image as the model's input: its channels (grey, RGB or RGBA), resized (bilinear) to
    H×W, scaled to [0, 1], laid out [C, H, W]."""
    import numpy as np

    from netdsl.data.images import DataError, read_pixels

    if len(shape) != 3 or shape[0] not in (1, 3, 4):
        raise RuntimeUsageError(f"images fit inputs of 1, 3 or 4 channels; this model takes {list(shape)}")
    try:
        pixels = read_pixels(file, shape)
    except DataError as exc:
        raise RuntimeUsageError(str(exc)) from None
    return pixels.astype(np.float32) / np.float32(255.0)


# ---- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What one sample's output says: top classes with probabilities, or an ordinal rank."""

    classes: list[tuple[int, float]]
    rank: int | None = None
    levels: int = 0


def interpret(outputs: np.ndarray, head: str, top_k: int = 5) -> list[Reading]:
    import numpy as np

    if head in ("coral", "ordinal"):
        if head == "coral":
            probs = 1.0 / (1.0 + np.exp(-outputs))  # cumulative P(rank > k)
        else:
            shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
            probs = (shifted / shifted.sum(axis=-1, keepdims=True))[..., 1]
        return [Reading([], int((p > 0.5).sum()), p.shape[-1]) for p in probs]
    flat = outputs.reshape(len(outputs), -1)
    if head == "logits":
        shifted = np.exp(flat - flat.max(axis=1, keepdims=True))
        flat = shifted / shifted.sum(axis=1, keepdims=True)
    elif head == "log_probabilities":
        flat = np.exp(flat)
    readings = []
    for row in flat:
        top = np.argsort(-row, kind="stable")[:top_k]
        readings.append(Reading([(int(i), float(row[i])) for i in top]))
    return readings
