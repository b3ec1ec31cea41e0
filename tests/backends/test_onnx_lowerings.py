"""The ONNX lowerings against PyTorch, one op at a time: every op of the table (the rows of
tests/test_ops.py) with random weights; adaptive pooling of any size; ceil-mode pooling at every
opset the installed onnx knows (ONNX's ceil-mode rule differs from PyTorch's before opset 22);
and model files that do not depend on how the spec's path was spelled."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.onnx.emit import GRAPHS, MIN_OPSET, plan_graph, value_name
from netdsl.runtime.session import max_opset, open_session

from conftest import CASES, ROOT

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")


def _load(text: str, folder: Path) -> netdsl.Spec:
    """Spec text from a file: long spec text passed as a string is first tried as a path, and
    a name past the file system's limit raises OSError (reported to the owner of netdsl.api)."""
    (folder / "spec.net").write_text(text)
    return netdsl.load(folder / "spec.net")


def _randomized(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state with every float tensor random (variances positive), so that no
    lowering passes by multiplying by one or adding zero."""
    generator = torch.Generator().manual_seed(3)
    state = {}
    for key, value in module.state_dict().items():
        if value.is_floating_point():
            value = (
                torch.rand(value.shape, generator=generator) + 0.5
                if key.endswith("running_var")
                else (torch.randn(value.shape, generator=generator))
            )
        state[key] = value
    module.load_state_dict(state)
    return state


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, list[int | str]]:
    """Every value's shape by onnx's own strict shape inference, after the full checker."""
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    values = list(inferred.graph.value_info) + list(inferred.graph.output)
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}


def _check_against_torch(spec: netdsl.Spec, opsets: list[int], batch: int = 2) -> dict[int, onnx.ModelProto]:
    """For each opset and both graphs: the model passes the checker, onnx infers the checker's
    shape for every layer whose value the graph holds, and (at the opsets onnxruntime runs) its
    output is PyTorch's within 1e-5. The inference graphs, by opset."""
    module = spec.to_torch().eval()
    state = _randomized(module)
    x = torch.randn(batch, *spec.checked.input_shape, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = module(x).numpy()
    models = {}
    for opset, graph in itertools.product(opsets, GRAPHS):
        model = spec.to_onnx(weights=state, opset=opset, graph=graph)
        models.setdefault(opset, model)
        shapes, plan = _inferred_shapes(model), plan_graph(spec.checked, graph)
        for node in spec.checked.graph.nodes[1:]:
            if plan.written(node.id):
                assert shapes[value_name(spec.checked, node)] == ["N", *node.shape], (opset, graph, node.name)
        if opset <= max_opset():
            got = open_session(model, "cpu").run(x.numpy())
            assert got.shape == expected.shape
            assert float(np.abs(got - expected).max()) <= 1e-5, (opset, graph)
    return models


@pytest.mark.parametrize("op", sorted(CASES))
def test_every_op_matches_torch(op: str) -> None:
    call, shape, *_ = CASES[op]
    spec = netdsl.load(f"network N {{ input {shape} {call} }}")
    assert spec.checked.graph.nodes[-1].op == op
    _check_against_torch(spec, [MIN_OPSET, max_opset()])


ADAPTIVE = {  # input [C, H, W]: outputs, most with windows of unequal size
    (1, 5, 5): [(2, 2), (3, 3), (4, 4), (5, 5), (1, 1)],
    (2, 7, 4): [(3, 3), (2, 4), (7, 4), (5, 3), (1, 2)],
    (2, 3, 9): [(7, 5), (2, 4), (3, 3), (1, 9)],
    (3, 13, 13): [(6, 6), (7, 7), (4, 5)],
}


@pytest.mark.parametrize("shape", sorted(ADAPTIVE))
def test_adaptive_pooling_of_any_size(shape: tuple[int, int, int], tmp_path: Path) -> None:
    branches = [
        f"{kind}_{i} = adaptive_{kind}pool([{h}, {w}]) -> flatten"
        for kind in ("avg", "max")
        for i, (h, w) in enumerate(ADAPTIVE[shape])
    ]
    names = ", ".join(b.split(" = ")[0] for b in branches)
    spec = _load(f"network A {{ input x: {list(shape)}\n" + "\n".join(branches) + f"\nconcat({names}) }}", tmp_path)
    _check_against_torch(spec, [MIN_OPSET, max_opset()])


def test_adaptive_lowering_keeps_plain_pooling_where_windows_tile() -> None:
    def ops(text: str) -> list[str]:
        return [n.op_type for n in netdsl.load(text).to_onnx().graph.node]

    assert ops("network A { input x: [1, 14, 14]  adaptive_avgpool(7) }") == ["AveragePool"]
    assert ops("network A { input x: [1, 14, 14]  adaptive_maxpool([7, 2]) }") == ["MaxPool"]
    assert ops("network A { input x: [1, 5, 5]  adaptive_maxpool(1) }") == ["GlobalMaxPool"]
    assert ops("network A { input x: [1, 5, 5]  adaptive_avgpool(2) }") == ["MatMul", "MatMul"]  # the issue's case
    assert ops("network A { input x: [1, 5, 5]  adaptive_maxpool(2) }") == [
        "MaxPool",
        "Gather",
        "Gather",
        "Max",
        "Gather",
        "Gather",
        "Max",
    ]


def _pytorch_differs_from_old_onnx(size: int, kernel: int, stride: int, padding: int) -> bool:
    """Before opset 22 ONNX's ceil mode keeps a last window that PyTorch drops."""
    span = size + 2 * padding - kernel
    old = -(-span // stride) + 1
    return (
        torch.nn.functional.max_pool1d(torch.zeros(1, 1, size), kernel, stride, padding, ceil_mode=True).shape[-1]
        != old
    )


AXES = list(itertools.product((2, 3), (2, 3), (0, 1)))  # kernel, stride, padding along one axis
CEIL_INPUTS = [(2, 5, 6), (1, 7, 4), (1, 6, 3)]


def _ceil_spec(shape: tuple[int, int, int], folder: Path) -> tuple[netdsl.Spec, int]:
    """Max and average pooling in ceil mode, each (kernel, stride, padding) on H paired with
    another on W; how many of the layers ONNX's old ceil rule gets wrong."""
    branches, differing = [], 0
    pairs = [(h, AXES[(i + offset) % len(AXES)]) for offset in (2, 3) for i, h in enumerate(AXES)]
    for i, (kind, (h, w)) in enumerate(itertools.product(("max", "avg"), pairs)):
        (kh, sh, ph), (kw, sw, pw) = h, w
        differing += _pytorch_differs_from_old_onnx(shape[1], *h) or _pytorch_differs_from_old_onnx(shape[2], *w)
        branches.append(
            f"p{i} = {kind}pool([{kh}, {kw}], stride=[{sh}, {sw}], padding=[{ph}, {pw}], ceil=true) -> flatten"
        )
    names = ", ".join(b.split(" = ")[0] for b in branches)
    spec = _load(f"network C {{ input x: {list(shape)}\n" + "\n".join(branches) + f"\nconcat({names}) }}", folder)
    return spec, differing


@pytest.mark.parametrize("shape", CEIL_INPUTS)
def test_ceil_mode_pooling_at_every_opset(shape: tuple[int, int, int], tmp_path: Path) -> None:
    spec, differing = _ceil_spec(shape, tmp_path)
    assert differing >= 4  # the grid reaches the windows that the old rule keeps
    opsets = list(range(MIN_OPSET, onnx.defs.onnx_opset_version() + 1))
    models = _check_against_torch(spec, opsets)

    def kinds(opset: int) -> set[str]:
        return {
            f"{n.op_type}/ceil={next((a.i for a in n.attribute if a.name == 'ceil_mode'), None)}"
            for n in models[opset].graph.node
        }

    assert {"MaxPool/ceil=0", "AveragePool/ceil=0"} <= kinds(21)  # rewritten in floor mode
    assert not {"MaxPool/ceil=0", "AveragePool/ceil=0", "Pad/ceil=None"} & kinds(22)  # ONNX's own ceil mode


@pytest.mark.parametrize("call", ["maxpool(5, ceil=true)", "avgpool([5, 4], stride=[2, 3], padding=[1, 2], ceil=true)"])
def test_ceil_mode_kernel_larger_than_the_padded_input(call: str) -> None:
    spec = netdsl.load(f"network M {{ input x: [4, 2, 3]  {call} }}")  # PyTorch runs these: so does ONNX
    _check_against_torch(spec, list(range(MIN_OPSET, onnx.defs.onnx_opset_version() + 1)))


def test_issue_ceil_case_loads_at_opset_17() -> None:
    spec = netdsl.load("network M { input x: [1, 6, 3]  maxpool(2, stride=3, ceil=true) }")
    assert spec.checked.graph.nodes[-1].shape == (1, 2, 1)
    models = _check_against_torch(spec, [17, 21, 22])
    pool = models[17].graph.node[0]
    assert {a.name: list(a.ints) or a.i for a in pool.attribute} == {
        "ceil_mode": 0,
        "kernel_shape": [2, 2],
        "pads": [0, 0, 0, 0],
        "strides": [3, 3],
    }  # windows fit as they are


def test_same_spec_same_bytes_however_its_path_is_spelled(monkeypatch: pytest.MonkeyPatch) -> None:
    def built(path: str) -> bytes:
        return netdsl.load(path).to_onnx(seed=1).SerializeToString()

    monkeypatch.chdir(ROOT)
    relative = built("specs/resnet18.net")
    model = onnx.load_model_from_string(relative)
    assert {p.key: p.value for p in model.metadata_props}["netdsl.spec"] == "resnet18.net"
    assert {n.doc_string.split(":")[0] for n in model.graph.node} == {"resnet18.net", "blocks/resnet.net"}
    assert built(str(ROOT / "specs/resnet18.net")) == relative
    monkeypatch.chdir(ROOT / "specs/blocks")
    assert built("../resnet18.net") == relative
    assert built(str(ROOT / "specs/blocks/../resnet18.net")) == relative


def test_imports_are_recorded_relative_to_the_main_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nets" / "parts").mkdir(parents=True)
    (tmp_path / "nets" / "parts" / "b.net").write_text("block B() {\n    relu\n}\n")
    (tmp_path / "nets" / "main.net").write_text('import "parts/b.net"\nnetwork M {\n    input x: [4]\n    B()\n}\n')
    monkeypatch.chdir(tmp_path)
    model = netdsl.load("nets/main.net").to_onnx()
    assert [n.doc_string for n in model.graph.node] == ["parts/b.net:2:5: relu"]
    monkeypatch.chdir(tmp_path / "nets" / "parts")
    assert netdsl.load(str(tmp_path / "nets/main.net")).to_onnx().SerializeToString() == model.SerializeToString()


@pytest.mark.parametrize(
    "text",
    [
        "network N { input [4, 6, 6]  s = global_avgpool -> conv(4, 1) -> hardsigmoid  mul(in, s) }",
        "network N { input [4, 6, 5]  permute([1, 2, 0]) -> layernorm(eps=0.000001) -> linear(8) -> gelu -> linear(4)"
        "  -> permute([2, 0, 1]) -> layer_scale: scale(0.25) }",
        "network N { input [4, 6, 6]  a = chunk(2, 0)  b = chunk(2, 1) -> relu6  concat(a, b) -> channel_shuffle(2) }",
    ],
)
def test_squeeze_excitation_channels_last_and_shuffles_match_torch(text: str) -> None:
    _check_against_torch(netdsl.load(text), [MIN_OPSET, max_opset()])
