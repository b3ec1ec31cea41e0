"""The two ONNX graphs: the inference graph (the default) folds each batchnorm into the conv it
reads, exactly; writes no node for identity, dropout and stochastic_depth; pools with explicit
strides and pads; sums LRN's window with a Conv. The training graph keeps every layer. Node
counts of the shipped networks against the TorchScript exporter's (ResNet-18: 49, CORAL-CNN: 90),
the default opset, and parity with torch for every network of torchvision's zoo."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.onnx.emit import DEFAULT_OPSET, GRAPHS, plan_graph
from netdsl.backends.onnx.lowerings import fold_batchnorm
from netdsl.runtime.session import max_opset, open_session

from conftest import MODELS, ROOT
from test_onnx_backend import check_shapes_and_parity, randomized_statistics

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")


def ops(model: onnx.ModelProto) -> Counter[str]:
    return Counter(n.op_type for n in model.graph.node)


def attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: list(a.ints) or a.i for a in node.attribute}


# (nodes of the inference graph, of the training graph, BatchNormalization folded) per shipped network
NODES = {
    "resnet18": (49, 69, 20),
    "coral_cnn": (90, 126, 36),
    "lenet5": (12, 12, 0),
    "alexnet": (33, 35, 0),  # two dropouts
    "googlenet": (153, 154, 0),  # one dropout
}


@pytest.mark.parametrize("name", sorted(NODES))
def test_node_counts_of_both_graphs(name: str) -> None:
    spec = netdsl.load(ROOT / f"specs/{name}.net")
    inference, training = (spec.to_onnx(graph=graph) for graph in GRAPHS)
    nodes, kept, folded = NODES[name]
    assert (len(inference.graph.node), len(training.graph.node)) == (nodes, kept)
    assert ops(training)["BatchNormalization"] == folded and "BatchNormalization" not in ops(inference)
    assert not {"Identity", "Dropout", "Sum", "Pad"} & set(ops(inference))
    assert ops(training)["Dropout"] == kept - nodes - folded
    assert {p.key: p.value for p in inference.metadata_props}["netdsl.graph"] == "inference"
    assert {p.key: p.value for p in training.metadata_props}["netdsl.graph"] == "training"


def test_default_opset() -> None:
    spec = netdsl.load(ROOT / "specs/lenet5.net")
    assert DEFAULT_OPSET == 18 and spec.to_onnx().opset_import[0].version == 18
    assert spec.to_onnx(opset=max_opset()).opset_import[0].version == max_opset()


def test_a_folded_conv_keeps_both_labels_and_exact_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    spec = netdsl.load("specs/resnet18.net")
    torch.manual_seed(3)
    module = spec.to_torch().eval()
    state = {k: v.numpy() for k, v in randomized_statistics(module).items()}
    model = spec.to_onnx(weights=state)
    node = next(n for n in model.graph.node if n.name == "layer1.0.conv1+layer1.0.bn1")
    assert node.op_type == "Conv"
    assert list(node.input) == [
        "stem_1.maxpool",
        "layer1.0.conv1+layer1.0.bn1.weight",
        "layer1.0.conv1+layer1.0.bn1.bias",
    ]
    assert list(node.output) == ["layer1.0.bn1"]  # what the next layer reads
    assert [line.split(": ", 1)[0] for line in node.doc_string.splitlines()] == [
        "blocks/resnet.net:8:12",
        "blocks/resnet.net:8:73",
    ]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert not any(key.startswith("layer1.0.bn1.") or key == "layer1.0.conv1.weight" for key in weights)
    # in float64, then rounded once: as close to the exact product as float32 gets
    scale = state["layer1.0.bn1.weight"].astype(np.float64) / np.sqrt(
        state["layer1.0.bn1.running_var"].astype(np.float64) + 1e-5
    )
    exact = state["layer1.0.conv1.weight"].astype(np.float64) * scale[:, None, None, None]
    shift = state["layer1.0.bn1.bias"] - state["layer1.0.bn1.running_mean"].astype(np.float64) * scale
    assert np.array_equal(weights["layer1.0.conv1+layer1.0.bn1.weight"], exact.astype(np.float32))
    assert np.array_equal(weights["layer1.0.conv1+layer1.0.bn1.bias"], shift.astype(np.float32))


def test_fold_batchnorm_with_a_conv_bias() -> None:
    weight = np.arange(12, dtype=np.float32).reshape(3, 1, 2, 2)
    bias, gamma, beta = np.float32([1, 2, 3]), np.float32([2, 0.5, -1]), np.float32([0, 1, 2])
    mean, var = np.float32([1, 1, 5]), np.float32([3, 0, 1])
    folded, shift = fold_batchnorm(weight, bias, gamma, beta, mean, var, 1.0)
    assert folded.dtype == shift.dtype == np.float32
    assert np.allclose(folded[:, 0, 0, 0], [0.0, 2.0, -8 / np.sqrt(2)])
    assert np.allclose(shift, [0.0, 1.0 + 0.5, (3 - 5) * (-1 / np.sqrt(2)) + 2])


FOLDS = [  # spec text, the convs folded, the batchnorms left as BatchNormalization
    ("network N { input [2, 6, 6]  c: conv(4, 3) -> b: batchnorm -> relu }", {"c"}, 0),
    # the conv's value is read twice: it stays, and so does the batchnorm
    ("network N { input [2, 6, 6]  c = conv(4, 3, padding=1)  n = c -> batchnorm  add(c, n) }", set(), 1),
    # a batchnorm after a pool is no conv's
    ("network N { input [2, 6, 6]  c: conv(2, 1) -> b: batchnorm -> p: maxpool(2) -> q: batchnorm }", {"c"}, 1),
    # a dropout between them writes no node: the batchnorm reads the conv, and is folded
    ("network N { input [2, 6, 6]  c: conv(4, 3) -> d: dropout -> b: batchnorm -> flatten }", {"c"}, 0),
    # the conv is the network's output, and an unread branch's batchnorm reads it: kept
    ("network N { input [2, 6, 6]  c: conv(2, 1)  x = b: batchnorm }", set(), 1),
    # a batchnorm of [C] after a linear layer
    ("network N { input [6]  linear(4) -> batchnorm -> relu }", set(), 1),
]


@pytest.mark.parametrize(("text", "folded", "kept"), FOLDS)
def test_which_batchnorms_are_folded(text: str, folded: set[str], kept: int, tmp_path: Path) -> None:
    spec = netdsl.load(text)
    nodes = spec.checked.graph.nodes
    assert {nodes[c].name for c in plan_graph(spec.checked).folded} == folded
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    state = randomized_statistics(module)
    for graph in GRAPHS:
        model = spec.to_onnx(weights=state, graph=graph)
        assert ops(model)["BatchNormalization"] == (kept if graph == "inference" else kept + len(folded))
        check_shapes_and_parity(spec, module, model, tmp_path / f"{graph}.onnx")


def test_layers_that_compute_nothing_write_no_node() -> None:
    spec = netdsl.load(
        "network N { input [3, 4, 4]  s = identity -> r: relu -> d: dropout(0.3) -> stochastic_depth(0.2)"
        "  a = s -> conv(3, 1)  add(s, a) -> out: dropout(0.1) }"
    )
    inference = spec.to_onnx()
    assert [(n.op_type, list(n.input)) for n in inference.graph.node] == [
        ("Relu", ["input"]),
        ("Conv", ["r", "conv_1.weight", "conv_1.bias"]),  # reads the relu: through dropout and stochastic depth
        ("Add", ["r", "conv_1"]),
        ("Identity", ["add_1"]),  # the network's output keeps its name
    ]
    assert inference.graph.output[0].name == "out"
    training = spec.to_onnx(graph="training")
    dropouts = [n for n in training.graph.node if n.op_type == "Dropout"]
    ratios = {t.name: float(onnx.numpy_helper.to_array(t)) for t in training.graph.initializer if not t.dims}
    assert [ratios[n.input[1]] for n in dropouts] == pytest.approx([0.3, 0.1])
    assert [n.op_type for n in training.graph.node].count("Identity") == 2  # identity, stochastic_depth
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert np.array_equal(open_session(inference, "cpu").run(x), open_session(training, "cpu").run(x))


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "alexnet"])
def test_every_pooling_writes_its_strides_and_pads(name: str) -> None:
    for opset in (DEFAULT_OPSET, max_opset()):
        model = netdsl.load(ROOT / f"specs/{name}.net").to_onnx(opset=opset)
        pools = [n for n in model.graph.node if n.op_type in ("MaxPool", "AveragePool")]
        assert pools
        for node in pools:
            assert {"kernel_shape", "strides", "pads"} <= set(attrs(node)), node.name


def test_adaptive_pooling_that_tiles_writes_strides_and_pads() -> None:
    (node,) = netdsl.load("network A { input x: [1, 14, 14]  adaptive_avgpool(7) }").to_onnx().graph.node
    assert attrs(node) == {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0]}


@pytest.mark.parametrize("opset", [DEFAULT_OPSET, 19, 26])
def test_lrn_is_a_conv_over_channels_at_every_opset(opset: int) -> None:
    spec = netdsl.load("network L { input [7, 3, 3]  lrn(size=4, alpha=0.01, beta=0.75, k=2.0) }")
    model = spec.to_onnx(opset=opset)
    assert [n.op_type for n in model.graph.node] == ["Mul", "Unsqueeze", "Conv", "Squeeze", "Add", "Pow", "Div"]
    conv = model.graph.node[2]
    # PyTorch's window: size // 2 channels before, (size - 1) // 2 after
    assert attrs(conv) == {"kernel_shape": [4, 1, 1], "pads": [2, 0, 0, 1, 0, 0], "strides": [1, 1, 1]}
    kernel = onnx.numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == conv.input[1]))
    assert kernel.shape == (1, 1, 4, 1, 1) and np.allclose(kernel, 0.01 / 4)
    module = spec.to_torch().eval()
    x = torch.randn(3, 7, 3, 3)
    if opset <= max_opset():
        got = open_session(model, "cpu").run(x.numpy())
        assert float(np.abs(got - module(x).numpy()).max()) <= 1e-6


def test_unknown_graph_is_refused() -> None:
    with pytest.raises(ValueError, match="graph 'eval': netdsl writes inference or training graphs"):
        netdsl.load(ROOT / "specs/lenet5.net").to_onnx(graph="eval")


HEAVY = {  # more than ~10 s each on 2 cores: torch's forward, onnxruntime's session, strict inference
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
    "inception_v3",
    "densenet121",
    "convnext_tiny",
    "regnet_y_400mf",
    "efficientnet_b0",
}


@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.slow) if m in HEAVY else m for m in MODELS])
def test_zoo_inference_graph_matches_torch(name: str, tmp_path: Path) -> None:
    spec = netdsl.load(ROOT / "specs/zoo" / f"{name}.net")
    torch.manual_seed(1)
    module = spec.to_torch().eval()
    model = spec.to_onnx(weights=randomized_statistics(module))
    assert "BatchNormalization" not in ops(model) or name == "densenet121"  # DenseNet: batchnorm before conv
    check_shapes_and_parity(spec, module, model, tmp_path / "model.onnx")
