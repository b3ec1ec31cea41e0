"""`netdsl import` and the commands that take an import source in place of a spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import netdsl
from netdsl.cli.app import main
from tests.importer import models

MODELS = Path(models.__file__)


def test_import_writes_spec_and_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, weights = tmp_path / "lenet.net", tmp_path / "lenet.pt"
    status = main(["import", f"{MODELS}:FunctionalNet", "--input", "1x32x32", "-o", str(out),
                   "--weights-out", str(weights), "--name", "LeNet"])
    assert status == 0
    assert capsys.readouterr().out == f"wrote {out} (8 lines)\n"
    text = out.read_text()
    assert text.startswith(f"# Imported from {MODELS}:FunctionalNet by netdsl import.\n")
    assert "network LeNet {" in text
    module = netdsl.load(out).to_torch()
    module.load_state_dict(torch.load(weights), strict=True)
    # the weights file feeds `netdsl build --weights` too
    assert main(["build", str(out), "--target", "onnx", "--weights", str(weights), "-o", str(tmp_path / "m.onnx")]) == 0


def test_import_to_stdout_with_factory_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", f"{MODELS}:resnet50(num_classes=7)", "--input", "3x64x64"]) == 0
    text = capsys.readouterr().out
    assert "fc: linear(7)" in text and "network ResNet {" in text


@pytest.mark.parametrize(
    ("source", "status", "message"),
    [
        ("{models}:DataDependent", 1, "data-dependent control flow"),
        ("{models}:Recurrent", 1, "lstm: LSTM has no netdsl op"),
        ("{models}:Nothing", 2, "has no 'Nothing'"),
        ("{models}:resnet50(7)", 2, "arguments must be NAME=literal"),
        ("missing.py:Net", 2, "missing.py: no such file"),
    ],
)
def test_import_errors(source: str, status: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", source.format(models=MODELS)]) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_check_takes_a_factory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{MODELS}:Branches", "--input", "3x8x8", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_params"] == sum(p.numel() for p in models.Branches().parameters()) == 2002
    assert report["output_shape"] == [10]


def test_check_refuses_what_import_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{MODELS}:Unknown", "--input", "3x8x8"]) == 1
    assert "cumsum has no netdsl op" in capsys.readouterr().err


def test_compare_takes_a_factory_beside_a_spec(capsys: pytest.CaptureFixture[str]) -> None:
    zoo = Path(__file__).parents[2] / "specs" / "zoo" / "resnet50.net"
    assert main(["compare", f"{MODELS}:resnet50", str(zoo)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "25,557,032 | 4,089,184,256" in line]
    assert len(rows) == 2


def test_draw_takes_a_factory(tmp_path: Path) -> None:
    out = tmp_path / "branches.svg"
    assert main(["draw", f"{MODELS}:Branches", "--input", "3x8x8", "-o", str(out)]) == 0
    assert "features.1" in out.read_text()


def test_spec_network_stays_compares_syntax() -> None:
    from netdsl.importer.sources import is_import_source

    assert is_import_source("model.onnx") and is_import_source("net.py:Net") and is_import_source("pkg.mod:make")
    assert not is_import_source("specs/zoo/resnet50.net:ResNet50") and not is_import_source("lenet5.net")
