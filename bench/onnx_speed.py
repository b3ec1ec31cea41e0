"""Benchmark of the ONNX backend (prints, asserts nothing about time).

1. Emission: spec + weights (an in-memory state_dict) → .onnx on disk, netdsl's direct emitter
   against torch.onnx.export of the same module, TorchScript exporter (dynamo=False) and dynamo
   exporter (the default; needs `pip install onnxscript`); with where netdsl's time goes.
2. Node counts side by side: netdsl's inference graph at the default opset (18) and at the
   newest onnxruntime runs, netdsl's training graph, the exporters' graphs.
3. Inference: onnxruntime on netdsl's graph at the default opset and at the newest, against
   onnxruntime on torch.onnx.export's graphs of the same module (alternated, in one process of
   their own), then torch eager (alone). Target: netdsl / exporter <= 1.0 at both opsets.
All medians. The defaults keep the run to a few minutes: the development machine has 2 cores,
shared with other developers' work, so read the ratios (measured alternately in one run) rather
than the times, and rerun a ratio that looks off.

The runtimes are not timed in turn: torch's OpenMP threads (libgomp) spin-wait after each
parallel region and, when the cores are shared, keep competing for them. Alternated with torch
eager in one process on a shared 2-core machine, onnxruntime on CORAL-CNN came out 1.2-2.5x
slower than alone, which made netdsl's graph (timed right after torch) look up to 1.42x slower
than the exporter's. OMP_WAIT_POLICY=PASSIVE removed most of it, not reliably, and slowed torch
eager itself; torch in another process, still alternated, did not remove it. So onnxruntime is
timed in a child process that never imports torch, alternating only among its graphs (each
first in turn), and torch eager afterwards, on its own.

Run: python bench/onnx_speed.py [--rounds N] [--emission-rounds N]
                                [--specs lenet5 alexnet googlenet resnet18 coral_cnn] [--batches 1 32]
                                [--device cpu|cuda] [--opsets 18 21 22 26] [--for cpu cuda] [--no-emission]
--opsets: netdsl's graph at each (default: 18 and the newest onnxruntime runs); --for: netdsl's graph
built for each target (`netdsl build --for`: on CUDA, LRN as ONNX's LRN op), named netdsl-cuda@N.
Every batch also prints images/s, and torch bf16 (autocast, channels_last) beside torch eager.
With --device cuda (a machine with an NVIDIA GPU and `pip install "netdsl[cuda]"`), torch runs on
the GPU and onnxruntime on its CUDA execution provider; it stops if CUDA does not really start.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import netdsl
from netdsl.backends.onnx.emit import DEFAULT_OPSET, emit_onnx_parts
from netdsl.runtime.session import max_opset, open_session

if TYPE_CHECKING:  # torch is imported in the functions that use it: the onnxruntime child never loads it
    import torch

ROOT = Path(__file__).resolve().parent.parent
MIN_SECONDS, MAX_ROUNDS = 3.0, 1000  # onnxruntime's timing: see time_ort
PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def clock(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def export(module: torch.nn.Module, x: torch.Tensor, path: Path, dynamo: bool) -> None:
    import torch

    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with warnings.catch_warnings(), quiet[0], quiet[1]:
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(
                module,
                (x,),
                str(path),
                dynamo=True,
                input_names=["image"],
                dynamic_shapes=({0: torch.export.Dim.DYNAMIC},),
                opset_version=18,
            )
        else:
            torch.onnx.export(
                module,
                (x,),
                str(path),
                dynamo=False,
                input_names=["image"],
                dynamic_axes={"image": {0: "N"}},
                opset_version=17,
            )


def emission(
    spec: netdsl.Spec,
    module: torch.nn.Module,
    folder: Path,
    rounds: int,
    opsets: list[int] | None = None,
    targets: tuple[str, ...] = ("cpu",),
) -> dict[str, Path]:
    """Time the emission of netdsl's default graph against the exporters'; write every graph
    compared: netdsl's at each opset (default: the default and the newest) and target, the exporters'."""
    import torch

    state = module.state_dict()
    x = torch.randn(1, *spec.checked.input_shape)
    opsets = opsets or [DEFAULT_OPSET, max_opset()]
    paths = {"netdsl": folder / "netdsl.onnx", "torchscript": folder / "ts.onnx", "dynamo": folder / "dynamo.onnx"}
    arrays = {k: v.detach().numpy() for k, v in state.items()}
    # the same spec at the other opsets and targets (the inference graph; the training graph
    # only for its node count)
    graphs: dict[str, Path] = {}
    for target in targets:
        for opset in opsets:
            name = f"netdsl{'' if target == 'cpu' else '-' + target}@{opset}"
            graphs[name] = paths["netdsl"] if (target, opset) == ("cpu", DEFAULT_OPSET) else folder / f"{name}.onnx"
            if graphs[name] != paths["netdsl"]:
                emit_onnx_parts(spec.checked, arrays, opset, target=target).save(graphs[name])
    emit_onnx_parts(spec.checked, arrays, DEFAULT_OPSET, graph="training").save(folder / "netdsl_training.onnx")
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        del paths["dynamo"]
    parts: dict[str, list[float]] = {
        "state_dict → numpy": [],
        "emit the graph": [],
        "stream to disk (write + fsync)": [],
    }
    totals: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        start = time.perf_counter()
        arrays = {k: v.detach().numpy() for k, v in state.items()}
        t1 = time.perf_counter()
        model = emit_onnx_parts(spec.checked, arrays, DEFAULT_OPSET, spec.program.sources, spec.program.main.file)
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
    compared = {f"netdsl@{DEFAULT_OPSET}": paths["netdsl"], **graphs}
    node_counts(compared | {"netdsl training": folder / "netdsl_training.onnx"} | paths)
    return compared | {k: v for k, v in paths.items() if k != "netdsl"}


def node_counts(paths: dict[str, Path]) -> None:
    import onnx

    counts = {}
    for name, path in paths.items():
        if name != "netdsl":  # the default graph, listed as netdsl@18
            model = onnx.load(str(path), load_external_data=False)
            counts[name] = f"{len(model.graph.node)} (opset {model.opset_import[0].version})"
    print("   nodes: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


def inference(
    spec: netdsl.Spec, module: torch.nn.Module, paths: dict[str, Path], rounds: int, device: str, batches: list[int]
) -> None:
    import torch

    module = module.to(device)
    for batch in batches:
        x = torch.randn(batch, *spec.checked.input_shape)
        with tempfile.TemporaryDirectory() as folder:
            np.save(Path(folder) / "x.npy", x.numpy())
            med, got = ort_child(paths, Path(folder), rounds, device)
        eager, expected = time_eager(module, x.to(device), rounds)  # alone: the child process has ended
        bf16 = time_bf16(module, x.to(device), rounds)
        line = ", ".join(f"ort {name} {t * 1000:.2f} ms" for name, t in med.items())
        print(f"   batch {batch:>2}: {line}; torch eager {eager * 1000:.2f} ms; torch bf16 {bf16 * 1000:.2f} ms")
        rates = {**{f"ort {name}": batch / t for name, t in med.items()}, "torch eager": batch / eager}
        rates["torch bf16"] = batch / bf16
        print("            images/s: " + ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items()))
        exporters = [name for name in med if not name.startswith("netdsl")]
        for ours in (name for name in med if name.startswith("netdsl")):
            ratios = ", ".join(f"/ ort {name} {med[ours] / med[name]:.3f}" for name in exporters)
            print(f"            ort {ours} {ratios}, / torch eager {med[ours] / eager:.3f}")
        print(f"            max |ort netdsl@{DEFAULT_OPSET} - torch| {float(np.abs(got - expected).max()):.1e}")


def time_eager(module: torch.nn.Module, x: torch.Tensor, rounds: int) -> tuple[float, np.ndarray]:
    """torch eager's median time on `x`, and its output."""
    import torch

    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)

    def run() -> torch.Tensor:
        y = module(x)
        sync()
        return y

    with torch.no_grad():
        expected = run().cpu().numpy()  # also the warm-up
        return statistics.median(clock(run) for _ in range(rounds)), expected


def time_bf16(module: torch.nn.Module, x: torch.Tensor, rounds: int) -> float:
    """torch's median time on `x` under bf16 autocast with channels_last (module and input), as
    `netdsl train --precision bf16` runs its forward pass on CUDA."""
    import copy

    import torch

    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    fast = copy.deepcopy(module).to(memory_format=torch.channels_last)
    xl = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x

    def run() -> None:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            fast(xl)
        sync()

    with torch.no_grad():
        run()  # the warm-up
        return statistics.median(clock(run) for _ in range(rounds))


def ort_child(paths: dict[str, Path], folder: Path, rounds: int, device: str) -> tuple[dict[str, float], np.ndarray]:
    """Median onnxruntime time per graph (alternated) and netdsl's graph's output, measured in a
    child process that never imports torch."""
    request = {
        "paths": {k: str(v) for k, v in paths.items()},
        "input": str(folder / "x.npy"),
        "output": str(folder / "y.npy"),
        "rounds": rounds,
        "device": device,
    }
    result = subprocess.run(
        [sys.executable, __file__, "--ort-child", json.dumps(request)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"onnxruntime child failed:\n{result.stderr}")
    return json.loads(result.stdout), np.load(folder / "y.npy")


def time_ort(request: dict[str, Any]) -> None:
    """The child: every graph on the same input, each with the same session options, no spinning
    threads (so the graphs, run in turn, do not slow each other down)."""
    import onnxruntime as ort

    assert "torch" not in sys.modules
    if request["device"] == "cuda":
        open_session(request["paths"][f"netdsl@{DEFAULT_OPSET}"], "cuda")  # stops if CUDA cannot run
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    feed = np.load(request["input"])
    sessions = {
        name: ort.InferenceSession(path, options, providers=PROVIDERS[request["device"]])
        for name, path in request["paths"].items()
    }
    runs = {name: (lambda s=s: s.run(None, {s.get_inputs()[0].name: feed})) for name, s in sessions.items()}
    np.save(request["output"], runs[f"netdsl@{DEFAULT_OPSET}"]()[0])  # also the warm-up
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    start, round_ = time.perf_counter(), 0
    # at least `rounds`, and more while they take under MIN_SECONDS: a small model's median
    # over 7 runs of a millisecond moves by 2x on a shared machine (LeNet-5's graph, node for
    # node the exporter's, came out 2.6x slower than it in one run, 0.99x over 200 rounds)
    while round_ < request["rounds"] or (time.perf_counter() - start < MIN_SECONDS and round_ < MAX_ROUNDS):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # each first in turn
            times[name].append(clock(runs[name]))
        round_ += 1
    print(json.dumps({name: statistics.median(times[name]) for name in names}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--specs", nargs="+", default=["lenet5", "alexnet", "googlenet", "resnet18", "coral_cnn"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--emission-rounds", type=int, default=1, help="rounds of the emission timing (default 1)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--opsets", nargs="+", type=int, help="netdsl's opsets (default: 18 and the newest)")
    parser.add_argument("--for", dest="targets", nargs="+", choices=("cpu", "cuda"), default=["cpu"])
    parser.add_argument("--ort-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ort_child:
        time_ort(json.loads(args.ort_child))
        return
    import onnxruntime as ort
    import torch

    if args.device == "cuda":
        session = open_session(netdsl.load(ROOT / "specs/lenet5.net").to_onnx(), "cuda")  # stops if CUDA cannot run
        print(f"onnxruntime provider: {session.provider}; torch device: {torch.cuda.get_device_name()}")
    print(
        f"torch {torch.__version__}, onnxruntime {ort.__version__}, netdsl's opsets {DEFAULT_OPSET} (default) and "
        f"{max_opset()} (the newest onnxruntime runs), {torch.get_num_threads()} threads"
    )
    for name in args.specs:
        spec = netdsl.load(ROOT / "specs" / f"{name}.net")
        torch.manual_seed(0)
        module = spec.to_torch().eval()
        megabytes = spec.checked.total_params * 4 / 1e6
        print(f"{spec.network}: {spec.checked.total_params:,} parameters ({megabytes:.0f} MB)")
        with tempfile.TemporaryDirectory() as folder:
            paths = emission(spec, module, Path(folder), args.emission_rounds, args.opsets, tuple(args.targets))
            inference(spec, module, paths, args.rounds, args.device, args.batches)


if __name__ == "__main__":
    main()
