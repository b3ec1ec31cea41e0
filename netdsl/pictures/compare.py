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
    spread: float | None = None  # the standard deviation over those runs (two or more)


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
            statistics.stdev(results[e.network]) if len(results.get(e.network, [])) > 1 else None,
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
            line += f" {metric_text(e.metric, metric, e.spread)} | {e.runs} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def metric_text(value: float | None, metric: str, spread: float | None = None) -> str:
    """98.50%, or 98.50% ± 0.71% over several seeds (MAE: 0.412 ± 0.020)."""
    if value is None:
        return "-"
    if metric == "accuracy":
        return f"{value:.2%}" + (f" ± {spread:.2%}" if spread is not None else "")
    return f"{value:.3f}" + (f" ± {spread:.3f}" if spread is not None else "")


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

AREA = 3000.0  # points² of the largest blob
SMALLEST = 36.0  # points² of the smallest: a blob stays a visible dot
DOT = 70.0  # points² of every dot when y is the parameters (an area would say it twice)
MARKERS = ("o", "s", "D", "^")  # a new one after every palette's worth of networks


def palette() -> list[str]:
    """40 distinct colours: matplotlib's tab20 and tab20b, the strong shades first."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    tab20 = [to_hex(c) for c in colormaps["tab20"].colors]  # type: ignore[attr-defined]
    tab20b = [to_hex(c) for c in colormaps["tab20b"].colors]  # type: ignore[attr-defined]
    return tab20[0::2] + tab20b[0::4] + tab20b[2::4] + tab20[1::2] + tab20b[1::4] + tab20b[3::4]


def styles(count: int) -> list[tuple[str, str]]:
    """A (colour, marker) pair for each of `count` networks, no two alike."""
    colours = palette()
    return [(colours[i % len(colours)], MARKERS[i // len(colours) % len(MARKERS)]) for i in range(count)]


def names(entries: Sequence[Entry]) -> list[str]:
    """Each network's name on the chart; a name that several specs give gains its folder, or its
    file where the folders are the same (`AlexNet (zoo)`, `ORCNN (coral_cnn.net)`)."""
    specs: dict[str, set[str]] = {}
    for e in entries:
        specs.setdefault(e.network, set()).add(e.spec)
    shown = []
    for e in entries:
        others = specs[e.network]
        if len(others) == 1:
            shown.append(e.network)
            continue
        folders = {Path(spec).parent.name for spec in others}
        shown.append(f"{e.network} ({Path(e.spec).parent.name if len(folders) == len(others) else Path(e.spec).name})")
    return shown


def si(value: float) -> str:
    """A count with an SI prefix: 18, 61.7k, 4.1M, 15.5G (three significant digits at most)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{prefix}"
    return f"{value:.3g}"


def chart(entries: Sequence[Entry], metric: str | None, kind: str, dpi: float = 150) -> bytes:
    """Canziani's chart as SVG, PNG or PDF (`kind`): multiply-accumulates on a log x axis, and on y
    the trained figure when `metric` is given (networks without one are left out) with blob
    area = parameters, else the parameters on a log y axis with equal dots."""
    from netdsl.pictures.plot import figure, render

    shown = [e for e in entries if metric is None or e.metric is not None]
    if not shown:
        raise CompareError("no network has a run in --results: nothing to chart")
    fig = figure(12, 7.5)
    axes = fig.add_axes((0.075, 0.09, 0.72 if metric else 0.9, 0.83))
    xs = [max(e.macs, 1) for e in shown]
    largest = max(e.params for e in shown) or 1
    if metric:
        ys = [float(e.metric) for e in shown]  # type: ignore[arg-type]
        sizes = [max(SMALLEST, AREA * e.params / largest) for e in shown]
    else:
        ys = [float(max(e.params, 1)) for e in shown]
        sizes = [DOT] * len(shown)
    spreads = [e.spread or 0.0 for e in shown]
    _axes(
        axes,
        xs,
        [y - d for y, d in zip(ys, spreads, strict=True)] + [y + d for y, d in zip(ys, spreads, strict=True)],
        metric,
    )
    for (colour, marker), x, y, size, e in sorted(
        zip(styles(len(shown)), xs, ys, sizes, shown, strict=True), key=lambda t: -t[3]
    ):  # the largest first: small blobs stay on top
        axes.scatter(
            [x],
            [y],
            s=size,
            c=colour,
            marker=marker,
            alpha=0.7,
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
            clip_on=False,
        )
        if e.spread is not None:
            axes.errorbar(
                [x],
                [y],
                yerr=[e.spread],
                fmt="none",
                ecolor="#222222",
                elinewidth=1,
                capsize=4,
                zorder=4,
                gid=f"spread-{e.network}",
            )
    fig.suptitle(_title(shown, metric), x=0.075, ha="left", fontweight="bold", fontsize=12)
    if metric:
        _size_key(axes, largest)
    _annotate(fig, axes, names(shown), xs, ys, sizes)
    return render(fig, kind, dpi=dpi)


def _title(shown: Sequence[Entry], metric: str | None) -> str:
    if not metric:
        return "networks by operations and parameters (both log scale)"
    bars = " ± one standard deviation over seeds," if any(e.spread is not None for e in shown) else ""
    return f"networks by operations and test {metric};{bars} blob area: parameters"


def _axes(axes: Any, xs: list[float], ys: list[float], metric: str | None) -> None:
    """Log x over whole decades; y the same for parameters, else a linear axis never below 0
    (nor above 100% for accuracy) with ticks that all show the same number of decimals."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    def log_axis(which: str, values: list[float], label: str) -> None:  # which: "x" or "y"
        getattr(axes, f"set_{which}scale")("log")
        getattr(axes, f"set_{which}lim")(*_decades(values))
        getattr(axes, f"set_{which}label")(label)
        axis = getattr(axes, f"{which}axis")
        axis.set_major_locator(LogLocator(base=10, numticks=20))
        axis.set_major_formatter(FuncFormatter(lambda v, _: si(v)))
        axis.set_minor_formatter(NullFormatter())

    log_axis("x", xs, "multiply-accumulates per image (log scale)")
    if metric is None:
        log_axis("y", ys, "parameters (log scale)")
        return
    low, high = min(ys), max(ys)
    pad = max((high - low) * 0.15, 0.005)
    top = high + pad
    if metric == "accuracy":
        top = min(top, 1.0)
    bottom = max(0.0, low - pad)
    axes.set_ylim(bottom, top)
    locator = MaxNLocator(nbins=8, steps=[1, 2, 5, 10])
    axes.yaxis.set_major_locator(locator)
    scale, unit = (100, "%") if metric == "accuracy" else (1, "")
    digits = decimals([v * scale for v in locator.tick_values(bottom, top)])
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * scale:.{digits}f}{unit}"))
    axes.set_ylabel(f"test {metric}" + (" (higher is better)" if metric == "accuracy" else " (lower is better)"))


def _decades(values: list[float]) -> tuple[float, float]:
    """Whole decades around `values`, with room for a blob at either end."""
    low = 10 ** math.floor(math.log10(min(values) / 1.6))
    high = 10 ** math.ceil(math.log10(max(values) * 1.6))
    return low, high


def decimals(ticks: Sequence[float]) -> int:
    """The fewest decimals that show every tick exactly, the same for all: 85, 90, 95 or 97.5,
    98.0, 98.5 (never 85.0 beside 90)."""
    return next((d for d in range(7) if all(abs(round(v, d) - v) < 1e-9 * max(1.0, abs(v)) for v in ticks)), 6)


def nice(value: float) -> float:
    """The largest of 1, 2, 2.5 or 5 times a power of ten that is at most `value` (≥ 1)."""
    power = 10 ** math.floor(math.log10(max(value, 1)))
    return max(m * power for m in (1, 2, 2.5, 5) if m * power <= max(value, 1))


def _size_key(axes: Any, largest: int) -> None:
    """Reference blobs for reading sizes: up to three round parameter counts up to the largest."""
    top = nice(largest)
    picks = sorted({nice(v) for v in (top, top / 4, top / 10, top / 100)}, reverse=True)
    picks = [v for v in picks if AREA * v / largest >= SMALLEST * 1.5] or [top]
    handles = [
        axes.scatter([], [], s=max(SMALLEST, AREA * v / largest), c="white", edgecolors="black", linewidths=0.6)
        for v in picks
    ]
    axes.legend(
        handles,
        [f"{si(v)} params" for v in picks],
        title="blob area",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        labelspacing=2.6,
        borderpad=1.8,
        handlelength=5.0,  # em: the largest blob fits beside its text
        handletextpad=0.6,
    )


def _annotate(fig: Any, axes: Any, labels: list[str], xs: list[float], ys: list[float], sizes: list[float]) -> None:
    """Each blob's name where it covers no other name, blob or leader line (see labels.place)."""
    from netdsl.pictures.labels import Point, place

    renderer = fig.canvas.get_renderer()
    points = []
    for x, y, size in zip(xs, ys, sizes, strict=True):
        cx, cy = axes.transData.transform((x, y))
        points.append(Point(cx, cy, math.sqrt(size) / 2 * fig.dpi / 72 + 1))
    extents = []
    for label in labels:
        probe = fig.text(0, 0, label, fontsize=9)
        box = probe.get_window_extent(renderer)
        extents.append((box.width, box.height))
        probe.remove()
    frame = axes.get_window_extent(renderer)
    spots = place(points, extents, (frame.x0 + 2, frame.y0 + 2, frame.x1 - 2, frame.y1 - 2))
    to_data = axes.transData.inverted()
    for i, (label, spot) in enumerate(zip(labels, spots, strict=True)):
        axes.annotate(
            label, to_data.transform(spot.anchor), ha=spot.ha, va=spot.va, fontsize=9, zorder=5, gid=f"label-{i}"
        )
        if spot.leader is not None:
            (x0, y0), (x1, y1) = to_data.transform(spot.leader[0]), to_data.transform(spot.leader[1])
            axes.plot([x0, x1], [y0, y1], color="#888888", linewidth=0.7, zorder=2, gid=f"leader-{i}")
