"""Files, flags and messages (issue 21): what a user sees for the usual mistakes, with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.cli import main

from conftest import SPECS

LENET = str(SPECS / "lenet5.net")


def test_build_target_follows_the_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "lenet.onnx"
    assert main(["build", LENET, "-o", str(model), "--no-color"]) == 0
    import onnx

    assert onnx.load(str(model)).graph.input[0].name
    source = tmp_path / "lenet.py"
    assert main(["build", LENET, "-o", str(source), "--no-color"]) == 0
    assert "class LeNet5" in source.read_text()


def test_build_refuses_a_target_the_extension_contradicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "build",
                LENET,
                "--target",
                "torch",
                "-o",
                str(tmp_path / "x.onnx"),
                "--no-color",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--target torch writes Python source, but -o" in err and "ends in .onnx" in err
    assert not (tmp_path / "x.onnx").exists()
    assert (
        main(
            [
                "build",
                LENET,
                "--target",
                "onnx",
                "-o",
                str(tmp_path / "x.py"),
                "--no-color",
            ]
        )
        == 2
    )
    assert "--target onnx writes an ONNX model" in capsys.readouterr().err


@pytest.fixture(scope="module")
def wrong_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    import netdsl

    folder = tmp_path_factory.mktemp("weights")
    (folder / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    assert main(["build", LENET, "-o", str(folder / "lenet.onnx"), "--no-color"]) == 0
    alexnet = netdsl.load(SPECS / "alexnet.net")
    state = alexnet.to_torch().state_dict()
    # what netdsl train writes (training/loop.py's _checkpoint): the network's name beside its state
    torch.save({"format": 1, "network": alexnet.network, "model": state}, folder / "best.pt")
    torch.save(state, folder / "state.pt")
    return folder


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("missing.pt", 2, "cannot read weights '{dir}/missing.pt': no such file"),
        (
            "metrics.csv",
            2,
            "cannot read weights '{dir}/metrics.csv': it is a text file (it begins 'epoch,loss'), not weights",
        ),
        ("lenet.onnx", 2, "cannot read weights '{dir}/lenet.onnx': it is an ONNX model, not PyTorch weights"),
        (
            "best.pt",
            1,
            "'{dir}/best.pt' is a netdsl checkpoint of AlexNet, not of LeNet5: the weights have no tensor "
            "'C1.weight' (shape [6, 1, 5, 5])",
        ),
        ("state.pt", 1, "'{dir}/state.pt' is a state_dict that does not fit LeNet5: the weights have no tensor"),
    ],
)
@pytest.mark.parametrize("command", ["build", "infer"])
def test_wrong_weights_files_say_what_they_are(
    wrong_files: Path, capsys: pytest.CaptureFixture[str], command: str, name: str, status: int, message: str
) -> None:
    weights = str(wrong_files / name)
    if command == "build":
        argv = ["build", LENET, "--weights", weights, "-o", str(wrong_files / "out.onnx")]
    else:
        argv = ["infer", LENET, "--weights", weights, "--input", str(SPECS / "lenet5.net")]
    capsys.readouterr()
    assert main([*argv, "--no-color"]) == status
    err = capsys.readouterr().err.replace("\n", "")
    assert message.format(dir=wrong_files) in err
    for torch_text in ("Please file an issue", "pop from empty list", "Error:"):
        assert torch_text not in err
    assert not (wrong_files / "out.onnx").exists()


def test_infer_without_weights_warns_that_they_are_untrained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32), np.float32))
    capsys.readouterr()
    assert main(["infer", LENET, "--input", str(tmp_path / "x.npy"), "--top-k", "2", "--no-color"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("x.npy: ") == 1
    assert "netdsl: warning: no --weights: these are the outputs of untrained weights (seed 0)" in captured.err


def test_infer_refuses_nan_and_inf_inputs_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    batch = np.zeros((2, 1, 32, 32), np.float32)
    batch[1, 0, 3, 4] = np.nan
    np.save(tmp_path / "nan.npy", batch)
    batch[0, 0, 0, 0] = np.inf
    np.save(tmp_path / "both.npy", batch)
    capsys.readouterr()
    assert main(["infer", LENET, "--input", str(tmp_path / "nan.npy"), "--no-color"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"'{tmp_path / 'nan.npy'}' holds 1 NaN value (the first at index [1, 0, 3, 4])" in captured.err
    assert main(["infer", LENET, "--input", str(tmp_path / "both.npy"), "--no-color"]) == 2
    assert "holds 2 NaN and infinite values (the first at index [0, 0, 0, 0])" in capsys.readouterr().err


def test_errors_under_input_say_the_shape_is_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", LENET, "--input", "1x16x16", "--no-color"]) == 1
    err = capsys.readouterr().err
    assert err.count(": error: ") == 5
    assert (
        "--input 1x16x16: note: the input shape is this flag's (the spec's is 1×32×32): the errors above follow "
        "from it\n" in err
    )
    assert err.index("--input 1x16x16: note") > err.rindex(": error: ")
    assert err.endswith("lenet5.net: 5 errors, 0 warnings\n")


def test_a_bad_set_value_is_blamed_on_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", LENET, "--set", "classes=2.5", "--no-color"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "--set classes=2.5: error: linear argument 'out' expects a positive integer, got 2.5"
    assert lines[1] == f"      = hint: classes is used at {LENET}:15:17"
    assert lines[2].endswith("lenet5.net: 1 error, 0 warnings")


def test_diagnostics_wrap_between_words_at_80_columns_and_keep_the_caret() -> None:
    import io

    from rich.console import Console

    from netdsl.checker.check import check_program
    from netdsl.language.program import load
    from netdsl.report.render import print_diagnostics

    program = load(SPECS / "alexnet.net")
    outcome = check_program(program, None, {}, (3, 224, 224))
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None, highlight=False)
    print_diagnostics(console, outcome.diagnostics, program.sources)
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    source = next(i for i, line in enumerate(lines) if line.startswith("   13 | "))
    message = " ".join(lines[:source])
    assert message.startswith(f"{SPECS / 'alexnet.net'}:13:5: warning: conv1 drops input pixels: (W - K +")
    assert "= (224 - 11 + 0) / 4 is not whole" in message  # no line broken inside a number or a word
    assert len(lines[:source]) == 4 and all(len(line) <= 80 for line in lines[:source])
    assert lines[source + 1] == "      |     ^" + "~" * 35
    assert lines[source + 2] == "      = hint: an input of 227×227 would tile exactly"


def test_check_keeps_the_op_column_before_the_macs(capsys: pytest.CaptureFixture[str]) -> None:
    import netdsl
    from netdsl.checker.tree import resolve_depth
    from netdsl.report.render import report

    def dropped(name: str) -> tuple[str, ...]:
        spec = netdsl.load(SPECS / name)
        return report(spec.checked, resolve_depth("auto", spec.checked), 80).dropped

    assert dropped("zoo/squeezenet1_0.net") == ("MACs", "RF", "jump")  # features.0 stays a conv
    assert dropped("zoo/densenet121.net") == ("op", "RF", "jump")  # the MACs are not enough: op, MACs back
    assert dropped("zoo/regnet_y_400mf.net") == ("op", "MACs", "RF", "jump")
    assert dropped("resnet50.net") == ("RF", "jump")


def test_one_warning_for_pixels_dropped_by_one_cause(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", str(SPECS / "alexnet.net"), "--input", "3x224x224", "--no-color"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert (
        "conv1 drops input pixels: (W - K + 2P) / S = (224 - 11 + 0) / 4 is not whole, so the last 1 row and the "
        "last 1 column of its 224×224 input are never seen; downstream, pool1, pool2 and pool5 drop pixels too\n" in err
    )


def test_an_unknown_option_shows_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["train", LENET, "--data", "digits", "--sett", "x=1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: netdsl train [-h]")
    assert err.endswith("netdsl train: error: unrecognized arguments: --sett (did you mean --set?)\n")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["train", "--sett"], "netdsl train: error: unrecognized arguments: --sett (did you mean --set?)"),
        (
            ["draw", LENET, "-o", "x.svg", "--directon", "LR", "--unfod"],
            "netdsl draw: error: unrecognized arguments: --directon (did you mean --direction?), "
            "--unfod (did you mean --unfold?)",
        ),
        (["check", LENET, "--frobnicate"], "netdsl check: error: unrecognized arguments: --frobnicate"),
    ],
)
def test_an_unknown_option_is_named_before_a_missing_argument(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`netdsl train --sett` used to be told that SPEC and --data are required."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: netdsl {argv[0]} [-h]") and err.endswith(said + "\n")


def test_an_abbreviated_option_is_not_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", LENET, "--dep", "1", "--set=classes=3", "--no-color"]) == 0
    assert "unrecognized" not in capsys.readouterr().err
