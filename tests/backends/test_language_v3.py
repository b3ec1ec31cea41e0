"""Language v3 in both backends: each new form builds in PyTorch with the checker's figures and
state_dict keys, and onnxruntime's output matches the module's."""

from __future__ import annotations

from pathlib import Path

import pytest

import netdsl
from netdsl.runtime.session import open_session

from conftest import ROOT
from test_torch_names import assert_builds

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

LAYERS = """
network Net(classes = 10) {
    input image: [3, 16, 16]
    ConvNormAct(8, act=hardswish)
    ConvNormAct(8, act=leaky_relu(0.1))
    ConvNormAct(8, act=none)
    ConvNormAct(8, act=SE(4, gate=hardsigmoid))
    ConvNormAct(8)
    Stage(8, [relu, hardswish])
    global_avgpool -> flatten -> linear(classes)
}

block ConvNormAct(out, kernel = 3, act = relu) {
    conv(out, kernel, padding=1) -> batchnorm -> act
}

# passed on: Stage's `act` is a layer because ConvNormAct's is
block Stage(out, acts) {
    for a in acts { ConvNormAct(out, act=a) }
}

block SE(squeeze, gate = sigmoid) {
    s = global_avgpool -> fc1: conv(squeeze, 1) -> relu -> fc2: conv(in.channels, 1) -> gate
    mul(in, s)
}
"""


def assert_both_backends(text: str, tmp_path: Path, **overrides: object) -> netdsl.Spec:
    spec = assert_builds(text, tmp_path, **overrides)
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    names = {n.name for n in spec.checked.graph.nodes}
    for key in module.state_dict():
        assert key.rsplit(".", 1)[0] in names, key
    x = torch.randn(2, *spec.checked.input_shape)
    with torch.no_grad():
        expected = module(x).numpy()
    got = open_session(spec.to_onnx(weights=module.state_dict()), "cpu").run(x.numpy())
    assert float(np.abs(got - expected).max()) <= 1e-5
    return spec


def test_layers_as_arguments(tmp_path: Path) -> None:
    spec = assert_both_backends(LAYERS, tmp_path)
    ops = {n.name: n.op for n in spec.checked.graph.nodes}
    assert ops["conv_norm_act_1.hardswish_1"] == "hardswish"
    assert ops["conv_norm_act_2.leaky_relu_1"] == "leaky_relu"
    assert not any(name.startswith("conv_norm_act_3.") and op not in ("conv", "batchnorm") for name, op in ops.items())
    assert ops["conv_norm_act_4.se_1.hardsigmoid_1"] == "hardsigmoid"
    assert ops["conv_norm_act_5.relu_1"] == "relu"
    assert ops["stage_1.conv_norm_act_2.hardswish_1"] == "hardswish"
    leaky = next(n for n in spec.checked.graph.nodes if n.op == "leaky_relu")
    assert leaky.attrs["negative_slope"] == 0.1
    # 7 convs of 8 outputs (3 in, then 8 in), 7 batchnorms, SE's two 1x1 convs, the linear layer
    assert spec.checked.total_params == (3 * 9 * 8 + 8) + 6 * (8 * 9 * 8 + 8) + 7 * 16 + (8 * 4 + 4) + (4 * 8 + 8) + 90
    source = spec.torch_source.text
    for cls in ("ConvNormActHardswish", "ConvNormActLeakyRelu", "ConvNormActNone", "ConvNormActSE", "ConvNormActRelu"):
        assert f"class {cls}(nn.Module)" in source


ARITHMETIC = """
def make_divisible(v, d = 8) = max(d, int(v + d / 2) // d * d)
def twice(x) = 2 * x

network N(width = 1.2, depth = 1.4) {
    input x: [3, 16, 16]
    let depths = [1, 2, 2]
    let scaled = [int(ceil(n * depth)) for n in depths]
    let firsts = [sum(scaled[:i]) for i in range(len(scaled))]
    let w = [make_divisible(c * width) for c in [16, 24, 40] if c > 0]
    for i in range(3) {
        repeat scaled[i] as j { conv(w[i], 3, padding=1) -> dropout(0.1 * (firsts[i] + j) / sum(scaled)) }
    }
    conv(twice(round(2.5)) + floor(log(8, 2)) + 2 ** 2 + int(sqrt(16)) + abs(-1) + -2 ** 2, 1)
}
"""


@pytest.mark.parametrize(("width", "depth", "widths", "counts"), [
    (1.2, 1.4, [16, 32, 48], [2, 3, 3]),
    (1.0, 1.0, [16, 24, 40], [1, 2, 2]),
    (2.0, 2.0, [32, 48, 80], [2, 4, 4]),
])
def test_compile_time_arithmetic(width: float, depth: float, widths: list[int], counts: list[int],
                                 tmp_path: Path) -> None:
    spec = assert_both_backends(ARITHMETIC, tmp_path, width=width, depth=depth)
    convs = [n for n in spec.checked.graph.nodes if n.op == "conv"]
    assert [c.shape[0] for c in convs] == [w for w, n in zip(widths, counts, strict=True) for _ in range(n)] + [12]
    drops = [n.attrs["p"] for n in spec.checked.graph.nodes if n.op == "dropout"]
    assert drops == pytest.approx([0.1 * b / sum(counts) for b in range(sum(counts))])


INLINE = """
network N {
    input x: [3, 16, 16]
    stem: conv(8, 3, padding=1)
    Body(8, 2, act=hardswish)
    global_avgpool -> flatten
    fc: linear(10)
}

# its layers join the network's scope: block0, block1, head, conv_1 (no `body` level)
inline block Body(width, n, act = relu) {
    let doubled = width * 2
    for i in range(n) {
        "block{i}": Res(width) -> act
    }
    head: conv(doubled, 1)
    y = conv(width, 1)
    z = add(y, in)
    concat(z, in)
}

block Res(out) {
    y = conv(out, 3, padding=1) -> relu
    add(y, in)
}
"""


def test_inline_blocks(tmp_path: Path) -> None:
    spec = assert_both_backends(INLINE, tmp_path)
    keys = list(spec.to_torch().state_dict())
    assert keys == [
        "stem.weight", "stem.bias", "block0.conv_1.weight", "block0.conv_1.bias", "block1.conv_1.weight",
        "block1.conv_1.bias", "head.weight", "head.bias", "conv_1.weight", "conv_1.bias", "fc.weight", "fc.bias",
    ]
    assert spec.checked.output_shape == (10,)


@pytest.mark.parametrize(("network", "params"), [("RegNetY_400MF", 4_344_144), ("RegNetX_400MF", 5_495_976)])
def test_regnets_from_their_design_parameters_build_with_torchvisions_keys(network: str, params: int) -> None:
    from netdsl.backends.onnx.emit import expected_tensors

    spec = netdsl.load(ROOT / "specs/zoo/regnet_y_400mf.net", network=network)
    module = spec.to_torch()
    assert sum(p.numel() for p in module.parameters()) == params
    state = module.state_dict()
    expected = [k for k in expected_tensors(spec.checked)]
    assert [k for k in state if not k.endswith("num_batches_tracked")] == expected


def test_efficientnet_b3_builds_from_b0s_spec() -> None:
    spec = netdsl.load(ROOT / "specs/zoo/efficientnet_b0.net", width=1.2, depth=1.4, resolution=300)
    module = spec.to_torch()
    assert sum(p.numel() for p in module.parameters()) == 12_233_232
    assert module.input_shape == (3, 300, 300)


def test_average_pooling_may_leave_the_padding_out_of_its_count(tmp_path: Path) -> None:
    spec = assert_both_backends(
        """network P { input x: [3, 7, 7]
        a = avgpool(3, stride=2, padding=1, count_include_pad=false) -> flatten
        b = avgpool(3, stride=2, padding=1) -> flatten
        concat(a, b) }""",
        tmp_path,
    )
    assert "count_include_pad=False" in spec.torch_source.text
    torch.manual_seed(0)
    x = torch.ones(1, 3, 7, 7)
    with torch.no_grad():
        out = spec.to_torch()(x)[0]
    assert float(out[0]) == 1.0  # the corner window averages its 4 pixels, not 9 with the padding
    assert float(out[48]) == pytest.approx(4 / 9)


def test_unequal_channel_splits(tmp_path: Path) -> None:
    spec = assert_both_backends(
        """network G { input x: [8, 5, 5]
        primary = slice(0, 3) -> conv(4, 1)
        cheap = slice(3, 8) -> conv(5, 3, padding=1, groups=5)
        concat(primary, cheap) -> slice(2, 9) }""",
        tmp_path,
    )
    assert spec.checked.output_shape == (7, 5, 5)
    assert [n.shape[0] for n in spec.checked.graph.nodes if n.op == "slice"] == [3, 5, 7]
