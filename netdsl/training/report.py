"""How a training run looks on the terminal: a rich progress bar per epoch with the live loss
and metric, a line per finished epoch in columns under one header (80 characters: an 80-column
terminal holds them; narrower ones lose the timing columns), and a summary table at the end."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from netdsl.training.loop import Result, RunInfo

METRIC_LABEL = {"accuracy": "acc", "mae": "MAE"}

# The per-epoch columns: (header, width, the row's key, format). Timing comes last: it is what
# a narrow terminal loses first.
Column = tuple[str, int, str, str]
CLASSIFIER_COLUMNS: tuple[Column, ...] = (
    ("train loss", 10, "train_loss", "{:.4f}"),
    ("val loss", 8, "val_loss", "{:.4f}"),
    ("train acc", 9, "train_accuracy", "{:.1%}"),
    ("val acc", 7, "val_accuracy", "{:.1%}"),
)  # no MAE: a class index is no quantity (digits: 7 is not "closer" to 8 than to 1); ordinal heads have it
ORDINAL_COLUMNS: tuple[Column, ...] = (
    ("train loss", 10, "train_loss", "{:.4f}"),
    ("val loss", 8, "val_loss", "{:.4f}"),
    ("train MAE", 9, "train_mae", "{:.3f}"),
    ("val MAE", 7, "val_mae", "{:.3f}"),
    ("val RMSE", 8, "val_rmse", "{:.3f}"),
)
TIMING: tuple[Column, ...] = (("seconds", 7, "seconds", "{:.1f}"), ("images/s", 8, "images_per_s", "{:,.0f}"))
GAP = "  "


def epoch_columns(ordinal: bool, epochs: int, width: int) -> tuple[int, tuple[Column, ...]]:
    """The epoch column's width and the other columns that fit in `width` characters (the timing
    columns give way first; the figures always stay)."""
    first = len(f"epoch {epochs:>3}:")
    figures = ORDINAL_COLUMNS if ordinal else CLASSIFIER_COLUMNS
    columns = figures + TIMING
    while len(columns) > len(figures) and first + sum(len(GAP) + c[1] for c in columns) > width:
        columns = columns[:-1]
    return first, columns


def epoch_header(first: int, columns: tuple[Column, ...]) -> str:
    return " " * first + "".join(GAP + name.rjust(size) for name, size, _, _ in columns)


def epoch_line(row: dict[str, float], first: int, columns: tuple[Column, ...]) -> str:
    cells = [f"epoch {int(row['epoch']):>3}:".rjust(first)]
    cells += [(shape.format(row[key]) if key in row else "-").rjust(size) for _, size, key, shape in columns]
    return GAP.join(cells)


class RichReporter:
    def __init__(self, console: Console, *, epoch_lines: bool = True, prefix: str = "") -> None:
        self.console = console
        self.epoch_lines = epoch_lines
        self.prefix = prefix
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.info: RunInfo | None = None
        self.best = 0
        self._epochs = 0  # the run's epochs, for the epoch column ("3/30")
        self._columns: tuple[Column, ...] | None = None

    def start(self, info: RunInfo) -> None:
        self.info = info
        if self.epoch_lines:
            procs = f" × {info.world_size} processes" if info.world_size > 1 else ""
            again = f", resuming after epoch {info.start_epoch}" if info.start_epoch else ""
            self.console.print(
                f"training {info.network} ({info.params:,} parameters, {info.head.loss_name} loss) on "
                f"{info.device}{procs} in {info.precision}: {info.train:,} training / {info.val:,} validation / "
                f"{info.test:,} test "
                f"images → {info.out}{again}",
                markup=False,
                highlight=False,
                soft_wrap=not self.console.is_terminal,
            )  # a terminal wraps it between words, a log keeps one line
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
        self.progress.start()

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        assert self.progress is not None
        if self.task is not None:
            self.progress.remove_task(self.task)
        self._epochs = epochs
        self.task = self.progress.add_task(f"{self.prefix}epoch {epoch}/{epochs}", total=batches, status="")

    def batch(self, done: int, loss: float, metric: str, value: float) -> None:
        assert self.progress is not None and self.task is not None
        shown = f"{value:.1%}" if metric == "accuracy" else f"{value:.3f}"
        self.progress.update(self.task, completed=done, status=f"loss {loss:.4f}  {METRIC_LABEL[metric]} {shown}")

    def epoch_end(self, row: dict[str, float]) -> None:
        assert self.info is not None
        if not self.epoch_lines:
            return
        first, columns = epoch_columns(self.info.head.ordinal, self._epochs or int(row["epoch"]), self.console.width)
        if columns != self._columns:  # the first line, or the terminal was resized: the header (again)
            self._columns = columns
            self.console.print(Text(epoch_header(first, columns), style="bold"), soft_wrap=True)
        self.console.print(epoch_line(row, first, columns), markup=False, highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        self.console.print(f"netdsl: {text}", markup=False, highlight=False, soft_wrap=True)

    def finish(self, result: Result, history: list[dict[str, float]]) -> None:
        if self.progress is not None:
            self.progress.stop()
        if not self.epoch_lines:
            return
        # rich pads a table's own title to the table's width: the title is printed apart, without trailing spaces
        self.console.print(Text(f"{result.network}: the best epoch on the test split", style="bold italic"))
        table = Table(show_header=False)
        table.add_column("")
        table.add_column("")
        table.add_row("best epoch", f"{result.best_epoch} of {result.epochs} (by validation {result.selected_by})")
        table.add_row("test accuracy", f"{result.test['accuracy']:.2%}")
        if self.info is None or self.info.head.ordinal:
            table.add_row("test MAE / RMSE", f"{result.test['mae']:.3f} / {result.test['rmse']:.3f}")
        table.add_row("test loss", f"{result.test['loss']:.4f}")
        onnx = result.onnx
        if "agree" in onnx:
            table.add_row(
                "onnxruntime vs torch",
                f"{onnx['agree']}/{onnx['of']} predictions agree, max |Δ| "
                f"{onnx['max_abs_diff']:.1e} ({onnx['provider']})",
            )
        elif "error" in onnx:
            table.add_row("onnx", f"not exported: {onnx['error']}")
        elif "unchecked" in onnx:
            table.add_row("onnx", f"not checked against torch: {onnx['unchecked']}")
        compiled = f"; torch.compile: {result.compile_s:.1f} s at the first step" if result.compile_s else ""
        table.add_row("precision", f"{result.precision}{' + channels_last' if result.channels_last else ''}{compiled}")
        table.add_row("wall time", f"{result.wall_s:.1f} s ({result.images_per_s:,.0f} training images/s)")
        assert self.info is not None
        table.add_row("files", f"{self.info.out}/: " + ", ".join(result.files))
        self.console.print(table)
