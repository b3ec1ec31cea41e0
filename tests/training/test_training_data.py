"""Training data sources: what each loads, how it splits, and the errors that name the file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from netdsl.data.sources import DataError, load_data, stratified_indices
from netdsl.data.synth import generate


def image(path: Path, value: int, size: tuple[int, int] = (12, 10), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, (value, value // 2, 255 - value) if mode == "RGB" else value).save(path)
    return path


def class_folder(root: Path, classes: dict[str, int], per_class: int = 10) -> Path:
    for name, value in classes.items():
        for i in range(per_class):
            image(root / name / f"{i:02d}.png", value + i)
    return root


def all_labels(data) -> Counter[int]:  # type: ignore[no-untyped-def]
    return Counter(int(x) for s in (data.train, data.val, data.test) for x in s.labels)


def test_digits_fixed_stratified_split() -> None:
    data = load_data("digits", (1, 32, 32), 10)
    assert (len(data.train), len(data.val), len(data.test)) == (1259, 179, 359)
    assert data.train.images.shape == (1259, 1, 32, 32) and data.train.images.dtype == np.uint8
    assert sum(all_labels(data).values()) == 1797
    per_class = Counter(int(x) for x in data.test.labels)
    totals = all_labels(data)
    assert all(per_class[c] == round(0.2 * totals[c]) for c in range(10))  # stratified
    again = load_data("digits", (1, 32, 32), 10)
    assert again.test.names == data.test.names and again.fingerprint == data.fingerprint
    assert not set(data.train.names) & set(data.test.names) and not set(data.val.names) & set(data.test.names)
    assert 0.0 < data.mean[0] < 1.0 and data.std[0] > 0.1


def test_ordinal_synth_is_deterministic_and_counts_discs() -> None:
    from scipy import ndimage

    images, labels = generate(64, 8, 1, 32, 32, noise=0.0)
    again, labels_again = generate(64, 8, 1, 32, 32, noise=0.0)
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    for picture, label in zip(images, labels, strict=True):  # the label is the number of discs, less one
        _, count = ndimage.label(picture[0] > 0.35 * 255, structure=np.ones((3, 3)))
        assert count == label + 1
    data = load_data("ordinal-synth:400", (3, 32, 32), 8)
    assert sorted(all_labels(data)) == list(range(8)) and sum(all_labels(data).values()) == 400
    assert data.train.images.shape[1:] == (3, 32, 32)
    assert np.array_equal(data.train.images[:, 0], data.train.images[:, 2])  # grey, in every channel


def test_ordinal_synth_refuses_too_many_classes() -> None:
    with pytest.raises(DataError, match="K = 55 classes do not fit a 32×32 image"):
        load_data("ordinal-synth", (1, 32, 32), 55)


def test_class_folder(tmp_path: Path) -> None:
    root = class_folder(tmp_path / "pets", {"cat": 10, "dog": 100, "emu": 200})
    data = load_data(str(root), (3, 8, 8), 3)
    assert data.kind == "folder" and sum(all_labels(data).values()) == 30
    assert all_labels(data) == {0: 10, 1: 10, 2: 10}
    assert Counter(int(x) for x in data.test.labels) == {0: 2, 1: 2, 2: 2}
    assert all(
        Path(n).parent.name == ["cat", "dog", "emu"][label]
        for n, label in zip(data.train.names, data.train.labels, strict=True)
    )
    assert data.train.images.shape[1:] == (3, 8, 8)


def test_class_folder_with_its_own_test_split(tmp_path: Path) -> None:
    class_folder(tmp_path / "train", {"a": 10, "b": 90}, per_class=10)
    class_folder(tmp_path / "test", {"a": 10, "b": 90}, per_class=3)
    data = load_data(str(tmp_path), (1, 8, 8), 2)
    assert len(data.test) == 6 and all("/test/" in n for n in data.test.names)
    assert len(data.train) + len(data.val) == 20


def test_integer_class_folders_are_labels_less_the_offset(tmp_path: Path) -> None:
    class_folder(tmp_path, {"16": 10, "17": 50, "19": 90}, per_class=5)
    data = load_data(str(tmp_path), (1, 8, 8), 4, label_offset=16)
    assert all_labels(data) == {0: 5, 1: 5, 3: 5}
    with pytest.raises(DataError, match=r"'.*19': label 19 less --label-offset 16 is outside 0\.\.2"):
        load_data(str(tmp_path), (1, 8, 8), 3, label_offset=16)


def test_age_named_files(tmp_path: Path) -> None:
    for i, age in enumerate([16, 16, 17, 17, 18, 18, 20, 20, 16, 17, 18, 20]):
        image(tmp_path / f"{age}_{i % 2}_0_2017010{i}.jpg", 20 * i)
    data = load_data(str(tmp_path), (3, 16, 16), 5, label_offset=16)
    assert data.kind == "ages" and all_labels(data) == {0: 3, 1: 3, 2: 3, 4: 3}
    with pytest.raises(
        DataError,
        match=r"20_0_0_20170106\.jpg': age 20 less --label-offset 16 gives label 4, "
        r"outside 0\.\.3",
    ):
        load_data(str(tmp_path), (3, 16, 16), 4, label_offset=16)
    image(tmp_path / "portrait.jpg", 3)
    with pytest.raises(DataError, match=r"portrait\.jpg': the file name does not start with the age"):
        load_data(str(tmp_path), (3, 16, 16), 5, label_offset=16)


def test_csv_manifest(tmp_path: Path) -> None:
    rows = ["path,label"] + [f"img/{i}.png,{i % 3}" for i in range(15)]
    for i in range(15):
        image(tmp_path / "img" / f"{i}.png", 10 * i, mode="L")
    (tmp_path / "all.csv").write_text("\n".join(rows) + "\n")
    data = load_data(str(tmp_path / "all.csv"), (1, 8, 8), 3)
    assert data.kind == "csv" and all_labels(data) == {0: 5, 1: 5, 2: 5}
    split = ["path,label,split"] + [f"img/{i}.png,{i % 3},{'test' if i < 3 else 'train'}" for i in range(15)]
    (tmp_path / "split.csv").write_text("\n".join(split))
    data = load_data(str(tmp_path / "split.csv"), (1, 8, 8), 3)
    assert sorted(Path(n).name for n in data.test.names) == ["0.png", "1.png", "2.png"]
    (tmp_path / "bad.csv").write_text("img/0.png,0\nimg/1.png,seven\n")
    with pytest.raises(DataError, match=r"bad\.csv:2: the label 'seven' is not an integer"):
        load_data(str(tmp_path / "bad.csv"), (1, 8, 8), 3)
    (tmp_path / "range.csv").write_text("img/0.png,0\nimg/1.png,3\n")
    with pytest.raises(DataError, match=r"range\.csv:2: label 3 is outside 0\.\.2 \(the spec's head has 3 classes\)"):
        load_data(str(tmp_path / "range.csv"), (1, 8, 8), 3)
    (tmp_path / "missing.csv").write_text("img/0.png,0\nimg/404.png,1\n")
    with pytest.raises(DataError, match=r"img/404\.png': no such image file"):
        load_data(str(tmp_path / "missing.csv"), (1, 8, 8), 3)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    class_folder(tmp_path, {"a": 1, "b": 2}, per_class=4)
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"b/broken\.png': cannot read it as an image"):
        load_data(str(tmp_path), (1, 8, 8), 2)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "no images in it"),
        ({"a/1.png": 1, "b/.keep": None}, r"b': an empty class folder"),
        (
            {f"{c}/{i}.png": i for c in "abc" for i in range(3)},
            r"has 3 class folders but the spec's head has 2 classes "
            r"\(try --set classes=3\)",
        ),
    ],
)
def test_folder_errors(tmp_path: Path, layout: dict[str, int | None], message: str) -> None:
    for name, value in layout.items():
        if value is None:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("")
        else:
            image(tmp_path / name, value)
    with pytest.raises(DataError, match=message):
        load_data(str(tmp_path), (1, 8, 8), 2)


def test_missing_source_and_too_little_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'nowhere': no such file or folder \(give digits, ordinal-synth"):
        load_data("nowhere", (1, 8, 8), 2)
    class_folder(tmp_path, {"a": 1, "b": 2}, per_class=1)
    with pytest.raises(DataError, match="too few images for a validation split"):
        load_data(str(tmp_path), (1, 8, 8), 2)


def test_stratified_indices() -> None:
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2)
    chosen = stratified_indices(labels, 0.2, seed=3)
    assert Counter(int(labels[i]) for i in chosen) == {0: 2, 1: 1, 2: 1}
    assert np.array_equal(chosen, stratified_indices(labels, 0.2, seed=3))


def test_too_few_images_say_how_many_each_label_has_and_needs(tmp_path: Path) -> None:
    for name in ("cat", "dog"):
        for i in range(2):
            image(tmp_path / name / f"{i}.png", 40 * i)
    with pytest.raises(DataError) as caught:
        load_data(str(tmp_path), (3, 16, 16), 2)
    assert str(caught.value) == (
        f"'{tmp_path}': too few images for a validation split: each of its 2 labels has 2 images (4 images in "
        "all); the training, validation and test splits need at least 3 images of a label (stratified: each split "
        "takes its share of every label)"
    )
    image(tmp_path / "bird" / "0.png", 99)
    with pytest.raises(DataError, match=r"its labels have 1 to 2 images \(0: 1, 1: 2, 2: 2; 5 images in all\)"):
        load_data(str(tmp_path), (3, 16, 16), 3)
    image(tmp_path / "dog" / "2.png", 7)
    assert len(load_data(str(tmp_path), (3, 16, 16), 3).val.labels) == 1  # three of a label: every split has one


def test_a_flat_folder_mentions_the_class_folder_layout(tmp_path: Path) -> None:
    for i in range(3):
        image(tmp_path / f"img{i}.png", 30 * i)
    with pytest.raises(DataError) as caught:
        load_data(str(tmp_path), (3, 16, 16), 2)
    assert str(caught.value) == (
        f"'{tmp_path / 'img0.png'}': the file name does not start with the age (like 23_1_0_2017.jpg), as in a "
        f"folder of images labelled by age; for classes, give '{tmp_path}' one sub-folder of images per class "
        f"({tmp_path / 'CLASS_A' / 'IMAGE.png'}, {tmp_path / 'CLASS_B' / '…'})"
    )
