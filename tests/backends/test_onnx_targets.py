"""Lowerings by target (`netdsl build --for cpu|cuda`): LRN as a Conv for the CPU, as ONNX's LRN
op for CUDA; both agree with PyTorch (the CPU provider runs both), and the model says its target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import netdsl
from netdsl.cli import main
from netdsl.runtime.session import open_session

from conftest import ROOT


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("size", [5, 4])
@pytest.mark.parametrize("opset", [18, 22])
def test_both_lrn_lowerings_agree_with_torch(size: int, opset: int) -> None:
    spec = netdsl.load(f"network L {{ input [7, 5, 5]  lrn(size={size}, alpha=0.01, beta=0.75, k=2.0) }}")
    x = torch.randn(3, 7, 5, 5) * 3
    with torch.no_grad():
        expected = spec.to_torch().eval()(x).numpy()
    cpu, cuda = spec.to_onnx(opset=opset), spec.to_onnx(opset=opset, target="cuda")
    assert "LRN" not in _ops(cpu) and "Conv" in _ops(cpu)  # the CPU's lowering is unchanged
    if size % 2:
        assert _ops(cuda) == ["LRN"]
    else:  # ONNX's window for an even size is PyTorch's mirrored: the Conv stays
        assert _ops(cuda) == _ops(cpu)
    for model in (cpu, cuda):
        got = open_session(model, "cpu").run(x.numpy())
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    meta = {p.key: p.value for p in cuda.metadata_props}
    assert meta["netdsl.for"] == "cuda" and {p.key: p.value for p in cpu.metadata_props}["netdsl.for"] == "cpu"


def test_alexnet_for_cuda_swaps_only_its_two_lrns() -> None:
    spec = netdsl.load(ROOT / "specs/alexnet.net")
    cpu, cuda = _ops(spec.to_onnx()), _ops(spec.to_onnx(target="cuda"))
    assert cuda.count("LRN") == 2 and "LRN" not in cpu
    assert len(cpu) - len(cuda) == 2 * 6  # each Conv lowering is 7 nodes (Mul, Unsqueeze, Conv, Squeeze, Add, Pow, Div)


def test_build_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.onnx"
    assert main(["build", str(ROOT / "specs/alexnet.net"), "--target", "onnx", "--for", "cuda", "-o", str(out)]) == 0
    assert "opset 18, for CUDA" in capsys.readouterr().err
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["netdsl.for"] == "cuda"
    lenet = str(ROOT / "specs/lenet5.net")
    assert main(["build", lenet, "--target", "onnx", "--for", "cuda", "--opset", "22", "-o", str(out)]) == 0
    assert "warning: --opset 22: onnxruntime's CUDA provider" in capsys.readouterr().err
    assert main(["build", lenet, "--target", "onnx", "-o", str(out)]) == 0
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["netdsl.for"] == "cpu"
    assert "warning" not in capsys.readouterr().err
    assert main(["build", lenet, "--for", "cuda"]) == 2
    assert "--for applies to --target onnx" in capsys.readouterr().err
