"""Static int8 quantization of netdsl's ONNX models (`netdsl build --quantize int8`).

onnxruntime's own quantizer writes the model in QDQ form (QuantizeLinear / DequantizeLinear
pairs around each quantized op, int8 weights per output channel, uint8 activations), calibrated
by MinMax on images of a `netdsl train` data source read as training read them: scaled to
[0, 1] and normalized with the mean and std the weights came with (a checkpoint's; a bare
state_dict gives none, and the images are only scaled, as `netdsl infer` reads them then).
The graph quantized is the inference graph: batchnorms already folded into their convs,
residual additions as Add, so that every conv, Gemm and Add runs in int8.

Calibration reads the training split (the test split stays for measuring), at most
`CALIBRATION_IMAGES` of it, drawn with a fixed seed: the same source gives the same model.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from netdsl.api import Spec, Weights
    from netdsl.checker.analyze import Checked
    from netdsl.data.sources import Dataset, Split

CALIBRATION_IMAGES = 512
CALIBRATION_BATCH = 32
CALIBRATION_SEED = 0
FORMATS = ("int8",)
Normalization = tuple[tuple[float, ...], tuple[float, ...]]


class QuantizeError(Exception):
    """The model cannot be quantized as asked: the message says why (a usage error)."""


# Below this many multiply-accumulates a sample, the Quantize/Dequantize around each layer costs
# more than int8 arithmetic saves: LeNet-5 (416,520 MACs, tanh) ran 1.7× (batch 1) to 3.2×
# (batch 32) slower in int8 than in float on onnxruntime-CPU.
INT8_MIN_MACS = 50_000_000
UNQUANTIZED_ACTIVATIONS = ("tanh", "sigmoid", "gelu", "silu", "hardswish")


def int8_expectation(checked: Checked) -> str | None:
    """Why int8 is not expected to be faster than float for this network, or None: a tiny
    network, or activations onnxruntime does not run in int8 (each one dequantized and requantized)."""
    reasons = []
    if checked.total_macs < INT8_MIN_MACS:
        reasons.append(
            f"it is small ({checked.total_macs:,} multiply-accumulates a sample: quantizing and dequantizing "
            f"around each layer costs more than int8 arithmetic saves)"
        )
    ops = sorted({n.op for n in checked.graph.nodes if n.op in UNQUANTIZED_ACTIVATIONS})
    if ops:
        reasons.append(f"onnxruntime runs its {', '.join(ops)} in float, between a dequantize and a quantize")
    if not reasons:
        return None
    return (
        "int8 is not expected to run faster than float here: "
        + "; ".join(reasons)
        + " (LeNet-5: 1.7× to 3.2× slower in int8 on onnxruntime-CPU); it is smaller on disk"
    )


@dataclass(frozen=True)
class Quantized:
    model: onnx.ModelProto
    images: int  # how many images calibrated it
    source: str


def quantize_spec(
    spec: Spec, source: str, weights: Weights = None, seed: int = 0, opset: int | None = None
) -> Quantized:
    """The int8 model of `spec` with these weights (see `Spec.weights`), calibrated on `source`.
    Raises `QuantizeError` for data that cannot be read, `WeightsError` for misfit weights."""
    from netdsl.data.sources import DataError, load_data

    float_model = spec.to_onnx(weights, seed, opset)
    meta = {p.key: p.value for p in float_model.metadata_props}
    try:
        data = load_data(source, spec.checked.input_shape, _classes(spec))
    except DataError as exc:
        raise QuantizeError(f"--calibrate: {exc}") from None
    batches = list(calibration_batches(data, normalization(meta), spec.checked.input_shape))
    model = quantize_int8(float_model, batches)
    images = sum(len(b) for b in batches)
    _set_props(model, meta | {"netdsl.quantized": "int8", "netdsl.calibrated_on": f"{source} ({images} images)"})
    return Quantized(model, images, source)


def _classes(spec: Spec) -> int:
    """The classes the head predicts, which the data's labels must fit (as `netdsl train`)."""
    from netdsl.checker.heads import HeadError, head_classes

    try:
        return head_classes(spec.checked)[1]
    except HeadError as exc:
        raise QuantizeError(f"--calibrate reads a training data source: {exc}") from None


def normalization(meta: Mapping[str, str]) -> Normalization | None:
    """The per-channel (mean, std) an ONNX model's metadata gives its inputs, if any."""
    from netdsl.runtime.session import RuntimeUsageError, read_normalization

    try:
        return read_normalization(meta, "the model")
    except RuntimeUsageError as exc:
        raise QuantizeError(str(exc)) from None


def calibration_batches(
    data: Dataset, normalize: Normalization | None, shape: tuple[int, ...], count: int = CALIBRATION_IMAGES
) -> Iterator[np.ndarray]:
    """Float32 batches of at most `count` training images, drawn with a fixed seed, in [0, 1]
    and normalized as the model's inputs are."""
    import numpy as np

    split = data.train
    chosen = np.sort(np.random.default_rng(CALIBRATION_SEED).permutation(len(split))[:count])
    for start in range(0, len(chosen), CALIBRATION_BATCH):
        pixels = _pixels(split, chosen[start : start + CALIBRATION_BATCH], shape)
        batch = pixels.astype(np.float32) / np.float32(255.0)
        if normalize is not None:
            mean, std = (np.asarray(v, dtype=np.float32)[:, None, None] for v in normalize)
            batch = (batch - mean) / std
        yield np.ascontiguousarray(batch, dtype=np.float32)


def _pixels(split: Split, indices: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 [n, C, H, W] of these images: held in memory, or read from their files."""
    import numpy as np

    from netdsl.data.images import read_pixels

    if split.images is not None:
        return split.images[indices]
    return np.stack([read_pixels(Path(split.names[i]), shape) for i in indices])


def quantize_int8(model: onnx.ModelProto, batches: list[np.ndarray]) -> onnx.ModelProto:
    """onnxruntime's static quantizer on `model` (QDQ, int8 weights per channel and uint8
    activations, MinMax calibration over `batches`), quietly: it logs through `logging`."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from netdsl.backends.onnx.emit import PROTOBUF_LIMIT, save_model, weight_bytes

    with tempfile.TemporaryDirectory(prefix="netdsl-int8-") as folder, _quiet():
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        save_model(model, source)  # from a file: the quantizer changes a ModelProto it is given
        quantize_static(
            source,
            target,
            _Reader(model.graph.input[0].name, batches),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            # uint8 activations, int8 weights: onnxruntime's CPU kernels (QLinearConv, QLinearAdd)
            # take these; with int8 activations it converts them to uint8 at run time, and then
            # leaves in float every conv and Add that reads a value read twice (ResNet-18: 11 of
            # its 20 convs and all 8 Adds, against none this way)
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            use_external_data_format=weight_bytes(model) > PROTOBUF_LIMIT,
        )
        return onnx.load(str(target))


class _Reader:
    """onnxruntime's CalibrationDataReader over ready batches (it asks with get_next until None)."""

    def __init__(self, input_name: str, batches: list[np.ndarray]) -> None:
        self.input_name = input_name
        self.batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {self.input_name: batch}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantizer's log lines (advice to pre-process, calibration progress) are not ours to print."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _set_props(model: onnx.ModelProto, props: Mapping[str, str]) -> None:
    import onnx

    del model.metadata_props[:]
    onnx.helper.set_model_props(model, dict(props))
