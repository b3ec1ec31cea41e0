"""Benchmark: training throughput (images/s) of generated modules against hand-written
equivalents, in the same process, alternating (prints, asserts nothing about time).

Each round runs --steps training steps of each model — forward, the head's loss (netdsl's own,
the same for both), backward, an Adam step — on random data already on the device, after a
warm-up; the figure is the median over --rounds. The two models start from the same weights
(copied, and the outputs compared first), so they do the same arithmetic.

    python bench/train_speed.py [--rounds 5] [--steps 10] [--device cpu|cuda] [--only lenet5|coral_cnn|ordinal_synth]

On a GPU (--device cuda) it also times CORAL-CNN with channels_last and bf16 autocast.

With --streaming it times where the images come from instead: CORAL-CNN (ResNet-34) training
steps at --batch (default 64) on a folder of --files age-named JPEGs (made once, 200×200, in
--folder), read as `--protocol coral-paper` reads them (resized to 128×128, random 120×120
crops): held in memory, and streamed by DataLoaders with each of --workers worker processes.
The modes take turns (--batches batches each, --rounds times, after a warm-up batch): the feed
alone (decoding, cropping, normalizing), then feed and training step together; medians.

    python bench/train_speed.py --streaming [--files 5000] [--rounds 4] [--batches 6] [--workers 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import netdsl
from netdsl.training.heads import head_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_forward import CoralResNet34, LeNet5, copy_weights  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class SmallCoral(nn.Module):
    """specs/ordinal_synth.net's CORAL network, by hand."""

    def __init__(self, classes: int = 8, width: int = 32) -> None:
        super().__init__()
        chans = [1, width, 2 * width, 4 * width]
        self.convs = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1) for i in range(3))
        self.bns = nn.ModuleList(nn.BatchNorm2d(chans[i + 1]) for i in range(3))
        self.fc = nn.Linear(4 * width * 16, 128)
        self.head = nn.Linear(128, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(classes - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in zip(self.convs, self.bns, strict=True):
            x = F.max_pool2d(F.relu(bn(conv(x))), 2)
        return self.head(F.relu(self.fc(torch.flatten(x, 1)))) + self.bias


CASES = {
    "lenet5": ("lenet5.net", None, LeNet5, 64),
    "ordinal_synth": ("ordinal_synth.net", "CORAL", SmallCoral, 64),
    "coral_cnn": ("coral_cnn.net", None, CoralResNet34, 16),
}


def throughput(
    model: nn.Module,
    step_inputs: tuple[torch.Tensor, torch.Tensor],
    loss_fn,
    steps: int,  # type: ignore[no-untyped-def]
    device: torch.device,
    autocast: bool = False,
) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, y = step_inputs

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(x)
        loss_fn(out.float(), y).backward()
        optimizer.step()

    step()  # warm-up (allocations, cudnn autotuning)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * len(x) / (time.perf_counter() - start)


def bench(name: str, rounds: int, steps: int, device: torch.device) -> None:
    spec_file, network, hand_cls, batch = CASES[name]
    spec = netdsl.load(ROOT / "specs" / spec_file, network=network)
    head = head_of(spec.checked)
    torch.manual_seed(0)
    generated, hand = spec.to_torch(), hand_cls()
    copy_weights(generated, hand)
    x = torch.randn(batch, *spec.checked.input_shape)
    generated.eval(), hand.eval()
    with torch.no_grad():
        gap = (generated(x) - hand(x)).abs().max().item()
    generated.train(), hand.train()
    generated, hand = generated.to(device), hand.to(device)
    inputs = (x.to(device), torch.randint(0, head.classes, (batch,), device=device))
    figures: dict[str, list[float]] = {"generated": [], "hand-written": []}
    for _ in range(rounds):
        figures["generated"].append(throughput(generated, inputs, head.loss, steps, device))
        figures["hand-written"].append(throughput(hand, inputs, head.loss, steps, device))
    g, h = statistics.median(figures["generated"]), statistics.median(figures["hand-written"])
    print(
        f"{spec.network:<8} batch {batch:>3} on {device.type}: generated {g:9.1f} images/s, hand-written "
        f"{h:9.1f} images/s, ratio {g / h:.3f} (median of {rounds} rounds × {steps} steps; outputs equal to "
        f"{gap:.1e})",
        flush=True,
    )
    if device.type == "cuda" and name == "coral_cnn":
        fast = generated.to(memory_format=torch.channels_last)
        fast_inputs = (inputs[0].to(memory_format=torch.channels_last), inputs[1])
        rate = statistics.median(
            throughput(fast, fast_inputs, head.loss, steps, device, autocast=True) for _ in range(rounds)
        )
        print(
            f"{spec.network:<8} batch {batch:>3} on cuda, channels_last + bf16 autocast: generated {rate:9.1f} "
            f"images/s",
            flush=True,
        )


def make_faces(folder: Path, count: int, side: int = 200) -> Path:
    """`count` JPEGs named like UTKFace's (age first, 16..70), smooth blobs on noise; kept once made."""
    import numpy as np
    from PIL import Image

    if len(list(folder.glob("*.jpg"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    for i in range(count):
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.35)
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r))[..., None] * rng.uniform(80, 200, 3)
        pixels = np.clip(blob + rng.normal(40, 12, (side, side, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{16 + i % 55}_{i % 2}_0_{i:05d}.jpg", quality=90)
    return folder


def streaming(args: argparse.Namespace, device: torch.device) -> None:
    """The modes take turns, round after round, each timing --batches batches per turn (the
    first batch of every turn included: its decoding is what streaming costs); the figure is
    the median over --rounds turns, so a machine whose load drifts weighs on every mode alike."""
    from netdsl.data.sources import load_data
    from netdsl.training.feed import Augment, epoch_plan, make_feed

    spec = netdsl.load(ROOT / "specs" / "coral_cnn.net")
    head = head_of(spec.checked)
    folder = make_faces(Path(args.folder), args.files)
    augment = Augment((128, 128), (120, 120))
    batch = args.batch or 64
    held, streamed = (
        load_data(str(folder), spec.checked.input_shape, head.classes, label_offset=16, size=(128, 128), loader=how)
        for how in ("memory", "stream")
    )
    modes = {"in memory": make_feed(held, augment, device, 0)}
    for workers in args.workers:
        modes[f"streamed, {workers} worker{'s' * (workers != 1)}"] = make_feed(streamed, augment, device, workers)
    mean = torch.tensor(held.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(held.std, device=device).view(1, -1, 1, 1)
    torch.manual_seed(0)
    model = spec.to_torch().to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)

    def turn(feed: object, epoch: int, train: bool, batches: int = args.batches) -> float:
        plan = epoch_plan(len(held.train), 0, epoch, augment).rows(0, batches * batch)
        start = time.perf_counter()
        for images, labels in feed.batches("train", plan, batch):  # type: ignore[attr-defined]
            x = (images.float().div_(255.0) - mean) / std
            if train:
                optimizer.zero_grad(set_to_none=True)
                head.loss(model(x), labels).backward()
                optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return len(plan) / (time.perf_counter() - start)

    print(f"CoralCNN (ResNet-34), batch {batch}, {args.files:,} JPEGs in {folder}; {args.rounds} rounds of "
          f"{args.batches} batches per mode; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
          flush=True)  # fmt: skip
    for feed in modes.values():  # warm-up: workers started, first allocations, oneDNN's kernels chosen
        turn(feed, 0, True, batches=1)
    rates: dict[str, dict[bool, list[float]]] = {name: {False: [], True: []} for name in modes}
    for r in range(args.rounds):
        for train in (False, True):
            for name, feed in modes.items():
                rates[name][train].append(turn(feed, 1 + r, train))
    for name, feed in modes.items():
        alone, step = (statistics.median(rates[name][t]) for t in (False, True))
        print(f"  {name:<21} feed alone {alone:8.1f} images/s   feed + training step {step:6.2f} images/s "
              f"(turns: {', '.join(f'{x:.2f}' for x in rates[name][True])})", flush=True)  # fmt: skip
        feed.close()
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--batch", type=int, help="override every case's batch size")
    parser.add_argument("--streaming", action="store_true", help="time memory against streamed JPEGs instead")
    parser.add_argument("--files", type=int, default=5000, help="--streaming: JPEGs in the folder")
    parser.add_argument("--folder", default="runs/bench-faces", help="--streaming: where the JPEGs are made")
    parser.add_argument("--batches", type=int, default=6, help="--streaming: batches per mode and round")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="--streaming: worker counts")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        + (f", {torch.cuda.get_device_name()}" if device.type == "cuda" else "")
    )
    if args.streaming:
        streaming(args, device)
        return
    for name in [args.only] if args.only else CASES:
        if args.batch:
            spec_file, network, cls, _ = CASES[name]
            CASES[name] = (spec_file, network, cls, args.batch)
        bench(name, args.rounds, args.steps, device)


if __name__ == "__main__":
    main()
