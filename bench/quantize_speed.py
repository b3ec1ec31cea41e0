"""Benchmark of int8 models (prints, asserts nothing): for each trained network, the float ONNX
model and the int8 one that `netdsl build --target onnx [--quantize int8 --calibrate SOURCE]`
writes from its checkpoint (run as commands), with
- their file sizes;
- accuracy on the test split of the data source (and, for ordinal heads, the MAE of the rank),
  the images read as training read them (the normalization the checkpoint gave the models);
- onnxruntime latency at each batch size (CPU), float and int8 alternated round by round, each
  first in turn, with int8 / float in the same run. This process never imports torch (torch's
  OpenMP threads would compete for the cores; see bench/onnx_speed.py); the builds do.

Make the checkpoints first (a few minutes on 2 cores):
    netdsl train specs/lenet5.net --data digits --epochs 10 --out runs/lenet5
    netdsl train specs/ordinal_synth.net --network CORAL --data ordinal-synth --epochs 10 --out runs/coral
Run: python bench/quantize_speed.py [--lenet runs/lenet5/best.pt] [--coral runs/coral/best.pt]
                                    [--rounds N] [--batches 1 32] [--large resnet18 coral_cnn] [--large-rounds N]
--large: networks where int8 is expected to pay (millions of MACs, ReLU), size and latency only:
their initial weights (seed 0), calibrated on digits read at their input size.
On a machine whose cores are shared with other work, read the ratios rather than the times.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from netdsl.data.sources import load_data
from netdsl.runtime.session import read_normalization

ROOT = Path(__file__).resolve().parent.parent


def build(spec: str, network: str, weights: str | None, source: str, target: Path, int8: bool) -> None:
    quantize = ["--quantize", "int8", "--calibrate", source] if int8 else []
    command = [sys.executable, "-m", "netdsl", "build", spec, *(["--network", network] if network else []), "--target"]
    command.append("onnx")
    given = ["--weights", weights] if weights else ["--seed", "0"]
    result = subprocess.run(
        [*command, *given, *quantize, "-o", str(target)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"netdsl build failed:\n{result.stderr}")
    print(f"   {result.stderr.strip()}")


def session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # the cores are shared
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_split(model: Path, source: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The test split's images as the model takes them, their labels, and the model's head."""
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    shape = tuple(int(d) for d in meta["netdsl.input_shape"].split(","))
    outputs = proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    head = meta.get("netdsl.head", "logits")
    classes = outputs + 1 if head in ("coral", "ordinal") else outputs
    split = load_data(source, shape, classes).test
    assert split.images is not None, "a source small enough to hold in memory"
    images = split.images.astype(np.float32) / np.float32(255.0)
    normalize = read_normalization(meta)
    if normalize is not None:
        mean, std = (np.asarray(v, dtype=np.float32)[:, None, None] for v in normalize)
        images = (images - mean) / std
    return np.ascontiguousarray(images, dtype=np.float32), split.labels, head


def predictions(outputs: np.ndarray, head: str) -> np.ndarray:
    if head == "coral":
        return (outputs > 0).sum(axis=1)  # P(rank > k) > 0.5
    if head == "ordinal":
        return (outputs[..., 1] > outputs[..., 0]).sum(axis=1)
    return outputs.argmax(axis=1)


def quality(run: Any, images: np.ndarray, labels: np.ndarray, head: str) -> str:
    outputs = np.concatenate([run(images[i : i + 256]) for i in range(0, len(images), 256)])
    predicted = predictions(outputs, head)
    text = f"accuracy {float((predicted == labels).mean()):.4f}"
    if head in ("coral", "ordinal"):
        text += f", MAE {float(np.abs(predicted - labels).mean()):.4f}"
    return text


def latency(runs: dict[str, Any], x: np.ndarray, rounds: int) -> dict[str, float]:
    """Median time per graph, alternated round by round, each first in turn."""
    for run in runs.values():
        run(x)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            start = time.perf_counter()
            runs[name](x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def report(spec: str, network: str, weights: str, source: str, args: argparse.Namespace) -> None:
    print(f"{network} ({spec}), weights {weights}, data {source}")
    with tempfile.TemporaryDirectory() as folder:
        paths = {"float": Path(folder) / "float.onnx", "int8": Path(folder) / "int8.onnx"}
        for name, path in paths.items():
            build(spec, network, weights, source, path, name == "int8")
        sizes = {name: path.stat().st_size for name, path in paths.items()}
        print(
            f"   size: float {sizes['float'] / 1e3:,.1f} kB, int8 {sizes['int8'] / 1e3:,.1f} kB "
            f"(int8 / float {sizes['int8'] / sizes['float']:.3f})"
        )
        images, labels, head = test_split(paths["float"], source)
        sessions = {name: session(path) for name, path in paths.items()}
        runs = {name: (lambda x, s=s: s.run(None, {s.get_inputs()[0].name: x})[0]) for name, s in sessions.items()}
        for name, run in runs.items():
            print(f"   test split ({len(labels)} images), {name}: {quality(run, images, labels, head)}")
        for batch in args.batches:
            x = np.ascontiguousarray(np.resize(images, (batch, *images.shape[1:])))
            med = latency(runs, x, args.rounds)
            print(
                f"   batch {batch:>3}: float {med['float'] * 1000:.3f} ms, int8 {med['int8'] * 1000:.3f} ms, "
                f"int8 / float {med['int8'] / med['float']:.3f} (median of {args.rounds}, alternated)"
            )


def report_large(name: str, args: argparse.Namespace) -> None:
    """Size and latency, float against int8, of a network with initial weights (no accuracy)."""
    import onnx

    spec = str(ROOT / "specs" / f"{name}.net")
    with tempfile.TemporaryDirectory() as folder:
        paths = {"float": Path(folder) / "float.onnx", "int8": Path(folder) / "int8.onnx"}
        for kind, path in paths.items():
            build(spec, "", None, "digits", path, kind == "int8")
        proto = onnx.load(str(paths["float"]), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        network = meta["netdsl.network"]
        shape = tuple(int(d) for d in meta["netdsl.input_shape"].split(","))
        sizes = {kind: path.stat().st_size for kind, path in paths.items()}
        print(
            f"{network} ({name}.net), initial weights: size float {sizes['float'] / 1e6:,.1f} MB, int8 "
            f"{sizes['int8'] / 1e6:,.1f} MB"
        )
        sessions = {kind: session(path) for kind, path in paths.items()}
        runs = {kind: (lambda x, s=s: s.run(None, {s.get_inputs()[0].name: x})[0]) for kind, s in sessions.items()}
        rng = np.random.default_rng(0)
        for batch in args.large_batches:
            x = rng.standard_normal((batch, *shape)).astype(np.float32)
            med = latency(runs, x, args.large_rounds)
            print(
                f"   batch {batch:>3}: float {med['float'] * 1000:.2f} ms, int8 {med['int8'] * 1000:.2f} ms, "
                f"int8 / float {med['int8'] / med['float']:.3f} (median of {args.large_rounds}, alternated)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lenet", default="runs/lenet5/best.pt", help="LeNet-5's checkpoint (trained on digits)")
    parser.add_argument("--coral", default="runs/coral/best.pt", help="CORAL's checkpoint (trained on ordinal-synth)")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--large", nargs="*", default=["resnet18", "coral_cnn"], help="latency-only networks")
    parser.add_argument("--large-batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--large-rounds", type=int, default=10)
    args = parser.parse_args()
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, CPU; int8: QDQ, per-channel int8 weights, uint8 activations")
    for spec, network, weights, source in (
        ("lenet5", "LeNet5", args.lenet, "digits"),
        ("ordinal_synth", "CORAL", args.coral, "ordinal-synth"),
    ):
        if Path(weights).exists():
            report(str(ROOT / "specs" / f"{spec}.net"), network, weights, source, args)
        else:
            print(f"{network}: no checkpoint {weights} (train it first: see this file's docstring); skipped")
    for name in args.large:
        report_large(name, args)
    assert "torch" not in sys.modules


if __name__ == "__main__":
    main()
