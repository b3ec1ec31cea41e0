"""The losses, predictions and metrics of each head, against their formulas written out."""

from __future__ import annotations

import math

import numpy as np
import pytest

import netdsl

from conftest import ROOT, checked

torch = pytest.importorskip("torch")
from netdsl.training.heads import Head, HeadError, head_of, importance_weights, metrics  # noqa: E402


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_head_of_the_shipped_specs() -> None:
    assert head_of(netdsl.load(ROOT / "specs/lenet5.net").checked) == Head("logits", 10)
    assert head_of(netdsl.load(ROOT / "specs/coral_cnn.net").checked) == Head("coral", 55)
    assert head_of(netdsl.load(ROOT / "specs/coral_cnn.net", network="ORCNN").checked) == Head("ordinal", 55)
    assert head_of(checked("network N { input x: [4]\n linear(3) -> softmax }")) == Head("probabilities", 3)
    with pytest.raises(HeadError, match=r"output conv_1 has shape \[2, 6, 6\]"):
        head_of(checked("network N { input x: [1, 8, 8]\n conv(2, 3) }"))


def test_cross_entropy() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    labels = torch.tensor([0, 2])
    expected = -np.mean(
        [
            math.log(math.exp(2) / (math.exp(2) + math.exp(0.5) + math.exp(-1))),
            math.log(math.exp(0.3) / (math.exp(0.1) + math.exp(0.2) + math.exp(0.3))),
        ]
    )
    assert Head("logits", 3).loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    probs = torch.softmax(logits, dim=1)
    assert Head("probabilities", 3).loss(probs, labels).item() == pytest.approx(expected, rel=1e-5)
    assert Head("log_probabilities", 3).loss(probs.log(), labels).item() == pytest.approx(expected, rel=1e-5)
    assert Head("logits", 3).predict(logits).tolist() == [0, 2]


def test_coral_loss_and_prediction() -> None:
    logits = np.array([[2.0, 0.3, -1.5], [-0.2, -0.4, -3.0]], dtype=np.float32)
    labels = np.array([2, 0])
    levels = (labels[:, None] > np.arange(3)[None, :]).astype(np.float64)  # [[1,1,0],[0,0,0]]
    p = sigmoid(logits.astype(np.float64))
    per_task = -(levels * np.log(p) + (1 - levels) * np.log(1 - p))
    head = Head("coral", 4)
    got = head.loss(torch.from_numpy(logits), torch.from_numpy(labels))
    assert got.item() == pytest.approx(per_task.sum(axis=1).mean(), rel=1e-6)
    weights = np.array([1.0, 0.5, 0.25], dtype=np.float32)
    weighted = head.loss(torch.from_numpy(logits), torch.from_numpy(labels), torch.from_numpy(weights))
    assert weighted.item() == pytest.approx((per_task * weights).sum(axis=1).mean(), rel=1e-6)
    assert head.predict(torch.from_numpy(logits)).tolist() == [2, 0]


def test_orcnn_loss_and_prediction() -> None:
    logits = np.array(
        [[[0.0, 2.0], [1.0, 0.5], [3.0, -1.0]], [[-1.0, 1.0], [-2.0, 1.5], [0.0, 0.7]]], dtype=np.float32
    )  # [N, K-1, 2]
    labels = np.array([1, 3])
    levels = (labels[:, None] > np.arange(3)[None, :]).astype(int)
    exp = np.exp(logits.astype(np.float64))
    p = exp / exp.sum(axis=2, keepdims=True)
    per_task = -np.log(np.take_along_axis(p, levels[..., None], axis=2)[..., 0])
    head = Head("ordinal", 4)
    assert head.loss(torch.from_numpy(logits), torch.from_numpy(labels)).item() == pytest.approx(
        per_task.sum(axis=1).mean(), rel=1e-6
    )
    assert head.predict(torch.from_numpy(logits)).tolist() == [1, 3]


def test_balanced_importance_weights() -> None:
    labels = np.array([0, 0, 1, 2])  # task 0: 2 above, 2 not; task 1: 1 above, 3 not
    weights = importance_weights(labels, 3, "balanced")
    assert weights is not None
    assert weights.tolist() == pytest.approx([math.sqrt(2) / math.sqrt(3), 1.0])
    assert importance_weights(labels, 3, "uniform") is None


def test_metrics() -> None:
    got = metrics(np.array([0, 2, 3]), np.array([0, 1, 1]))
    assert got == pytest.approx({"accuracy": 1 / 3, "mae": 1.0, "rmse": math.sqrt(5 / 3)})


def test_coral_biases_start_at_the_uniform_prior() -> None:
    model = netdsl.load(ROOT / "specs/ordinal_synth.net", network="CORAL").to_torch()
    expected = [math.log((7 - k) / (k + 1)) for k in range(7)]
    assert model.head.bias.tolist() == pytest.approx(expected, rel=1e-6)
    assert sigmoid(np.array(expected)).tolist() == pytest.approx([(7 - k) / 8 for k in range(7)])
