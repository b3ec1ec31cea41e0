"""Static int8 quantization (`netdsl build --target onnx --quantize int8 --calibrate SOURCE`):
calibration images are training images read as training read them; onnxruntime runs every
conv, Add and Gemm of the quantized inference graph in int8; the command line writes the model
with the checkpoint's normalization, and refuses options that do nothing; a trained LeNet-5
keeps its accuracy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import netdsl
from netdsl.cli import main
from netdsl.data.sources import load_data
from netdsl.runtime.quantize import CALIBRATION_IMAGES, calibration_batches, quantize_spec
from netdsl.runtime.session import open_session

from conftest import ROOT

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")

LENET = str(ROOT / "specs/lenet5.net")
RESIDUAL = """network R(classes = 10) {
    input image: [1, 8, 8]
    stem = conv(8, 3, padding=1) -> batchnorm -> relu
    main = stem -> conv(8, 3, padding=1) -> batchnorm -> relu -> dropout -> conv(8, 3, padding=1) -> batchnorm
    add(main, stem) -> relu -> global_avgpool -> flatten -> linear(classes)
}"""


def err_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


def test_calibration_reads_training_images_normalized_as_in_training() -> None:
    data = load_data("digits", (1, 8, 8), 10)
    normalized = list(calibration_batches(data, (data.mean, data.std), (1, 8, 8)))
    assert [len(b) for b in normalized] == [32] * (CALIBRATION_IMAGES // 32)
    images = np.concatenate(normalized)
    assert images.dtype == np.float32 and images.shape == (CALIBRATION_IMAGES, 1, 8, 8)
    assert abs(float(images.mean())) < 0.05 and abs(float(images.std()) - 1) < 0.05  # as the training split's
    raw = np.concatenate(list(calibration_batches(data, None, (1, 8, 8))))
    assert float(raw.min()) == 0.0 and float(raw.max()) == 1.0
    assert np.allclose((raw - data.mean[0]) / data.std[0], images, atol=1e-6)
    training = {row.tobytes() for row in data.train.images}
    assert all((np.round(row * 255).astype(np.uint8)).tobytes() in training for row in raw)
    again = np.concatenate(list(calibration_batches(data, None, (1, 8, 8))))
    assert np.array_equal(raw, again)  # the same images every time


def test_a_small_split_is_read_whole() -> None:
    data = load_data("digits", (1, 8, 8), 10)
    assert sum(len(b) for b in calibration_batches(data, None, (1, 8, 8), count=5000)) == len(data.train)


def _optimized(model: onnx.ModelProto, folder: Path) -> Counter[str]:
    """The ops onnxruntime runs the model with, after its graph optimizations."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(folder / "optimized.onnx")
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return Counter(n.op_type for n in onnx.load(str(folder / "optimized.onnx")).graph.node)


def test_onnxruntime_runs_every_conv_add_and_gemm_in_int8(tmp_path: Path) -> None:
    spec = netdsl.load(RESIDUAL)
    torch.manual_seed(0)
    module = spec.to_torch().eval()
    quantized = quantize_spec(spec, "digits", module.state_dict())
    assert quantized.images == CALIBRATION_IMAGES
    written = Counter(n.op_type for n in quantized.model.graph.node)
    assert (written["Conv"], written["Add"], written["Gemm"]) == (3, 1, 1)  # batchnorms folded, dropout gone
    assert "BatchNormalization" not in written and "Identity" not in written
    # uint8 activations: one QuantizeLinear in, one DequantizeLinear out, nothing float between
    assert _optimized(quantized.model, tmp_path) == Counter(
        {
            "QuantizeLinear": 1,
            "QLinearConv": 3,
            "QLinearAdd": 1,
            "QLinearGlobalAveragePool": 1,
            "Flatten": 1,
            "QGemm": 1,
            "DequantizeLinear": 1,
        }
    )
    data = load_data("digits", (1, 8, 8), 10)
    x = data.test.images.astype(np.float32) / 255
    expected = open_session(spec.to_onnx(module.state_dict()), "cpu").run(x)
    got = open_session(quantized.model, "cpu").run(x)
    assert float(np.abs(got - expected).max()) <= 0.05 * float(np.abs(expected).max())


def _checkpoint(folder: Path) -> tuple[torch.nn.Module, tuple[float, float]]:
    spec = netdsl.load(LENET)
    torch.manual_seed(5)
    module = spec.to_torch().eval()
    normalize = (0.3, 0.25)
    torch.save(
        {
            "model": module.state_dict(),
            "normalize": {"mean": [normalize[0]], "std": [normalize[1]]},
            "source": "digits",
        },
        folder / "best.pt",
    )
    return module, normalize


def test_int8_is_said_not_to_pay_for_tiny_or_tanh_networks_only() -> None:
    from netdsl.runtime.quantize import int8_expectation

    assert int8_expectation(netdsl.load(ROOT / "specs/resnet18.net").checked) is None
    assert int8_expectation(netdsl.load(ROOT / "specs/coral_cnn.net").checked) is None
    tiny = int8_expectation(
        netdsl.load("network T { input [1, 8, 8]  conv(4, 3) -> relu  flatten  linear(2) }").checked
    )
    assert tiny is not None and "it is small (" in tiny and "tanh" not in tiny


def test_build_writes_the_int8_model_with_the_checkpoints_normalization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _checkpoint(tmp_path)
    command = ["build", LENET, "--target", "onnx", "--weights", "best.pt", "-o", "q.onnx"]
    assert main([*command, "--quantize", "int8", "--calibrate", "digits"]) == 0
    assert err_of(capsys) == (
        "wrote q.onnx: LeNet5, opset 18, int8 (QDQ) calibrated on 512 images of digits, weights best.pt\n"
        "netdsl: note: int8 is not expected to run faster than float here: it is small (416,520 multiply-accumulates "
        "a sample: quantizing and dequantizing around each layer costs more than int8 arithmetic saves); "
        "onnxruntime runs its tanh in float, between a dequantize and a quantize (LeNet-5: 1.7× to 3.2× slower in "
        "int8 on onnxruntime-CPU); it is smaller on disk\n"
    )
    model = onnx.load("q.onnx")
    meta = {p.key: p.value for p in model.metadata_props}
    assert (meta["netdsl.mean"], meta["netdsl.std"], meta["netdsl.trained_on"]) == ("0.3", "0.25", "digits")
    assert (meta["netdsl.quantized"], meta["netdsl.calibrated_on"]) == ("int8", "digits (512 images)")
    assert (meta["netdsl.graph"], meta["netdsl.head"]) == ("inference", "logits")
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["Conv"] == 3 and ops["Gemm"] == 2 and ops["QuantizeLinear"] > 0
    session = open_session("q.onnx", "cpu")
    assert session.normalize == ((0.3,), (0.25,))
    np.save("x.npy", np.zeros((2, 1, 32, 32), np.float32))
    assert main(["infer", "q.onnx", "--input", "x.npy", "--provider", "cpu"]) == 0


def test_build_writes_the_training_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.onnx"
    spec = str(ROOT / "specs/resnet18.net")
    assert main(["build", spec, "--target", "onnx", "--graph", "training", "-o", str(target)]) == 0
    assert err_of(capsys) == f"wrote {target}: ResNet18, opset 18, training graph, initial weights, seed 0\n"
    assert Counter(n.op_type for n in onnx.load(str(target)).graph.node)["BatchNormalization"] == 20


REFUSED = [
    (
        ["--target", "onnx", "--quantize", "int8"],
        "--quantize int8 needs --calibrate SOURCE: images read as netdsl train reads them (digits, ordinal-synth, "
        "a folder of class folders, a CSV manifest), with the normalization of --weights",
    ),
    (
        ["--target", "onnx", "--calibrate", "digits"],
        "--calibrate gives --quantize int8 its images; without --quantize it does nothing",
    ),
    (
        ["--target", "onnx", "--quantize", "int8", "--calibrate", "digits", "--graph", "training"],
        "--quantize writes a model for inference, from the inference graph: leave out --graph training",
    ),
    (["--graph", "training"], "--graph applies to --target onnx; the torch target writes Python source"),
    (["--quantize", "int8"], "--quantize applies to --target onnx; the torch target writes Python source"),
    (["--calibrate", "digits"], "--calibrate applies to --target onnx; the torch target writes Python source"),
]


@pytest.mark.parametrize(("options", "message"), REFUSED)
def test_options_that_would_do_nothing_are_refused(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("m.onnx" if "onnx" in options else "m.py")  # the target follows the extension
    assert main(["build", LENET, *options, "-o", str(out)]) == 2
    assert err_of(capsys) == f"netdsl: error: {message}\n"
    assert not out.exists()


def test_calibration_data_that_cannot_be_read_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "m.onnx"
    command = ["build", LENET, "--target", "onnx", "--quantize", "int8", "-o", str(target)]
    assert main([*command, "--calibrate", str(tmp_path / "nowhere")]) == 2
    assert err_of(capsys) == (
        f"netdsl: error: --calibrate: '{tmp_path / 'nowhere'}': no such file or folder (give digits, ordinal-synth, "
        "a folder of images or a .csv manifest); nothing written\n"
    )
    assert not target.exists()


@pytest.mark.slow
def test_trained_lenet_keeps_its_accuracy_in_int8(tmp_path: Path) -> None:
    from netdsl.training import TrainConfig, train

    spec = netdsl.load(LENET)
    data = load_data("digits", spec.checked.input_shape, 10)
    train(spec, data, TrainConfig(data="digits", out=str(tmp_path / "run"), epochs=3, export=False))
    quantized = quantize_spec(spec, "digits", tmp_path / "run" / "best.pt")
    x = (data.test.images.astype(np.float32) / 255 - data.mean[0]) / data.std[0]
    float_model = spec.to_onnx(tmp_path / "run" / "best.pt")
    accuracy = {
        name: float((open_session(model, "cpu").run(x).argmax(axis=1) == data.test.labels).mean())
        for name, model in (("float", float_model), ("int8", quantized.model))
    }
    assert accuracy["float"] > 0.8
    assert accuracy["int8"] >= accuracy["float"] - 0.02, accuracy
