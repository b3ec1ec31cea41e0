"""Streaming from files and augmentation: a folder of age-named JPEGs trained end to end from
memory and streamed by DataLoader workers, with random crops and flips, gives the same weights
either way and after a resume; the plans behind it; the automatic choice; unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import netdsl
from netdsl.cli import main
from netdsl.data.sources import DataError, Dataset, Split, load_data, read_pixels, stream_by_size

torch = pytest.importorskip("torch")
from netdsl.training.feed import (  # noqa: E402
    Augment,
    FileImages,
    StreamFeed,
    cut,
    cut_pixels,
    epoch_plan,
    eval_plan,
)
from netdsl.training.loop import Quiet, RunInfo, TrainConfig, train  # noqa: E402

AGES = range(16, 24)  # labels 0..7 with --label-offset 16
TINY = """
network Tiny(classes = 8) {
    input face: [3, 16, 16]
    conv(6, 3, padding=1) -> relu -> maxpool(2)
    flatten
    head: coral(classes)
}
"""


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,400 small age-named JPEGs (300 per age, 20×20): a red patch whose size grows with the age."""
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(7)
    for i in range(2400):
        age = AGES[i % len(AGES)]
        pixels = rng.integers(0, 90, size=(20, 20, 3), dtype=np.uint8)
        side = 4 + (age - 16)
        top, left = rng.integers(0, 20 - side, size=2)
        pixels[top : top + side, left : left + side, 0] = 230
        Image.fromarray(pixels).save(root / f"{age}_{i % 2}_0_{i:05d}.jpg", quality=85)
    return root


def tiny(tmp_path: Path) -> netdsl.Spec:
    (tmp_path / "tiny.net").write_text(TINY)
    return netdsl.load(tmp_path / "tiny.net")


class StopAfter(Quiet):
    """Interrupts a run once `epochs` epochs are written, as Ctrl-C would."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.info: RunInfo | None = None

    def start(self, info: RunInfo) -> None:
        self.info = info

    def epoch_end(self, row: dict[str, float]) -> None:
        if row["epoch"] == self.epochs:
            raise KeyboardInterrupt


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=True)["model"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_streamed_and_held_runs_agree_and_resume_bit_identically(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tiny(tmp_path)
    options = ["--data", str(faces), "--label-offset", "16", "--resize", "20", "--flip", "--epochs", "2",
               "--batch-size", "128", "--device", "cpu"]  # fmt: skip  # bit-identical: the CPU's promise
    out = tmp_path / "streamed"
    status = main(["train", str(tmp_path / "tiny.net"), *options, "--loader", "stream", "--workers", "2",
                   "--out", str(out), "--quiet"])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    streamed = json.loads(capsys.readouterr().out)
    assert (
        streamed["onnx"]["agree"] == streamed["onnx"]["of"] == 480
    )  # exported, and checked on the streamed test split
    assert streamed["settings"]["resize"] == [20, 20] and streamed["settings"]["flip"] is True
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert meta["netdsl.resize"] == "20x20"  # how evaluation read the images before its centre crop
    held = load_data(str(faces), spec.checked.input_shape, 8, label_offset=16, size=(20, 20), loader="memory")
    config = TrainConfig(data=str(faces), out=str(tmp_path / "held"), epochs=2, batch_size=128, label_offset=16,
                         resize=(20, 20), flip=True, loader="memory", export=False, device="cpu")  # fmt: skip
    watch = StopAfter(0)
    result = train(spec, held, config, watch)
    assert watch.info is not None and watch.info.workers is None  # held in memory
    assert watch.info.augment == "random 16×16 crops of 20×20, left-right flips"
    a, b = weights(tmp_path / "held"), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert result.test == streamed["test"] and result.coral_gaps == streamed["coral_gaps"]
    # streamed, stopped after the first epoch and resumed: the same weights again
    data = load_data(str(faces), spec.checked.input_shape, 8, label_offset=16, size=(20, 20), loader="stream")
    assert data.streamed and data.train.images is None and len(data.train) == 1680
    config = TrainConfig(data=str(faces), out=str(tmp_path / "resumed"), epochs=2, batch_size=128, label_offset=16,
                         resize=(20, 20), flip=True, loader="stream", workers=1, export=False,
                         device="cpu")  # fmt: skip
    stop = StopAfter(1)
    with pytest.raises(KeyboardInterrupt):
        train(spec, data, config, stop)
    assert stop.info is not None and stop.info.workers == 1  # streamed by one worker
    assert torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)["epoch"] == 1
    config.resume = True
    train(spec, data, config)
    c = weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_held_and_streamed_data_are_the_same_data(faces: Path) -> None:
    held = load_data(str(faces), (3, 16, 16), 8, label_offset=16, size=(20, 20), loader="memory")
    streamed = load_data(str(faces), (3, 16, 16), 8, label_offset=16, size=(20, 20), loader="stream")
    assert held.train.images is not None and held.train.images.shape == (1680, 3, 20, 20)
    assert streamed.shape == held.shape == (3, 20, 20) and streamed.fingerprint == held.fingerprint
    assert (streamed.mean, streamed.std) == (held.mean, held.std)  # exactly: the same pixels are measured
    for a, b in ((held.train, streamed.train), (held.test, streamed.test)):
        assert a.names == b.names and np.array_equal(a.labels, b.labels)


def test_the_automatic_choice_is_by_size() -> None:
    assert not stream_by_size(1000, (3, 128, 128), available=4 * 1000 * 3 * 128 * 128)
    assert stream_by_size(1001, (3, 128, 128), available=4 * 1000 * 3 * 128 * 128)
    assert not stream_by_size(10, (1, 8, 8))  # the system's figure: ten tiny images always fit


def test_plans_are_fixed_by_seed_and_epoch() -> None:
    augment = Augment((20, 24), (16, 16), flip=True)
    a, b = epoch_plan(100, 3, 1, augment), epoch_plan(100, 3, 1, augment)
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))
    other = epoch_plan(100, 3, 2, augment)
    assert not torch.equal(a.order, other.order) and not torch.equal(a.tops, other.tops)
    assert int(a.tops.max()) <= 4 and int(a.lefts.max()) <= 8 and 25 < int(a.flips.sum()) < 75
    assert int(a.tops.min()) == 0 and int(a.lefts.max()) == 8  # every corner can be drawn
    plain = epoch_plan(100, 3, 1, Augment((16, 16), (16, 16)))  # no augmentation: the shuffle of before
    assert torch.equal(plain.order, torch.randperm(100, generator=torch.Generator().manual_seed(3 * 1_000_003 + 1)))
    assert torch.equal(plain.order, a.order)  # the corners are drawn after the shuffle
    assert Augment((128, 128), (120, 120)).centre == (4, 4) and Augment((21, 10), (16, 7)).centre == (2, 2)
    dealt = [a.deal(rank, 3) for rank in range(3)]  # 100 images on 3 processes: 34 each, two wrapped around
    assert [len(d) for d in dealt] == [34, 34, 34] and set(torch.cat([d.order for d in dealt]).tolist()) == set(
        range(100)
    )
    assert torch.equal(dealt[1].order, torch.cat([a.order, a.order[:2]])[1::3])
    assert torch.equal(dealt[1].flips, torch.cat([a.flips, a.flips[:2]])[1::3])


def test_a_batch_is_cut_alike_in_memory_and_in_a_worker() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(5, 3, 20, 24), dtype=np.uint8)
    plan = epoch_plan(5, 0, 0, Augment((20, 24), (16, 16), flip=True))
    batch = cut(torch.from_numpy(images)[plan.order], plan, (16, 16))
    for row, (i, t, x, f) in enumerate(zip(*(v.tolist() for v in vars(plan).values()), strict=True)):
        expected = images[i][:, t : t + 16, x : x + 16]
        assert np.array_equal(batch[row].numpy(), expected[..., ::-1] if f else expected)
        assert np.array_equal(cut_pixels(images[i], t, x, f, (16, 16)), batch[row].numpy())
    centre = eval_plan(5, Augment((20, 24), (16, 16)))
    assert np.array_equal(cut(torch.from_numpy(images), centre, (16, 16)).numpy(), images[:, :, 2:18, 4:20])


def test_an_unreadable_file_stops_streaming_naming_it(faces: Path, tmp_path: Path) -> None:
    good = sorted(faces.glob("*.jpg"))[:7]
    broken = tmp_path / "17_0_0_cut.jpg"
    broken.write_bytes(good[1].read_bytes()[:200])  # a JPEG cut short: its header reads, its pixels do not
    names = tuple(str(p) for p in [*good, broken])
    dataset = FileImages(names, np.arange(8), (3, 20, 20), (16, 16))
    pixels, label, error = dataset[(0, 2, 1, True)]
    assert error == "" and label == 0
    assert np.array_equal(pixels.numpy(), read_pixels(good[0], (3, 20, 20))[:, 2:18, 1:17][..., ::-1])
    assert "17_0_0_cut.jpg': cannot read it as an image" in dataset[(7, 0, 0, False)][2]
    split = Split(None, np.arange(8), names)
    data = Dataset("x", "ages", split, split, split, 8, (0.5,) * 3, (0.2,) * 3, (3, 20, 20))
    augment = Augment((20, 20), (16, 16))
    feed = StreamFeed(data, augment, torch.device("cpu"), workers=1)
    batches = feed.batches("train", eval_plan(8, augment), 4)
    first, labels = next(batches)
    assert first.shape == (4, 3, 16, 16) and first.dtype == torch.uint8 and labels.tolist() == [0, 1, 2, 3]
    with pytest.raises(DataError, match=r"17_0_0_cut\.jpg': cannot read it as an image"):
        next(batches)
    feed.close()
    (tmp_path / "names").mkdir()
    (tmp_path / "names" / "20_x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"20_x\.jpg': cannot read it as an image"):
        load_data(str(tmp_path / "names"), (3, 16, 16), 8, label_offset=16, loader="stream")
