"""Benchmark: generated PyTorch modules against hand-written equivalents (prints, asserts nothing
about time). For LeNet-5, AlexNet and CORAL-CNN: the hand-written model gets the generated
model's weights and must give the same output; then forward, and forward + backward, are timed
alternately in one process (median of --rounds). With --compile, whether each generated module
compiles with torch.compile(fullgraph=True), and the compiled forward's speed-up.

Run: python bench/torch_forward.py [--rounds N] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import netdsl

ROOT = Path(__file__).resolve().parent.parent


class LeNet5(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.c1, self.c3, self.c5 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5), nn.Conv2d(16, 120, 5)
        self.f6, self.out = nn.Linear(120, 84), nn.Linear(84, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)
        x = torch.flatten(torch.tanh(self.c5(x)), 1)
        return self.out(torch.tanh(self.f6(x)))


class AlexNet(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
            nn.MaxPool2d(3, 2), nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class CoralResNet34(nn.Module):
    """As in Cao, Mirjalili, Raschka's reference code: ResNet-34, 4x4 average pooling, CORAL head."""

    def __init__(self, classes: int = 55) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(blocks):
                layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 1, bias=False)
        self.linear_1_bias = nn.Parameter(torch.zeros(classes - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = F.avg_pool2d(self.layers(x), 4)
        return self.fc(torch.flatten(x, 1)) + self.linear_1_bias


CASES = [("lenet5.net", LeNet5, 64), ("alexnet.net", AlexNet, 8), ("coral_cnn.net", CoralResNet34, 8)]


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Give `target` the weights of `source`: each tensor takes the first unused one of `source`
    with the same kind (weight, bias, running_mean...) and shape; the two models declare their
    layers in the same order, so this pairs them layer by layer (outputs are compared after)."""
    unused = list(source.state_dict().items())
    with torch.no_grad():
        for name, tensor in target.state_dict().items():
            kind = name.rsplit(".", 1)[-1].replace("linear_1_bias", "bias")
            index = next(i for i, (n, t) in enumerate(unused)
                         if n.rsplit(".", 1)[-1] == kind and t.shape == tensor.shape)
            tensor.copy_(unused.pop(index)[1])
    assert not unused, [n for n, _ in unused]


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def compare(spec_file: str, hand_cls: type[nn.Module], batch: int, rounds: int) -> None:
    spec = netdsl.load(ROOT / "specs" / spec_file)
    generated, hand = spec.to_torch(), hand_cls()
    copy_weights(generated, hand)
    x = torch.randn(batch, *spec.checked.input_shape)
    generated.eval()
    hand.eval()
    with torch.no_grad():
        diff = (generated(x) - hand(x)).abs().max().item()
    print(f"{spec.network} (batch {batch}): max |generated - hand-written| = {diff:.2e}")
    for mode in ("forward", "forward+backward"):
        g_times, h_times = [], []

        def run(model: nn.Module, mode: str = mode) -> None:
            if mode == "forward":
                with torch.no_grad():
                    model(x)
            else:
                model(x).sum().backward()

        for model in (generated, hand):
            model.train(mode != "forward")
            run(model)  # warm-up
        for _ in range(rounds):  # alternate, so both see the same machine
            g_times.append(timed(lambda: run(generated), 3))
            h_times.append(timed(lambda: run(hand), 3))
        g, h = statistics.median(g_times), statistics.median(h_times)
        print(f"   {mode:<17} generated {g * 1000:8.2f} ms   hand-written {h * 1000:8.2f} ms   ratio {g / h:.3f}")


def compile_check(spec_file: str, batch: int) -> None:
    spec = netdsl.load(ROOT / "specs" / spec_file)
    module = spec.to_torch().eval()
    x = torch.randn(batch, *spec.checked.input_shape)
    try:
        torch.compile(module, fullgraph=True, backend="eager")(x)
        print(f"{spec.network}: torch.compile(fullgraph=True) captures one graph")
    except Exception as exc:  # report, do not hide
        print(f"{spec.network}: torch.compile(fullgraph=True) FAILED: {type(exc).__name__}: {exc}")
        return
    compiled = torch.compile(module, fullgraph=True)
    with torch.no_grad():
        start = time.perf_counter()
        compiled(x)
        first = time.perf_counter() - start
        eager = statistics.median(timed(lambda: module(x), 3) for _ in range(5))
        fast = statistics.median(timed(lambda: compiled(x), 3) for _ in range(5))
    print(f"   inductor: first call {first:.1f} s; forward eager {eager * 1000:.2f} ms, compiled {fast * 1000:.2f} ms,"
          f" speed-up {eager / fast:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also try torch.compile(fullgraph=True)")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for spec_file, hand_cls, batch in CASES:
        compare(spec_file, hand_cls, batch, args.rounds)
    if args.compile:
        for spec_file, _, batch in CASES:
            compile_check(spec_file, batch)


if __name__ == "__main__":
    main()
