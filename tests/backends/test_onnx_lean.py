"""Leaner inference graphs: linear weights on channels-last inputs transposed once at emission
(no Transpose node per linear), and a Concat feeding only a Concat on the same axis merged
into it. Node counts, and parity with PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

import netdsl
from netdsl.runtime.session import open_session

from conftest import ROOT


def _transposes_of_weights(model: onnx.ModelProto) -> int:
    return sum(1 for n in model.graph.node if n.op_type == "Transpose" and list(n.attribute[0].ints) == [1, 0])


def _parity(spec: netdsl.Spec, model: onnx.ModelProto, module: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        expected = module(x).numpy()
    got = open_session(model, "cpu").run(x.numpy())
    return float(np.abs(got - expected).max() / max(1.0, float(np.abs(expected).max())))


def test_a_channels_last_linear_holds_its_weight_transposed() -> None:
    spec = netdsl.load("network M { input [4, 3, 3]  permute([1, 2, 0])  linear(5)  permute([2, 0, 1]) }")
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    state = module.state_dict()
    inference, training = spec.to_onnx(state), spec.to_onnx(state, graph="training")
    assert _transposes_of_weights(inference) == 0 and _transposes_of_weights(training) == 1
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in inference.graph.initializer}
    (key,) = [k for k in weights if k.endswith("weight_t")]
    np.testing.assert_array_equal(weights[key], state[key.removesuffix("_t")].numpy().T)
    x = torch.randn(2, 4, 3, 3)
    assert _parity(spec, inference, module, x) < 1e-6 and _parity(spec, training, module, x) < 1e-6


def test_nested_concats_on_one_axis_become_one() -> None:
    spec = netdsl.load(
        """network C { input x: [2, 4, 4]
            a = conv(3, 1)
            b = conv(3, 1)
            ab = concat(a, b)
            c = conv(2, 1)
            d = concat(ab, c)
            e = conv(2, 1)
            concat(d, e)
        }"""
    )
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    model = spec.to_onnx(module.state_dict())
    concats = [n for n in model.graph.node if n.op_type == "Concat"]
    assert [len(n.input) for n in concats] == [4] and concats[0].output[0] == model.graph.output[0].name
    assert len(spec.to_onnx(module.state_dict(), graph="training").graph.node) == len(model.graph.node) + 2
    assert _parity(spec, model, module, torch.randn(3, 2, 4, 4)) < 1e-6


@pytest.mark.slow
def test_convnext_and_inception_graphs_are_leaner_and_agree() -> None:
    convnext = netdsl.load(ROOT / "specs/zoo/convnext_tiny.net")
    model = convnext.to_onnx()
    assert _transposes_of_weights(model) == 0 and _transposes_of_weights(convnext.to_onnx(graph="training")) == 36
    inception = netdsl.load(ROOT / "specs/zoo/inception_v3.net")
    torch.manual_seed(0)
    module = inception.to_torch().eval()
    model = inception.to_onnx(module.state_dict())
    sizes = [len(n.input) for n in model.graph.node if n.op_type == "Concat"]
    assert sizes.count(6) == 2 and len(sizes) == 11  # Mixed_7b/7c: one six-input Concat each
    assert _parity(inception, model, module, torch.randn(1, 3, 299, 299)) < 1e-4
