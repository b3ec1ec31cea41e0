"""`netdsl compare`: networks side by side — a table (parameters, MACs, activation memory, the
receptive field of the last feature map, and a trained figure where run folders are given) and
Canziani et al.'s chart: multiply-accumulates on x, parameters as the blob's area, and on y the
trained figure (test accuracy, or test MAE for ordinal heads) or, without runs, the parameters.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netdsl.checker.analyze import Checked


class CompareError(ValueError):
    """Run folders that cannot be read or do not agree on what they measure."""


@dataclass(frozen=True)
class Entry:
    network: str
    spec: str
    params: int
    macs: int
    activation_bytes: int
    receptive_field: tuple[int, int] | None  # of the last layer with a feature map
    metric: float | None = None  # mean over the runs found (seeds)
    runs: int = 0


def entry(checked: Checked, spec: str) -> Entry:
    return Entry(
        checked.graph.network,
        spec,
        checked.total_params,
        checked.total_macs,
        checked.activation_bytes,
        checked.feature_field,
    )


def read_results(folders: Sequence[str | Path]) -> tuple[dict[str, list[float]], str]:
    """Test figures by network from every result.json under `folders` (train and experiment runs),
    and which figure they are: 'accuracy', or 'MAE' when the runs picked their best epoch by MAE."""
    found: dict[str, list[tuple[str, float]]] = {}
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise CompareError(f"--results '{folder}': no such folder")
        files = sorted(root.rglob("result.json"))
        if not files:
            raise CompareError(f"--results '{folder}': no result.json in it (give netdsl train or experiment folders)")
        for file in files:
            try:
                data: dict[str, Any] = json.loads(file.read_text())
                kind = "MAE" if data.get("selected_by") == "mae" else "accuracy"
                value = float(data["test"]["mae" if kind == "MAE" else "accuracy"])
                found.setdefault(str(data["network"]), []).append((kind, value))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CompareError(f"cannot read '{file}' as a netdsl run result: {exc}") from None
    kinds = {kind for runs in found.values() for kind, _ in runs}
    if len(kinds) > 1:
        raise CompareError("the runs mix classifiers (accuracy) and ordinal heads (MAE); compare them separately")
    return {net: [v for _, v in runs] for net, runs in found.items()}, kinds.pop() if kinds else "accuracy"


def with_results(entries: list[Entry], results: dict[str, list[float]]) -> list[Entry]:
    return [
        Entry(
            e.network,
            e.spec,
            e.params,
            e.macs,
            e.activation_bytes,
            e.receptive_field,
            statistics.fmean(results[e.network]) if e.network in results else None,
            len(results.get(e.network, [])),
        )
        for e in entries
    ]


# ---- the table ----------------------------------------------------------------------------


def _field(field: tuple[int, int] | None) -> str:
    from netdsl.report.render import field_text

    return field_text(field)


def to_markdown(entries: Sequence[Entry], metric: str | None) -> str:
    from netdsl.report.render import human_bytes

    head = "| network | spec | params | MACs | activation memory | receptive field |"
    rule = "|---|---|---:|---:|---:|---:|"
    if metric:
        head += f" test {metric} | runs |"
        rule += "---:|---:|"
    lines = [head, rule]
    for e in entries:
        line = (
            f"| {e.network} | `{e.spec}` | {e.params:,} | {e.macs:,} | {human_bytes(e.activation_bytes)} | "
            f"{_field(e.receptive_field)} |"
        )
        if metric:
            line += f" {_metric_text(e.metric, metric)} | {e.runs} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _metric_text(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.3f}"


def to_json(entries: Sequence[Entry], metric: str | None) -> str:
    rows = []
    for e in entries:
        row: dict[str, Any] = {
            "network": e.network,
            "spec": e.spec,
            "params": e.params,
            "macs": e.macs,
            "activation_bytes": e.activation_bytes,
            "receptive_field": list(e.receptive_field) if e.receptive_field else None,
        }
        if metric:
            row |= {"metric": metric.lower(), "value": e.metric, "runs": e.runs}
        rows.append(row)
    return json.dumps(rows, indent=2) + "\n"


# ---- the chart ----------------------------------------------------------------------------

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
AREA = 2600.0  # points² of the largest blob


def chart(entries: Sequence[Entry], metric: str | None, kind: str) -> bytes:
    """The Canziani chart as SVG or PNG (`kind`): networks with a trained figure when `metric`
    is given (the others are left out), else all, with parameters on y."""
    from matplotlib.ticker import FuncFormatter

    from netdsl.pictures.plot import figure, render

    shown = [e for e in entries if metric is None or e.metric is not None]
    if not shown:
        raise CompareError("no network has a run in --results: nothing to chart")
    fig = figure(10, 6.4)
    axes = fig.add_axes((0.08, 0.1, 0.78, 0.8))  # the size key on the right
    xs = [e.macs / 1e9 for e in shown]
    ys = [e.metric if metric else e.params / 1e6 for e in shown]  # type: ignore[misc]
    largest = max(e.params for e in shown) or 1
    sizes = [max(30.0, AREA * e.params / largest) for e in shown]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(shown))]
    axes.scatter(xs, ys, s=sizes, c=colours, alpha=0.55, edgecolors="black", linewidths=0.6, zorder=3)
    log = min(xs) > 0 and max(xs) / min(xs) > 30
    if log:
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.set_xlabel("multiply-accumulates per image (G" + (", log scale)" if log else ")"))
    if metric == "accuracy":
        axes.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{v:.0%}" if v * 100 == round(v * 100) else f"{v:.1%}")
        )
    axes.set_ylabel(f"test {metric}" if metric else "parameters (M)")
    _pad(axes, xs, ys, log)
    title = "networks by operations" + (f" and test {metric}" if metric else " and parameters")
    fig.suptitle(f"{title}; blob area: parameters", x=0.08, ha="left", fontweight="bold", fontsize=11)
    _size_key(axes, largest)
    _annotate(fig, axes, shown, xs, ys, sizes)
    return render(fig, kind)


def _pad(axes: Any, xs: list[float], ys: list[float], log: bool) -> None:
    """Room around the blobs so that the largest is whole and labels fit."""
    low, high = min(ys), max(ys)
    span = (high - low) or abs(high) or 1.0
    axes.set_ylim(low - 0.18 * span, high + 0.18 * span)
    if log:
        axes.set_xlim(min(xs) / 1.8, max(xs) * 1.8)
    else:
        width = (max(xs) - min(xs)) or max(xs) or 1.0
        axes.set_xlim(max(0.0, min(xs) - 0.12 * width), max(xs) + 0.15 * width)


def _size_key(axes: Any, largest: int) -> None:
    """Reference blobs for reading sizes: round parameter counts up to the largest."""
    steps = [v for v in (1e6, 5e6, 10e6, 25e6, 50e6, 100e6, 150e6) if v <= largest] or [float(largest)]
    picks = steps[-3:] if len(steps) > 3 else steps
    handles = [
        axes.scatter([], [], s=max(30.0, AREA * v / largest), c="white", edgecolors="black", linewidths=0.6)
        for v in picks
    ]
    axes.legend(
        handles,
        [f"{v / 1e6:g}M" for v in picks],
        title="parameters",
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
        labelspacing=2.2,
        borderpad=1.2,
        handletextpad=1.5,
    )


def _annotate(
    fig: Any, axes: Any, shown: Sequence[Entry], xs: list[float], ys: list[float], sizes: list[float]
) -> None:
    """Each blob's name beside it, at the first of a few spots that covers no other name or blob."""
    renderer = fig.canvas.get_renderer()
    taken = []
    for x, y, size in zip(xs, ys, sizes, strict=True):
        cx, cy = axes.transData.transform((x, y))
        radius = math.sqrt(size) / 2 * fig.dpi / 72
        taken.append((cx - radius, cy - radius, cx + radius, cy + radius))
    order = sorted(range(len(shown)), key=lambda i: -sizes[i])
    for i in order:
        radius = math.sqrt(sizes[i]) / 2 + 3
        placed = False
        for dx, dy, ha, va in _spots(radius):
            text = axes.annotate(
                shown[i].network,
                (xs[i], ys[i]),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=9,
                zorder=4,
            )
            box = text.get_window_extent(renderer)
            rect = (box.x0, box.y0, box.x1, box.y1)
            inside = axes.get_window_extent(renderer)
            fits = inside.x0 <= rect[0] and rect[2] <= inside.x1 and inside.y0 <= rect[1] and rect[3] <= inside.y1
            if fits and not any(_hit(rect, t) for j, t in enumerate(taken) if j != i):  # its own blob may touch
                taken.append(rect)
                placed = True
                break
            text.remove()
        if not placed:
            text = axes.annotate(
                shown[i].network,
                (xs[i], ys[i]),
                xytext=(radius, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=9,
                zorder=4,
            )
            box = text.get_window_extent(renderer)
            taken.append((box.x0, box.y0, box.x1, box.y1))


def _spots(radius: float) -> list[tuple[float, float, str, str]]:
    spots = []
    for reach in (radius, radius + 10, radius + 22, radius + 36):
        spots += [
            (reach, 0, "left", "center"),
            (-reach, 0, "right", "center"),
            (0, reach, "center", "bottom"),
            (0, -reach, "center", "top"),
            (reach * 0.75, reach * 0.75, "left", "bottom"),
            (-reach * 0.75, reach * 0.75, "right", "bottom"),
            (reach * 0.75, -reach * 0.75, "left", "top"),
            (-reach * 0.75, -reach * 0.75, "right", "top"),
        ]
    return spots


def _hit(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
