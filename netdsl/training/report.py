"""How a training run looks on the terminal: a rich progress bar per epoch with the live loss
and metric, a line per finished epoch, and a summary table at the end."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from netdsl.training.loop import Result, RunInfo

METRIC_LABEL = {"accuracy": "acc", "mae": "MAE"}


class RichReporter:
    def __init__(self, console: Console, *, epoch_lines: bool = True, prefix: str = "") -> None:
        self.console = console
        self.epoch_lines = epoch_lines
        self.prefix = prefix
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.info: RunInfo | None = None
        self.best = 0

    def start(self, info: RunInfo) -> None:
        self.info = info
        if self.epoch_lines:
            procs = f" × {info.world_size} processes" if info.world_size > 1 else ""
            again = f", resuming after epoch {info.start_epoch}" if info.start_epoch else ""
            self.console.print(
                f"training {info.network} ({info.params:,} parameters, {info.head.loss_name} loss) on "
                f"{info.device}{procs}: {info.train:,} training / {info.val:,} validation / {info.test:,} test "
                f"images → {info.out}{again}", markup=False, soft_wrap=True, highlight=False)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                                 console=self.console, transient=True, disable=not self.console.is_terminal)
        self.progress.start()

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        assert self.progress is not None
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(f"{self.prefix}epoch {epoch}/{epochs}", total=batches, status="")

    def batch(self, done: int, loss: float, metric: str, value: float) -> None:
        assert self.progress is not None and self.task is not None
        shown = f"{value:.1%}" if metric == "accuracy" else f"{value:.3f}"
        self.progress.update(self.task, completed=done, status=f"loss {loss:.4f}  {METRIC_LABEL[metric]} {shown}")

    def epoch_end(self, row: dict[str, float]) -> None:
        assert self.info is not None
        epoch = int(row["epoch"])
        if self.epoch_lines:
            ordinal = self.info.head.ordinal
            train = f"MAE {row['train_mae']:.3f}" if ordinal else f"acc {row['train_accuracy']:.1%}"
            val = (f"MAE {row['val_mae']:.3f} RMSE {row['val_rmse']:.3f}" if ordinal
                   else f"acc {row['val_accuracy']:.1%} MAE {row['val_mae']:.3f}")
            self.console.print(
                f"{self.prefix}epoch {epoch:>3}: train loss {row['train_loss']:.4f} {train} · validation loss "
                f"{row['val_loss']:.4f} {val} · {row['seconds']:.1f} s, {row['images_per_s']:,.0f} images/s",
                markup=False, highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        self.console.print(f"netdsl: {text}", markup=False, highlight=False, soft_wrap=True)

    def finish(self, result: Result, history: list[dict[str, float]]) -> None:
        if self.progress is not None:
            self.progress.stop()
        if not self.epoch_lines:
            return
        table = Table(title=f"{result.network}: the best epoch on the test split", title_justify="left",
                      show_header=False)
        table.add_column("")
        table.add_column("", justify="right")
        table.add_row("best epoch", f"{result.best_epoch} of {result.epochs} (by validation {result.selected_by})")
        table.add_row("test accuracy", f"{result.test['accuracy']:.2%}")
        table.add_row("test MAE / RMSE", f"{result.test['mae']:.3f} / {result.test['rmse']:.3f}")
        table.add_row("test loss", f"{result.test['loss']:.4f}")
        onnx = result.onnx
        if "agree" in onnx:
            table.add_row("onnxruntime vs torch", f"{onnx['agree']}/{onnx['of']} predictions agree, max |Δ| "
                                                   f"{onnx['max_abs_diff']:.1e} ({onnx['provider']})")
        elif "error" in onnx:
            table.add_row("onnx", f"not exported: {onnx['error']}")
        elif "unchecked" in onnx:
            table.add_row("onnx", f"not checked against torch: {onnx['unchecked']}")
        table.add_row("wall time", f"{result.wall_s:.1f} s ({result.images_per_s:,.0f} training images/s)")
        assert self.info is not None
        table.add_row("files", f"{self.info.out}/: " + ", ".join(result.files))
        self.console.print(table)
