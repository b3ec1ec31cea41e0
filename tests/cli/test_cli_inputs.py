"""Odd inputs and options that would do nothing: each gets one clear line and the right exit
status, never a traceback, a codec message or a silent no-op. Sizes too big to allocate are
refused before anything is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from netdsl.checker.budget import oversize, scientific, size_text
from netdsl.checker.check import check_file
from netdsl.cli import main
from netdsl.language.program import load

from conftest import SHIPPED, SPECS, checked

LENET = str(SPECS / "lenet5.net")
BIG_CONV = "network Big {\n    input image: [3, 32, 32]\n    conv(100000000000, 3)\n}\n"
CONV_LIMIT = "netdsl builds at most 2^31-1 (2.15e9) per layer, the 32-bit index limit of kernels"


def err_of(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


# ---- sizes ----------------------------------------------------------------------------------


def test_a_layer_with_too_many_parameters() -> None:
    found = oversize(checked(BIG_CONV))
    assert found is not None and (found.owner, found.count) == ("conv_1", 2_800_000_000_000)
    assert str(found) == f"conv_1: 2.80e12 parameters, 10.2 TiB as float32; {CONV_LIMIT}"


def test_a_layer_output_too_big_for_one_sample() -> None:
    found = oversize(checked("network Wide { input x: [3, 50000, 50000]  relu }"))
    assert str(found) == f"x: 7.50e9 values per sample, 27.9 GiB as float32; {CONV_LIMIT}"


def test_all_parameters_against_the_memory() -> None:
    net = checked("network Dense { input x: [40000]  fc: linear(50000) }")  # 2,000,050,000: under the layer limit
    assert oversize(net, memory=9 * 2**30) is None
    assert str(oversize(net, memory=2**30)) == (
        "Dense: 2.00e9 parameters in all, 7.5 GiB as float32; more than this machine's 1.0 GiB of memory"
    )


def test_every_shipped_network_passes() -> None:
    for spec in SHIPPED:
        for network in load(spec).networks():
            found = check_file(spec, network=network).checked
            assert found is not None and oversize(found) is None, (spec, network)


@pytest.mark.parametrize(
    ("count", "sci", "size"),
    [
        (0, "0", "0 B"),
        (255, "255", "1,020 B"),
        (256, "256", "1.0 KiB"),
        (9_999, "9,999", "39.1 KiB"),
        (12_345_678, "1.23e7", "47.1 MiB"),
        (10**4000, "1.00e4000", "3.31e3976 YiB"),
    ],
    ids=["0", "255", "256", "9999", "12345678", "10^4000"],
)
def test_counts_of_any_size_format(count: int, sci: str, size: str) -> None:
    assert (scientific(count), size_text(4 * count)) == (sci, size)


@pytest.mark.parametrize(
    ("command", "refusal"),
    [
        (["build"], "nothing written"),
        (["build", "--target", "onnx", "-o", "m.onnx"], "nothing written"),
        (["train", "--data", "digits"], "nothing trained"),
    ],
)
def test_build_and_train_refuse_before_allocating(
    command: list[str],
    refusal: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("big.net").write_text(BIG_CONV)
    assert main([command[0], "big.net", *command[1:]]) == 1
    assert (
        err_of(capsys) == f"netdsl: error: conv_1: 2.80e12 parameters, 10.2 TiB as float32; {CONV_LIMIT}; {refusal}\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.net"]


def test_infer_refuses_before_allocating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "big.net").write_text(BIG_CONV)
    assert main(["infer", str(tmp_path / "big.net"), "--input", "x.npy"]) == 1
    assert err_of(capsys).endswith(f"{CONV_LIMIT}; nothing run\n")


# ---- --opset --------------------------------------------------------------------------------


def _range_message(opset: int) -> str:
    import onnx

    from netdsl.backends.onnx.emit import DEFAULT_OPSET
    from netdsl.runtime.session import max_opset

    return (
        f"netdsl: error: --opset {opset}: netdsl writes ONNX opsets 17 to {onnx.defs.onnx_opset_version()} (the "
        f"newest the installed onnx {onnx.__version__} knows); the installed onnxruntime runs up to "
        f"{max_opset()}; the default is {DEFAULT_OPSET}\n"
    )


@pytest.mark.parametrize("opset", [0, 12, 99])
def test_opset_outside_the_range_is_one_message(opset: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", LENET, "--target", "onnx", "--opset", str(opset), "-o", "m.onnx"]) == 2
    assert err_of(capsys) == _range_message(opset)


@pytest.mark.parametrize("command", [["train", LENET, "--data", "digits"], ["experiment", LENET, "--data", "digits"]])
def test_training_checks_the_opset_alike(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--opset", "16"]) == 2
    assert err_of(capsys) == _range_message(16)


def test_an_opset_onnxruntime_cannot_run_is_written_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnx
    import onnxruntime

    from netdsl.runtime.session import max_opset

    if max_opset() >= onnx.defs.onnx_opset_version():
        pytest.skip("the installed onnxruntime runs every opset the installed onnx knows")
    opset = max_opset() + 1
    assert main(["build", LENET, "--target", "onnx", "--opset", str(opset), "-o", str(tmp_path / "m.onnx")]) == 0
    assert err_of(capsys).splitlines() == [
        f"netdsl: warning: --opset {opset}: the installed onnxruntime {onnxruntime.__version__} runs opsets up to "
        f"{max_opset()}; the model is written, but cannot be run here",
        f"wrote {tmp_path / 'm.onnx'}: LeNet5, opset {opset}, initial weights, seed 0",
    ]
    assert onnx.load(tmp_path / "m.onnx").opset_import[0].version == opset


# ---- options that would do nothing ----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--weights", "w.pt"],
            "--weights: the torch target writes the module's source, which holds no weights; load "
            "them in Python (module.load_state_dict(torch.load(...))), or write an ONNX model with them: --target onnx "
            "--weights FILE -o model.onnx",
        ),
        (
            ["--seed", "3"],
            "--seed: the torch target writes the module's source, whose weights are drawn when it is made; "
            "call torch.manual_seed(N) before making it, or write an ONNX model: --target onnx --seed N",
        ),
        (["--opset", "18"], "--opset applies to --target onnx; the torch target writes Python source"),
        (
            ["--target", "onnx", "-o", "m.onnx", "--weights", "w.pt", "--seed", "3"],
            "--seed draws initial weights; with --weights it does nothing: give one of them",
        ),
    ],
)
def test_build_options_that_do_nothing(options: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", LENET, *options]) == 2
    assert err_of(capsys) == f"netdsl: error: {message}\n"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--weights", "w.pt"],
            "--weights applies to a .net spec, not to 'm.onnx', which holds its network and weights "
            "as built: run the spec with it (netdsl infer SPEC.net --input ... --weights w.pt), or build the model again "
            "(netdsl build SPEC.net --target onnx --weights w.pt -o m.onnx)",
        ),
        (
            ["--set", "classes=3", "--set", "bn=true", "--network", "N"],
            "--set and --network apply to a .net spec, not to 'm.onnx', which holds its network and weights as built: run "
            "the spec with them (netdsl infer SPEC.net --input ... --set classes=3 --set bn=true --network N), or build the "
            "model again (netdsl build SPEC.net --target onnx --set classes=3 --set bn=true --network N -o m.onnx)",
        ),
        (
            ["--seed", "1"],
            "--seed applies to a .net spec, not to 'm.onnx', which holds its network and weights as built: "
            "run the spec with it (netdsl infer SPEC.net --input ... --seed 1), or build the model again (netdsl build "
            "SPEC.net --target onnx --seed 1 -o m.onnx)",
        ),
        (["--save", "-"], "--save -: standard output carries the predictions; give a file name (--save out.npy)"),
    ],
)
def test_infer_options_that_do_nothing_with_a_model(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["infer", "m.onnx", "--input", "x.npy", *options]) == 2
    assert err_of(capsys) == f"netdsl: error: {message}\n"


def test_infer_spec_with_weights_and_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", LENET, "--input", "x.npy", "--weights", "w.pt", "--seed", "2"]) == 2
    assert (
        err_of(capsys)
        == "netdsl: error: --seed draws initial weights; with --weights it does nothing: give one of them\n"
    )


# ---- the model of infer ---------------------------------------------------------------------


def test_the_inputs_cannot_swallow_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", "--input", "a.npy", "model.onnx"]) == 2
    assert err_of(capsys) == (
        "netdsl: error: no model: 'model.onnx' was read as an input (--input takes every file "
        "after it); put the model first: netdsl infer model.onnx --input FILE...\n"
    )
    assert main(["infer", "--input", "a.npy"]) == 2
    assert err_of(capsys) == "netdsl: error: no model: netdsl infer MODEL.onnx|SPEC.net --input FILE...\n"


def test_inputs_may_come_in_several_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 1, 32, 32), np.float32))
    np.save(tmp_path / "b.npy", np.ones((1, 32, 32), np.float32))
    a, b = str(tmp_path / "a.npy"), str(tmp_path / "b.npy")
    assert main(["infer", LENET, "--input", a, "--input", b, "--top-k", "1", "--provider", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"{a}[0]", f"{a}[1]", b]


def test_a_weights_file_given_as_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "best.pt").write_bytes(b"PK\x03\x04\x80\x02}q\x00")  # how torch.save's zip and pickle begin
    assert main(["infer", str(tmp_path / "best.pt"), "--input", "x.npy"]) == 2
    assert err_of(capsys) == (
        f"netdsl: error: '{tmp_path / 'best.pt'}' is not an ONNX model or a .net spec (not UTF-8 text: byte 0x80 at "
        f"offset 4); to run trained weights, build a model: netdsl build SPEC --target onnx --weights "
        f"{tmp_path / 'best.pt'} -o model.onnx\n"
    )


def test_a_folder_and_an_empty_batch_as_inputs(tmp_path: Path) -> None:
    from netdsl.runtime.session import RuntimeUsageError, read_inputs

    with pytest.raises(RuntimeUsageError) as caught:
        read_inputs([str(tmp_path)], (1, 32, 32))
    assert (
        str(caught.value) == f"'{tmp_path}' is a folder; give the images or .npy arrays in it, e.g. --input "
        f"{tmp_path / '*.png'}"
    )
    np.save(tmp_path / "none.npy", np.zeros((0, 1, 32, 32), np.float32))
    with pytest.raises(RuntimeUsageError) as caught:
        read_inputs([str(tmp_path / "none.npy")], (1, 32, 32))
    assert str(caught.value) == f"'{tmp_path / 'none.npy'}' is an empty batch (shape [0, 1, 32, 32]): no sample to run"


def test_a_folder_as_input_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", LENET, "--input", str(tmp_path), "--provider", "cpu"]) == 2
    assert f"netdsl: error: '{tmp_path}' is a folder; give the images or .npy arrays in it" in err_of(capsys)


# ---- specs that are not text, or define nothing ---------------------------------------------


def test_a_latin1_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "x.net"
    spec.write_bytes("network Caf\xe9 { input x: [4] }\n".encode("latin-1"))
    for command in (["check"], ["build"], ["train", "--data", "digits"]):
        assert main([command[0], str(spec), *command[1:]]) == 2
        assert err_of(capsys) == (
            f"netdsl: error: '{spec}' is not a text spec (not UTF-8 text: byte 0xe9 at offset "
            f"11); expected a .net file written in the netdsl language\n"
        )


def test_an_empty_spec_defines_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "empty.net"
    spec.write_text("# nothing yet\n")
    assert main(["check", str(spec)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{spec}:1:1: error: this file defines nothing: no network and no block\n")
    assert main(["check", str(spec), "--format", "json"]) == 1
    (diag,) = json.loads(capsys.readouterr().out)["diagnostics"]  # a JSON reader sees why, at 1:1
    assert (diag["message"], diag["line"], diag["column"]) == (
        "this file defines nothing: no network and no block",
        1,
        1,
    )
    assert main(["build", str(spec)]) == 1
    assert err_of(capsys).endswith(f"{spec}: 1 error, 0 warnings; nothing written\n")


def test_a_file_of_blocks_builds_and_trains_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "blocks.net"
    spec.write_text("block A { relu }\nblock B(n) { conv(n, 3) }\n")
    for command, refusal in ((["build"], "nothing written"), (["train", "--data", "digits"], "nothing trained")):
        assert main([command[0], str(spec), *command[1:]]) == 1
        assert err_of(capsys) == f"netdsl: error: {spec} defines no network, only the blocks A, B; {refusal}\n"
    assert main(["check", str(spec)]) == 0
    assert "no network to check" in capsys.readouterr().out
