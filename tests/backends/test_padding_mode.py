"""Conv `padding_mode` (torch's zeros, reflect, replicate, circular): the checker's figures are
those of zero padding, PyTorch writes `nn.Conv2d(..., padding_mode=...)`, and ONNX pads with a
Pad node (reflect, edge, wrap) before a Conv without padding, or for circular before opset 19
with Slice + Concat; onnxruntime's output matches the module's in every mode and opset."""

from __future__ import annotations

from pathlib import Path

import pytest

import netdsl
from netdsl.backends.onnx.lowerings import PAD_MODES, WRAP_OPSET
from netdsl.runtime.session import max_opset, open_session

from test_torch_names import assert_builds

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")

# torch's note that an even kernel with padding='same' copies the input: known, and what is tested
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

MODES = ("zeros", "reflect", "replicate", "circular")

# asymmetric padding (2 rows, 1 column), a stride, `same` with an even kernel (1 before, 2 after),
# a conv that a batchnorm folds into, and padding 0 (a mode with nothing to fill)
SPEC = """network P {{
    input x: [3, 7, 6]
    a = conv(4, 3, padding=[2, 1], stride=2, padding_mode={mode}) -> relu -> flatten
    b = conv(5, 4, padding=same, bias=false, padding_mode={mode}) -> batchnorm
        -> conv(2, 3, padding_mode={mode}) -> flatten
    concat(a, b)
}}
"""


def _spec(mode: str, tmp_path: Path) -> netdsl.Spec:
    return assert_builds(SPEC.format(mode=mode), tmp_path)


def _figures(spec: netdsl.Spec) -> list[tuple[object, ...]]:
    return [(la.name, la.output_shape, la.params, la.macs, la.receptive_field, la.jump) for la in spec.checked.layers]


@pytest.mark.parametrize("mode", MODES[1:])
def test_the_checker_counts_as_for_zero_padding(mode: str, tmp_path: Path) -> None:
    spec, zeros = _spec(mode, tmp_path), _spec("zeros", tmp_path)
    assert _figures(spec) == _figures(zeros)
    assert spec.checked.output_shape == (4 * 5 * 3 + 2 * 5 * 4,)  # a: 7×6 padded to 11×8, stride 2; b: 7×6 → 5×4
    assert spec.checked.total_params == (3 * 9 * 4 + 4) + (3 * 16 * 5) + 2 * 5 + (5 * 9 * 2 + 2)
    convs = [n for n in spec.checked.graph.nodes if n.op == "conv"]
    assert [n.attrs["padding_mode"] for n in convs] == [mode] * 3


@pytest.mark.parametrize("mode", MODES)
def test_pytorch_writes_the_mode(mode: str, tmp_path: Path) -> None:
    spec = _spec(mode, tmp_path)
    source = spec.torch_source.text
    module = spec.to_torch()
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.padding_mode for c in convs] == [mode] * 3
    assert source.count(f'padding_mode="{mode}"') == (0 if mode == "zeros" else 3)


def _parity(spec: netdsl.Spec, opset: int, graph: str = "inference") -> tuple[float, list[str]]:
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    for m in module.modules():  # batchnorm statistics that are not the identity: the fold must use them
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, *spec.checked.input_shape)
    with torch.no_grad():
        expected = module(x).numpy()
    model = spec.to_onnx(weights=module.state_dict(), opset=opset, graph=graph)
    got = open_session(model, "cpu").run(x.numpy())
    return float(np.abs(got - expected).max()), [n.op_type for n in model.graph.node]


OPSETS = sorted({17, 18, WRAP_OPSET, max_opset()})


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("mode", MODES)
def test_onnxruntime_matches_torch(mode: str, opset: int, tmp_path: Path) -> None:
    spec = _spec(mode, tmp_path)
    diff, ops = _parity(spec, opset)
    assert diff <= 1e-5
    assert ops.count("Conv") == 3  # the batchnorm folded into its conv
    wraps = mode == "circular" and opset < WRAP_OPSET
    # conv `a` and conv `b` pad; the last conv has padding 0, which no mode fills
    assert ops.count("Pad") == (0 if mode == "zeros" or wraps else 2)
    if wraps:  # two convs pad along H and along W: a tail and a head slice and a Concat each, and concat(a, b)
        assert ops.count("Slice") == 2 * 2 * 2 and ops.count("Concat") == 2 * 2 + 1
    if mode == "zeros":
        assert "Slice" not in ops


def test_the_training_graph_pads_too(tmp_path: Path) -> None:
    diff, ops = _parity(_spec("reflect", tmp_path), 18, graph="training")
    assert diff <= 1e-5
    assert ops.count("Pad") == 2 and ops.count("BatchNormalization") == 1


@pytest.mark.parametrize("mode", MODES[1:])
def test_the_pad_node_and_the_conv(mode: str, tmp_path: Path) -> None:
    model = _spec(mode, tmp_path).to_onnx(opset=max(WRAP_OPSET, 18))
    nodes = list(model.graph.node)
    pads = [n for n in nodes if n.op_type == "Pad"]
    assert [next(a.s.decode() for a in p.attribute if a.name == "mode") for p in pads] == [PAD_MODES[mode]] * 2
    inits = {t.name: onnx.numpy_helper.to_array(t).tolist() for t in model.graph.initializer}
    # conv a: [2, 1] on both sides; conv b: same with a 4×4 kernel, 1 before and 2 after
    assert [inits[p.input[1]] for p in pads] == [[0, 0, 2, 1, 0, 0, 2, 1], [0, 0, 1, 1, 0, 0, 2, 2]]
    for conv in (n for n in nodes if n.op_type == "Conv"):
        assert next(list(a.ints) for a in conv.attribute if a.name == "pads") == [0, 0, 0, 0]
    assert [n for n in nodes if n.op_type == "Conv"][0].input[0] == pads[0].output[0]


def test_circular_before_opset_19_wraps_with_slices(tmp_path: Path) -> None:
    """x[..., -2:, :], x, x[..., :2, :] along H, then the same along W with one column."""
    model = _spec("circular", tmp_path).to_onnx(opset=18)
    nodes = [n for n in model.graph.node if n.name.startswith("conv_1")]
    assert [n.op_type for n in nodes] == ["Slice", "Slice", "Concat", "Slice", "Slice", "Concat", "Conv"]
