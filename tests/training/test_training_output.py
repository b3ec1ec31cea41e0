"""What training shows and leaves behind, without training: epoch lines that fit 80 columns,
the learning curves, a head with classes the data lacks, and a checkpoint's normalization
travelling with its weights into ONNX and inference."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

import netdsl
from netdsl.api import read_weights
from netdsl.cli import main
from netdsl.data.sources import load_data
from netdsl.pictures.curves import draw_curves
from netdsl.runtime.session import normalization_warning, open_session
from netdsl.training.heads import Head
from netdsl.training.loop import RunInfo
from netdsl.training.report import RichReporter, epoch_columns, epoch_header, epoch_line

from conftest import SPECS

torch = pytest.importorskip("torch")

ROW = {
    "epoch": 12,
    "train_loss": 0.12345,
    "train_accuracy": 0.9876,
    "val_loss": 0.23456,
    "val_accuracy": 0.9712,
    "val_mae": 0.0712,
    "val_rmse": 0.5,
    "seconds": 12.34,
    "images_per_s": 123456.7,
}


def test_epoch_lines_fit_80_columns_under_one_header() -> None:
    console = Console(file=io.StringIO(), width=80, color_system=None)
    reporter = RichReporter(console)
    reporter.start(
        RunInfo("LeNet5", Head("logits", 10), 61706, "cpu", 1, 1257, 179, 361, 0, "accuracy", Path("runs/LeNet5"))
    )
    reporter.epoch_start(12, 30, 20)
    reporter.epoch_end(ROW)
    reporter.epoch_end(ROW | {"epoch": 13})
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[1] == "            train loss  val loss  train acc  val acc  seconds  images/s"  # no MAE for classes
    assert lines[2] == "epoch  12:      0.1235    0.2346      98.8%    97.1%     12.3   123,457"
    assert lines[3].startswith("epoch  13:") and len(lines) == 4  # the header once
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines[1:])


def test_narrow_terminals_lose_the_timing_columns_first() -> None:
    first, columns = epoch_columns(True, 300, 70)
    assert [c[0] for c in columns] == ["train loss", "val loss", "train MAE", "val MAE", "val RMSE"]
    assert len(epoch_header(first, columns)) == 62
    assert [c[0] for c in epoch_columns(True, 300, 71)[1]][-1] == "seconds"
    assert len(epoch_columns(True, 300, 40)[1]) == 5  # the figures always stay
    assert epoch_line(ROW | {"train_mae": 1.5}, first, columns).split()[-3:] == ["1.500", "0.071", "0.500"]


def test_curves_png(tmp_path: Path) -> None:
    history = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "val_loss": 1.2 / e,
            "train_accuracy": 1 - 0.5 / e,
            "val_accuracy": 0.9 - 0.4 / e,
            "val_mae": 0.3,
            "val_rmse": 0.6,
        }
        for e in range(1, 8)
    ]
    for select, rows in (("accuracy", history), ("mae", [r | {"train_mae": 0.5} for r in history])):
        path = tmp_path / f"{select}.png"
        path.write_bytes(draw_curves(rows, "Net", select, best=5))
        with Image.open(path) as image:
            assert image.size == (2000, 840) and image.format == "PNG"  # 200 dpi since issue 21
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        # training in blue, validation in red: both drawn
        assert ((pixels == [31, 119, 180]).all(axis=1)).sum() > 200
        assert ((pixels == [214, 39, 40]).all(axis=1)).sum() > 200


def test_a_head_with_classes_the_data_lacks_is_said(tmp_path: Path) -> None:
    for name, count in (("cat", 5), ("dog", 4)):  # a folder of 2 classes, for a 10-class head
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    (warning,) = load_data(str(tmp_path), (1, 8, 8), 10).warnings
    assert warning == (
        f"the spec's head has 10 classes, but 8 of them have no image in '{tmp_path}' (images by label: 0: 5, "
        "1: 4; none of 2, 3, 4, 5, 6, 7, 8, 9) (--set classes=2 sizes the head to the data)"
    )
    assert load_data(str(tmp_path), (1, 8, 8), 2).warnings == ()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A checkpoint as training writes it (weights and normalization), and the same weights bare."""
    folder = tmp_path_factory.mktemp("weights")
    spec = netdsl.load(SPECS / "lenet5.net")
    torch.manual_seed(3)
    state = spec.to_torch().state_dict()
    checkpoint = {
        "format": "netdsl-checkpoint-1",
        "model": state,
        "source": "digits",
        "normalize": {"mean": [0.25], "std": [0.5]},
    }
    torch.save(checkpoint, folder / "best.pt")
    torch.save(state, folder / "bare.pt")
    return folder / "best.pt", folder / "bare.pt"


def test_a_checkpoints_normalization_travels_with_its_weights(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best, bare = trained
    state, meta = read_weights(best)
    assert meta == {"netdsl.mean": "0.25", "netdsl.std": "0.5", "netdsl.trained_on": "digits"}
    assert read_weights(bare)[1] == {"netdsl.normalize": "unknown"}
    model = tmp_path / "trained.onnx"
    assert main(["build", str(SPECS / "lenet5.net"), "--target", "onnx", "--weights", str(best), "-o", str(model)]) == 0
    session = open_session(model, "cpu")
    assert session.normalize == ((0.25,), (0.5,)) and not session.normalize_unknown
    image = tmp_path / "digit.png"
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))).save(image)
    capsys.readouterr()
    # the built model and the spec with the checkpoint answer alike; the bare weights, read without
    # the normalization, answer otherwise, and say why once
    answers = {}
    for name, args in (
        ("built", [str(model)]),
        ("spec", [str(SPECS / "lenet5.net"), "--weights", str(best)]),
        ("bare", [str(SPECS / "lenet5.net"), "--weights", str(bare)]),
    ):
        assert main(["infer", *args, "--input", str(image), str(image), "--top-k", "3", "--provider", "cpu"]) == 0
        captured = capsys.readouterr()
        answers[name] = captured.out
        assert captured.err.count("bare state_dict") == (name == "bare")
    assert answers["built"] == answers["spec"] != answers["bare"]
    session = open_session(netdsl.load(SPECS / "lenet5.net").to_onnx(bare), "cpu")
    assert session.normalize_unknown
    assert normalization_warning(session, ["x.npy"]) is None and normalization_warning(session, ["a.PNG"])


def test_train_says_the_class_counts_and_quiet_writes_no_blank_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    for name, count in (("cat", 6), ("dog", 6)):
        (data / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((32, 32), 20 * i, dtype=np.uint8)).save(data / name / f"{i}.png")
    assert main(["train", str(SPECS / "lenet5.net"), "--data", str(data), "--epochs", "1", "--batch-size", "4",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("netdsl: warning: the spec's head has 10 classes, but 8 of them have no image in")
    assert "\n\n" not in err and not err.startswith("\n")


@pytest.mark.parametrize(("kind", "ordinal"), [("logits", False), ("coral", True)])
def test_the_test_table_has_an_mae_for_ordinal_heads_only(kind: str, ordinal: bool) -> None:
    from netdsl.training.loop import Result

    console = Console(file=io.StringIO(), width=80, color_system=None)
    reporter = RichReporter(console)
    reporter.start(RunInfo("N", Head(kind, 5), 100, "cpu", 1, 10, 2, 2, 0, "accuracy", Path("runs/N")))
    test = {"accuracy": 0.5, "mae": 0.75, "rmse": 1.25, "loss": 0.5}
    reporter.finish(Result("N", 0, 3, 2, "accuracy", test), [])
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "test accuracy" in text and "50.00%" in text
    assert ("test MAE / RMSE" in text) == ordinal and ("0.750 / 1.250" in text) == ordinal
