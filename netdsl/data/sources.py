"""Training data: a source named on the command line → train / validation / test splits.

Images are loaded with Pillow and kept as uint8 [N, C, H, W] at the spec's input size (the
trainer scales them to [0, 1] and normalizes with the training split's per-channel mean and
standard deviation, batch by batch). Sources:

- `digits`: scikit-learn's 8×8 handwritten digits (1,797 images, shipped with scikit-learn);
- `ordinal-synth[:N]`: the generated counting benchmark of `netdsl.data.synth`, and
  `ordinal-synth-noisy[:N[:SIGMA]]`, its images with training labels scattered like ages;
- a folder with one sub-folder per class (optionally `train/` and `test/` folders of those);
- a folder of UTKFace-style images whose file name starts with the age (`23_1_0_2017.jpg`);
- a CSV manifest `path,label[,split]` (paths relative to the CSV's folder).

Unless the source says which images are for testing, the split is fixed and stratified by
label (20% test, 10% validation, drawn with a fixed seed): every run, whatever its `--seed`,
sees the same splits. Errors are `DataError`s naming the file at fault.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from netdsl.data.images import IMAGE_SUFFIXES, DataError, check_image, read_pixels

TEST_FRACTION, VAL_FRACTION, SPLIT_SEED = 0.2, 0.1, 20190801
STATISTICS_SAMPLE = 5000  # training images the per-channel mean and standard deviation are measured on
AGE_NAME = re.compile(r"^(\d+)_")

Progress = Callable[[int, int], None]  # (done, total) while images load


@dataclass(frozen=True)
class Split:
    images: np.ndarray | None  # uint8 [N, C, H, W]; None when streamed from the files in `names`
    labels: np.ndarray  # int64 [N]
    names: tuple[str, ...]  # where each image came from (a file, or "digits[17]")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    source: str  # what the user named, as given
    kind: str  # digits | ordinal-synth | ordinal-synth-noisy | folder | ages | csv
    train: Split
    val: Split
    test: Split
    classes: int
    mean: tuple[float, ...] = field(default=())  # per channel, of the training images in [0, 1]
    std: tuple[float, ...] = field(default=())
    shape: tuple[int, ...] = field(default=())  # [C, H, W] of every image as read (before any crop)

    @property
    def streamed(self) -> bool:
        """The images stay in their files, decoded batch by batch (see `netdsl.training.feed`)."""
        return self.train.images is None

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the data a run was trained on (labels and sources of every split)."""
        digest = hashlib.sha256(f"{self.kind}|{self.classes}|{self.shape}".encode())
        for split in (self.train, self.val, self.test):
            digest.update(split.labels.tobytes())
            digest.update("\n".join(split.names).encode())
        return digest.hexdigest()[:16]

    @cached_property
    def warnings(self) -> tuple[str, ...]:
        """What the user may not expect of this data: a head with classes that no image has
        (a 10-class network on a folder of 2 classes trains, but 8 of its outputs learn nothing)."""
        labels = np.concatenate([self.train.labels, self.val.labels, self.test.labels])
        counts = np.bincount(labels, minlength=self.classes)
        missing = [int(k) for k in np.flatnonzero(counts == 0)]
        if not missing:
            return ()
        present = [(int(k), int(counts[k])) for k in np.flatnonzero(counts)]
        if len(present) <= 12:
            shown = ", ".join(f"{k}: {n:,}" for k, n in present)
            found = f"images by label: {shown}"
        else:
            found = f"{len(present)} labels have images"
        gaps = ", ".join(map(str, missing[:12])) + (", …" if len(missing) > 12 else "")
        fix = f" (--set classes={len(present)} sizes the head to the data)" if missing[0] >= len(present) else ""
        return (
            f"the spec's head has {self.classes} classes, but {len(missing)} of them have no image in "
            f"'{self.source}' ({found}; none of {gaps}){fix}",
        )


def load_data(
    source: str,
    shape: Sequence[int],
    classes: int,
    *,
    label_offset: int = 0,
    progress: Progress | None = None,
    size: Sequence[int] | None = None,
    loader: str = "auto",
) -> Dataset:
    """The data of `source` at the spec's input `shape` ([C, H, W]), for a head of `classes`.

    `size`: (H, W) to read the images at instead of the input's (the trainer crops the input
    from them). `loader`: `memory` reads every image now; `stream` only checks that each file
    is an image, and the trainer decodes them batch by batch; `auto` streams files whose
    pixels would take more than a quarter of the memory available (`stream_by_size`)."""
    if len(shape) != 3 or shape[0] not in (1, 3, 4):
        raise DataError(
            f"training reads images: the spec's input must be [C, H, W] with 1, 3 or 4 channels, not {list(shape)}"
        )
    channels, height, width = (int(s) for s in shape)
    if size is not None:
        height, width = (int(s) for s in size)
        if height < shape[1] or width < shape[2]:
            raise DataError(
                f"--resize {height}x{width} is smaller than the spec's input {shape[1]}x{shape[2]}: the input is "
                f"cropped from the resized image"
            )
    kind, _, rest = source.partition(":")
    if loader == "stream" and (source == "digits" or kind.startswith("ordinal-synth")):
        raise DataError(f"--loader stream reads image files; '{source}' is made in memory (use --loader memory)")
    if source == "digits":
        images, labels, names = _digits(channels, height, width)
        splits = _stratified(images, labels, names)
        return _finish(source, "digits", splits, classes)
    if kind in ("ordinal-synth", "ordinal-synth-noisy"):
        return _synth(source, kind, rest, classes, channels, height, width)
    if kind in ("folder", "ages", "csv") and rest:
        path, forced = Path(rest), kind
    else:
        path, forced = Path(source), None
    if not path.exists():
        raise DataError(
            f"'{path}': no such file or folder (give digits, ordinal-synth, a folder of images or a .csv manifest)"
        )
    reader = _Reader((channels, height, width), loader, progress)
    if forced == "csv" or (forced is None and path.is_file()):
        if path.suffix.lower() != ".csv" and forced is None:
            raise DataError(f"'{path}' is a file: give a .csv manifest (path,label) or a folder of images")
        return _manifest(source, path, reader, classes, label_offset)
    if not path.is_dir():
        raise DataError(f"'{path}' is not a folder")
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if forced == "ages" or (forced is None and not subdirs):
        return _ages(source, path, reader, classes, label_offset)
    return _folders(source, path, subdirs, reader, classes, label_offset)


# ---- sources ------------------------------------------------------------------------------


def _digits(channels: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits data set comes with scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    pixels = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)  # values 0..16
    images = _resize_all(pixels, channels, height, width)
    return images, bunch.target.astype(np.int64), tuple(f"digits[{i}]" for i in range(len(pixels)))


def _synth(source: str, kind: str, rest: str, classes: int, channels: int, height: int, width: int) -> Dataset:
    """ordinal-synth[:N], or ordinal-synth-noisy[:N[:SIGMA]]: the same images, the training labels
    moved by round(N(0, SIGMA)) after the split (validation and test keep the true counts)."""
    from netdsl.data.synth import DEFAULT_LABEL_NOISE, DEFAULT_SIZE, generate, noisy_labels

    count, _, noise = rest.partition(":")
    if noise and kind == "ordinal-synth":
        raise DataError(f"'{source}': give ordinal-synth[:N], or ordinal-synth-noisy[:N[:SIGMA]] for noisy labels")
    size = _count(count, source) if count else DEFAULT_SIZE
    sigma = _sigma(noise, source) if noise else DEFAULT_LABEL_NOISE
    images, labels = generate(size, classes, channels, height, width)
    names = tuple(f"{kind}[{i}]" for i in range(size))
    train, val, test = _stratified(images, labels, names)
    if kind == "ordinal-synth-noisy":
        key = (size, classes, channels, height, width, round(sigma * 1000))
        train = Split(train.images, noisy_labels(train.labels, classes, sigma, key), train.names)
    return _finish(source, kind, (train, val, test), classes)


def _resize_all(grey: np.ndarray, channels: int, height: int, width: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(grey), channels, height, width), dtype=np.uint8)
    for i, pixels in enumerate(grey):
        image = Image.fromarray(pixels, mode="L")
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        out[i] = np.asarray(image)[None]
    return out


def _folders(
    source: str,
    root: Path,
    subdirs: list[Path],
    reader: _Reader,
    classes: int,
    offset: int,
) -> Dataset:
    names = {p.name for p in subdirs}
    if {"train", "test"} <= names:  # the source fixes the test split
        train_dirs = _class_dirs(root / "train")
        test_dirs = _class_dirs(root / "test")
        labels_of = _class_labels(root / "train", [p.name for p in train_dirs], classes, offset)
        unknown = sorted({p.name for p in test_dirs} - set(labels_of))
        if unknown:
            raise DataError(f"'{root / 'test' / unknown[0]}': a class that '{root / 'train'}' does not have")
        train_files = _listed(train_dirs, labels_of)
        test_files = _listed(test_dirs, labels_of)
        every = train_files + test_files
        images, labels = reader.read(every)
        cut = np.arange(len(train_files))
        paths = tuple(str(f) for f, _ in every)
        train, val = _split_off(_take(images, cut), labels[cut], paths[: len(cut)], VAL_FRACTION, SPLIT_SEED + 1)
        rest = np.arange(len(cut), len(every))
        test = Split(_take(images, rest), labels[rest], paths[len(cut) :])
        return _finish(source, "folder", (train, val, test), classes, reader.shape)
    labels_of = _class_labels(root, [p.name for p in subdirs], classes, offset)
    files = _listed(subdirs, labels_of)
    images, labels = reader.read(files)
    return _finish(
        source, "folder", _stratified(images, labels, tuple(str(f) for f, _ in files)), classes, reader.shape
    )


def _class_dirs(folder: Path) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError(f"'{folder}': no class folders in it")
    return found


def _class_labels(root: Path, names: list[str], classes: int, offset: int) -> dict[str, int]:
    """Folders named by integers are labels themselves (less `--label-offset`); otherwise the
    classes are the folder names in sorted order."""
    if all(n.isdigit() for n in names):
        labels = {n: int(n) - offset for n in names}
        for name, label in labels.items():
            if not 0 <= label < classes:
                raise DataError(
                    f"'{root / name}': label {name}{_offset(offset)} is outside 0..{classes - 1} "
                    f"(the spec's head has {classes} classes)"
                )
        return labels
    if len(names) > classes:
        raise DataError(
            f"'{root}' has {len(names)} class folders but the spec's head has {classes} classes "
            f"(try --set classes={len(names)})"
        )
    return {n: i for i, n in enumerate(names)}


def _listed(folders: list[Path], labels_of: dict[str, int]) -> list[tuple[Path, int]]:
    files = []
    for folder in folders:
        images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DataError(f"'{folder}': an empty class folder (no images in it)")
        files += [(p, labels_of[folder.name]) for p in images]
    return files


def _ages(source: str, root: Path, reader: _Reader, classes: int, offset: int) -> Dataset:
    files = []
    for path in sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        match = AGE_NAME.match(path.name)
        if match is None:
            raise DataError(
                f"'{path}': the file name does not start with the age (like 23_1_0_2017.jpg), as in a folder "
                f"of images labelled by age; for classes, give '{root}' one sub-folder of images per class "
                f"({root / 'CLASS_A' / 'IMAGE.png'}, {root / 'CLASS_B' / '…'})"
            )
        label = int(match.group(1)) - offset
        if not 0 <= label < classes:
            raise DataError(
                f"'{path}': age {match.group(1)}{_offset(offset)} gives label {label}, outside "
                f"0..{classes - 1} (the spec's head has {classes} classes; see --label-offset)"
            )
        files.append((path, label))
    if not files:
        raise DataError(f"'{root}': no images in it")
    images, labels = reader.read(files)
    return _finish(source, "ages", _stratified(images, labels, tuple(str(f) for f, _ in files)), classes, reader.shape)


def _manifest(source: str, path: Path, reader: _Reader, classes: int, offset: int) -> Dataset:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    files: list[tuple[Path, int]] = []
    splits: list[str] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip():
            continue
        cells = [c.strip() for c in row]
        if number == 1 and cells[:2] == ["path", "label"]:
            continue
        if len(cells) not in (2, 3):
            raise DataError(f"{path}:{number}: expected path,label or path,label,split; got {len(cells)} columns")
        try:
            value = int(cells[1])
        except ValueError:
            raise DataError(f"{path}:{number}: the label '{cells[1]}' is not an integer") from None
        label = value - offset
        if not 0 <= label < classes:
            raise DataError(
                f"{path}:{number}: label {value}{_offset(offset)} is outside 0..{classes - 1} "
                f"(the spec's head has {classes} classes)"
            )
        split = cells[2].lower() if len(cells) == 3 else ""
        if split not in ("", "train", "val", "test"):
            raise DataError(f"{path}:{number}: the split '{cells[2]}' is not train, val or test")
        image = Path(cells[0]) if Path(cells[0]).is_absolute() else path.parent / cells[0]
        files.append((image, label))
        splits.append(split)
    if not files:
        raise DataError(f"'{path}': no images listed in it")
    images, labels = reader.read(files)
    names = tuple(str(f) for f, _ in files)
    if not any(splits):
        return _finish(source, "csv", _stratified(images, labels, names), classes, reader.shape)
    if not all(splits):
        first = next(i for i, s in enumerate(splits) if not s)
        raise DataError(f"{path}: row of '{names[first]}' has no split while others do; give every row one")
    chosen = np.asarray(splits)
    parts = {s: np.flatnonzero(chosen == s) for s in ("train", "val", "test")}
    if not len(parts["train"]) or not len(parts["test"]):
        raise DataError(f"{path}: the manifest needs rows of both the train and the test split")

    def pick(ix: np.ndarray) -> Split:
        return Split(_take(images, ix), labels[ix], tuple(names[i] for i in ix))

    if len(parts["val"]):
        return _finish(
            source, "csv", (pick(parts["train"]), pick(parts["val"]), pick(parts["test"])), classes, reader.shape
        )
    train, val = _split_off(
        _take(images, parts["train"]),
        labels[parts["train"]],
        tuple(names[i] for i in parts["train"]),
        VAL_FRACTION,
        SPLIT_SEED + 1,
    )
    return _finish(source, "csv", (train, val, pick(parts["test"])), classes, reader.shape)


def _offset(offset: int) -> str:
    return f" less --label-offset {offset}" if offset else ""


def _sigma(text: str, source: str) -> float:
    try:
        sigma = float(text)
    except ValueError:
        sigma = -1.0
    if not 0.0 <= sigma <= 100.0:
        raise DataError(f"'{source}': the label noise after the second ':' must be a number of ranks from 0 to 100")
    return sigma


def _count(text: str, source: str) -> int:
    if not text.isdigit() or int(text) < 10:
        raise DataError(f"'{source}': the number of images after ':' must be an integer of at least 10")
    return int(text)


# ---- images -------------------------------------------------------------------------------


def stream_by_size(count: int, shape: Sequence[int], available: int | None = None) -> bool:
    """Whether `count` images of `shape` are better streamed than held: their uint8 pixels would
    take more than a quarter of the memory available now (`available` bytes; read from the
    system when not given, and never streamed where the system does not say)."""
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return False
    return count * math.prod(shape) > available // 4


@dataclass(frozen=True)
class _Reader:
    """How a file source is read: every image now, or (streaming) each file checked to be an image."""

    shape: tuple[int, int, int]
    loader: str  # auto | memory | stream
    progress: Progress | None

    def read(self, files: list[tuple[Path, int]]) -> tuple[np.ndarray | None, np.ndarray]:
        labels = np.asarray([label for _, label in files], dtype=np.int64)
        stream = self.loader == "stream" or (self.loader == "auto" and stream_by_size(len(files), self.shape))
        images = None if stream else np.empty((len(files), *self.shape), dtype=np.uint8)
        for i, (file, _) in enumerate(files):
            if images is None:
                check_image(file)
            else:
                images[i] = read_pixels(file, self.shape)
            if self.progress is not None:
                self.progress(i + 1, len(files))
        return images, labels


# ---- splits -------------------------------------------------------------------------------


def stratified_indices(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A fixed, stratified sample: round(fraction × n) of each label (at least one of every
    label that has two or more images), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = int(round(fraction * len(members)))
        if take == 0 and len(members) >= 2:
            take = 1
        chosen.append(rng.permutation(members)[:take])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def _label_counts(splits: Sequence[Split]) -> str:
    """How many images each label has, and how many the three splits need of one label."""
    labels = np.concatenate([s.labels for s in splits])
    values, counts = (a.tolist() for a in np.unique(labels, return_counts=True))
    total = f"{len(labels)} image{'s' * (len(labels) != 1)} in all"
    if len(set(counts)) == 1:
        each = f"{counts[0]} image{'s' * (counts[0] != 1)}"
        have = f"each of its {len(values)} label{'s' * (len(values) != 1)} has {each} ({total})"
    else:
        listed = ", ".join(f"{v}: {c}" for v, c in list(zip(values, counts, strict=True))[:8])
        have = f"its labels have {min(counts)} to {max(counts)} images ({listed}{', …' * (len(values) > 8)}; {total})"
    return (
        f"{have}; the training, validation and test splits need at least {_fewest_per_label()} images of a label "
        "(stratified: each split takes its share of every label)"
    )


def _fewest_per_label() -> int:
    """The fewest images of one label that give every split at least one."""
    for count in range(1, 1000):
        labels = np.zeros(count, dtype=np.int64)
        names = tuple(map(str, range(count)))
        if all(len(s) for s in _stratified(None, labels, names)):
            return count
    raise AssertionError("no split sizes fit")  # pragma: no cover


def _take(images: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if images is None else images[index]


def _split_off(
    images: np.ndarray | None, labels: np.ndarray, names: tuple[str, ...], fraction: float, seed: int
) -> tuple[Split, Split]:
    held = stratified_indices(labels, fraction, seed)
    keep = np.setdiff1d(np.arange(len(labels)), held)
    return (
        Split(_take(images, keep), labels[keep], tuple(names[i] for i in keep)),
        Split(_take(images, held), labels[held], tuple(names[i] for i in held)),
    )


def _stratified(images: np.ndarray | None, labels: np.ndarray, names: tuple[str, ...]) -> tuple[Split, Split, Split]:
    rest, test = _split_off(images, labels, names, TEST_FRACTION, SPLIT_SEED)
    train, val = _split_off(rest.images, rest.labels, rest.names, VAL_FRACTION / (1 - TEST_FRACTION), SPLIT_SEED + 1)
    return train, val, test


def _finish(
    source: str, kind: str, splits: tuple[Split, Split, Split], classes: int, shape: Sequence[int] = ()
) -> Dataset:
    """The dataset, its splits checked; `shape`: of the images as read (taken from them when in memory)."""
    train, val, test = splits
    for name, split in (("training", train), ("validation", val), ("test", test)):
        if not len(split):
            raise DataError(f"'{source}': too few images for a {name} split: {_label_counts(splits)}")
    top = int(max(s.labels.max() for s in splits))
    if top >= classes or min(int(s.labels.min()) for s in splits) < 0:
        raise DataError(
            f"'{source}': labels reach {top}, outside 0..{classes - 1} (the spec's head has {classes} classes)"
        )
    if train.images is not None:
        shape = train.images.shape[1:]
    sample = _statistics_sample(train, tuple(shape))
    scaled = sample.astype(np.float64) / 255.0
    mean = tuple(float(m) for m in scaled.mean(axis=(0, 2, 3)))
    std = tuple(max(float(s), 1e-3) for s in scaled.std(axis=(0, 2, 3)))
    return Dataset(source, kind, train, val, test, classes, mean, std, tuple(int(n) for n in shape))


def _statistics_sample(train: Split, shape: tuple[int, ...]) -> np.ndarray:
    """The training images the normalization is measured on: all of them up to STATISTICS_SAMPLE,
    else that many drawn with a fixed seed — the same pixels whether held or streamed, so both
    paths normalize alike."""
    index = np.arange(len(train))
    if len(train) > STATISTICS_SAMPLE:
        index = np.sort(np.random.default_rng(SPLIT_SEED + 2).choice(len(train), STATISTICS_SAMPLE, replace=False))
    if train.images is not None:
        return train.images if len(index) == len(train) else train.images[index]
    sample = np.empty((len(index), *shape), dtype=np.uint8)  # laid out as held images are: sums in one order
    for row, i in enumerate(index):
        sample[row] = read_pixels(Path(train.names[i]), shape)
    return sample
