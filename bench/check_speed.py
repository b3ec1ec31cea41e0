"""Benchmark of `netdsl check` (a benchmark, not a test: it prints, it asserts nothing).

1. median in-process parse + check time of every shipped spec and every zoo spec (torchvision's
   models, specs/zoo/), with its layer count and the time per layer;
2. the same for generated specs of 1,000 and 10,000 layers (cost should grow linearly);
3. wall time of the CLI call `netdsl check` on AlexNet and on the largest zoo spec beside
   `python -c "import torch"`, measured alternately in the same run (target: at most 0.10 of
   the torch import); with the CPU time (user + system) of each, which a machine whose cores
   are shared with other work disturbs less than the wall time;
4. what the check path imports (`python -X importtime`): the netdsl modules and the largest
   imports by their own time, and that no backend, torch, onnx or onnxruntime is among them.

Run: python bench/check_speed.py [--repeat N] [--rounds N] [--cli-only]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netdsl.checker.check import check_program, check_text
from netdsl.language.program import load_text

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


def bytecode_env(folder: str) -> dict[str, str]:
    """The environment of the timed commands: bytecode compiled once into `folder` and read from
    there, as an installed package has it, even where PYTHONDONTWRITEBYTECODE is set (it is on
    the development machines: every run would compile netdsl's sources again, and not torch's,
    whose bytecode pip wrote). Both read their bytecode from the same private cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": folder}


def cli_vs_torch(rounds: int, specs: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall times and CPU times (user + system) of `netdsl check SPEC` for each spec and of
    `import torch`, alternately, each first in turn, after a run of each that compiles its bytecode."""
    commands = {spec: [sys.executable, "-m", "netdsl", "check", spec] for spec in specs}
    commands["import torch"] = [sys.executable, "-c", "import torch"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    with tempfile.TemporaryDirectory(prefix="netdsl-pycache-") as folder:
        env = bytecode_env(folder)
        for command in commands.values():
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
        for round_ in range(rounds):  # alternate, so that all see the same machine state
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                before = os.times()
                start = time.perf_counter()
                subprocess.run(commands[name], cwd=ROOT, check=True, capture_output=True, env=env)
                times[name].append(time.perf_counter() - start)
                after = os.times()
                cpu[name].append(
                    after.children_user - before.children_user + after.children_system - before.children_system
                )
    return times, cpu


def check_imports(spec: str) -> list[tuple[str, float, float]]:
    """Every module `netdsl check SPEC` imports: (name, own ms, cumulative ms), by -X importtime."""
    command = [sys.executable, "-X", "importtime", "-m", "netdsl", "check", spec]
    with tempfile.TemporaryDirectory(prefix="netdsl-pycache-") as folder:
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=bytecode_env(folder))
        result = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, env=bytecode_env(folder))
    found = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        found.append((name.strip(), int(own) / 1000, int(cumulative) / 1000))
    return found


def report_imports(spec: str) -> None:
    found = check_imports(spec)
    banned = [n for n, _, _ in found if n.startswith(("netdsl.backends", "torch", "onnx", "onnxruntime"))]
    ours = sum(own for name, own, _ in found if name.startswith("netdsl"))
    print(
        f"4. imports of netdsl check {spec}: {len(found)} modules, {sum(o for _, o, _ in found):.0f} ms "
        f"(netdsl's own {ours:.0f} ms, one run)"
    )
    print(f"   backends, torch, onnx, onnxruntime imported: {', '.join(banned) or 'none'}")
    top = sorted(found, key=lambda item: -item[1])[:12]
    print("   largest own times: " + ", ".join(f"{name} {own:.1f}" for name, own, _ in top))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cli-only", action="store_true", help="only 3 and 4: the command's start")
    args = parser.parse_args()

    sizes = {}
    for path in [*sorted((ROOT / "specs").glob("*.net")), *sorted((ROOT / "specs" / "zoo").glob("*.net"))]:
        outcome = check_program(load_text(path.read_text(), str(path)))
        sizes[path] = len(outcome.checked.layers) if outcome.checked else 0
    if not args.cli_only:
        in_process(sizes, args.repeat)
    cli(sizes, args.rounds)


def in_process(sizes: dict[Path, int], repeat: int) -> None:
    print(f"1. in-process parse + check, median of {repeat}")
    for path, layers in sizes.items():
        ms = median_ms(lambda p=path: check_spec(p), repeat)
        name = str(path.relative_to(ROOT / "specs"))
        print(f"   {name:<28} {layers:>5} layers {ms:8.2f} ms  ({ms / max(layers, 1) * 1000:5.1f} µs per layer)")

    print(f"2. generated specs, median of {max(repeat // 4, 3)}")
    per_layer = {}
    for layers in (1_000, 10_000):
        text = generated(layers)
        ms = median_ms(lambda t=text: check_text(t, "deep.net"), max(repeat // 4, 3))
        per_layer[layers] = ms / layers
        print(f"   {layers:>6,} layers          {ms:8.1f} ms   ({ms / layers * 1000:.1f} µs per layer)")
    print(f"   10,000 / 1,000 per-layer cost ratio: {per_layer[10_000] / per_layer[1_000]:.2f} (1.00 = linear)")


def cli(sizes: dict[Path, int], rounds: int) -> None:
    print(f"3. wall time and CPU time, {rounds} alternating rounds")
    largest = max(sizes, key=lambda p: sizes[p])
    specs = ["specs/alexnet.net", str(largest.relative_to(ROOT))]
    times, cpu = cli_vs_torch(rounds, specs)
    torch, torch_cpu = statistics.median(times.pop("import torch")), statistics.median(cpu.pop("import torch"))
    for name, runs in times.items():
        c, c_cpu = statistics.median(runs), statistics.median(cpu[name])
        print(
            f"   netdsl check {name:<28} median {c * 1000:7.0f} ms  (min {min(runs) * 1000:.0f})  "
            f"ratio to import torch {c / torch:.3f}  (target <= 0.10); CPU {c_cpu * 1000:.0f} ms, "
            f"ratio {c_cpu / torch_cpu:.3f}"
        )
    print(f"   python -c 'import torch'{'':<21} median {torch * 1000:7.0f} ms; CPU {torch_cpu * 1000:.0f} ms")
    report_imports("specs/alexnet.net")


if __name__ == "__main__":
    main()
