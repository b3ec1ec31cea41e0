"""The check report: --depth folding, fitting a terminal's width without breaking names, plain
text for NO_COLOR / --no-color / pipes, and the block tree in JSON."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.checker.check import check_program
from netdsl.cli import main
from netdsl.language.program import load
from netdsl.report import render

from conftest import SPECS

ESC = "\x1b"


def spec(name: str) -> Checked:
    outcome = check_program(load(SPECS / name), None, {}, None)
    assert outcome.checked is not None
    return outcome.checked


def printed(checked: Checked, depth: int | None, width: int, fit: bool = True) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=fit)
    render.print_report(console, checked, depth, fit)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def first_cells(lines: list[str]) -> list[tuple[str, bool]]:
    """The layer column of each body row, and whether the row is a continuation (no op, no numbers)."""
    cells = []
    body = False
    for line in lines:
        if line.startswith("┡"):
            body = True
            continue
        if line.startswith("├"):
            break
        if body and line.startswith("│"):
            parts = [p.strip() for p in line.strip("│").split("│")]
            cells.append((parts[0], all(not p for p in parts[1:])))
    return cells


def test_resnet18_at_80_columns_keeps_every_name_whole() -> None:
    checked = spec("resnet18.net")
    lines = printed(checked, None, 80)
    assert lines[0] == "ResNet18(classes=1000)"
    assert max(len(line) for line in lines) <= 80
    assert not [line for line in lines if line != line.rstrip()], "trailing spaces"
    names: list[str] = []
    for cell, continued in first_cells(lines):
        if continued:
            assert names[-1].endswith("."), f"'{names[-1]}' / '{cell}' is broken inside a word"
            names[-1] += cell
        else:
            names.append(cell)
    assert names == [layer.name for layer in checked.layers]
    header = next(line for line in lines if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == ["layer", "op", "output", "params", "MACs"]
    assert "receptive field and jump left out to fit 80 columns (--format markdown shows every column)" in " ".join(
        lines
    )
    # wrapped at a dot, onto the next line: the only names longer than the column
    assert ("layer2.0.", False) in first_cells(lines) and ("downsample_bn", True) in first_cells(lines)


def test_columns_give_way_in_the_stated_order() -> None:
    checked = spec("resnet18.net")
    widths = {}
    for width in (120, 90, 86, 72, 56):
        laid = render.report(checked, None, width)
        widths[width] = laid.dropped
        assert laid.width <= width
    assert widths[120] == ()
    assert widths[90] == ("jump",) or widths[90] == ()
    assert widths[72] == ("MACs", "RF", "jump")  # the op, which says what a layer is, stays longest
    assert widths[56] == ("op", "MACs", "RF", "jump")
    assert [c for c in render.DROP_ORDER] == ["jump", "RF", "MACs", "op"]


def test_a_pipe_gets_the_whole_table() -> None:
    lines = printed(spec("resnet18.net"), None, 60, fit=False)
    header = next(line for line in lines if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == [
        "layer",
        "op",
        "output",
        "params",
        "MACs",
        "RF",
        "jump",
    ]
    assert any("│ layer2.0.downsample_bn │" in line for line in lines)


@pytest.mark.parametrize(
    ("name", "depth", "rows"),
    [
        ("resnet50.net", 1, 9),
        ("resnet50.net", 2, 24),
        ("resnet50.net", 3, 176),
        ("resnet50.net", None, 176),
        ("googlenet.net", 1, 26),
        ("googlenet.net", 2, 143),
        ("coral_cnn.net", 2, 9),
        ("lenet5.net", 1, 13),
    ],
)
def test_depth_folds_rows_and_keeps_the_totals(name: str, depth: int | None, rows: int) -> None:
    checked = spec(name)
    found = tree.rows(checked, depth)
    assert len(found) == rows
    assert sum(r.params for r in found) == checked.total_params
    assert sum(r.trainable for r in found) == checked.trainable_params
    assert sum(r.macs for r in found) == checked.total_macs
    assert sum(len(r.nodes) for r in found) == len(checked.layers)


def test_a_folded_row_sums_its_layers_and_shows_its_output() -> None:
    checked = spec("resnet50.net")
    row = next(r for r in tree.rows(checked, 1) if r.name == "layer1")
    inside = [x for x in checked.layers if x.name.startswith("layer1.")]
    assert len(inside) == 32 and row.op == "3 × Bottleneck" and row.output_shape == (256, 56, 56)
    assert row.params == sum(x.params for x in inside) == 215_808
    assert row.macs == sum(x.macs for x in inside)
    assert row.receptive_field == next(x for x in checked.layers if x.name == "layer1.2.relu_3").receptive_field
    block = next(r for r in tree.rows(checked, 2) if r.name == "layer2.0")
    assert block.op == "Bottleneck" and block.output_shape == (512, 28, 28) and block.params == 379_392


def test_the_default_depth_fits_two_screens() -> None:
    assert tree.auto_depth(spec("resnet50.net")) == 2
    assert tree.auto_depth(spec("googlenet.net")) == 1
    assert tree.auto_depth(spec("vgg16.net")) is None  # 40 layers: all of them
    assert tree.resolve_depth("all", spec("resnet50.net")) is None
    assert tree.parse_depth("3") == 3 and tree.parse_depth("ALL") == "all"
    with pytest.raises(ValueError):
        tree.parse_depth("0")


def test_cli_depth_and_the_fold_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "resnet50.net"), "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "│ layer3.5 " in out and "layer3.5.conv1" not in out
    assert "176 layers in 24 rows, blocks folded at depth 2: --depth all unfolds them" in out
    assert main(["check", str(SPECS / "resnet50.net"), "--depth", "all"]) == 0
    out = capsys.readouterr().out
    assert "│ layer3.5.conv1 " in out and "folded" not in out
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(SPECS / "resnet50.net"), "--depth", "0"])
    assert exit_.value.code == 2
    assert "expected a positive integer, all or auto, got '0'" in capsys.readouterr().err


def test_markdown_follows_the_depth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "resnet50.net"), "--format", "markdown", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "| `layer4` | 3 × Bottleneck | 2048×7×7 | 14,964,736 |" in out
    assert out.count("\n| `") == 9


def test_json_keeps_every_layer_and_adds_the_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "resnet50.net"), "--format", "json", "--depth", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["layers"]) == 176
    conv = next(x for x in data["layers"] if x["name"] == "layer2.0.conv1")
    assert conv["scope"] == ["layer2", "layer2.0"]
    assert data["layers"][0]["scope"] == []
    groups = {g["path"]: g for g in data["groups"]}
    assert groups["layer2.0"]["block"] == "Bottleneck" and groups["layer2.0"]["params"] == 379_392
    assert groups["layer2"]["block"] is None and groups["layer2"]["contents"] == "4 × Bottleneck"
    assert groups["layer2"]["layers"] == 42 and groups["layer2"]["output_shape"] == [512, 28, 28]


@pytest.mark.parametrize(
    ("env", "flags", "escapes"),
    [
        ({"FORCE_COLOR": "1"}, [], True),  # the control: a terminal gets bold and dim
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False),
        ({"FORCE_COLOR": "1"}, ["--no-color"], False),
        ({}, [], False),
    ],  # a pipe
    ids=["terminal", "NO_COLOR", "--no-color", "pipe"],
)
def test_plain_text_without_colour(
    env: dict[str, str],
    flags: list[str],
    escapes: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in ("FORCE_COLOR", "NO_COLOR", "TERM", "COLUMNS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["check", str(SPECS / "alexnet.net"), "--input", "3x224x224", *flags]) == 0
    captured = capsys.readouterr()
    assert (ESC in captured.out) is escapes
    assert (ESC in captured.err) is escapes  # the warning about conv1
    if env.get("FORCE_COLOR"):  # a terminal of 80 columns: the table fits it
        assert max(len(re.sub(r"\x1b\[[0-9;]*m", "", line)) for line in captured.out.splitlines()) <= 80


def test_check_never_imports_matplotlib() -> None:
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys, runpy; sys.argv = ['netdsl', 'check', 'specs/googlenet.net', '--depth', '1']\n"
        "try:\n    runpy.run_module('netdsl', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'torch', 'onnx')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


@pytest.mark.parametrize("name", ["alexnet.net", "resnet50.net", "googlenet.net", "coral_cnn.net"])
def test_table_width_is_what_rich_measures(name: str) -> None:
    """The report works out a table's width from its cells; rich's own measurement agrees, with
    columns left out and names wrapped at their dots too."""
    from rich.measure import Measurement

    console = Console(width=10_000, color_system=None, file=io.StringIO())
    options = console.options.update_width(10_000)
    checked = spec(name)
    widths = set()
    for depth in (None, 1, 3):
        for width in (None, 30, 50, 64, 80):
            laid = render.report(checked, depth, width)
            assert laid.width == Measurement.get(console, options, laid.table).maximum
            widths.add(laid.width)
    assert len(widths) >= 3  # the cases differ: dropped columns, wrapped names, every column
