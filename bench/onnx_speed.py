"""Benchmark of the ONNX backend (prints, asserts nothing about time).

1. Emission: spec + weights (an in-memory state_dict) → .onnx on disk, netdsl's direct emitter
   against torch.onnx.export of the same module, TorchScript exporter (dynamo=False) and dynamo
   exporter (the default; needs `pip install onnxscript`); with where netdsl's time goes.
2. Inference on the CPU: onnxruntime on netdsl's graph against torch eager, batch 1 and 32,
   and against onnxruntime on torch.onnx.export's graphs of the same module.
All measured alternately in one run; medians.

Run: python bench/onnx_speed.py [--rounds N] [--specs lenet5 alexnet coral_cnn] [--device cpu|cuda]
With --device cuda (a machine with an NVIDIA GPU and `pip install "netdsl[cuda]"`), torch runs on
the GPU and onnxruntime on its CUDA execution provider; it stops if CUDA does not really start.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import netdsl
from netdsl.backends.onnx import emit_onnx_parts
from netdsl.runtime import max_opset, open_session

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (1, 32)
PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def clock(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def export(module: torch.nn.Module, x: torch.Tensor, path: Path, dynamo: bool) -> None:
    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with warnings.catch_warnings(), quiet[0], quiet[1]:
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module, (x,), str(path), dynamo=True, input_names=["image"],
                              dynamic_shapes=({0: torch.export.Dim.DYNAMIC},), opset_version=18)
        else:
            torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["image"],
                              dynamic_axes={"image": {0: "N"}}, opset_version=17)


def emission(spec: netdsl.Spec, module: torch.nn.Module, folder: Path, rounds: int) -> dict[str, Path]:
    state = module.state_dict()
    x = torch.randn(1, *spec.checked.input_shape)
    opset = max_opset()
    paths = {"netdsl": folder / "netdsl.onnx", "torchscript": folder / "ts.onnx", "dynamo": folder / "dynamo.onnx"}
    # the same graph at opset 18, the exporters' era: separates what the graph costs from what
    # onnxruntime's optimizer does (or does not do) for the newest opsets
    emit_onnx_parts(spec.checked, {k: v.detach().numpy() for k, v in state.items()}, 18).save(folder / "netdsl18.onnx")
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        del paths["dynamo"]
    parts: dict[str, list[float]] = {"state_dict → numpy": [], "emit the graph": [],
                                     "stream to disk (write + fsync)": []}
    totals: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        start = time.perf_counter()
        arrays = {k: v.detach().numpy() for k, v in state.items()}
        t1 = time.perf_counter()
        model = emit_onnx_parts(spec.checked, arrays, opset, spec.program.sources, spec.program.main.file)
        t2 = time.perf_counter()
        model.save(paths["netdsl"])
        t3 = time.perf_counter()
        for key, value in zip(parts, (t1 - start, t2 - t1, t3 - t2), strict=True):
            parts[key].append(value)
        totals["netdsl"].append(t3 - start)
        totals["torchscript"].append(clock(lambda: export(module, x, paths["torchscript"], dynamo=False)))
        if "dynamo" in paths:
            totals["dynamo"].append(clock(lambda: export(module, x, paths["dynamo"], dynamo=True)))
    ours = statistics.median(totals["netdsl"])
    print(f"   emission to disk (median of {rounds}):")
    for name, values in totals.items():
        t = statistics.median(values)
        faster = "" if name == "netdsl" else f"   netdsl is {t / ours:5.1f}x faster"
        print(f"      {name:<12} {t * 1000:9.1f} ms{faster}")
    if "dynamo" not in paths:
        print("      dynamo       skipped: pip install onnxscript")
    spent = ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in parts.items())
    print(f"   where netdsl's time goes: {spent}")
    return paths | {"netdsl@18": folder / "netdsl18.onnx"}


def inference(spec: netdsl.Spec, module: torch.nn.Module, paths: dict[str, Path], rounds: int, device: str) -> None:
    check = open_session(paths["netdsl"], device)
    # the same options for every session; no spin-waiting threads, which would steal the two
    # cores from whatever is timed next and make alternating measurements meaningless
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    raw = {name: ort.InferenceSession(str(path), options, providers=PROVIDERS[device]) for name, path in paths.items()}
    module = module.to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for batch in BATCHES:
        x = torch.randn(batch, *spec.checked.input_shape)
        feed = x.numpy()
        x = x.to(device)
        runs: dict[str, Callable[[], object]] = {"torch eager": lambda x=x: (module(x), sync())}
        runs |= {f"ort {name}": (lambda s=raw[name], feed=feed: s.run(None, {s.get_inputs()[0].name: feed}))
                 for name in paths}
        times: dict[str, list[float]] = {name: [] for name in runs}
        with torch.no_grad():
            for fn in runs.values():
                fn()  # warm-up
            for _ in range(rounds):
                for name, fn in runs.items():
                    times[name].append(clock(fn))
            diff = float(np.abs(check.run(feed) - module(x).cpu().numpy()).max())
        med = {name: statistics.median(t) for name, t in times.items()}
        ours = med["ort netdsl"]
        line = ", ".join(f"{name} {t * 1000:.2f} ms" for name, t in med.items())
        ratios = ", ".join(f"vs {name.removeprefix('ort ')} {ours / t:.3f}" for name, t in med.items()
                           if name.startswith("ort ") and name != "ort netdsl")
        print(f"   batch {batch:>2}: {line}")
        print(f"            ort netdsl / torch eager {ours / med['torch eager']:.3f}; ort netdsl / ort {ratios};"
              f" max |ort - torch| {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--specs", nargs="+", default=["lenet5", "alexnet", "coral_cnn"])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    if args.device == "cuda":
        session = open_session(netdsl.load(ROOT / "specs/lenet5.net").to_onnx(), "cuda")  # stops if CUDA cannot run
        print(f"onnxruntime provider: {session.provider}; torch device: {torch.cuda.get_device_name()}")
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, opset {max_opset()}, "
          f"{torch.get_num_threads()} threads")
    for name in args.specs:
        spec = netdsl.load(ROOT / "specs" / f"{name}.net")
        torch.manual_seed(0)
        module = spec.to_torch().eval()
        megabytes = spec.checked.total_params * 4 / 1e6
        print(f"{spec.network}: {spec.checked.total_params:,} parameters ({megabytes:.0f} MB)")
        with tempfile.TemporaryDirectory() as folder:
            paths = emission(spec, module, Path(folder), args.rounds)
            inference(spec, module, paths, args.rounds, args.device)


if __name__ == "__main__":
    main()
