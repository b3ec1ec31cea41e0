"""The ordinal heads' biases (their prior start, their own learning rate, CORAL's threshold
gaps in the history), the noisy benchmark, and the --protocol presets."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

import netdsl
from netdsl.cli import main
from netdsl.cli.app import build_parser
from netdsl.data.sources import DataError, load_data
from netdsl.data.synth import noisy_labels

from conftest import ROOT

torch = pytest.importorskip("torch")
from netdsl.cli.training import config_of  # noqa: E402
from netdsl.training.heads import Head, head_biases, prior_logits, set_prior, threshold_gaps  # noqa: E402
from netdsl.training.loop import TrainConfig, TrainError, train  # noqa: E402

SYNTH = ROOT / "specs/ordinal_synth.net"
TINY = """
network Tiny(classes = 8) {
    input image: [1, 32, 32]
    conv(4, 3, stride=2) -> relu -> maxpool(2)
    flatten
    head: coral(classes)
}
"""


def test_noisy_benchmark_moves_only_the_training_labels() -> None:
    clean = load_data("ordinal-synth:800", (1, 32, 32), 8)
    noisy = load_data("ordinal-synth-noisy:800", (1, 32, 32), 8)
    assert noisy.kind == "ordinal-synth-noisy" and noisy.fingerprint != clean.fingerprint
    for a, b in ((clean.train, noisy.train), (clean.val, noisy.val), (clean.test, noisy.test)):
        assert np.array_equal(a.images, b.images)  # the same pictures, split the same way
    assert np.array_equal(clean.val.labels, noisy.val.labels) and np.array_equal(clean.test.labels, noisy.test.labels)
    moves = noisy.train.labels - clean.train.labels
    assert noisy.train.labels.min() == 0 and noisy.train.labels.max() == 7  # clipped to the ranks
    inside = (clean.train.labels >= 3) & (clean.train.labels <= 4)  # far from both ends: no clipping
    assert 0.30 < (moves[inside] == 0).mean() < 0.47  # round(N(0, 1)) keeps 38% where nothing clips
    assert abs(moves[inside].mean()) < 0.15 and 0.85 < moves[inside].std() < 1.2
    again = load_data("ordinal-synth-noisy:800", (1, 32, 32), 8)
    assert np.array_equal(again.train.labels, noisy.train.labels)  # fixed, like the images
    louder = load_data("ordinal-synth-noisy:800:2", (1, 32, 32), 8)
    assert (louder.train.labels - clean.train.labels)[inside].std() > 1.4


def test_noisy_labels_and_bad_sources() -> None:
    labels = np.arange(1000) % 8
    assert np.array_equal(noisy_labels(labels, 8, 0.0, (1,)), labels)
    a, b = noisy_labels(labels, 8, 1.0, (1,)), noisy_labels(labels, 8, 1.0, (2,))
    assert np.array_equal(a, noisy_labels(labels, 8, 1.0, (1,))) and not np.array_equal(a, b)
    with pytest.raises(DataError, match=r"give ordinal-synth\[:N\], or ordinal-synth-noisy\[:N\[:SIGMA\]\]"):
        load_data("ordinal-synth:100:1", (1, 32, 32), 8)
    with pytest.raises(DataError, match="the label noise after the second ':' must be a number of ranks"):
        load_data("ordinal-synth-noisy:100:loud", (1, 32, 32), 8)


def test_prior_logits_and_the_start_of_each_head() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2, 3, 3])  # above 0: 5 of 8; above 1: 4; above 2: 2
    expected = [math.log(p / (1 - p)) for p in (5.5 / 9, 4.5 / 9, 2.5 / 9)]
    assert prior_logits(labels, 4).tolist() == pytest.approx(expected, rel=1e-6)
    coral = netdsl.load(SYNTH, network="CORAL", classes=4).to_torch()
    bias = head_biases(coral, Head("coral", 4))
    assert bias is coral.head.bias
    set_prior(bias, Head("coral", 4), labels)
    assert torch.sigmoid(coral.head.bias).tolist() == pytest.approx([5.5 / 9, 4.5 / 9, 2.5 / 9], rel=1e-6)
    orcnn = netdsl.load(SYNTH, network="ORCNN", classes=4).to_torch()
    bias = head_biases(orcnn, Head("ordinal", 4))
    assert bias is orcnn.head.fc.bias
    set_prior(bias, Head("ordinal", 4), labels)
    pairs = torch.softmax(orcnn.head.fc.bias.view(3, 2), dim=1)[:, 1]  # P(rank > k) of task k
    assert pairs.tolist() == pytest.approx([5.5 / 9, 4.5 / 9, 2.5 / 9], rel=1e-6)
    assert head_biases(netdsl.load(SYNTH, network="CE").to_torch(), Head("logits", 8)) is None
    assert head_biases(torch.nn.Linear(3, 1), Head("coral", 2)) is None  # a module netdsl did not write
    assert threshold_gaps(torch.tensor([2.0, 0.5, -1.5])) == [1.5, 2.0]


def _history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_coral_biases_learn_at_their_own_rate_and_their_gaps_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "tiny.net").write_text(TINY)
    spec = netdsl.load(tmp_path / "tiny.net")
    data = load_data("ordinal-synth-noisy:200", spec.checked.input_shape, 8)
    config = TrainConfig(data="x", out=str(tmp_path / "run"), epochs=1, lr=1e-3, schedule="constant", export=False)
    result = train(spec, data, config)
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    groups = last["optimizer"]["param_groups"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 3e-2]) and [g["lr_scale"] for g in groups] == [1, 30]
    assert groups[1]["weight_decay"] == 0.0 and groups[1]["params"] == [len(groups[0]["params"])]
    gaps = threshold_gaps(last["model"]["head.bias"])
    assert result.coral_gaps == pytest.approx(gaps)  # one epoch: the best is the last
    row = _history(tmp_path / "run" / "metrics.csv")[0]
    assert list(row)[7:10] == ["gap_min", "gap_mean", "gap_max"]
    assert float(row["gap_min"]) == pytest.approx(min(gaps), rel=1e-5)
    assert float(row["gap_max"]) == pytest.approx(max(gaps), rel=1e-5)
    assert json.loads((tmp_path / "run" / "result.json").read_text())["coral_gaps"] == pytest.approx(gaps)
    # a checkpoint whose optimizer has one group (an older netdsl) is refused, not half-loaded
    last["optimizer"]["param_groups"] = groups[:1]
    last["optimizer"]["param_groups"][0]["params"] += groups[1]["params"]
    torch.save(last, tmp_path / "run" / "last.pt")
    config.epochs, config.resume = 2, True
    with pytest.raises(TrainError, match="has other parameter groups than this run's"):
        train(spec, data, config)


def test_the_protocol_fills_in_what_is_not_given() -> None:
    parse = build_parser().parse_args
    paper = config_of(parse(["train", "x.net", "--data", "faces/", "--protocol", "coral-paper"]), "out")
    assert (paper.epochs, paper.batch_size, paper.optimizer, paper.lr, paper.schedule) == (
        200, 256, "adam", 5e-4, "constant",
    )  # fmt: skip
    assert (paper.importance, paper.head_bias_lr, paper.resize, paper.flip, paper.weight_decay) == (
        "uniform", 1.0, (128, 128), False, 0.0,
    )  # fmt: skip
    mine = config_of(parse(["train", "x.net", "--data", "d", "--protocol", "coral-paper", "--epochs", "3",
                            "--head-bias-lr", "10", "--resize", "130x140"]), "out")  # fmt: skip
    assert (mine.epochs, mine.batch_size, mine.head_bias_lr, mine.resize) == (3, 256, 10.0, (130, 140))
    plain = config_of(parse(["train", "x.net", "--data", "d"]), "out")
    assert (plain.epochs, plain.batch_size, plain.lr, plain.schedule, plain.head_bias_lr, plain.resize) == (
        10, 64, None, "cosine", None, None,
    )  # fmt: skip
    assert plain.bias_lr_scale(Head("coral", 8)) == 30.0 and plain.bias_lr_scale(Head("ordinal", 8)) == 1.0
    assert paper.settings()["resize"] == [128, 128] and "loader" not in paper.settings()
    assert (paper.select, plain.select) == ("mae", "auto")  # the authors keep the epoch of best validation MAE
    chosen = parse(["train", "x.net", "--data", "d", "--protocol", "coral-paper", "--select", "loss"])
    assert config_of(chosen, "out").select == "loss"


def test_protocol_and_resize_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", str(SYNTH), "--network", "CE", "--data", "digits", "--out", str(tmp_path / "run")]
    assert main([*base, "--resize", "16"]) == 2
    assert "--resize 16x16 is smaller than the spec's input 32x32" in capsys.readouterr().err
    assert main([*base, "--loader", "stream"]) == 2
    assert "--loader stream reads image files; 'digits' is made in memory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--resize", "12x"])
    assert "expected a size H or HxW in pixels, like 128 or 128x96, got '12x'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
