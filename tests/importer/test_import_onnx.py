"""netdsl import from ONNX: netdsl's own inference and training graphs (opset 18) and the
TorchScript exporter's graphs come back as specs; the initializers become the weights."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

import netdsl
from netdsl.cli.app import main
from netdsl.importer import ImportRefused, from_onnx
from tests.importer import models

SPECS = Path(__file__).parents[2] / "specs"


def _module(imported: object) -> torch.nn.Module:
    module = netdsl.load(imported.text).to_torch().eval()  # type: ignore[attr-defined]
    weights = {k: torch.from_numpy(np.array(v)) for k, v in imported.weights.items()}  # type: ignore[attr-defined]
    module.load_state_dict(weights, strict=True)
    return module


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


SMALL = """
network Small {
    input image: [3, 16, 16]
    conv(8, 3) -> lrn(5, alpha=0.001, k=2) -> relu -> adaptive_avgpool(3) -> flatten -> gelu -> coral(5)
}
"""
HEAVY = {"alexnet.net", "coral_cnn.net", "zoo/squeezenet1_1.net"}  # 2-6 s each: with -m slow


@pytest.mark.parametrize("graph", ["inference", "training"])
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow if n in HEAVY else ())
        for n in [
            "small",
            "lenet5.net",
            "alexnet.net",
            "coral_cnn.net",
            "ordinal_synth.net",
            "resnet18.net",
            "zoo/squeezenet1_1.net",
            "zoo/mobilenet_v3_small.net",
        ]
    ],
)
def test_netdsl_graphs(name: str, graph: str) -> None:
    # small: netdsl's LRN (a 3-D Conv over squares), adaptive pooling's MatMuls, GELU's Erf, CORAL's Gemm + Add
    spec = netdsl.load(SMALL) if name == "small" else netdsl.load(SPECS / name)
    model = spec.to_onnx(graph=graph, opset=18)
    imported = from_onnx(model)
    again = netdsl.load(imported.text)
    assert again.checked.output_shape == spec.checked.output_shape
    if graph == "training":  # every layer kept: the same parameters (the inference graph folds batchnorms)
        assert again.checked.total_params == spec.checked.total_params
    x = np.random.default_rng(0).standard_normal((1, *spec.checked.input_shape)).astype(np.float32)
    with torch.no_grad():
        have = _module(imported)(torch.from_numpy(x)).numpy()
    assert np.abs(_run(model, x) - have).max() <= 1e-5


def test_lowerings_come_back_as_ops() -> None:
    text = from_onnx(netdsl.load(SMALL).to_onnx()).text
    assert "conv_1: conv(8, 3) -> lrn(5, alpha=0.001, beta=0.75, k=2.0) -> relu -> adaptive_avgpool(3)" in text
    assert "-> flatten -> gelu -> coral_1: coral(5)" in text


def test_folded_batchnorm_is_a_conv_with_bias() -> None:
    imported = from_onnx(netdsl.load(SPECS / "resnet18.net").to_onnx())
    assert "# The exporter folded a batchnorm into each of these convs" in imported.text
    assert "batchnorm" not in imported.text.split("network")[1]
    assert "conv1: conv(64, 7, stride=2, padding=3) -> relu" in imported.text


@pytest.mark.parametrize(
    ("factory", "shape"),
    [(models.FunctionalNet, (1, 32, 32)), (models.ListNet, (3, 16, 16)), (models.Branches, (3, 8, 8))],
)
def test_torchscript_exporter(factory: type, shape: tuple[int, ...]) -> None:
    source = factory().eval()
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(source, (x,), buffer, dynamo=False, opset_version=17, input_names=["x"])
    imported = from_onnx(onnx.load_from_string(buffer.getvalue()))
    with torch.no_grad():
        assert (source(x) - _module(imported)(x)).abs().max().item() <= 1e-5


def _model(node: onnx.NodeProto, dims: list[int | str] = (1, 3, 8, 8), extra: list = ()) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        list(extra),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_refuses_a_loop() -> None:
    body = helper.make_graph([], "body", [], [])
    loop = helper.make_node("Loop", ["", "", "x"], ["y"], name="repeat_me", body=body)
    with pytest.raises(ImportRefused, match=r"node 'repeat_me' \(Loop\): control flow \(ONNX Loop\)"):
        from_onnx(_model(loop))


def test_refuses_an_op_outside_the_table() -> None:
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], name="running")
    axis = helper.make_tensor("axis", TensorProto.INT64, [], [1])
    with pytest.raises(ImportRefused, match=r"node 'running' \(CumSum\): ONNX CumSum has no netdsl op"):
        from_onnx(_model(node, extra=[axis]))


def test_refuses_a_dynamic_shape_unless_given() -> None:
    model = _model(helper.make_node("Relu", ["x"], ["y"]), dims=["N", 3, "H", "W"])
    with pytest.raises(ImportRefused, match=r"input 'x' has a dynamic shape \[3, H, W\]"):
        from_onnx(model)
    assert "input image: [3, 16, 16]" in from_onnx(model, (3, 16, 16)).text


def test_cli_weights_out_feed_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "lenet.onnx"
    netdsl.load(SPECS / "lenet5.net").onnx_parts().save(source)
    out, weights = tmp_path / "lenet.net", tmp_path / "lenet.pt"
    assert main(["import", str(source), "-o", str(out), "--weights-out", str(weights)]) == 0
    rebuilt = tmp_path / "again.onnx"
    assert main(["build", str(out), "--target", "onnx", "--weights", str(weights), "-o", str(rebuilt)]) == 0
    x = np.random.default_rng(1).standard_normal((2, 1, 32, 32)).astype(np.float32)
    assert np.abs(_run(onnx.load(source), x) - _run(onnx.load(rebuilt), x)).max() <= 1e-5
    assert main(["check", str(source)]) == 0
    assert "61,706" in capsys.readouterr().out


class _Exported(torch.nn.Module):
    """LRN, GELU, SiLU, torch.chunk and a flatten by view: what the exporters write as several nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.norm = torch.nn.LocalResponseNorm(3, alpha=0.002, beta=0.5, k=1.5)
        self.fc = torch.nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.gelu(self.norm(self.conv(x)))
        a, b = torch.chunk(x, 2, dim=1)
        return self.fc(torch.nn.functional.silu(a + b).view(x.shape[0], -1))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_exporter_patterns_come_back_as_ops(dynamo: bool) -> None:
    source = _Exported().eval()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            model = torch.onnx.export(source, (x,), dynamo=True, verbose=False).model_proto
        else:
            buffer = io.BytesIO()
            torch.onnx.export(source, (x,), buffer, dynamo=False, opset_version=17, input_names=["x"])
            model = onnx.load_from_string(buffer.getvalue())
    imported = from_onnx(model)
    body = imported.text.split("network")[1]
    assert "conv: conv(8, 3) -> lrn(3, alpha=0.002, beta=0.5, k=1.5) -> gelu" in body
    assert "chunk(2, 0)" in body and "chunk(2, 1)" in body
    assert "silu -> flatten -> fc: linear(5)" in body
    with torch.no_grad():
        assert (source(x) - _module(imported)(x)).abs().max().item() <= 1e-5


def test_a_constant_if_is_its_branch() -> None:
    # TorchScript's LRN asks `if x.shape[1] == 1` of a tensor whose shape is known: the branch taken stays
    then = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"])],
        "then",
        [],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Sigmoid", ["x"], ["s"])],
        "else",
        [],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
    )
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["channels"], axis=0),
        helper.make_node("Equal", ["channels", "three"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then, else_branch=other),
    ]
    constants = [
        helper.make_tensor("one", TensorProto.INT64, [], [1]),
        helper.make_tensor("three", TensorProto.INT64, [], [3]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert from_onnx(model).text.splitlines()[-2].strip() == "relu"


def test_refuses_a_slice_of_rows_naming_the_node() -> None:
    node = helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="crop")
    extra = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("starts", 1), ("ends", 4), ("axes", 2))]
    with pytest.raises(ImportRefused, match=r"node 'crop' \(Slice\): Slice other than of a run of channels"):
        from_onnx(_model(node, extra=extra))
