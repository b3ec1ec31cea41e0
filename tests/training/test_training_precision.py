"""--precision and --compile: what the CPU can show (bf16 autocast, the refusal, result.json's fields)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from netdsl.cli import main
from netdsl.training import loop
from netdsl.training.feed import (
    CUDA_PREFETCH,
    MAX_CUDA_WORKERS,
    MAX_WORKERS,
    default_workers,
)
from netdsl.training.loop import TrainError, pick_precision

from conftest import ROOT

LENET = str(ROOT / "specs/lenet5.net")


def _base(out: Path, *more: str) -> list[str]:
    return [
        "train",
        LENET,
        "--data",
        "digits",
        "--epochs",
        "1",
        "--batch-size",
        "128",
        "--device",
        "cpu",
    ] + [
        "--out",
        str(out),
        "--quiet",
        *more,
    ]


def test_auto_is_fp32_on_the_cpu_and_bf16_on_a_cuda_gpu_that_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert pick_precision("auto", cpu) == "fp32"
    assert pick_precision("fp32", cpu) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert pick_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert pick_precision("auto", cuda) == "fp32"
    with pytest.raises(TrainError, match="--precision bf16: this GPU has no native bfloat16 support"):
        pick_precision("bf16", cuda)


def test_bf16_on_a_cpu_without_it_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop, "bf16_supported", lambda device: False)
    assert main(_base(tmp_path / "run", "--precision", "bf16")) == 2
    err = capsys.readouterr().err
    assert "netdsl: error: --precision bf16: this CPU has no native bfloat16 support; use --precision fp32" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()  # refused before anything is made


@pytest.mark.skipif(
    not loop.bf16_supported(torch.device("cpu")),
    reason="this CPU has no native bfloat16",
)
def test_bf16_autocast_trains_on_the_cpu_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_base(tmp_path / "run", "--precision", "bf16")) == 0
    printed = json.loads(capsys.readouterr().out)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert printed == result
    assert (result["device"], result["precision"], result["channels_last"]) == (
        "cpu",
        "bf16",
        False,
    )
    assert "precision" not in result["settings"]  # like --device: how a run is computed, not what it is
    # bf16 steps still learn digits, and the fp32 ONNX export agrees with the bf16 evaluation nearly always
    assert result["test"]["accuracy"] > 0.5
    assert result["onnx"]["agree"] >= 0.95 * result["onnx"]["of"]
    checkpoint = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=True)
    assert all(t.dtype == torch.float32 for t in checkpoint["model"].values() if t.is_floating_point())


def test_compile_flag_is_parsed() -> None:
    from netdsl.cli.app import build_parser

    args = build_parser().parse_args(["train", LENET, "--data", "digits", "--compile", "--precision", "fp32"])
    assert args.compile is True and args.precision == "fp32"
    args = build_parser().parse_args(["train", LENET, "--data", "digits"])
    assert args.compile is False and args.precision == "auto"
    args = build_parser().parse_args(["experiment", LENET, "--data", "digits", "--precision", "bf16"])
    assert args.precision == "bf16"


@pytest.mark.slow
def test_a_compiled_run_reports_its_compile_time_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[object] = []
    real = torch.compile

    def spy(module: object, *args: object, **kwargs: object) -> object:
        compiled.append(module)
        return real(module, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch, "compile", spy)
    assert main(_base(tmp_path / "run", "--compile")) == 0
    assert len(compiled) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["compile_s"] is not None and result["compile_s"] > 0
    assert result["test"]["accuracy"] > 0.5


def test_cuda_feeds_take_more_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_workers(torch.device("cpu")) == MAX_WORKERS == 8
    assert default_workers(torch.device("cuda", 0)) == 15 < MAX_CUDA_WORKERS
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_workers(torch.device("cuda", 0)) == 1
    assert CUDA_PREFETCH > 2
