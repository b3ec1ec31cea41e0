"""ONNX import keeps the module tree: the exporters' module paths (TorchScript's node names,
netdsl's node names) nest the layers into seqs and blocks that the PyTorch importer's generalizer
turns into `block`s and loops; a graph without paths stays flat. Weights are keyed as the written
spec's module names them."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netdsl
from netdsl.importer import from_onnx


class Basic(nn.Module):
    def __init__(self, inp: int, out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = None
        if stride != 1 or inp != out:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class TinyResNet(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stage1 = nn.Sequential(Basic(16, 16), Basic(16, 16))
        self.stage2 = nn.Sequential(Basic(16, 32, 2), Basic(32, 32))
        self.stage3 = nn.Sequential(Basic(32, 64, 2), Basic(64, 64), Basic(64, 64))
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def _torchscript(module: nn.Module, x: torch.Tensor) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), buffer, dynamo=False, opset_version=17, input_names=["x"])
    return onnx.load_from_string(buffer.getvalue())


@pytest.mark.slow  # the dynamo exporter takes seconds even for a small model
def test_dynamo_graph_names_blocks_by_class() -> None:
    source = TinyResNet().eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.onnx.export(source, (x,), dynamo=True, verbose=False).model_proto
    imported = from_onnx(model)
    # the exporter's class hierarchy names the block; the rest as from TorchScript
    assert imported.text.count("block Basic(out, stride) {") == 1
    assert "-> stage3: repeat 3 as i { Basic(64, 2 if i == 0 else 1) }" in imported.text
    with torch.no_grad():
        assert (source(x) - _module(imported)(x)).abs().max().item() <= 1e-5


def _module(imported: object) -> nn.Module:
    module = netdsl.load(imported.text).to_torch().eval()  # type: ignore[attr-defined]
    weights = {k: torch.from_numpy(np.array(v)) for k, v in imported.weights.items()}  # type: ignore[attr-defined]
    assert list(weights) == [k for k in module.state_dict() if k in weights]
    module.load_state_dict(weights, strict=True)
    return module


def test_torchscript_graph_becomes_blocks_and_loops() -> None:
    torch.manual_seed(0)
    source = TinyResNet()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    imported = from_onnx(_torchscript(source, x))
    # one block for the three stages' Basic (named after its first path, `stage1.0`); the stem's
    # nn.Sequential lost its batchnorm to the exporter (positions 0 and 2 left): written inline
    assert imported.text.split("\n\n", 1)[1] == TINY
    with torch.no_grad():
        assert (source(x) - _module(imported)(x)).abs().max().item() <= 1e-5


TINY = """block Stage(out, stride) {
    conv2 = conv1: conv(out, 3, stride=stride, padding=1) -> relu -> conv2: conv(out, 3, padding=1)
    shortcut = if stride != 1 or in.channels != out {
        shortcut: seq { conv(out, 1, stride=stride) }
    }
    add(conv2, shortcut) -> relu
}

network Imported {
    input image: [3, 32, 32]
    stem_0: conv(16, 3, padding=1) -> relu -> stage1: repeat 2 { Stage(16, 1) }
        -> stage2: repeat 2 as i { Stage(32, 2 if i == 0 else 1) }
        -> stage3: repeat 3 as i { Stage(64, 2 if i == 0 else 1) } -> global_avgpool -> flatten
        -> fc: linear(10)
}
"""

SPEC = """
block Unit(out, stride = 1) {
    main = conv(out, 3, stride=stride, padding=1, bias=false) -> batchnorm -> relu
    skip = if stride != 1 or in.channels != out {
        proj: seq { conv(out, 1, stride=stride, bias=false) -> batchnorm }
    } else { in }
    add(main, skip) -> relu
}

network Net {
    input image: [3, 16, 16]
    stem: conv(8, 3, padding=1)
    body: seq { Unit(8) Unit(16, stride=2) Unit(16) Unit(32, stride=2) }
    global_avgpool -> flatten
    fc: linear(4)
}
"""


def test_netdsl_training_graph_keeps_the_spec_tree() -> None:
    spec = netdsl.load(SPEC)
    model = spec.to_onnx(graph="training", opset=18)
    imported = from_onnx(model)
    # netdsl names nodes by module path (`body.1.proj.0`): one block for the four units, its
    # optional projection an `if` on the condition the instances agree with
    assert imported.text.split("\n\n", 1)[1] == NET
    again = netdsl.load(imported.text)
    assert again.checked.total_params == spec.checked.total_params
    assert list(imported.weights) == list(spec.to_torch().state_dict())
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = _run(model, x.numpy())
        assert np.abs(_module(imported)(x).numpy() - want).max() <= 1e-5


NET = """block Body(out, stride) {
    relu_1 = conv_1: conv(out, 3, stride=stride, padding=1, bias=false)
        -> batchnorm_1: batchnorm(eps=1e-05, momentum=0.1) -> relu
    proj = if stride != 1 or in.channels != out {
        proj: seq { conv(out, 1, stride=stride, bias=false) -> batchnorm(eps=1e-05, momentum=0.1) }
    }
    add(relu_1, proj) -> relu
}

network Net {
    input image: [3, 16, 16]
    stem: conv(8, 3, padding=1)
        -> body: seq {
            Body(8, 1)
            Body(16, 2)
            Body(16, 1)
            Body(32, 2)
        } -> global_avgpool -> flatten -> fc: linear(4)
}
"""


def test_a_graph_without_module_paths_stays_flat() -> None:
    spec = netdsl.load(SPEC)
    model = spec.to_onnx(graph="training", opset=18)
    for k, node in enumerate(model.graph.node):
        node.name = f"n{k}:{node.op_type}"  # no module path: names as an anonymous exporter gives
    imported = from_onnx(model)
    assert "block" not in imported.text
    network = imported.text.split("network Net {\n")[1]
    assert network.count("\n") == 19  # one statement per value read twice, as before the tree
    assert "body_1_proj_1 = body_0_relu_2 -> n9_Conv: conv(16, 1, stride=2, bias=false)" in network
    assert list(imported.weights)[:3] == ["n0_Conv.weight", "n0_Conv.bias", "n1_Conv.weight"]
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert np.abs(_module(imported)(x).numpy() - _run(model, x.numpy())).max() <= 1e-5


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]
