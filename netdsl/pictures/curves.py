"""Learning curves drawn with matplotlib (Agg): one panel per figure of merit — the loss, then
accuracy (classifiers) or MAE (ordinal heads) — each with its training and validation curve,
the best epoch marked, round ticks, and the legend above the panel where it covers no line.
Returns PNG bytes of 2000 × 840 pixels (10 × 4.2 inches at 200 dpi: sharp on a slide)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netdsl.pictures.plot import figure, render

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH, HEIGHT = 10.0, 4.2  # inches
DPI = 200
TRAIN, VALIDATION, OTHER = "#1f77b4", "#d62728", "#7f7f7f"
# (panel title, y label, [(history key, legend, colour, line style)])
Panel = tuple[str, list[tuple[str, str, str, str]]]


def panels(select: str) -> list[Panel]:
    loss: Panel = ("loss", [("train_loss", "training", TRAIN, "-"), ("val_loss", "validation", VALIDATION, "-")])
    if select == "accuracy":
        return [
            loss,
            ("accuracy", [("train_accuracy", "training", TRAIN, "-"), ("val_accuracy", "validation", VALIDATION, "-")]),
        ]
    return [
        loss,
        (
            "MAE, RMSE",
            [
                ("train_mae", "train MAE", TRAIN, "-"),
                ("val_mae", "val MAE", VALIDATION, "-"),
                ("val_rmse", "val RMSE", VALIDATION, "--"),
            ],
        ),
    ]


def draw_curves(history: Sequence[dict[str, float]], title: str, select: str, best: int | None = None) -> bytes:
    """`select`: the figure that picks the best epoch (accuracy, mae or loss); `best`: that epoch (1-based)."""
    fig = figure(WIDTH, HEIGHT)
    epochs = len(history)
    fig.suptitle(
        f"{title}: {epochs} epoch{'s' * (epochs != 1)}" + (f", best {best}" if best else ""),
        x=0.01,
        y=0.97,
        ha="left",
        fontsize=11,
        fontweight="bold",
    )
    chosen = panels(
        "accuracy" if select == "accuracy" or "train_accuracy" in (history[0] if history else {}) else "mae"
    )
    for index, (name, lines) in enumerate(chosen):
        axes = fig.add_subplot(1, len(chosen), index + 1)
        _panel(axes, history, name, lines, best)
    fig.subplots_adjust(left=0.075, right=0.985, bottom=0.13, top=0.8, wspace=0.2)
    return render(fig, "png", dpi=DPI)


def _panel(
    axes: Axes, history: Sequence[dict[str, float]], name: str, lines: list[tuple[str, str, str, str]], best: int | None
) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    drawn = 0
    for key, label, colour, style in lines:
        points = [(int(row["epoch"]), float(row[key])) for row in history if key in row]
        points = [(x, y) for x, y in points if math.isfinite(y)]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        axes.plot(
            xs,
            ys,
            style,
            color=colour,
            label=label,
            linewidth=1.8,
            marker="o" if len(xs) < 30 else None,
            markersize=3.5,
        )
        drawn += 1
        if best is not None and key.startswith("val_") and key != "val_rmse":
            value = dict(points).get(best)
            if value is not None:
                axes.plot(
                    [best],
                    [value],
                    marker="*",
                    markersize=13,
                    color=colour,
                    markeredgecolor="black",
                    markeredgewidth=0.6,
                    linestyle="none",
                    zorder=5,
                )
    if best is not None:
        axes.axvline(best, color=OTHER, linestyle=":", linewidth=1.2)  # named in the title: "best 7"
        # its label at the end of the line away from the curves there (the top for falling losses)
        values = [float(row[key]) for row in history for key, *_ in lines if int(row["epoch"]) == best and key in row]
        low, high = axes.get_ylim()
        top = not values or (sum(values) / len(values) - low) / ((high - low) or 1.0) < 0.5
        epochs = [int(row["epoch"]) for row in history]
        late = best > (min(epochs) + max(epochs)) / 2  # then on the line's left: never past the panel's edge
        axes.annotate(
            f"best: {best}",
            (best, 1.0 if top else 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(-3 if late else 3, -3 if top else 3),
            textcoords="offset points",
            ha="right" if late else "left",
            va="top" if top else "bottom",
            fontsize=8,
            color=OTHER,
        )
    axes.set_ylabel(name)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10, min_n_ticks=1))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    if name == "accuracy":
        axes.yaxis.set_major_formatter(FuncFormatter(_percent))
    if len(history) == 1:
        axes.set_xlim(0.5, 1.5)
    if drawn:  # above the panel, outside it: it can cover no point
        axes.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.06),
            ncol=4,
            frameon=False,
            fontsize=9,
            handlelength=1.8,
            borderaxespad=0.0,
        )


def _percent(value: float, _: object) -> str:
    """A tick as a percentage with no more digits than it has: 90%, 92.5%."""
    shown = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{shown}%"
