"""Round trip through ONNX, every shipped and zoo network: spec → ONNX (netdsl's inference and
training graphs at opset 17, 18 and the newest onnxruntime runs; torch.onnx.export's TorchScript
graph at opset 17 and its dynamo graph) → netdsl import → spec′. spec′ checks clean with the same
output shape (and, where every batchnorm is kept, the same parameters), and its module, with the
initializers as weights, computes what onnxruntime computes on the source graph."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import netdsl
from netdsl.importer import from_onnx
from netdsl.runtime.session import max_opset
from tests.importer.test_import_round_trip import _hand_lines, _lines

SPECS = Path(__file__).parents[2] / "specs"
GRAPHS = [
    "inference-17",
    "inference-18",
    "inference-newest",
    "training-17",
    "training-18",
    "training-newest",
    "torchscript",
    "dynamo",
]
# unmarked: small networks, each graph under ~2 s here (the dynamo exporter takes seconds even for LeNet;
# coral_cnn's 21 M weights take 14 s to make)
LIGHT = (
    {("lenet5.net", g) for g in GRAPHS[:7]}
    | {("edge_detectors.net", g) for g in GRAPHS[:7]}
    | {
        ("ordinal_synth.net", "training-18"),
        ("ordinal_synth.net", "torchscript"),
        ("zoo/squeezenet1_1.net", "training-18"),
    }
)
# torch.onnx.export's TorchScript exporter has no ONNX form for nn.ChannelShuffle (aten::channel_shuffle)
NO_SOURCE = {("zoo/shufflenet_v2_x1_0.net", "torchscript")}


def _cases() -> list:
    paths = sorted(SPECS.glob("*.net")) + sorted((SPECS / "zoo").glob("*.net"))
    cases = []
    for name in (str(p.relative_to(SPECS)) for p in paths):
        for graph in GRAPHS:
            marks = () if (name, graph) in LIGHT else pytest.mark.slow
            if (name, graph) in NO_SOURCE:  # strict: the day the exporter writes it, this case must run for real
                marks = (
                    pytest.mark.slow,
                    pytest.mark.xfail(
                        strict=True,
                        raises=torch.onnx.errors.UnsupportedOperatorError,
                        reason="torch.onnx.export (TorchScript) cannot export aten::channel_shuffle",
                    ),
                )
            cases.append(pytest.param(name, graph, id=f"{name}-{graph}", marks=marks))
    return cases


def _export(spec: netdsl.Spec, graph: str) -> onnx.ModelProto:
    kind, _, opset = graph.partition("-")
    if kind in ("inference", "training"):
        return spec.to_onnx(graph=kind, opset=max_opset() if opset == "newest" else int(opset))
    module = spec.to_torch().eval()
    x = torch.randn(1, *spec.checked.input_shape, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "dynamo":
            return torch.onnx.export(module, (x,), dynamo=True, verbose=False).model_proto
        buffer = io.BytesIO()
        torch.onnx.export(module, (x,), buffer, dynamo=False, opset_version=17, input_names=["x"])
    return onnx.load_from_string(buffer.getvalue())


# readable as well as right: from netdsl's opset-18 training graph and the TorchScript graph the
# module tree comes back (blocks, seqs, loops), and the spec is at most 1.5 times as long as the
# hand-written one (lines counted as in test_import_round_trip; flat, DenseNet-121 took 531 for 38)
def _readable(name: str, graph: str, text: str) -> None:
    if graph in ("training-18", "torchscript"):
        hand = _hand_lines(SPECS / name)
        assert _lines(text) <= 1.5 * hand, f"{_lines(text)} lines imported, {hand} by hand"


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize(("name", "graph"), _cases())
def test_onnx_round_trip(name: str, graph: str) -> None:
    spec = netdsl.load(SPECS / name)
    model = _export(spec, graph)
    imported = from_onnx(model)
    _readable(name, graph, imported.text)
    again = netdsl.load(imported.text)
    assert not [d for d in again.checked.diagnostics if d.severity == "error"]
    assert again.checked.output_shape == spec.checked.output_shape
    batchnorms = sum(layer.op == "batchnorm" for layer in spec.checked.layers)
    if sum(n.op_type == "BatchNormalization" for n in model.graph.node) == batchnorms:  # none folded
        assert again.checked.total_params == spec.checked.total_params
    module = again.to_torch().eval()
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in imported.weights.items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((1, *spec.checked.input_shape)).astype(np.float32)
    want = _run(model, x)
    with torch.no_grad():
        have = module(torch.from_numpy(x)).numpy()
    assert have.shape == want.shape
    assert np.abs(want - have).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))
