"""Where the nodes of netdsl's graphs really run on onnxruntime's CUDA provider, opset by opset
(bench/gpu.sh's placement part): the line `netdsl infer --provider cuda` prints when some nodes
stay on the CPU, or "all on CUDA". On a machine without CUDA it says so and shows the CPU's.

    python bench/gpu/placement.py [--specs resnet18 alexnet coral_cnn] [--opsets 18 21 22 26]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import netdsl
from netdsl.runtime.session import CUDA, RuntimeUsageError, max_opset, node_placement, open_session

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--specs", nargs="+", default=["resnet18", "alexnet", "coral_cnn"])
    parser.add_argument("--opsets", nargs="+", type=int, default=[18, 21, 22, 26])
    args = parser.parse_args()
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}, opsets up to {max_opset()}")
    for name in args.specs:
        spec = netdsl.load(ROOT / "specs" / f"{name}.net")
        for opset in args.opsets:
            if opset > max_opset():
                print(f"{spec.network} opset {opset}: past what this onnxruntime runs")
                continue
            for target in ("cpu", "cuda"):
                try:
                    session = open_session(spec.to_onnx(opset=opset, target=target), "auto")
                except RuntimeUsageError as exc:
                    print(f"{spec.network} opset {opset} for {target}: {exc}")
                    continue
                placed = node_placement(session.session) if session.provider == CUDA else []
                said = session.placement or (f"all {len(placed)} nodes on CUDA" if placed else session.notice or "CPU")
                print(f"{spec.network} opset {opset} for {target}: {said}")


if __name__ == "__main__":
    main()
