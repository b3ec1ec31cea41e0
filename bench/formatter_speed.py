"""Benchmark behind the formatter decision (issue 17): generated PyTorch modules laid out by the
port of ruff's formatter (`netdsl.backends.pytorch.pyformat`, each long statement broken as it is
written) against black's library API (`black.format_str` once over the whole file, statements
written on one line each). A benchmark, not a test: it prints, it asserts nothing.

For each case, `netdsl build --target torch SPEC -o FILE` as a command (wall time, start-up
included) and the in-process time of `emit_torch` within that same command (formatting
included), both variants alternately in one run, each first in turn; medians and the ratio
black / port. Both variants' files are checked to be byte-for-byte equal and black-stable.

Cases: specs/zoo/resnet152.net, and the largest generated chain of bench/check_speed.py (conv ->
relu pairs, 10,000 layers).

Run: python bench/formatter_speed.py [--rounds 5] [--layers 10000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from check_speed import bytecode_env, generated

ROOT = Path(__file__).resolve().parent.parent

# Run inside each timed command: variant "black" writes every statement on one line and lets
# black.format_str lay out the whole file once; "port" is netdsl as it is. The time of emit_torch
# (formatting included) goes to standard error.
RUNNER = """
import sys, time
variant, *argv = sys.argv[1:]
from netdsl.backends.pytorch import emit, pysource
if variant == "black":
    import black
    def one_line(indent, code, comment=None):
        return [indent + code + (f"  # {comment}" if comment else "")]
    emit.format_statement = pysource.format_statement = one_line
    assemble = emit.FileWriter.assemble
    emit.FileWriter.assemble = lambda self, cls: black.format_str(assemble(self, cls), mode=black.Mode())
emit_torch = emit.emit_torch
def timed(*args, **kwargs):
    start = time.perf_counter()
    try:
        return emit_torch(*args, **kwargs)
    finally:
        print(f"EMIT {time.perf_counter() - start:.6f}", file=sys.stderr)
import netdsl.api
netdsl.api.emit_torch = timed
from netdsl.cli import main
sys.exit(main(argv))
"""

VARIANTS = ("port", "black")


def run_once(variant: str, spec: Path, out: Path, env: dict[str, str]) -> tuple[float, float]:
    command = [sys.executable, "-c", RUNNER, variant, "build", str(spec), "--target", "torch", "-o", str(out)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - start
    emit_s = next(float(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("EMIT "))
    return wall, emit_s


def measure(spec: Path, rounds: int, folder: Path, env: dict[str, str]) -> dict[str, tuple[list[float], list[float]]]:
    times: dict[str, tuple[list[float], list[float]]] = {v: ([], []) for v in VARIANTS}
    outs = {v: folder / f"{spec.stem}-{v}.py" for v in VARIANTS}
    for v in VARIANTS:  # compiles the bytecode; the files are compared below
        run_once(v, spec, outs[v], env)
    for round_ in range(rounds):
        order = VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]
        for v in order:
            wall, emit_s = run_once(v, spec, outs[v], env)
            times[v][0].append(wall)
            times[v][1].append(emit_s)
    port, black_text = outs["port"].read_text(), outs["black"].read_text()
    import black

    stable = black.format_str(port, mode=black.Mode()) == port
    print(f"   files equal: {port == black_text}, port's file black-stable: {stable}, {len(port.splitlines())} lines")
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layers", type=int, default=10_000, help="the generated chain's layers")
    args = parser.parse_args()
    import black

    print(f"black {black.__version__} ({'compiled' if black.__file__.endswith(('.so', '.pyd')) else 'pure Python'})")
    with tempfile.TemporaryDirectory(prefix="netdsl-fmt-") as tmp:
        folder = Path(tmp)
        chain = folder / f"chain{args.layers}.net"
        chain.write_text(generated(args.layers))
        env = bytecode_env(str(folder / "pycache"))
        for name, spec in (("resnet152", ROOT / "specs/zoo/resnet152.net"), (f"chain of {args.layers}", chain)):
            print(f"{name}: netdsl build --target torch, median of {args.rounds}, alternating")
            times = measure(spec, args.rounds, folder, env)
            med = {v: (statistics.median(w), statistics.median(e)) for v, (w, e) in times.items()}
            for v in VARIANTS:
                print(f"   {v:5}: command {med[v][0] * 1000:8.0f} ms, emit_torch {med[v][1] * 1000:8.0f} ms")
            print(
                f"   black / port: command {med['black'][0] / med['port'][0]:.2f}x, "
                f"emit_torch {med['black'][1] / med['port'][1]:.2f}x"
            )


if __name__ == "__main__":
    main()
