"""`netdsl train` and `netdsl experiment` end to end: files, learning, resume, refusals, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from netdsl.cli import main

from conftest import ROOT

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

LENET = str(ROOT / "specs/lenet5.net")
SYNTH = str(ROOT / "specs/ordinal_synth.net")


def shapes_folder(root: Path, per_class: int = 12) -> Path:
    """Three easy classes: a bright square left, right, or none — grey 20×20 images."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(("left", "none", "right")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(20, 20), dtype=np.uint8)
            if name != "none":
                x = 2 if name == "left" else 12
                pixels[6:14, x : x + 6] = 230
            Image.fromarray(pixels).save(root / name / f"{label}_{i}.png")
    return root


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def state(path: Path) -> dict[str, object]:
    return torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[no-any-return]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netdsl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_train_writes_a_complete_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shapes_folder(tmp_path / "data")
    out = tmp_path / "run"
    status = main(
        [
            "train",
            LENET,
            "--set",
            "classes=3",
            "--data",
            str(data),
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--out",
            str(out),
            "--device",
            "cpu",  # the figures read below are the CPU's, on a machine with a GPU too
            "--no-color",
        ]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert (
        "training LeNet5 (61,111 parameters, cross-entropy loss) on cpu in fp32: 27 training / 3 validation / 6 "
        "test" in printed.out
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt",
        "curves.png",
        "last.pt",
        "metrics.csv",
        "model.onnx",
        "model.py",
        "result.json",
    ]
    history = rows(out / "metrics.csv")
    assert [r["epoch"] for r in history] == ["1", "2", "3"]
    assert list(history[0]) == [
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "val_mae",
        "val_rmse",
        "seconds",
        "images_per_s",
    ]
    result = json.loads((out / "result.json").read_text())
    assert result["epochs"] == 3 and result["selected_by"] == "accuracy"
    assert (result["device"], result["precision"], result["channels_last"], result["compile_s"]) == (
        "cpu",
        "fp32",
        False,
        None,
    )
    assert result["onnx"]["agree"] == result["onnx"]["of"] == 6 and result["onnx"]["max_abs_diff"] < 1e-4
    checkpoint = state(out / "last.pt")
    assert checkpoint["epoch"] == 3 and checkpoint["network"] == "LeNet5"
    assert set(checkpoint) >= {"model", "optimizer", "rng", "architecture", "data", "history", "best", "normalize"}
    best = state(out / "best.pt")
    assert best["epoch"] == result["best_epoch"]
    assert Image.open(out / "curves.png").size == (2000, 840)  # 10 × 4.2 in at 200 dpi, for slides (issue 21)
    model = onnx.load(str(out / "model.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    mean = [float(m) for m in meta["netdsl.mean"].split(",")]
    assert mean == pytest.approx(checkpoint["normalize"]["mean"])  # type: ignore[index]
    # the exported model reads images as training did: netdsl infer normalizes them the same way
    status = main(["infer", str(out / "model.onnx"), "--input", str(next((data / "left").iterdir())), "--top-k", "1"])
    assert status == 0 and capsys.readouterr().out.strip()
    # the generated module loads the checkpoint by its own state_dict keys
    spec = __import__("netdsl").load(LENET, classes=3)
    module = spec.to_torch()
    module.load_state_dict(best["model"])


def test_lenet_learns_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", LENET, "--data", "digits", "--epochs", "3", "--out", str(tmp_path / "run"), "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert result["test"]["accuracy"] > 0.85  # 3 epochs; about 98% after 30 (see the README)
    history = rows(tmp_path / "run" / "metrics.csv")
    losses = [float(r["train_loss"]) for r in history]
    assert losses[0] > losses[1] > losses[2]


@pytest.mark.parametrize(("network", "loss"), [("CORAL", "CORAL"), ("ORCNN", "OR-CNN"), ("CE", "cross-entropy")])
def test_each_head_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str], network: str, loss: str) -> None:
    status = main(
        [
            "train",
            SYNTH,
            "--network",
            network,
            "--data",
            "ordinal-synth:300",
            "--epochs",
            "3",
            "--importance",
            "balanced",
            "--out",
            str(tmp_path / "run"),
            "--no-color",
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0 and f"{loss} loss" in printed
    history = rows(tmp_path / "run" / "metrics.csv")
    losses = [float(r["train_loss"]) for r in history]
    assert losses[-1] < losses[0]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["selected_by"] == ("accuracy" if network == "CE" else "mae")
    assert result["onnx"]["agree"] == result["onnx"]["of"] == 60


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    common = ["train", LENET, "--data", "digits", "--epochs", "4", "--batch-size", "64", "--seed", "3", "--quiet"]
    common += ["--device", "cpu"]  # bit-identical: the CPU's promise, GPU or not
    whole = run_cli(*common, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "netdsl", *common, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (killed / "metrics.csv").exists():
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(rows(killed / "metrics.csv"))
    assert 1 <= finished < 4 and not (killed / "result.json").exists()
    resumed = run_cli(*common, "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [r["epoch"] for r in rows(killed / "metrics.csv")] == ["1", "2", "3", "4"]
    a, b = state(tmp_path / "whole" / "last.pt"), state(killed / "last.pt")
    for key, tensor in a["model"].items():  # type: ignore[attr-defined]
        assert torch.equal(tensor, b["model"][key]), key  # type: ignore[index]


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "netdsl", "train", LENET, "--data", "digits", "--epochs", "50", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "metrics.csv").exists():
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert f"interrupted; the last finished epoch is kept: add --resume --out {out} to continue" in err
    assert "Traceback" not in err


def test_resume_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shapes_folder(tmp_path / "data")
    out = str(tmp_path / "run")
    base = ["train", LENET, "--set", "classes=3", "--data", str(data), "--epochs", "1", "--batch-size", "8"]
    base += ["--device", "cpu"]  # where the loss turns NaN is the CPU's (batch 3 on CUDA)
    assert main([*base, "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    assert main([*base, "--out", out]) == 2
    assert "already holds a run: --resume to continue it, or pick another --out" in capsys.readouterr().err
    assert main([*base[:2], "--set", "classes=4", *base[4:], "--out", out, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "is a checkpoint of LeNet5 (architecture" in err and "a different spec, or other --set/--input" in err
    assert main([*base, "--resume"]) == 2
    assert "give --out DIR: --resume continues the run in --out DIR" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "fresh"), "--resume"]) == 2
    assert "fresh/last.pt' does not exist" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*base[:-2], "--out", str(tmp_path / "gpu"), "--device", "cuda"]) == 2
        assert "--device cuda: this PyTorch sees no CUDA device" in capsys.readouterr().err
    assert (
        main([*base, "--out", str(tmp_path / "hot"), "--optimizer", "sgd", "--lr", "1e38", "--schedule", "constant"])
        == 2
    )
    assert "epoch 1, batch 4: the loss is nan — lower --lr (now 1e+38)" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "hotter"), "--lr", "1e38", "--schedule", "constant"]) == 2
    assert "epoch 1, batch 1: PyTorch failed: value cannot be converted" in capsys.readouterr().err
    (tmp_path / "afile").write_text("")
    assert main([*base, "--out", str(tmp_path / "afile" / "run")]) == 2
    assert "cannot write" in capsys.readouterr().err
    (tmp_path / "run" / "last.pt").write_bytes(b"truncated")
    assert main([*base, "--epochs", "2", "--out", out, "--resume"]) == 2
    assert "cannot read the checkpoint" in capsys.readouterr().err


def test_bad_data_and_heads_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shapes_folder(tmp_path / "data")
    (data / "left" / "corrupt.png").write_bytes(b"\x89PNG nonsense")
    out = tmp_path / "run"
    assert main(["train", LENET, "--set", "classes=3", "--data", str(data), "--out", str(out)]) == 2
    assert "left/corrupt.png': cannot read it as an image" in capsys.readouterr().err
    assert not out.exists()  # nothing half-made
    spec = tmp_path / "seg.net"
    spec.write_text("network Seg { input x: [1, 8, 8]\n conv(2, 3) }\n")
    assert main(["train", str(spec), "--data", "digits", "--out", str(out)]) == 1
    assert "training needs a classifier's [classes]" in capsys.readouterr().err


def test_experiment_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exp"
    args = [
        "experiment",
        SYNTH,
        "--data",
        "ordinal-synth:120",
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--no-color",
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    table = (out / "results.md").read_text().splitlines()
    assert table[2] == "| Method | Random seed | MAE | RMSE | Accuracy |"
    assert [line.split(" | ")[:2] for line in table[4:]] == [
        ["| CORAL", "0"],
        ["| CORAL", "1"],
        ["| **CORAL**", "**AVG ± SD**"],
        ["| ORCNN", "0"],
        ["| ORCNN", "1"],
        ["| **ORCNN**", "**AVG ± SD**"],
        ["| CE", "0"],
        ["| CE", "1"],
        ["| **CE**", "**AVG ± SD**"],
    ]
    for found in rows(out / "results.csv"):
        result = json.loads((out / found["method"] / f"seed-{found['seed']}" / "result.json").read_text())
        assert float(found["mae"]) == pytest.approx(result["test"]["mae"], rel=1e-5)
        assert result["selected_by"] == "mae"
    maes = [float(r["mae"]) for r in rows(out / "results.csv") if r["method"] == "CE"]
    mean, sd = np.mean(maes), np.std(maes, ddof=1)
    assert f"**{mean:.3f} ± {sd:.3f}**" in table[12]
    assert "CORAL seed 0: test MAE" in first
    assert main(args) == 0  # a second time: every run is read back, not trained again
    again = capsys.readouterr().out
    assert again.count("finished earlier") == 6 and (out / "results.md").read_text().splitlines() == table
    assert main([*args, "--lr", "0.01"]) == 2  # the finished runs were trained otherwise
    assert (
        "CORAL/seed-0/result.json' holds a finished run with other settings (lr None there, 0.01 now)"
        in capsys.readouterr().err
    )


def test_experiment_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", f"{SYNTH}:Nope", "--data", "ordinal-synth", "--out", str(tmp_path)]) == 2
    assert "Nope" in capsys.readouterr().err
    assert main(["experiment", f"{SYNTH}:CE", f"{SYNTH}:CE", "--data", "ordinal-synth", "--out", str(tmp_path)]) == 2
    assert "the network CE is named twice" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    """torchrun with 2 CPU processes (gloo) of batch 4 takes the same steps as 1 process of batch 8."""
    data = shapes_folder(tmp_path / "data", per_class=14)  # 42 images: 30 training (even, so no padding)
    common = [
        "train",
        LENET,
        "--set",
        "classes=3",
        "--data",
        str(data),
        "--epochs",
        "2",
        "--optimizer",
        "sgd",
        "--device",
        "cpu",
        "--seed",
        "1",
    ]
    single = run_cli(*common, "--batch-size", "8", "--out", str(tmp_path / "one"), "--quiet")
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "netdsl",
            *common,
            "--batch-size",
            "4",
            "--out",
            str(tmp_path / "two"),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "on cpu × 2 processes in fp32: 30 training" in ddp.stdout
    assert ddp.stdout.count("epoch   2:") == 1  # rank 0 alone reports
    assert len(rows(tmp_path / "two" / "metrics.csv")) == 2
    a, b = state(tmp_path / "one" / "last.pt"), state(tmp_path / "two" / "last.pt")
    for key, tensor in a["model"].items():  # type: ignore[attr-defined]
        assert torch.allclose(tensor, b["model"][key], atol=1e-5), key  # type: ignore[index]


def test_an_opset_onnxruntime_cannot_run_is_written_but_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnx

    from netdsl.runtime.session import max_opset

    newest = onnx.defs.onnx_opset_version()
    if newest <= max_opset():
        pytest.skip("the installed onnxruntime runs every opset the installed onnx writes")
    data = shapes_folder(tmp_path / "data")
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                LENET,
                "--set",
                "classes=3",
                "--data",
                str(data),
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--opset",
                str(newest),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert f"--opset {newest}: the installed onnxruntime" in capsys.readouterr().err
    result = json.loads((out / "result.json").read_text())
    assert result["onnx"] == {"unchecked": f"opset {newest} is past what the installed onnxruntime runs"}
    assert "model.onnx" in result["files"] and (out / "model.onnx").is_file()
    assert onnx.load(str(out / "model.onnx")).opset_import[0].version == newest
