"""Pictures: `netdsl draw` (graph and planes), `netdsl compare` and `netdsl features`.

Layouts are tested as geometry (every box placed once, none overlapping, frames around their
own boxes only), the SVG as XML whose text holds every label, PNGs by their size."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.checker.check import check_program
from netdsl.cli import main
from netdsl.language.program import load
from netdsl.pictures import canvas, graph, planes

from conftest import SPECS

SVG = "{http://www.w3.org/2000/svg}"


def spec(name: str, network: str | None = None) -> Checked:
    outcome = check_program(load(SPECS / name), network, {}, None)
    assert outcome.checked is not None
    return outcome.checked


def svg_texts(text: str) -> list[str]:
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def check_layout(laid: graph.Layout, checked: Checked, depth: int | None) -> None:
    rows = tree.rows(checked, depth)
    assert [b.name for b in laid.boxes] == [r.name for r in rows]  # every layer (or folded group) once
    rects = [b.rect for b in laid.boxes]
    for i, a in enumerate(rects):
        for j in range(i + 1, len(rects)):
            assert not a.overlaps(rects[j]), (laid.boxes[i].name, laid.boxes[j].name)
    for frame in laid.frames:
        inside = [b for b in laid.boxes if b.name.startswith(frame.path + ".")]
        assert inside
        for box in laid.boxes:  # around its own boxes, clear of every other box
            if box in inside:
                r = box.rect
                assert frame.rect.x < r.x and r.right < frame.rect.right and frame.rect.y < r.y
                assert r.bottom < frame.rect.bottom
            else:
                assert not frame.rect.overlaps(box.rect), (frame.path, box.name)
        parent = frame.path.rsplit(".", 1)[0] if "." in frame.path else None
        for other in laid.frames:
            if other.path == parent:
                assert other.rect.x < frame.rect.x and frame.rect.right < other.rect.right
    for box in laid.boxes:
        assert 0 <= box.rect.x and box.rect.right <= laid.width and box.rect.bottom <= laid.height
    texts = svg_texts(canvas.to_svg(graph.draw(laid)))
    for label in laid.labels:
        assert label in texts, label
    for box in laid.boxes:
        assert box.lines[0] in texts and box.lines[2] in texts  # its name and output shape


@pytest.mark.parametrize(
    ("name", "network", "depth"),
    [
        ("lenet5.net", None, None),
        ("alexnet.net", None, None),
        ("googlenet.net", None, None),
        ("googlenet.net", None, 1),
        ("resnet50.net", None, None),
        ("resnet50.net", None, 2),
        ("coral_cnn.net", "CoralCNN", None),
        ("coral_cnn.net", "ORCNN", 2),
    ],
)
def test_graph_layouts(name: str, network: str | None, depth: int | None) -> None:
    checked = spec(name, network)
    laid = graph.layout(checked, depth)
    assert laid.sections  # read as series and parallel sections, not the one-column fallback
    check_layout(laid, checked, depth)


def test_inception_branches_side_by_side_and_joined() -> None:
    laid = graph.layout(spec("googlenet.net"), None)
    box = {b.name: b.rect for b in laid.boxes}
    firsts = [
        box[n] for n in ("inception3a.conv_1", "inception3a.conv_2", "inception3a.conv_4", "inception3a.maxpool_1")
    ]
    assert len({r.y for r in firsts}) == 1 and [r.x for r in firsts] == sorted({r.x for r in firsts})
    concat = box["inception3a.concat_1"]
    assert concat.y > max(box[f"inception3a.relu_{i}"].bottom for i in range(1, 7))
    assert firsts[0].x < concat.x < firsts[-1].x  # centred under its four branches
    frame = next(f for f in laid.frames if f.path == "inception3a")
    assert frame.label == "inception3a · Inception"


def test_residual_connections_are_arcs_on_the_right() -> None:
    laid = graph.layout(spec("resnet18.net"), None)
    box = {b.name: b.rect for b in laid.boxes}
    start, end = box["layer1.0.relu_2"], box["layer1.1.add_1"]  # the identity skip of layer1.1
    arcs = [e for e in laid.edges if e.points[0] == (start.right, start.y + start.h / 2)]
    assert len(arcs) == 1 and arcs[0].points[-1] == (end.right, end.y + end.h / 2)
    assert min(x for x, _ in canvas.sample(arcs[0])) >= start.right
    main_path = [box[f"layer1.1.{n}"] for n in ("conv1", "bn1", "relu_1", "conv2", "bn2")]
    assert max(x for x, _ in canvas.sample(arcs[0])) > max(r.right for r in main_path)
    assert len({r.x for r in main_path}) == 1 == len({box["layer1.1.conv1"].x, start.x})  # the main path straight
    downsample = box["layer2.0.downsample"]
    assert downsample.x > box["layer2.0.conv1"].right and downsample.y == box["layer2.0.conv1"].y


def test_a_graph_that_is_not_sections_falls_back_to_one_column() -> None:
    from conftest import checked

    net = checked(
        "network Tangle {\n input x: [4, 8, 8]\n a = conv(4, 1)\n b = conv(4, 1)\n"
        " c = add(a, b)\n d = a -> relu\n add(c, d)\n}\n"
    )
    laid = graph.layout(net, None)
    assert not laid.sections
    check_layout(laid, net, None)
    assert len({b.rect.x for b in laid.boxes}) == 1


def test_planes_like_the_lenet5_figure() -> None:
    laid = planes.layout(spec("lenet5.net"))
    assert [(p.stage.name, planes.stage_text(p.stage)) for p in laid.placed] == [
        ("image", "1@32×32"),
        ("C1", "6@28×28"),
        ("S2", "6@14×14"),
        ("C3", "16@10×10"),
        ("S4", "16@5×5"),
        ("C5", "120@1×1"),
        ("F6", "84"),
        ("out", "10"),
    ]
    assert [p.stage.op for p in laid.placed[1:4]] == ["conv 5×5, tanh", "avgpool 2×2 /2", "conv 5×5, tanh"]
    sides = [p.planes[0].w for p in laid.placed[:5]]
    assert sides == sorted(sides, reverse=True)  # planes sized by H×W
    for i, a in enumerate(laid.placed):
        for b in laid.placed[i + 1 :]:
            assert not a.box.overlaps(b.box)
        assert all(a.box.x <= p.x and p.right <= a.box.right for p in a.planes)
    texts = svg_texts(canvas.to_svg(planes.draw(laid)))
    for label in laid.labels:
        assert label in texts


def test_planes_draw_alexnet_and_refuse_branches() -> None:
    laid = planes.layout(spec("alexnet.net"))
    assert planes.stage_text(laid.placed[1].stage) == "96@55×55" and laid.placed[1].stage.op.startswith("conv 11×11 /4")
    with pytest.raises(planes.NotAChain, match="use --style graph"):
        planes.layout(spec("resnet18.net"))


def test_draw_command_svg_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, png = tmp_path / "g.svg", tmp_path / "r.png"
    assert main(["draw", str(SPECS / "googlenet.net"), "-o", str(svg), "--depth", "1"]) == 0
    assert "wrote" in capsys.readouterr().err
    texts = svg_texts(svg.read_text())
    assert "inception4e" in texts and "Inception" in texts and "conv1" in texts
    assert main(["draw", str(SPECS / "lenet5.net"), "--style", "planes", "-o", str(png)]) == 0
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 2 * image.size[1] > 300
    assert main(["draw", str(SPECS / "lenet5.net"), "-o", str(tmp_path / "x.pdf")]) == 2
    assert "give a file ending in .svg or .png" in capsys.readouterr().err
    assert main(["draw", str(SPECS / "resnet18.net"), "--style", "planes", "-o", str(png)]) == 1


def test_compare_table_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "chart.svg"
    assert main(["compare", str(SPECS / "lenet5.net"), str(SPECS / "alexnet.net"), "-o", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "| LeNet5 |" in out and "| 61,706 | 416,520 | 57.51 KiB | 32 |" in out
    texts = svg_texts(chart.read_text())
    # parameters on a log axis since the chart's rework (issue 21): LeNet-5's 62k beside AlexNet's 61M
    assert "LeNet5" in texts and "AlexNet" in texts and "parameters (log scale)" in texts
    for network, value in (("LeNet5", 0.98), ("AlexNet", 0.5)):
        for seed in (0, 1):
            run = tmp_path / "runs" / network / f"seed-{seed}"
            run.mkdir(parents=True)
            (run / "result.json").write_text(
                json.dumps(
                    {
                        "network": network,
                        "selected_by": "accuracy",
                        "test": {"accuracy": value + seed / 100, "mae": 0.1},
                    }
                )
            )
    assert (
        main(
            [
                "compare",
                str(SPECS / "lenet5.net"),
                str(SPECS / "alexnet.net"),
                "--results",
                str(tmp_path / "runs"),
                "--format",
                "json",
                "-o",
                str(chart),
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["network"], r["value"], r["runs"]) for r in rows] == [
        ("LeNet5", pytest.approx(0.985), 2),
        ("AlexNet", pytest.approx(0.505), 2),
    ]
    assert "test accuracy (higher is better)" in svg_texts(chart.read_text())  # the axis says which way is up
    (tmp_path / "runs" / "x").mkdir()
    (tmp_path / "runs" / "x" / "result.json").write_text(
        json.dumps({"network": "X", "selected_by": "mae", "test": {"accuracy": 0.1, "mae": 2.0}})
    )
    assert main(["compare", str(SPECS / "lenet5.net"), "--results", str(tmp_path / "runs")]) == 2
    assert "mix classifiers (accuracy) and ordinal heads (MAE)" in capsys.readouterr().err


def test_features_are_the_layer_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from netdsl import load as load_spec
    from netdsl.pictures import features

    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 12:16] = 255  # a vertical bar: the vertical detector answers at its two edges
    image = tmp_path / "bar.png"
    Image.fromarray(digit).save(image)
    net = load_spec(SPECS / "edge_detectors.net")
    maps = features.feature_maps(net, "edges", str(image))
    x = np.pad(digit.astype(np.float32) / 255, 1)
    vertical = sum(k * x[i : i + 28, j : j + 28] for i in range(3) for j, k in enumerate((1, 0, -1)))
    horizontal = sum(k * x[i : i + 28, j : j + 28] for i, k in enumerate((1, 0, -1)) for j in range(3))
    assert maps.maps.shape == (2, 28, 28)
    assert np.allclose(maps.maps[0], vertical, atol=1e-5) and np.allclose(maps.maps[1], horizontal, atol=1e-5)
    assert maps.maps[0][14, 11] == pytest.approx(-3) and maps.maps[0][14, 16] == pytest.approx(3)
    out = tmp_path / "maps.png"
    assert (
        main(["features", str(SPECS / "edge_detectors.net"), "--input", str(image), "--layer", "edges", "-o", str(out)])
        == 0
    )
    assert "wrote" in capsys.readouterr().err and Image.open(out).format == "PNG"
    assert features.pick_layer(net.checked, None) == "vertical"
    assert main(["features", str(SPECS / "lenet5.net"), "--input", str(image), "--layer", "F6", "-o", str(out)]) == 2
    assert "has no height and width" in capsys.readouterr().err
