"""`netdsl train`: train a spec's network in PyTorch, checkpointing every epoch.

A run lives in one folder (`--out`):

    model.py      the generated PyTorch module (the checkpoints' state_dict keys are its own)
    last.pt       the checkpoint after the latest finished epoch (what --resume continues)
    best.pt       the checkpoint of the best validation epoch so far
    metrics.csv   one row per epoch; curves.png, the learning curves
    model.onnx    at the end: the best weights, exported, with the input normalization as metadata
    result.json   at the end: test metrics of the best checkpoint and onnxruntime's agreement

Every file is written atomically, so a run killed at any moment leaves the last finished
epoch intact. Under torchrun (WORLD_SIZE > 1) each process trains on its shard of every
epoch's shuffled training set with DistributedDataParallel (gloo on the CPU, nccl on CUDA);
--batch-size is per process, as in PyTorch's DDP examples; only rank 0 evaluates and writes.

Batches come from memory or are streamed from the image files (`netdsl.training.feed`), each
epoch following a plan — shuffle, crops, flips — fixed by (seed, epoch), so either way and
after a resume the run takes the same steps. An ordinal head's biases train in a parameter
group of their own (`HEAD_BIAS_LR`), started at the training labels' prior.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from netdsl.api import Spec
from netdsl.core.files import write_atomic
from netdsl.data.sources import DataError, Dataset
from netdsl.pictures.curves import draw_curves
from netdsl.training.feed import Augment, Plan, StreamFeed, epoch_plan, eval_plan, make_feed
from netdsl.training.heads import (
    Head,
    head_biases,
    head_of,
    importance_weights,
    metrics,
    set_prior,
    threshold_gaps,
)

CHECKPOINT_FORMAT = "netdsl-checkpoint-1"
EVAL_BATCH = 256
# The learning rate of an ordinal head's K-1 biases, as a multiple of --lr. Adam moves a
# parameter by about its learning rate per step, and CORAL's thresholds must travel several
# logits apart (README, "Training": the experiment that chose these figures).
HEAD_BIAS_LR = {"coral": 30.0, "ordinal": 1.0}


class TrainError(Exception):
    """The run cannot go on as asked (a checkpoint of another spec, an occupied run folder…)."""


@dataclass
class TrainConfig:
    data: str
    out: str
    epochs: int = 10
    batch_size: int = 64
    lr: float | None = None  # default: 1e-3 for adam, 1e-2 for sgd
    optimizer: str = "adam"
    schedule: str = "cosine"  # the learning rate: cosine (decays to 0 over the run, step by step) | constant
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    label_offset: int = 0
    importance: str = "uniform"  # coral / ordinal heads: uniform | balanced
    head_bias_lr: float | None = None  # coral / ordinal heads: their biases' rate ÷ lr (default HEAD_BIAS_LR)
    head_bias_init: str = "prior"  # coral / ordinal heads: prior (the training labels') | module (as built)
    protocol: str = "netdsl"  # the preset the settings came from (netdsl.training.protocols)
    resize: tuple[int, int] | None = None  # (H, W) the images are read at; the input is cropped from them
    flip: bool = False  # random left-right flips in training
    loader: str = "auto"  # images in memory | streamed from their files | auto (by size)
    workers: int | None = None  # streaming: DataLoader worker processes (None: netdsl.training.feed's default)
    select: str = "auto"  # which validation figure picks the best epoch: auto | accuracy | mae | loss
    opset: int | None = None
    export: bool = True
    precision: str = "auto"  # auto (bf16 on a CUDA GPU that supports it, else fp32) | fp32 | bf16: autocast's
    compile: bool = False  # torch.compile the module that trains (its compile time reported apart)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if self.optimizer == "adam" else 1e-2)

    def bias_lr_scale(self, head: Head) -> float:
        return self.head_bias_lr if self.head_bias_lr is not None else HEAD_BIAS_LR.get(head.kind, 1.0)

    def settings(self) -> dict[str, Any]:
        """What decides a run's outcome (not where it is written, how it is resumed, nor how its
        images reach the network: both loaders give the same batches), as JSON holds it."""
        ignored = ("out", "resume", "device", "export", "opset", "loader", "workers", "precision", "compile")
        settings: dict[str, Any] = json.loads(json.dumps({k: v for k, v in asdict(self).items() if k not in ignored}))
        return settings


@dataclass(frozen=True)
class RunInfo:
    network: str
    head: Head
    params: int
    device: str
    world_size: int
    train: int
    val: int
    test: int
    start_epoch: int
    selects: str
    out: Path
    workers: int | None = None  # None: images held in memory; else streamed by this many DataLoader workers
    augment: str = ""  # what training does to the images ("random 120×120 crops of 128×128, flips"), or ""
    precision: str = "fp32"  # what ran: fp32, or bf16 (autocast); "+ channels_last" on CUDA


@dataclass
class Result:
    network: str
    seed: int
    epochs: int
    best_epoch: int
    selected_by: str
    test: dict[str, float]
    onnx: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    images_per_s: float = 0.0
    files: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    architecture: str = ""
    coral_gaps: list[float] = field(default_factory=list)  # the best checkpoint's, b_k - b_(k+1)
    device: str = ""
    precision: str = ""  # fp32 or bf16: what the training steps ran in
    channels_last: bool = False
    compile_s: float | None = None  # --compile: the first step's seconds (compiling), left out of the epochs'

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Reporter(Protocol):
    """What the trainer tells whoever watches (the CLI draws it with rich)."""

    def start(self, info: RunInfo) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None: ...
    def batch(self, done: int, loss: float, metric: str, value: float) -> None: ...
    def epoch_end(self, row: dict[str, float]) -> None: ...
    def note(self, text: str) -> None: ...
    def finish(self, result: Result, history: list[dict[str, float]]) -> None: ...


class Quiet:
    def start(self, info: RunInfo) -> None:
        pass

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        pass

    def batch(self, done: int, loss: float, metric: str, value: float) -> None:
        pass

    def epoch_end(self, row: dict[str, float]) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def finish(self, result: Result, history: list[dict[str, float]]) -> None:
        pass


def architecture_hash(spec: Spec) -> str:
    """Identifies the network's architecture (every node's op, attributes, wiring and shape),
    not the text it was written in: comments and file moves do not change it."""
    digest = hashlib.sha256(spec.network.encode())
    for node in spec.checked.graph.nodes:
        attrs = sorted((k, repr(v)) for k, v in node.attrs.items())
        digest.update(repr((node.name, node.op, attrs, node.inputs, node.shape)).encode())
    return digest.hexdigest()[:16]


@dataclass
class _Distributed:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def distributed_from_env() -> _Distributed:
    return _Distributed(
        int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    )


def pick_device(choice: str, dist: _Distributed) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: this PyTorch sees no CUDA device")
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", dist.local_rank % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    """Whether autocast to bfloat16 runs natively here (a CPU without AVX-512 BF16 / AMX would emulate it)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def pick_precision(choice: str, device: torch.device) -> str:
    """fp32 or bf16: `auto` is bf16 on a CUDA device that supports it, fp32 elsewhere (the CPU's default)."""
    if choice == "auto":
        return "bf16" if device.type == "cuda" and bf16_supported(device) else "fp32"
    if choice == "bf16" and not bf16_supported(device):
        where = "this GPU" if device.type == "cuda" else "this CPU"
        raise TrainError(f"--precision bf16: {where} has no native bfloat16 support; use --precision fp32")
    if choice not in ("fp32", "bf16"):
        raise TrainError(f"--precision {choice}: choose auto, fp32 or bf16")
    return choice


def train(spec: Spec, data: Dataset, config: TrainConfig, reporter: Reporter | None = None) -> Result:
    """Train, checkpointing every epoch, then evaluate the best checkpoint on the test split
    and export it to ONNX. Under torchrun, every process calls this; rank 0 returns the result."""
    reporter = reporter or Quiet()
    dist = distributed_from_env()
    device = pick_device(config.device, dist)
    pick_precision(config.precision, device)  # refused before anything is allocated
    if dist.world > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        run = _Run(spec, data, config, reporter, dist, device)
        try:
            return run.go()
        finally:
            run.feed.close()
    finally:
        if dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


class _Run:
    def __init__(
        self,
        spec: Spec,
        data: Dataset,
        config: TrainConfig,
        reporter: Reporter,
        dist: _Distributed,
        device: torch.device,
    ) -> None:
        self.spec, self.data, self.config, self.reporter, self.dist, self.device = (
            spec,
            data,
            config,
            reporter,
            dist,
            device,
        )
        self.head = head_of(spec.checked)
        self.out = Path(config.out)
        self.hash = architecture_hash(spec)
        self.select = config.select if config.select != "auto" else self.head.metric
        self.history: list[dict[str, float]] = []
        self.best: dict[str, float] = {}
        weights = (
            importance_weights(data.train.labels, self.head.classes, config.importance) if self.head.ordinal else None
        )
        self.importance = torch.from_numpy(weights).to(device) if weights is not None else None
        self.mean = torch.tensor(data.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(data.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        crop = tuple(int(n) for n in spec.checked.input_shape[1:])
        size = tuple(int(n) for n in data.shape[1:])
        if len(crop) != 2 or size[0] < crop[0] or size[1] < crop[1]:
            raise TrainError(
                f"the images are {size[0]}x{size[1]}, the spec's input {list(spec.checked.input_shape)}: the "
                f"input is cropped from the images, so they must be at least as large"
            )
        self.augment = Augment(size, crop, config.flip)  # type: ignore[arg-type]
        self.precision = pick_precision(config.precision, device)
        self.channels_last = device.type == "cuda" and len(spec.checked.input_shape) == 3
        self.compile_s: float | None = None
        self.feed = make_feed(data, self.augment, device, config.workers)
        self.splits = {"train": data.train, "val": data.val, "test": data.test}

    # ---- set-up ------------------------------------------------------------------------

    def go(self) -> Result:
        config = self.config
        start = time.perf_counter()
        torch.manual_seed(config.seed)
        self.model = self.spec.to_torch().to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.biases = head_biases(self.model, self.head)
        if self.biases is not None and config.head_bias_init == "prior":
            set_prior(self.biases, self.head, self.data.train.labels)
        self.optimizer = self._optimizer(self.model)
        start_epoch = self._prepare_folder()
        module: nn.Module = self.model
        if self.dist.world > 1:
            module = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if config.compile:
            module = torch.compile(module)  # type: ignore[assignment]  # compiled at the first step
        params = sum(p.numel() for p in self.model.parameters())
        self.reporter.start(
            RunInfo(
                self.spec.network,
                self.head,
                params,
                str(self.device),
                self.dist.world,
                len(self.data.train),
                len(self.data.val),
                len(self.data.test),
                start_epoch,
                self.select,
                self.out,
                self.feed.workers if isinstance(self.feed, StreamFeed) else None,
                self.augment.describe(),
                self.precision + (" + channels_last" if self.channels_last else ""),
            )
        )
        seen, busy = 0, 0.0
        for epoch in range(start_epoch, config.epochs):
            epoch_start = time.perf_counter()
            train_loss, train_metric, images = self._train_epoch(module, epoch)
            if self.compile_s is not None and epoch == start_epoch:  # the first step compiled: timed apart
                epoch_start += self.compile_s
            busy += time.perf_counter() - epoch_start
            seen += images
            if self.dist.main:
                self._end_epoch(epoch, train_loss, train_metric, images, time.perf_counter() - epoch_start)
            self.dist.barrier()
        result = self._finish(time.perf_counter() - start, seen / busy if busy else 0.0) if self.dist.main else None
        self.dist.barrier()
        return result  # type: ignore[return-value]  # None only on ranks other than 0

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """One parameter group, and for an ordinal head a second of its biases: their own rate
        (`lr_scale` × the schedule's), and no weight decay, which would pull the thresholds together."""
        biases = self.biases
        rest = [p for p in model.parameters() if p.requires_grad and p is not biases]
        groups: list[dict[str, Any]] = [{"params": rest, "lr_scale": 1.0}]
        if biases is not None and biases.requires_grad:
            groups.append({"params": [biases], "lr_scale": self.config.bias_lr_scale(self.head), "weight_decay": 0.0})
        for group in groups:
            group["lr"] = self.config.learning_rate * group["lr_scale"]
        if self.config.optimizer == "sgd":
            return torch.optim.SGD(
                groups, lr=self.config.learning_rate, momentum=0.9, weight_decay=self.config.weight_decay
            )
        return torch.optim.Adam(groups, lr=self.config.learning_rate, weight_decay=self.config.weight_decay)

    def _prepare_folder(self) -> int:
        """The epoch to start from: 0, or after the last checkpoint with --resume."""
        last = self.out / "last.pt"
        if not self.config.resume:
            if last.exists() or (self.out / "result.json").exists():
                raise TrainError(f"'{self.out}' already holds a run: --resume to continue it, or pick another --out")
            if self.dist.main:
                self.out.mkdir(parents=True, exist_ok=True)
                write_atomic(self.out / "model.py", self.spec.torch_source.text)
            return 0
        if not last.exists():
            raise TrainError(f"--resume: '{last}' does not exist (no finished epoch to continue from)")
        checkpoint = load_checkpoint(last)
        if checkpoint.get("architecture") != self.hash:
            raise TrainError(
                f"--resume: '{last}' is a checkpoint of {checkpoint.get('network', 'another network')} "
                f"(architecture {checkpoint.get('architecture')}); {self.spec.network} here is "
                f"{self.hash} — a different spec, or other --set/--input values"
            )
        if checkpoint.get("data") != self.data.fingerprint:
            raise TrainError(
                f"--resume: '{last}' was trained on other data ({checkpoint.get('source')}, "
                f"{checkpoint.get('data')}); --data {self.data.source} gives {self.data.fingerprint}"
            )
        self.model.load_state_dict(checkpoint["model"])
        try:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
        except ValueError:  # other parameter groups: a checkpoint of an older netdsl, or of a classifier
            raise TrainError(
                f"--resume: the optimizer state in '{last}' has other parameter groups than this run's "
                f"(written by an older netdsl?); start the run again in a new --out"
            ) from None
        torch.set_rng_state(checkpoint["rng"]["torch"])
        if self.device.type == "cuda" and checkpoint["rng"].get("cuda"):
            torch.cuda.set_rng_state(checkpoint["rng"]["cuda"], self.device)
        self.history = list(checkpoint["history"])
        self.best = dict(checkpoint["best"])
        return int(checkpoint["epoch"])

    # ---- one epoch -----------------------------------------------------------------------

    def _batches(self, split: str, plan: Plan, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The split's batches under `plan`, scaled to [0, 1] and normalized; an image file that
        cannot be decoded (streaming) stops the run, naming it."""
        try:
            for images, labels in self.feed.batches(split, plan, size):
                x = (images.float().div_(255.0) - self.mean) / self.std
                yield (x.contiguous(memory_format=torch.channels_last) if self.channels_last else x), labels
        except DataError as exc:
            raise TrainError(str(exc)) from None

    def _train_epoch(self, module: nn.Module, epoch: int) -> tuple[float, float, int]:
        """One pass over this process's share of the epoch's plan (fixed by seed and epoch)."""
        module.train()
        plan = epoch_plan(len(self.data.train), self.config.seed, epoch, self.augment).deal(
            self.dist.rank, self.dist.world
        )
        size = self.config.batch_size
        batches = math.ceil(len(plan) / size)
        if self.dist.main:
            self.reporter.epoch_start(epoch + 1, self.config.epochs, batches)
        total_loss, errors, count = 0.0, 0.0, 0
        metric = self.head.metric
        for b, (x, y) in enumerate(self._batches("train", plan, size)):
            if self.config.schedule == "cosine":
                progress = (epoch * batches + b) / (self.config.epochs * batches)
                for group in self.optimizer.param_groups:
                    group["lr"] = (
                        self.config.learning_rate * group["lr_scale"] * 0.5 * (1.0 + math.cos(math.pi * progress))
                    )
            outputs, loss = self._step(module, x, y, f"epoch {epoch + 1}, batch {b + 1}")
            with torch.no_grad():
                predicted = self.head.predict(outputs.detach())
                if metric == "mae":
                    errors += (predicted - y).abs().sum().item()
                else:
                    errors += (predicted == y).sum().item()
            total_loss += loss.item() * len(y)
            count += len(y)
            if self.dist.main:
                self.reporter.batch(b + 1, total_loss / count, metric, errors / count)
        return total_loss / count, errors / count, count * self.dist.world

    def _step(
        self, module: nn.Module, x: torch.Tensor, y: torch.Tensor, where: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimization step; PyTorch's failures become errors that say what to change."""
        try:
            self.optimizer.zero_grad(set_to_none=True)
            first = self.config.compile and self.compile_s is None
            began = time.perf_counter()
            with self._autocast():
                outputs = module(x)
                loss = self.head.loss(outputs.float(), y, self.importance)
            if not torch.isfinite(loss):
                raise TrainError(f"{where}: the loss is {loss.item()} — lower --lr (now {self.config.learning_rate:g})")
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
            if first:
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                self.compile_s = time.perf_counter() - began
        except torch.cuda.OutOfMemoryError:
            raise TrainError(
                f"{where}: out of memory on {self.device} — lower --batch-size (now {self.config.batch_size})"
            ) from None
        except RuntimeError as exc:
            raise TrainError(f"{where}: PyTorch failed: {str(exc).splitlines()[0][:300]}") from None
        return outputs.float(), loss

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def evaluate(self, split: str) -> tuple[dict[str, float], np.ndarray]:
        """Loss and metrics of the plain (not DDP-wrapped) model on a split, and its outputs."""
        self.model.eval()
        labels = self.splits[split].labels
        n = len(labels)
        outputs, total = [], 0.0
        with torch.no_grad():
            for x, y in self._batches(split, eval_plan(n, self.augment), EVAL_BATCH):
                with self._autocast():
                    out = self.model(x).float()
                total += self.head.loss(out, y, self.importance, reduction="sum").item()
                outputs.append(out)
        every = torch.cat(outputs)
        predicted = self.head.predict(every).cpu().numpy()
        figures = {"loss": total / n, **metrics(predicted, labels)}
        return figures, every.cpu().numpy()

    def _end_epoch(self, epoch: int, train_loss: float, train_metric: float, images: int, seconds: float) -> None:
        val, _ = self.evaluate("val")
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            f"train_{self.head.metric}": train_metric,
            "val_loss": val["loss"],
            "val_accuracy": val["accuracy"],
            "val_mae": val["mae"],
            "val_rmse": val["rmse"],
            **self._gap_figures(),
            "seconds": seconds,
            "images_per_s": images / seconds if seconds else 0.0,
        }
        self.history.append(row)
        value = val[self.select]
        improved = not self.best or (
            value > self.best["value"] if self.select == "accuracy" else value < self.best["value"]
        )
        if improved:
            self.best = {"epoch": epoch + 1, "value": value}
        checkpoint = self._checkpoint(epoch + 1)
        if improved:
            save_checkpoint(checkpoint, self.out / "best.pt")
        save_checkpoint(checkpoint, self.out / "last.pt")
        self._write_metrics()
        write_atomic(
            self.out / "curves.png", draw_curves(self.history, self.spec.network, self.select, int(self.best["epoch"]))
        )
        self.reporter.epoch_end(row)

    def _gap_figures(self) -> dict[str, float]:
        """CORAL's thresholds after the epoch: the smallest, mean and largest gap between
        successive ones (in logits). Still widening at the end: the thresholds have not settled."""
        if self.head.kind != "coral" or self.biases is None or self.head.classes < 3:
            return {}
        gaps = threshold_gaps(self.biases)
        return {"gap_min": min(gaps), "gap_mean": sum(gaps) / len(gaps), "gap_max": max(gaps)}

    def _checkpoint(self, epoch: int) -> dict[str, Any]:
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": CHECKPOINT_FORMAT,
            "network": self.spec.network,
            "architecture": self.hash,
            "spec": self.spec.program.main.file,
            "source": self.data.source,
            "data": self.data.fingerprint,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng,
            "history": list(self.history),
            "best": dict(self.best),
            "normalize": {"mean": list(self.data.mean), "std": list(self.data.std)},
            "config": json.loads(json.dumps({k: v for k, v in asdict(self.config).items() if k != "resume"})),
        }

    def _write_metrics(self) -> None:
        columns = list(dict.fromkeys(k for row in self.history for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        for row in self.history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        write_atomic(self.out / "metrics.csv", buffer.getvalue())

    # ---- the end ---------------------------------------------------------------------------

    def _finish(self, wall: float, images_per_s: float) -> Result:
        files = ["model.py", "last.pt", "best.pt", "metrics.csv", "curves.png"]
        if not self.history:
            raise TrainError(f"no epoch was trained (--epochs {self.config.epochs})")
        best = load_checkpoint(self.out / "best.pt")
        self.model.load_state_dict(best["model"])
        test, outputs = self.evaluate("test")
        onnx: dict[str, Any] = {}
        if self.config.export:
            onnx = self._export(best["model"], outputs)
            if "error" not in onnx:
                files.append("model.onnx")
        result = Result(
            self.spec.network,
            self.config.seed,
            len(self.history),
            int(self.best["epoch"]),
            self.select,
            test,
            onnx,
            wall,
            images_per_s,
            files + ["result.json"],
            self.config.settings(),
            self.hash,
            threshold_gaps(self.biases) if self.head.kind == "coral" and self.biases is not None else [],
            str(self.device),
            self.precision,
            self.channels_last,
            self.compile_s,
        )
        write_atomic(self.out / "result.json", json.dumps(result.to_json(), indent=2) + "\n")
        self.reporter.finish(result, self.history)
        return result

    def _export(self, state: Mapping[str, torch.Tensor], outputs: np.ndarray) -> dict[str, Any]:
        """model.onnx with the best weights, and how far onnxruntime agrees with torch on the test split."""
        from netdsl.backends.onnx.emit import WeightsError
        from netdsl.runtime.session import RuntimeUsageError, cuda_opset_warning, max_opset, open_session

        metadata = {
            "netdsl.mean": ",".join(f"{m:.9g}" for m in self.data.mean),
            "netdsl.std": ",".join(f"{s:.9g}" for s in self.data.std),
            "netdsl.trained_on": self.data.source,
        }
        if self.augment.size != self.augment.crop:  # evaluation read images at this size and took the centre crop
            metadata["netdsl.resize"] = "x".join(str(n) for n in self.augment.size)
        try:
            weights = {k: v.contiguous() for k, v in state.items()}  # channels_last on CUDA: plain layout
            target = "cuda" if self.device.type == "cuda" else "cpu"  # built for where it was trained
            parts = self.spec.onnx_parts(weights, opset=self.config.opset, metadata=metadata, target=target)
            parts.save(self.out / "model.onnx")
        except (WeightsError, OSError, ValueError) as exc:
            self.reporter.note(f"model.onnx not written: {exc}")
            return {"error": str(exc)}
        if self.config.opset is not None and self.config.opset > max_opset():
            note = f"opset {self.config.opset} is past what the installed onnxruntime runs"
            self.reporter.note(f"model.onnx written; {note}: not checked against torch")
            return {"unchecked": note}
        if self.device.type == "cuda" and cuda_opset_warning(self.config.opset):
            self.reporter.note(f"warning: {cuda_opset_warning(self.config.opset)}")
        try:
            session = open_session(self.out / "model.onnx", "auto")
            if session.placement:
                self.reporter.note(f"warning: {session.placement}")
            n = len(self.data.test)
            got = []
            for x, _ in self._batches("test", eval_plan(n, self.augment), EVAL_BATCH):
                got.append(session.run(np.ascontiguousarray(x.cpu().numpy())))
        except (RuntimeUsageError, OSError, ValueError) as exc:
            self.reporter.note(f"model.onnx written, but onnxruntime cannot run it: {exc}")
            return {"error": str(exc)}
        runtime = np.concatenate(got)
        ours = self.head.predict(torch.from_numpy(outputs)).numpy()
        theirs = self.head.predict(torch.from_numpy(runtime)).numpy()
        agree, gap = int((ours == theirs).sum()), float(np.abs(runtime - outputs).max())
        if agree < n:
            self.reporter.note(
                f"onnxruntime and torch disagree on {n - agree} of {n} test predictions (outputs "
                f"differ by up to {gap:.2e})"
            )
        return {"provider": session.provider, "agree": agree, "of": int(n), "max_abs_diff": gap}


# ---- checkpoints --------------------------------------------------------------------------


def save_checkpoint(checkpoint: Mapping[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(dict(checkpoint), buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated or foreign: say so plainly
        raise TrainError(f"cannot read the checkpoint '{path}': {type(exc).__name__}: {exc}") from None
    if not isinstance(loaded, dict) or loaded.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"'{path}' is not a netdsl training checkpoint")
    return loaded
