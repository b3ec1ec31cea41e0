"""What a network's head means for training: its loss, its predictions and its metrics.

- a classifier (`linear`, or `softmax` / `log_softmax` after it): cross-entropy; the
  prediction is the arg-max;
- `ordinal` (OR-CNN, Niu et al. 2016): outputs [N, K-1, 2], one two-way classifier per task
  "is the rank above k?"; the loss is the sum over the K-1 tasks of their cross-entropies;
- `coral` (CORAL, Cao et al. 2019): outputs [N, K-1] logits of the cumulative probabilities
  P(rank > k); the loss is the sum over the K-1 tasks of their binary cross-entropies.

Both ordinal losses take optional task-importance weights λ_k; predictions of both count the
tasks whose probability exceeds 0.5. Metrics for every head: accuracy, MAE and RMSE of the
predicted rank (the CORAL paper's metrics; for a classifier the class index is the rank).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from netdsl.checker.analyze import Checked
from netdsl.checker.heads import ORDINAL, HeadError, head_classes

__all__ = ["ORDINAL", "Head", "HeadError", "head_of"]

@dataclass(frozen=True)
class Head:
    kind: str  # logits | probabilities | log_probabilities | coral | ordinal
    classes: int

    @property
    def ordinal(self) -> bool:
        return self.kind in ORDINAL

    @property
    def metric(self) -> str:
        """The figure that says how training goes: MAE for ordinal heads, accuracy otherwise."""
        return "mae" if self.ordinal else "accuracy"

    @property
    def loss_name(self) -> str:
        return {"coral": "CORAL", "ordinal": "OR-CNN"}.get(self.kind, "cross-entropy")

    def loss(
        self,
        outputs: torch.Tensor,
        labels: torch.Tensor,
        importance: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """The loss of a batch: its mean over the samples (or, with reduction="sum", the sum)."""
        if self.kind == "coral":
            levels = _levels(labels, self.classes).to(outputs.dtype)
            per_task = functional.binary_cross_entropy_with_logits(outputs, levels, reduction="none")
        elif self.kind == "ordinal":
            levels = _levels(labels, self.classes)
            per_task = functional.cross_entropy(outputs.transpose(1, 2), levels.long(), reduction="none")
        else:
            if self.kind == "logits":
                log_probs = functional.log_softmax(outputs, dim=1)
            elif self.kind == "probabilities":
                log_probs = outputs.clamp_min(1e-12).log()
            else:
                log_probs = outputs
            return functional.nll_loss(log_probs, labels, reduction=reduction)
        if importance is not None:
            per_task = per_task * importance
        per_sample = per_task.sum(dim=1)
        return per_sample.sum() if reduction == "sum" else per_sample.mean()

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The predicted class (rank) of each sample."""
        if self.kind == "coral":
            return (outputs > 0).sum(dim=1)  # sigmoid(z) > 0.5
        if self.kind == "ordinal":
            return (outputs[..., 1] > outputs[..., 0]).sum(dim=1)  # softmax(z)[1] > 0.5
        return outputs.argmax(dim=1)


def head_of(checked: Checked) -> Head:
    return Head(*head_classes(checked))


def _levels(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """The K-1 binary targets of each label: level k is 1 when the label is above k."""
    return (labels[:, None] > torch.arange(classes - 1, device=labels.device)[None, :]).to(torch.int64)


def importance_weights(labels: np.ndarray, classes: int, scheme: str) -> np.ndarray | None:
    """Task-importance weights λ_k: `uniform` (none; what the CORAL paper's runs used) or
    `balanced`, the weighting the CORAL paper proposes as an option, λ_k = sqrt(m_k) / max_j
    sqrt(m_j) with m_k the larger side of task k in the training labels."""
    if scheme == "uniform":
        return None
    above = (labels[:, None] > np.arange(classes - 1)[None, :]).sum(axis=0)
    m = np.sqrt(np.maximum(above, len(labels) - above).astype(np.float64))
    weights: np.ndarray = (m / m.max()).astype(np.float32)
    return weights


def prior_logits(labels: np.ndarray, classes: int) -> np.ndarray:
    """The logits of P(label > k), k = 0..classes-2, in `labels` (the cumulative frequencies,
    with half an image added on each side so that a task nobody passes stays finite)."""
    above = (labels[:, None] > np.arange(classes - 1)[None, :]).sum(axis=0).astype(np.float64)
    p = (above + 0.5) / (len(labels) + 1.0)
    logits: np.ndarray = np.log(p / (1.0 - p)).astype(np.float32)
    return logits


def head_biases(model: torch.nn.Module, head: Head) -> torch.nn.Parameter | None:
    """The ordinal head's K-1 biases: CORAL's thresholds (`CoralHead.bias`, [K-1]) or OR-CNN's
    per-task biases (`OrdinalHead.fc.bias`, [2(K-1)]: the pair of task k at 2k, 2k+1). None for
    a classifier, or a module without the generated head classes (a hand-written one)."""
    wanted = {"coral": "CoralHead", "ordinal": "OrdinalHead"}.get(head.kind)
    found = [m for m in model.modules() if type(m).__name__ == wanted]
    if not found:
        return None
    module = found[-1]  # the output's head: the last one built
    bias = module.bias if head.kind == "coral" else module.fc.bias
    return bias if isinstance(bias, torch.nn.Parameter) else None


def set_prior(bias: torch.nn.Parameter, head: Head, labels: np.ndarray) -> None:
    """Start the head's biases at the training labels' prior: an image the network cannot yet
    tell apart gets P(rank > k) = the fraction of training labels above k. OR-CNN's pair of
    task k gets (-z/2, z/2), whose softmax gives the same probability."""
    logits = torch.from_numpy(prior_logits(labels, head.classes)).to(bias.device, bias.dtype)
    with torch.no_grad():
        if head.kind == "coral":
            bias.copy_(logits)
        else:
            bias.copy_(torch.stack([-logits / 2, logits / 2], dim=1).flatten())


def threshold_gaps(bias: torch.Tensor) -> list[float]:
    """The gaps b_k - b_(k+1) between CORAL's successive biases: how far apart rank k and rank
    k+1 lie on the network's one score, in logits (positive while the thresholds stay ordered)."""
    values = bias.detach().double().cpu()
    return [float(g) for g in values[:-1] - values[1:]]


def metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    error = predicted.astype(np.float64) - labels.astype(np.float64)
    return {
        "accuracy": float((error == 0).mean()),
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
    }
