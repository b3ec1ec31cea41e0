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

from netdsl.cli import main

from conftest import SPECS

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(text: str) -> list[str]:
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_draw_command_svg_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, png = tmp_path / "g.svg", tmp_path / "r.png"
    assert main(["draw", str(SPECS / "googlenet.net"), "-o", str(svg), "--depth", "1"]) == 0
    assert "wrote" in capsys.readouterr().err
    texts = svg_texts(svg.read_text())
    assert "inception4e" in texts and "Inception" in texts and "conv1" in texts
    assert main(["draw", str(SPECS / "lenet5.net"), "--style", "planes", "-o", str(png)]) == 0
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 2 * image.size[1] > 300
    assert main(["draw", str(SPECS / "lenet5.net"), "-o", str(tmp_path / "x.gif")]) == 2
    assert "give a file ending in .svg, .png or .pdf" in capsys.readouterr().err
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
