"""Batches for the trainer: images held in memory (on the device), or streamed from their files.

Each epoch follows a `Plan` drawn from (seed, epoch) alone: the shuffle, and for every image
the corner of its crop and whether it is flipped. Evaluation takes the centre crop, unflipped.
Both feeds cut the same pixels from the same decoded image (`read_pixels`, then the crop, then
the flip), so a run gives the same weights whichever feeds it, and a resumed run the same as
an uninterrupted one.

Streaming: a torch `Dataset` over the files, a `DataLoader` whose worker processes decode with
Pillow and crop (each batch's items — index, corner, flip — come from the plan, so the
workers draw nothing at random), and pinned memory on CUDA so copies overlap the step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch  # noqa: TID253 - the trainer's back end: `netdsl check` never imports it

from netdsl.data.sources import DataError, Dataset, read_pixels

MAX_WORKERS = 8
MAX_CUDA_WORKERS = 16
CUDA_PREFETCH = 4  # batches each worker keeps ready on CUDA (DataLoader's default is 2)


@dataclass(frozen=True)
class Augment:
    """The spec's input (h, w) cut from images read at `size` (H, W); `flip`: left-right at random."""

    size: tuple[int, int]
    crop: tuple[int, int]
    flip: bool = False

    @property
    def random(self) -> bool:
        """Whether training draws anything per image (a crop smaller than the image, or flips)."""
        return self.size != self.crop or self.flip

    def describe(self) -> str:
        """What training does to the images, in words ('' when nothing)."""
        (height, width), (h, w) = self.size, self.crop
        parts = [f"random {h}×{w} crops of {height}×{width}"] if self.size != self.crop else []
        return ", ".join([*parts, "left-right flips"] if self.flip else parts)

    @property
    def centre(self) -> tuple[int, int]:
        """The top-left corner of the centre crop, rounded as torchvision's CenterCrop rounds it."""
        (height, width), (h, w) = self.size, self.crop
        return int(round((height - h) / 2.0)), int(round((width - w) / 2.0))


@dataclass(frozen=True)
class Plan:
    """Which images, in which order, and how each is cut: row i of every tensor is the i-th image."""

    order: torch.Tensor  # int64 [n]: indices into the split
    tops: torch.Tensor  # int64 [n]
    lefts: torch.Tensor  # int64 [n]
    flips: torch.Tensor  # bool [n]

    def __len__(self) -> int:
        return len(self.order)

    def rows(self, start: int, stop: int) -> Plan:
        return Plan(self.order[start:stop], self.tops[start:stop], self.lefts[start:stop], self.flips[start:stop])

    def deal(self, rank: int, world: int) -> Plan:
        """This process's share under DDP: padded to a multiple of `world` by wrapping, then dealt
        out rank by rank (every rank steps the same number of times)."""
        if world == 1:
            return self
        pad = -len(self) % world

        def share(t: torch.Tensor) -> torch.Tensor:
            return torch.cat([t, t[:pad]])[rank::world]

        return Plan(share(self.order), share(self.tops), share(self.lefts), share(self.flips))


def epoch_plan(n: int, seed: int, epoch: int, augment: Augment) -> Plan:
    """The training plan of an epoch: a permutation fixed by (seed, epoch), then — only when the
    augmentation draws anything, so runs without it shuffle as before — each image's corner
    and flip, from the same generator."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=generator)
    if not augment.random:
        top, left = augment.centre
        return Plan(order, torch.full((n,), top), torch.full((n,), left), torch.zeros(n, dtype=torch.bool))
    (height, width), (h, w) = augment.size, augment.crop
    tops = torch.randint(0, height - h + 1, (n,), generator=generator)
    lefts = torch.randint(0, width - w + 1, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if augment.flip else torch.zeros(n, dtype=torch.bool)
    return Plan(order, tops, lefts, flips)


def eval_plan(n: int, augment: Augment) -> Plan:
    """Every image in order, centre crop, unflipped."""
    top, left = augment.centre
    return Plan(torch.arange(n), torch.full((n,), top), torch.full((n,), left), torch.zeros(n, dtype=torch.bool))


def cut(images: torch.Tensor, plan: Plan, crop: tuple[int, int]) -> torch.Tensor:
    """Each image [C, H, W] of the batch cropped to `crop` at its corner, and flipped where the plan says."""
    h, w = crop
    if images.shape[-2:] != crop:
        corners = zip(plan.tops.tolist(), plan.lefts.tolist(), strict=True)
        images = torch.stack([im[:, t : t + h, x : x + w] for im, (t, x) in zip(images, corners, strict=True)])
    if bool(plan.flips.any()):
        images = images.clone()
        flips = plan.flips.to(images.device)
        images[flips] = images[flips].flip(-1)
    return images


def cut_pixels(pixels: np.ndarray, top: int, left: int, flip: bool, crop: tuple[int, int]) -> np.ndarray:
    """`cut` of one image in numpy (what a streaming worker does): the same pixels."""
    h, w = crop
    part = pixels[:, top : top + h, left : left + w]
    return np.ascontiguousarray(part[..., ::-1] if flip else part)


def default_workers(device: torch.device | None = None) -> int:
    """Decoding processes: one CPU is left to the training step. A CUDA step (bf16 above all)
    eats images faster than the CPU one, so on CUDA the feed may take up to `MAX_CUDA_WORKERS`."""
    most = MAX_CUDA_WORKERS if device is not None and device.type == "cuda" else MAX_WORKERS
    return max(0, min(most, (os.cpu_count() or 1) - 1))


class Feed:
    """Batches of a split under a plan: uint8 images [B, C, h, w] and int64 labels, on the device."""

    def batches(self, split: str, plan: Plan, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryFeed(Feed):
    def __init__(self, data: Dataset, augment: Augment, device: torch.device) -> None:
        self.augment = augment
        self.images = {}
        self.labels = {}
        for name, split in (("train", data.train), ("val", data.val), ("test", data.test)):
            assert split.images is not None
            self.images[name] = torch.from_numpy(split.images).to(device)
            self.labels[name] = torch.from_numpy(split.labels).to(device)

    def batches(self, split: str, plan: Plan, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.images[split], self.labels[split]
        for b in range(math.ceil(len(plan) / size)):
            part = plan.rows(b * size, (b + 1) * size)
            index = part.order.to(images.device)
            yield cut(images.index_select(0, index), part, self.augment.crop), labels.index_select(0, index)


class FileImages(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """A split's image files. An item is (index, top, left, flip); it is the image decoded at
    `shape`, cropped to `crop` there and flipped, its label, and '' — or, when the file cannot
    be read, zeros and the message (the main process raises it, naming the file)."""

    def __init__(self, files: Sequence[str], labels: np.ndarray, shape: tuple[int, int, int], crop: tuple[int, int]):
        self.files, self.labels, self.shape, self.crop = list(files), labels, shape, crop

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: tuple[int, int, int, bool]) -> tuple[torch.Tensor, int, str]:
        index, top, left, flip = item
        try:
            pixels = cut_pixels(read_pixels(Path(self.files[index]), self.shape), top, left, flip, self.crop)
        except DataError as exc:
            return torch.zeros((self.shape[0], *self.crop), dtype=torch.uint8), -1, str(exc)
        return torch.from_numpy(pixels), int(self.labels[index]), ""


class _PlanBatches:
    """The DataLoader's batch sampler: the current plan, `size` items at a time (set before each pass)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.plan: Plan | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.plan) / self.size) if self.plan is not None else 0

    def __iter__(self) -> Iterator[list[tuple[int, int, int, bool]]]:
        assert self.plan is not None
        items = list(
            zip(
                self.plan.order.tolist(),
                self.plan.tops.tolist(),
                self.plan.lefts.tolist(),
                self.plan.flips.tolist(),
                strict=True,
            )
        )
        for start in range(0, len(items), self.size):
            yield items[start : start + self.size]


class StreamFeed(Feed):
    """One DataLoader per split (and batch size), made when first used; its workers stay for the run."""

    def __init__(self, data: Dataset, augment: Augment, device: torch.device, workers: int) -> None:
        self.data, self.augment, self.device, self.workers = data, augment, device, workers
        self.loaders: dict[tuple[str, int], tuple[torch.utils.data.DataLoader, _PlanBatches]] = {}  # type: ignore[type-arg]

    def _loader(self, split: str, size: int) -> tuple[torch.utils.data.DataLoader, _PlanBatches]:  # type: ignore[type-arg]
        key = (split, size)
        if key not in self.loaders:
            part = {"train": self.data.train, "val": self.data.val, "test": self.data.test}[split]
            sampler = _PlanBatches(size)
            dataset = FileImages(part.names, part.labels, tuple(self.data.shape), self.augment.crop)  # type: ignore[arg-type]
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_sampler=sampler,
                num_workers=self.workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=self.workers > 0,
                prefetch_factor=CUDA_PREFETCH if self.workers > 0 and self.device.type == "cuda" else None,
            )
            self.loaders[key] = (loader, sampler)
        return self.loaders[key]

    def batches(self, split: str, plan: Plan, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader, sampler = self._loader(split, size)
        sampler.plan = plan
        for images, labels, errors in loader:
            failed = next((e for e in errors if e), None)
            if failed:
                raise DataError(failed)
            yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def close(self) -> None:
        self.loaders.clear()  # persistent workers end with their loader


def make_feed(data: Dataset, augment: Augment, device: torch.device, workers: int | None) -> Feed:
    if data.streamed:
        return StreamFeed(data, augment, device, default_workers(device) if workers is None else workers)
    return MemoryFeed(data, augment, device)
