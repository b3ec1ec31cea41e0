"""Benchmark of `netdsl check` (a benchmark, not a test: it prints, it asserts nothing).

1. median in-process parse + check time of every shipped spec;
2. the same for generated specs of 1,000 and 10,000 layers (cost should grow linearly);
3. wall time of the CLI call `netdsl check specs/alexnet.net` beside `python -c "import torch"`,
   measured alternately in the same run (target: the CLI under a quarter of the torch import).

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


def cli_vs_torch(rounds: int) -> tuple[list[float], list[float]]:
    cli = [sys.executable, "-m", "netdsl", "check", "specs/alexnet.net"]
    torch = [sys.executable, "-c", "import torch"]
    cli_times, torch_times = [], []
    for _ in range(rounds):  # alternate, so that both see the same machine state
        for command, sink in ((cli, cli_times), (torch, torch_times)):
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            sink.append(time.perf_counter() - start)
    return cli_times, torch_times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    print(f"1. in-process parse + check, median of {args.repeat}")
    for path in sorted((ROOT / "specs").glob("*.net")):
        ms = median_ms(lambda p=path: check_spec(p), args.repeat)
        print(f"   {path.name:<22} {ms:8.2f} ms")

    print(f"2. generated specs, median of {max(args.repeat // 4, 3)}")
    per_layer = {}
    for layers in (1_000, 10_000):
        text = generated(layers)
        ms = median_ms(lambda t=text: check_text(t, "deep.net"), max(args.repeat // 4, 3))
        per_layer[layers] = ms / layers
        print(f"   {layers:>6,} layers          {ms:8.1f} ms   ({ms / layers * 1000:.1f} µs per layer)")
    print(f"   10,000 / 1,000 per-layer cost ratio: {per_layer[10_000] / per_layer[1_000]:.2f} (1.00 = linear)")

    print(f"3. wall time, {args.rounds} alternating rounds")
    cli, torch = cli_vs_torch(args.rounds)
    c, t = statistics.median(cli), statistics.median(torch)
    print(f"   netdsl check specs/alexnet.net   median {c * 1000:7.0f} ms  (min {min(cli) * 1000:.0f})")
    print(f"   python -c 'import torch'         median {t * 1000:7.0f} ms  (min {min(torch) * 1000:.0f})")
    print(f"   ratio {c / t:.3f}  (target < 0.25)")


if __name__ == "__main__":
    main()
