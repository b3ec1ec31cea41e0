"""Benchmark of `netdsl check` (a benchmark, not a test: it prints, it asserts nothing).

1. median in-process parse + check time of every shipped spec and every zoo spec (torchvision's
   models, specs/zoo/), with its layer count and the time per layer;
2. the same for generated specs of 1,000 and 10,000 layers (cost should grow linearly);
3. wall time of the CLI call `netdsl check` on AlexNet and on the largest zoo spec beside
   `python -c "import torch"`, measured alternately in the same run (target: at most 0.10 of
   the torch import).

Run: python bench/check_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from pathlib import Path

from netdsl.check import check_program, check_text
from netdsl.program import load_text

ROOT = Path(__file__).resolve().parent.parent


def median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm: the LALR tables are built (or read from lark's cache) once per process
    times = []
    for _ in range(repeat):
        gc.collect()  # garbage of the previous run is not this run's cost
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def check_spec(path: Path) -> None:
    """Parse (with imports) and check, from text already read: the in-process cost."""
    outcome = check_program(load_text(path.read_text(), str(path)))
    assert outcome.checked is not None


def generated(layers: int) -> str:
    """A plain chain of conv -> relu pairs: `layers` layers besides the input."""
    body = "\n".join("    conv(16, 3, padding=1) -> relu" for _ in range(layers // 2))
    return f"network Deep {{\n    input x: [16, 32, 32]\n{body}\n}}\n"


def cli_vs_torch(rounds: int, specs: list[str]) -> dict[str, list[float]]:
    """Wall times of `netdsl check SPEC` for each spec and of `import torch`, alternately."""
    commands = {spec: [sys.executable, "-m", "netdsl", "check", spec] for spec in specs}
    commands["import torch"] = [sys.executable, "-c", "import torch"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):  # alternate, so that all see the same machine state
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    print(f"1. in-process parse + check, median of {args.repeat}")
    sizes = {}
    for path in [*sorted((ROOT / "specs").glob("*.net")), *sorted((ROOT / "specs" / "zoo").glob("*.net"))]:
        outcome = check_program(load_text(path.read_text(), str(path)))
        layers = len(outcome.checked.layers) if outcome.checked else 0
        sizes[path] = layers
        ms = median_ms(lambda p=path: check_spec(p), args.repeat)
        name = str(path.relative_to(ROOT / "specs"))
        print(f"   {name:<28} {layers:>5} layers {ms:8.2f} ms  ({ms / max(layers, 1) * 1000:5.1f} µs per layer)")

    print(f"2. generated specs, median of {max(args.repeat // 4, 3)}")
    per_layer = {}
    for layers in (1_000, 10_000):
        text = generated(layers)
        ms = median_ms(lambda t=text: check_text(t, "deep.net"), max(args.repeat // 4, 3))
        per_layer[layers] = ms / layers
        print(f"   {layers:>6,} layers          {ms:8.1f} ms   ({ms / layers * 1000:.1f} µs per layer)")
    print(f"   10,000 / 1,000 per-layer cost ratio: {per_layer[10_000] / per_layer[1_000]:.2f} (1.00 = linear)")

    print(f"3. wall time, {args.rounds} alternating rounds")
    largest = max(sizes, key=lambda p: sizes[p])
    specs = ["specs/alexnet.net", str(largest.relative_to(ROOT))]
    times = cli_vs_torch(args.rounds, specs)
    torch = statistics.median(times.pop("import torch"))
    for name, runs in times.items():
        c = statistics.median(runs)
        print(f"   netdsl check {name:<28} median {c * 1000:7.0f} ms  (min {min(runs) * 1000:.0f})  "
              f"ratio to import torch {c / torch:.3f}  (target <= 0.10)")
    print(f"   python -c 'import torch'{'':<21} median {torch * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
