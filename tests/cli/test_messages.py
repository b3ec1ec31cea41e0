"""Files, flags and messages (issue 21): what a user sees for the usual mistakes, with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.cli import main

from conftest import SPECS

LENET = str(SPECS / "lenet5.net")


def test_build_target_follows_the_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "lenet.onnx"
    assert main(["build", LENET, "-o", str(model), "--no-color"]) == 0
    import onnx

    assert onnx.load(str(model)).graph.input[0].name
    source = tmp_path / "lenet.py"
    assert main(["build", LENET, "-o", str(source), "--no-color"]) == 0
    assert "class LeNet5" in source.read_text()


def test_build_refuses_a_target_the_extension_contradicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    assert (
        "--target torch writes Python source, but -o" in err and "ends in .onnx" in err
    )
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
