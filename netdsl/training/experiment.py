"""`netdsl experiment`: the same data, several networks, several seeds — and a table laid out
like Table 1 of the CORAL paper (a row per method and seed, MAE and RMSE, AVG ± SD per method).

Each run is an ordinary `netdsl train` run in `OUT/<network>/seed-<s>`; a finished run (its
result.json present) is read back instead of trained again, and an interrupted one is
resumed, so an experiment stopped half-way continues where it was.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    method: str
    seed: int
    mae: float
    rmse: float
    accuracy: float
    best_epoch: int


def summarize(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for a single run)."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def methods(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(r.method for r in rows))


def lines(rows: Sequence[Row]) -> list[tuple[str, str, str, str, str, bool]]:
    """The table's cells, row by row: each run, then each method's AVG ± SD (flagged True)."""
    out = []
    for method in methods(rows):
        mine = [r for r in rows if r.method == method]
        out += [(method, str(r.seed), f"{r.mae:.3f}", f"{r.rmse:.3f}", f"{r.accuracy:.2%}", False) for r in mine]
        (mae, mae_sd), (rmse, rmse_sd), (acc, acc_sd) = (
            summarize([getattr(r, k) for r in mine]) for k in ("mae", "rmse", "accuracy")
        )
        out.append(
            (
                method,
                "AVG ± SD",
                f"{mae:.3f} ± {mae_sd:.3f}",
                f"{rmse:.3f} ± {rmse_sd:.3f}",
                f"{acc:.2%} ± {acc_sd:.2%}",
                True,
            )
        )
    return out


HEADERS = ("Method", "Random seed", "MAE", "RMSE", "Accuracy")


def to_markdown(rows: Sequence[Row], data: str) -> str:
    text = [
        f"Test MAE and RMSE on `{data}`, each run's best epoch by validation MAE.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|---|---:|---:|---:|---:|",
    ]
    for *cells, average in lines(rows):
        text.append("| " + " | ".join(f"**{c}**" if average else c for c in cells) + " |")
    return "\n".join(text) + "\n"


def to_csv(rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "seed", "mae", "rmse", "accuracy", "best_epoch"])
    for r in rows:
        writer.writerow([r.method, r.seed, f"{r.mae:.6g}", f"{r.rmse:.6g}", f"{r.accuracy:.6g}", r.best_epoch])
    return buffer.getvalue()


def rich_table(rows: Sequence[Row], data: str) -> object:
    """The table under its title (a line of its own: a rich table title is padded with spaces)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for name in HEADERS:
        table.add_column(name, justify="left" if name == "Method" else "right")
    for *cells, average in lines(rows):
        table.add_row(*cells, style="bold" if average else None, end_section=average)
    return Group(Text(f"test MAE / RMSE on {data}", style="bold"), table)
