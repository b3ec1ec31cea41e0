"""Charts: `netdsl compare`'s chart and table, `netdsl features`, `curves.png`, PDF and --dpi.

Label geometry is checked on the SVG itself: each label's box from its position, anchor and
font size, its width measured with matplotlib's DejaVu Sans metrics."""

from __future__ import annotations

import io
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from netdsl.cli import main
from netdsl.pictures import compare, features, labels

from conftest import SPECS

Box = tuple[float, float, float, float]
LABEL = re.compile(r'<g id="(label-\d+)">\s*<text style="([^"]*)" x="([-\d.]+)" y="([-\d.]+)"[^>]*>([^<]*)</text>')


def label_boxes(svg: str) -> dict[str, Box]:
    """Each chart label's box in SVG units (y downwards) from its baseline and font metrics."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    measure = TextToPath()
    boxes = {}
    for _, style, x, y, text in LABEL.findall(svg):
        size = float(re.search(r"font-size: ([\d.]+)px", style).group(1))  # type: ignore[union-attr]
        anchor = re.search(r"text-anchor: (\w+)", style).group(1)  # type: ignore[union-attr]
        w, h, d = measure.get_text_width_height_descent(text, FontProperties(family="DejaVu Sans", size=size), False)
        x0 = float(x) - {"start": 0, "middle": w / 2, "end": w}[anchor]
        boxes[text] = (x0, float(y) - (h - d), x0 + w, float(y) + d)
    return boxes


LEADER = re.compile(r'<g id="leader-(\d+)">\s*<path d="M ([-\d.]+) ([-\d.]+) \s*L ([-\d.]+) ([-\d.]+) ')


def leaders_through_labels(svg: str) -> list[tuple[str, str]]:
    """(whose leader line, whose label) for each leader line that passes through another label."""
    names = {int(i[len("label-") :]): text for i, _, _, _, text in LABEL.findall(svg)}
    boxes = label_boxes(svg)
    out = []
    for i, *ends in LEADER.findall(svg):
        x0, y0, x1, y1 = (float(v) for v in ends)
        for name, box in boxes.items():
            if name != names[int(i)] and labels.crosses(((x0, y0), (x1, y1)), box):
                out.append((names[int(i)], name))
    return out


def overlapping(boxes: dict[str, Box]) -> list[tuple[str, str]]:
    return [(a, b) for (a, p), (b, q) in itertools.combinations(boxes.items(), 2) if labels.overlaps(p, q)]


def entry(network: str, params: int, macs: int, metric: float | None = None, spread: float | None = None):  # type: ignore[no-untyped-def]
    return compare.Entry(network, f"{network}.net", params, macs, 0, None, metric, 3 if spread else 1, spread)


def test_labels_never_overlap_in_a_crowd() -> None:
    rng = np.random.default_rng(0)
    points = [labels.Point(float(x), float(y), 6.0) for x, y in rng.normal((500, 300), 25, size=(12, 2))]
    sizes = [(40.0 + 5 * (i % 7), 12.0) for i in range(12)]
    frame = (0.0, 0.0, 1000.0, 600.0)
    placed = labels.place(points, sizes, frame)
    assert len(placed) == 12
    pairs = itertools.combinations(range(12), 2)
    assert not [(i, j) for i, j in pairs if labels.overlaps(placed[i].box, placed[j].box)]
    assert all(
        frame[0] <= p.box[0] and p.box[2] <= frame[2] and frame[1] <= p.box[1] and p.box[3] <= frame[3] for p in placed
    )
    assert any(p.leader is not None for p in placed)  # a crowd of 12 within ~50 px needs leader lines
    for point, spot in zip(points, placed, strict=True):  # a label without one is beside its point
        if spot.leader is None:
            nearest = (min(max(point.x, spot.box[0]), spot.box[2]), min(max(point.y, spot.box[1]), spot.box[3]))
            assert math.dist(nearest, (point.x, point.y)) <= point.radius + labels.STEPS[1] + 1
    for p, (w, h) in zip(placed, sizes, strict=True):
        assert p.box[2] - p.box[0] == pytest.approx(w) and p.box[3] - p.box[1] == pytest.approx(h)


def test_segment_geometry() -> None:
    assert labels.crosses(((0, 5), (20, 5)), (5, 0, 10, 10))
    assert not labels.crosses(((0, 20), (20, 20)), (5, 0, 10, 10))
    assert not labels.crosses(((0, 0), (4, 4)), (5, 0, 10, 10))
    assert labels.distance(((0, 0), (10, 0)), 5, 3) == pytest.approx(3)
    assert labels.distance(((0, 0), (10, 0)), 13, 4) == pytest.approx(5)


def test_colours_ticks_and_names() -> None:
    assert len(set(compare.palette())) == 40
    styles = compare.styles(45)
    assert len(set(styles)) == 45 and len({colour for colour, _ in styles[:40]}) == 40
    assert compare.decimals([85, 90, 95]) == 0 and compare.decimals([97.5, 98.0, 98.5]) == 1
    assert [compare.si(v) for v in (18, 61706, 25_557_032, 4_089_184_256)] == ["18", "61.7k", "25.6M", "4.09G"]
    assert [compare.nice(v) for v in (143_667_240, 3_000_000, 7)] == [1e8, 2.5e6, 5]
    twins = [
        compare.Entry("AlexNet", "specs/alexnet.net", 1, 1, 0, None),
        compare.Entry("AlexNet", "specs/zoo/alexnet.net", 1, 1, 0, None),
        compare.Entry("ORCNN", "specs/a.net", 1, 1, 0, None),
        compare.Entry("ORCNN", "specs/b.net", 1, 1, 0, None),
        compare.Entry("LeNet5", "specs/lenet5.net", 1, 1, 0, None),
    ]
    assert compare.names(twins) == ["AlexNet (specs)", "AlexNet (zoo)", "ORCNN (a.net)", "ORCNN (b.net)", "LeNet5"]


def test_accuracy_chart_axes_key_and_error_bars() -> None:
    # MACs 0.02% apart stay in one decade-wide axis; accuracy ticks share one precision, never below 0
    shown = [
        entry("A", 5_000_000, 10_000_000, 0.985, 0.004),
        entry("B", 20_000_000, 10_002_000, 0.975, 0.002),
        entry("C", 60_000_000, 9_999_000, 0.99),
    ]
    svg = compare.chart(shown, "accuracy", "svg").decode()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert {"1M", "10M", "100M"} <= set(texts) and not {"0.00999425", "1G", "100k"} & set(texts)
    ticks = [t for t in texts if re.fullmatch(r"[\d.]+%", t)]
    assert len(ticks) >= 3 and len({len(t.split(".")[1]) if "." in t else 0 for t in ticks}) == 1
    assert all(0 <= float(t[:-1]) <= 100 for t in ticks)
    assert {"50M params", "10M params", "5M params"} <= set(texts) and "blob area" in texts
    assert 'id="spread-A"' in svg and 'id="spread-B"' in svg and 'id="spread-C"' not in svg
    assert "test accuracy (higher is better)" in texts
    assert len(label_boxes(svg)) == 3 and not overlapping(label_boxes(svg))


def test_chart_pdf_png_dpi_and_same_bytes() -> None:
    shown = [entry("A", 5_000_000, 10_000_000), entry("B", 20_000_000, 100_000_000)]
    pdf = compare.chart(shown, None, "pdf")
    assert pdf.startswith(b"%PDF") and pdf == compare.chart(shown, None, "pdf")
    with Image.open(io.BytesIO(compare.chart(shown, None, "png", dpi=100))) as image:
        assert image.size == (1200, 750)
    with Image.open(io.BytesIO(compare.chart(shown, None, "png"))) as image:
        assert image.size == (1800, 1125)


@pytest.mark.slow
def test_zoo_chart_labels_never_overlap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = sorted(str(p) for p in SPECS.glob("*.net")) + sorted(str(p) for p in (SPECS / "zoo").glob("*.net"))
    assert len(specs) == 38  # 9 shipped (43 networks with the ordinal heads') and 29 zoo specs
    chart = tmp_path / "zoo.svg"
    assert main(["compare", *specs, "-o", str(chart)]) == 0
    assert "wrote" in capsys.readouterr().err
    svg = chart.read_text()
    boxes = label_boxes(svg)
    assert len(boxes) == 43 and "AlexNet (zoo)" in boxes and "ORCNN (coral_cnn.net)" in boxes
    assert overlapping(boxes) == []
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())  # type: ignore[union-attr]
    assert all(0 <= b[0] and b[2] <= width and 0 <= b[1] and b[3] <= height for b in boxes.values())
    assert svg.count('id="leader-') >= 10  # the crowd near 1G MACs is labelled from afar
    assert leaders_through_labels(svg) == []  # no leader line runs through another network's name


def test_compare_table_on_a_terminal_and_a_pipe() -> None:
    from rich.console import Console

    from netdsl.cli.pictures import _print_table

    shown = [
        compare.Entry(
            "ShuffleNetV2_x1_0",
            "specs/zoo/shufflenet_v2_x1_0.net",
            2_278_604,
            145_215_680,
            31_045_632,
            (527, 527),
            0.9837,
            3,
            0.0025,
        ),
        compare.Entry("AlexNet", "specs/alexnet.net", 61_100_840, 714_197_696, 4_424_000, (195, 195)),
        compare.Entry("AlexNet", "specs/zoo/alexnet.net", 61_100_840, 714_197_696, 4_424_000, (195, 195)),
    ]
    terminal = io.StringIO()
    _print_table(
        Console(file=terminal, force_terminal=True, width=80, no_color=True, color_system=None), shown, "accuracy", None
    )
    text = terminal.getvalue()
    assert "\x1b[3" not in text and "|" not in text  # NO_COLOR: no colour; a table, not markdown
    assert max(len(line) for line in text.splitlines()) <= 80
    row = next(line for line in text.splitlines() if "ShuffleNetV2" in line)
    assert row.split()[1:] == ["2.28M", "145M", "29.61", "MiB", "527", "98.37%", "±", "0.25%", "3"]
    assert "AlexNet (zoo)" in text and "AlexNet (specs)" in text
    pipe = io.StringIO()
    _print_table(Console(file=pipe, width=80), shown, "accuracy", None)
    assert pipe.getvalue().splitlines()[0].startswith("| network | spec | params |")
    assert "| 98.37% ± 0.25% | 3 |" in pipe.getvalue()
    data = io.StringIO()
    _print_table(Console(file=data, force_terminal=True, width=80), shown, "accuracy", "json")
    assert json.loads(data.getvalue())[0]["value"] == pytest.approx(0.9837)


def test_feature_maps_are_titled_by_the_spec_labels() -> None:
    from netdsl import load as load_spec

    net = load_spec(SPECS / "edge_detectors.net")
    assert features.channel_names(net.checked.graph, "edges") == ["vertical", "horizontal"]
    assert features.channel_names(net.checked.graph, "vertical") == ["vertical"]
    lenet = load_spec(SPECS / "lenet5.net")
    assert features.channel_names(lenet.checked.graph, "C1") == ["0", "1", "2", "3", "4", "5"]


@pytest.mark.slow
def test_features_titles_colour_bar_and_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 12:16] = 255
    image = tmp_path / "bar.png"
    Image.fromarray(digit).save(image)
    args = ["features", str(SPECS / "edge_detectors.net"), "--input", str(image), "--layer", "edges"]
    assert main([*args, "-o", str(tmp_path / "maps.svg")]) == 0
    svg = (tmp_path / "maps.svg").read_text()
    titles = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "vertical  (±3)" in titles and "horizontal  (±3)" in titles and "input" in titles
    assert "value ÷ the map's largest |value|" in titles and {"−1.0", "0.0", "1.0"} <= set(titles)
    assert main([*args, "-o", str(tmp_path / "maps.png"), "--dpi", "100"]) == 0
    with Image.open(tmp_path / "maps.png") as png:
        assert png.size == (830, 355)  # 572 × 216 before
    assert main([*args, "-o", str(tmp_path / "maps.pdf")]) == 0
    assert (tmp_path / "maps.pdf").read_bytes().startswith(b"%PDF")
    assert main([*args, "-o", str(tmp_path / "maps.gif")]) == 2
    assert "give a file ending in .svg, .png or .pdf" in capsys.readouterr().err


def test_curves_are_large_and_the_best_label_is_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    from netdsl.pictures import curves

    history = [
        {
            "epoch": e,
            "train_loss": 2 / e,
            "val_loss": 2.2 / e,
            "train_accuracy": 1 - 0.5 / e,
            "val_accuracy": 1 - 0.6 / e,
        }
        for e in range(1, 9)
    ]
    with Image.open(io.BytesIO(curves.draw_curves(history, "LeNet5", "accuracy", 8))) as png:
        assert png.size == (2000, 840)
    figures = []
    monkeypatch.setattr(curves, "render", lambda fig, kind, **_: figures.append(fig) or b"")
    for best in (1, 8):  # the first and the last epoch: the label must stay inside its panel
        curves.draw_curves(history, "LeNet5", "accuracy", best)
        fig = figures[-1]
        renderer = fig.canvas.get_renderer()
        for axes in fig.axes:
            label = next(t for t in axes.texts if t.get_text() == f"best: {best}")
            box, frame = label.get_window_extent(renderer), axes.get_window_extent(renderer)
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def test_a_canvas_as_svg_png_or_pdf() -> None:
    # the one path from a canvas (draw's pictures) to a file: draw's handler plugs in here
    from netdsl.pictures import canvas

    picture = canvas.Canvas(400, 100)
    picture.add(canvas.Rect(10, 10, 100, 50, fill="#dbe8f5"), canvas.Label(20, 40, "conv1"))
    assert canvas.encode(picture, "svg").startswith('<?xml version="1.0"')  # type: ignore[union-attr]
    pdf = canvas.encode(picture, "pdf")
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF") and b"MediaBox [ 0 0 288 72 ]" in pdf
    for dpi, size in ((None, (600, 150)), (300, (1200, 300))):
        with Image.open(io.BytesIO(canvas.encode(picture, "png", dpi))) as png:  # type: ignore[arg-type]
            assert png.size == size


def test_dpi_and_suffix_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lenet = str(SPECS / "lenet5.net")
    with pytest.raises(SystemExit) as usage:  # argparse's own exit, as for every bad flag value
        main(["compare", lenet, "-o", str(tmp_path / "c.png"), "--dpi", "5000"])
    assert usage.value.code == 2
    assert "argument --dpi: at most 1200 pixels per inch, got 5000" in capsys.readouterr().err
    assert main(["compare", lenet, "-o", str(tmp_path / "c.gif")]) == 2
    assert "-o " + str(tmp_path / "c.gif") + ": give a file ending in .svg, .png or .pdf" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "c.gif").exists()
