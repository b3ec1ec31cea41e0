"""The ONNX backend and onnxruntime: every shipped network emits a valid model whose shapes
(by onnx's own strict inference) are netdsl's and whose outputs match PyTorch's; weights are
checked; big models use external data; `netdsl infer` reads inputs and outputs sensibly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.onnx.emit import DEFAULT_OPSET, WeightsError, expected_tensors, plan_graph, save_model, value_name
from netdsl.backends.onnx.lowerings import ONNX_LOWERINGS
from netdsl.checker.ops import OPS
from netdsl.language.program import load as load_program
from netdsl.runtime.session import interpret, max_opset, open_session

from conftest import ROOT, SHIPPED

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")

NETWORKS = [(path, name) for path in SHIPPED for name in load_program(path).networks()]


def _ids(item: tuple[Path, str]) -> str:
    return f"{item[0].stem}-{item[1]}"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_every_op_is_lowered() -> None:
    assert set(ONNX_LOWERINGS) == set(OPS)


def test_default_opset_is_fixed_and_readable_by_older_tools() -> None:
    model = netdsl.load(ROOT / "specs/lenet5.net").to_onnx()
    assert DEFAULT_OPSET == 18 and [(o.domain, o.version) for o in model.opset_import] == [("", 18)]
    assert model.ir_version == 8  # what opset 18 needs, whatever the installed onnx writes by default
    assert max_opset() >= DEFAULT_OPSET


def randomized_statistics(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state with its batchnorms' affine weights and running statistics random, so
    that a folded batchnorm is no identity to pass by."""
    generator = torch.Generator().manual_seed(13)
    state = module.state_dict()
    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            channels = sub.num_features
            state[f"{name}.weight"] = 1 + 0.2 * torch.randn(channels, generator=generator)
            state[f"{name}.bias"] = 0.2 * torch.randn(channels, generator=generator)
            state[f"{name}.running_mean"] = 0.2 * torch.randn(channels, generator=generator)
            state[f"{name}.running_var"] = 0.5 + torch.rand(channels, generator=generator)
    module.load_state_dict(state)
    return state


def check_shapes_and_parity(spec: netdsl.Spec, module: torch.nn.Module, model: onnx.ModelProto, path: Path) -> None:
    """The model passes the full checker; strict shape inference finds the checker's shape for
    every layer whose value is in the graph (the plan's), and none of the others; onnxruntime's
    output is torch's (eval) within 1e-4."""
    save_model(model, path)
    onnx.checker.check_model(str(path), full_check=True)
    inferred = onnx.shape_inference.infer_shapes(onnx.load(str(path)), check_type=True, strict_mode=True)
    shapes = {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(inferred.graph.value_info) + list(inferred.graph.output)
    }
    graph = {p.key: p.value for p in model.metadata_props}["netdsl.graph"]
    plan = plan_graph(spec.checked, graph)
    for node in spec.checked.graph.nodes[1:]:
        name = value_name(spec.checked, node)
        if plan.written(node.id):
            assert shapes[name] == ["N", *node.shape], node.name
        else:
            assert name not in shapes, node.name
    x = torch.randn(2, *spec.checked.input_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = module(x).numpy()
    got = open_session(path, "cpu").run(x.numpy())
    assert got.shape == expected.shape
    assert float(np.abs(got - expected).max()) <= 1e-4


@pytest.mark.parametrize("item", NETWORKS, ids=_ids)
def test_model_is_valid_shapes_agree_and_outputs_match_torch(item: tuple[Path, str], tmp_path: Path) -> None:
    spec = netdsl.load(item[0], network=item[1])
    torch.manual_seed(7)
    module = spec.to_torch().eval()
    state = randomized_statistics(module)
    assert set(expected_tensors(spec.checked)) == {k for k in state if not k.endswith("num_batches_tracked")}
    check_shapes_and_parity(spec, module, spec.to_onnx(weights=state), tmp_path / "model.onnx")


@pytest.mark.parametrize("name", ["resnet18", "alexnet", "ordinal_synth"])
def test_training_graph_keeps_every_layer_and_matches_torch(name: str, tmp_path: Path) -> None:
    spec = netdsl.load(ROOT / f"specs/{name}.net")
    torch.manual_seed(7)
    module = spec.to_torch().eval()
    model = spec.to_onnx(weights=randomized_statistics(module), graph="training")
    assert plan_graph(spec.checked, "training").folded == {}
    check_shapes_and_parity(spec, module, model, tmp_path / "model.onnx")


def test_streamed_file_is_the_same_model(tmp_path: Path) -> None:
    spec = netdsl.load(ROOT / "specs/googlenet.net")
    parts = spec.onnx_parts(seed=2)
    assert parts.save(tmp_path / "g.onnx") == [tmp_path / "g.onnx"]
    assert onnx.load(str(tmp_path / "g.onnx")) == parts.proto()
    parts.save(tmp_path / "h.onnx")
    assert (tmp_path / "g.onnx").read_bytes() == (tmp_path / "h.onnx").read_bytes()
    onnx.checker.check_model(str(tmp_path / "g.onnx"), full_check=True)


def test_same_spec_and_weights_give_the_same_bytes() -> None:
    spec = netdsl.load(ROOT / "specs/resnet18.net")
    assert spec.to_onnx(seed=3).SerializeToString() == spec.to_onnx(seed=3).SerializeToString()
    assert spec.to_onnx(seed=3).SerializeToString() != spec.to_onnx(seed=4).SerializeToString()


def test_names_doc_strings_and_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    model = netdsl.load("specs/lenet5.net").to_onnx()
    graph = model.graph
    assert graph.input[0].name == "image" and graph.output[0].name == "out"
    assert [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == ["N", 1, 32, 32]
    c1 = next(n for n in graph.node if n.name == "C1")
    assert c1.op_type == "Conv" and list(c1.input) == ["image", "C1.weight", "C1.bias"]
    assert c1.doc_string == "lenet5.net:8:5: C1: conv(6, kernel=5) -> tanh    @ [6, 28, 28]"  # the spec's folder
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["netdsl.network"] == "LeNet5" and meta["netdsl.head"] == "logits"
    assert meta["netdsl.spec"] == "lenet5.net"
    assert model.producer_name == "netdsl"


def test_batch_dimension_is_symbolic() -> None:
    session = open_session(netdsl.load(ROOT / "specs/alexnet.net").to_onnx(), "cpu")
    assert session.run(np.zeros((5, 3, 227, 227), np.float32)).shape == (5, 1000)


def test_weights_that_do_not_fit_name_the_first_misfit() -> None:
    spec = netdsl.load(ROOT / "specs/lenet5.net")
    state = dict(spec.to_torch().state_dict())
    missing = {k: v for k, v in state.items() if k != "C3.bias"}
    with pytest.raises(WeightsError, match=r"the weights have no tensor 'C3.bias' \(shape \[16\]\)"):
        spec.to_onnx(weights=missing)
    with pytest.raises(WeightsError, match=r"tensor 'F6.weight' has shape \[84, 12\], the spec needs \[84, 120\]"):
        spec.to_onnx(weights=state | {"F6.weight": torch.zeros(84, 12)})
    with pytest.raises(WeightsError, match="the weights have a tensor the spec does not: 'extra.weight'"):
        spec.to_onnx(weights=state | {"extra.weight": torch.zeros(1)})


def test_weights_file_and_checkpoint_on_the_command_line(tmp_path: Path) -> None:
    spec = netdsl.load(ROOT / "specs/lenet5.net")
    torch.manual_seed(11)
    module = spec.to_torch().eval()
    torch.save(module.state_dict(), tmp_path / "weights.pt")
    torch.save({"model": module.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    x = torch.randn(4, 1, 32, 32)
    np.save(tmp_path / "x.npy", x.numpy())
    with torch.no_grad():
        expected = module(x).numpy()
    for weights in ("weights.pt", "checkpoint.pt"):
        result = run(
            "build",
            str(ROOT / "specs/lenet5.net"),
            "--target",
            "onnx",
            "-o",
            "m.onnx",
            "--weights",
            weights,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        result = run("infer", "m.onnx", "--input", "x.npy", "--provider", "cpu", "--save", "out.npy", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert float(np.abs(np.load(tmp_path / "out.npy") - expected).max()) <= 1e-5


def test_misfit_weights_file_writes_nothing(tmp_path: Path) -> None:
    torch.save({"C1.weight": torch.zeros(6, 1, 5, 5)}, tmp_path / "bad.pt")
    result = run(
        "build", str(ROOT / "specs/lenet5.net"), "--target", "onnx", "-o", "m.onnx", "--weights", "bad.pt", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "the weights have no tensor 'C1.bias'" in result.stderr and "nothing written" in result.stderr
    assert not (tmp_path / "m.onnx").exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    result = run(
        "build",
        str(ROOT / "specs/lenet5.net"),
        "--target",
        "onnx",
        "-o",
        "m.onnx",
        "--weights",
        "junk.pt",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "cannot read weights 'junk.pt': it is a text file (it begins 'not a" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "m.onnx").exists()


def test_external_data_past_the_protobuf_limit(tmp_path: Path) -> None:
    spec = netdsl.load(ROOT / "specs/alexnet.net")
    torch.manual_seed(5)
    module = spec.to_torch().eval()
    model = spec.to_onnx(weights=module.state_dict())
    written = save_model(model, tmp_path / "alex.onnx", limit=10_000_000)  # AlexNet's 244 MB is "too big" here
    assert [p.name for p in written] == ["alex.onnx", "alex.onnx.data"]
    assert (tmp_path / "alex.onnx").stat().st_size < 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alex.onnx", "alex.onnx.data"]
    session = open_session(tmp_path / "alex.onnx", "cpu")
    x = torch.randn(1, 3, 227, 227)
    with torch.no_grad():
        assert float(np.abs(session.run(x.numpy()) - module(x).numpy()).max()) <= 1e-4


def test_external_data_through_a_symlink_lands_beside_its_target(tmp_path: Path) -> None:
    model = netdsl.load(ROOT / "specs/lenet5.net").to_onnx()
    (tmp_path / "real").mkdir()
    (tmp_path / "link.onnx").symlink_to(tmp_path / "real" / "lenet.onnx")
    written = save_model(model, tmp_path / "link.onnx", limit=1000)
    assert [p.name for p in written] == ["lenet.onnx", "lenet.onnx.data"]
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["lenet.onnx", "lenet.onnx.data"]
    assert (tmp_path / "link.onnx").is_symlink()
    # onnxruntime finds external data beside the path it is given: open the real file
    session = open_session(tmp_path / "real" / "lenet.onnx", "cpu")
    assert session.run(np.zeros((1, 1, 32, 32), np.float32)).shape == (1, 10)
    for special in ("-", "/dev/null"):
        with pytest.raises(OSError, match="a model with external data needs a regular file"):
            save_model(model, special, limit=1000)


@pytest.mark.parametrize("opset", [17, 20])
def test_gelu_at_old_and_new_opsets(opset: int) -> None:
    spec = netdsl.load("network G { input x: [6] gelu linear(3) -> gelu }")
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    model = spec.to_onnx(weights=module.state_dict(), opset=opset)
    assert ("Gelu" in {n.op_type for n in model.graph.node}) == (opset >= 20)
    x = torch.randn(4, 6)
    with torch.no_grad():
        assert float(np.abs(open_session(model, "cpu").run(x.numpy()) - module(x).numpy()).max()) <= 1e-5


def test_pool_variants_match_torch() -> None:
    spec = netdsl.load("""network P { input x: [3, 13, 13]
        a = maxpool(3, stride=2, padding=1, ceil=true) -> flatten
        b = avgpool(3, stride=2, padding=1) -> flatten
        c = avgpool(2, stride=2, ceil=true) -> adaptive_avgpool(7) -> flatten
        d = adaptive_avgpool(1) -> flatten
        e = conv(3, [3, 5], padding=same, dilation=2) -> maxpool(2, ceil=true) -> flatten
        concat(a, b, c, d, e) }""")
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    x = torch.randn(2, 3, 13, 13)
    with torch.no_grad():
        expected = module(x).numpy()
    got = open_session(spec.to_onnx(weights=module.state_dict()), "cpu").run(x.numpy())
    assert float(np.abs(got - expected).max()) <= 1e-5


def test_interpreting_outputs() -> None:
    logits = np.array([[4.0, 3.0, -1.0, -5.0], [-2.0, -3.0, -4.0, -6.0]], np.float32)
    assert [r.rank for r in interpret(logits, "coral")] == [2, 0]
    ordinal = np.stack([np.zeros_like(logits), logits], axis=-1)  # P(yes) = sigmoid(logit)
    assert [r.rank for r in interpret(ordinal, "ordinal")] == [2, 0]
    top = interpret(np.array([[0.0, 2.0, 1.0]], np.float32), "logits", top_k=2)[0].classes
    assert [c for c, _ in top] == [1, 2] and abs(
        sum(p for _, p in interpret(np.array([[0.0, 2.0, 1.0]], np.float32), "logits", top_k=3)[0].classes) - 1.0
    ) < 1e-6


def test_infer_on_a_spec_with_images_and_npy(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        Image.fromarray((rng.random((40, 30)) * 255).astype(np.uint8)).save(tmp_path / name)
    np.save(tmp_path / "batch.npy", rng.random((2, 1, 32, 32), dtype=np.float32))
    result = run(
        "infer",
        str(ROOT / "specs/lenet5.net"),
        "--input",
        "a.png",
        "b.jpg",
        "batch.npy",
        "--top-k",
        "3",
        "--provider",
        "cpu",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["a.png", "b.jpg", "batch.npy[0]", "batch.npy[1]"]
    assert all(line.count("(") == 3 for line in lines)
    # --provider cpu: no notice, no onnxruntime noise; only that the weights are untrained
    assert result.stderr.splitlines() == [
        "netdsl: warning: no --weights: these are the outputs of untrained weights (seed 0); give --weights "
        "runs/NAME/best.pt for a trained network"
    ]


def test_infer_reports_the_rank_of_ordinal_heads(tmp_path: Path) -> None:
    np.save(tmp_path / "faces.npy", np.random.default_rng(1).random((2, 3, 120, 120), dtype=np.float32))
    for network in ("CoralCNN", "ORCNN"):
        result = run(
            "infer",
            str(ROOT / "specs/coral_cnn.net"),
            "--network",
            network,
            "--input",
            "faces.npy",
            "--provider",
            "cpu",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert all(
            " rank " in line and "of 54 cumulative probabilities above 0.5" in line
            for line in result.stdout.splitlines()
        )


def test_auto_provider_says_in_one_line_which_provider_ran(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32), np.float32))
    result = run("infer", str(ROOT / "specs/lenet5.net"), "--input", "x.npy", cwd=tmp_path)
    assert result.returncode == 0
    session = open_session(netdsl.load(ROOT / "specs/lenet5.net").to_onnx())
    untrained = result.stderr.splitlines()[0]  # a spec without --weights: said first
    assert untrained.startswith("netdsl: warning: no --weights: these are the outputs of untrained weights")
    if session.provider == "CUDAExecutionProvider":
        assert result.stderr.splitlines() == [untrained]
    else:
        assert result.stderr.splitlines() == [untrained, f"netdsl: {session.notice}"]
        assert result.stderr.splitlines()[1].startswith("netdsl: running on the CPU: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda: np.zeros((2, 3, 32, 32), np.float32), "'x.npy' has shape [2, 3, 32, 32]; the model takes [1, 32, 32]"),
        (lambda: np.zeros((1, 32, 32), np.int64), "'x.npy' holds int64 values; the model takes float32"),
    ],
)
def test_infer_rejects_bad_inputs_clearly(content, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    np.save(tmp_path / "x.npy", content())
    result = run("infer", str(ROOT / "specs/lenet5.net"), "--input", "x.npy", "--provider", "cpu", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_infer_rejects_files_that_are_not_models_and_bad_options(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x00\xffnot a protobuf at all" * 10)
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32), np.float32))
    for args, message in (
        (["junk.onnx"], "cannot read 'junk.onnx' as an ONNX model"),
        (["missing.onnx"], "cannot read 'missing.onnx': no such file"),
        ([str(ROOT / "specs/lenet5.net"), "--top-k", "0"], "expected a positive integer, got '0'"),
    ):
        result = run("infer", *args, "--input", "x.npy", "--provider", "cpu", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_session_rejects_a_wrong_dtype() -> None:
    session = open_session(netdsl.load(ROOT / "specs/lenet5.net").to_onnx(), "cpu")
    with pytest.raises(netdsl.runtime.session.RuntimeUsageError, match="the input is float64; the model takes float32"):
        session.run(np.zeros((1, 1, 32, 32)))
