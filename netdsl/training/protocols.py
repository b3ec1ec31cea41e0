"""Presets of training settings (`--protocol`); an option given on the command line overrides
the preset's value.

- `netdsl`: the defaults, sized for short runs on a CPU: Adam 1e-3 with a cosine decay, batch
  64, 10 epochs; an ordinal head's biases learn 30× (CORAL) or 1× (OR-CNN) faster.
- `coral-paper`: the settings of the CORAL paper's experiments (Cao, Mirjalili, Raschka 2020;
  the authors' scripts in github.com/Raschka-research-group/coral-cnn, `experiment-logs/`):
  Adam with a constant rate of 5e-4 and no weight decay, batch 256, 200 epochs, uniform task
  importance (their logs: `Task Importance Weight: 0`), every parameter at the one rate;
  images resized to 128×128, a random 120×120 crop in training and the centre crop in
  evaluation, no flips; the best epoch by validation MAE, for every head (CE included).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    epochs: int
    batch_size: int
    optimizer: str
    lr: float | None  # None: the optimizer's default (1e-3 adam, 1e-2 sgd)
    schedule: str
    importance: str
    head_bias_lr: float | None  # None: netdsl.training.loop.HEAD_BIAS_LR
    resize: tuple[int, int] | None  # None: the spec's input, no crop
    select: str  # the validation figure that picks the best epoch (auto: by the head)


PROTOCOLS = {
    "netdsl": Protocol(10, 64, "adam", None, "cosine", "uniform", None, None, "auto"),
    "coral-paper": Protocol(200, 256, "adam", 5e-4, "constant", "uniform", 1.0, (128, 128), "mae"),
}
