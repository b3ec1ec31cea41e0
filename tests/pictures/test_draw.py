"""`netdsl draw`: the graph of boxes (folded activations, left to right, a depth that fits the
page, a colour key, shortcut marks) and the planes of the LeNet-5 figure.

Layouts are tested as geometry, and the SVG as what a reader sees: every text inside the
canvas and clear of every other text, no arrow through a frame's label, no box over another.
The page is A4 at 96 px per inch, the SVG's pixel: 794 × 1123 px (`graph.PAGE`)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.checker.check import check_program
from netdsl.cli import main
from netdsl.language.program import load
from netdsl.pictures import canvas, flow, graph, planes, units

from conftest import SPECS

SVG = "{http://www.w3.org/2000/svg}"
PAGE_W, PAGE_H = 794.0, 1123.0  # A4 portrait at 96 px per inch
TALLEST = 4 * PAGE_H  # no default picture longer than four pages


def spec(path: Path | str, network: str | None = None) -> Checked:
    outcome = check_program(load(SPECS / path), network, {}, None)
    assert outcome.checked is not None
    return outcome.checked


def every_network(paths: list[Path]) -> list[tuple[str, str]]:
    return [(str(p.relative_to(SPECS)), n) for p in paths for n in load(p).networks()]


# ---- the SVG as a reader sees it ----------------------------------------------------------

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def svg_texts(text: str) -> list[tuple[str, Box]]:
    """Every text of an SVG and the box it covers (monospace: 0.6 em a character; ascent 0.8 em,
    descent 0.2 em)."""
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    found = []
    for t in root.iter(f"{SVG}text"):
        x, y, size = float(t.get("x", 0)), float(t.get("y", 0)), float(t.get("font-size", 12))
        width = len(t.text or "") * canvas.CHAR * size
        x0 = {"start": x, "middle": x - width / 2, "end": x - width}[t.get("text-anchor", "start")]
        found.append((t.text or "", (x0, y - 0.8 * size, x0 + width, y + 0.2 * size)))
    return found


def svg_size(text: str) -> tuple[float, float]:
    root = ET.fromstring(text)
    return float(root.get("width", 0)), float(root.get("height", 0))


def apart(a: Box, b: Box) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def check_texts(svg: str) -> list[tuple[str, Box]]:
    """Every text inside the canvas and no two overlapping."""
    width, height = svg_size(svg)
    texts = svg_texts(svg)
    for text, (x0, y0, x1, y1) in texts:
        assert 0 <= x0 and x1 <= width and 0 <= y0 and y1 <= height, (text, (x0, y0, x1, y1), (width, height))
    ordered = sorted(texts, key=lambda t: t[1][1])
    for i, (a, box_a) in enumerate(ordered):
        for b, box_b in ordered[i + 1 :]:
            if box_b[1] >= box_a[3]:
                break
            assert apart(box_a, box_b), (a, b)
    return texts


def drawing_width(laid: graph.Layout) -> float:
    """How wide the boxes, frames and arrows are together."""
    xs = [x for e in laid.edges for x, _ in canvas.sample(e)]
    xs += [x for r in [b.rect for b in laid.boxes] + [f.rect for f in laid.frames] for x in (r.x, r.right)]
    return max(xs) - min(xs)


def check_graph(laid: graph.Layout, checked: Checked, depth: int | None, fold: bool = True) -> str:
    """The geometry of a graph picture: each unit once, no overlaps, frames around their own
    boxes, texts inside and apart, no arrow through a frame's label, the colour key; its SVG."""
    assert [b.name for b in laid.boxes] == [u.name for u in units.units(checked, depth, fold).units]
    rects = [b.rect for b in laid.boxes]
    for i, a in enumerate(rects):
        for j in range(i + 1, len(rects)):
            assert not a.overlaps(rects[j]), (laid.boxes[i].name, laid.boxes[j].name)
    for frame in laid.frames:
        inside = [b for b in laid.boxes if b.name.startswith(frame.path + ".")]
        assert inside
        for box in laid.boxes:
            if box in inside:
                r = box.rect
                assert (
                    frame.rect.x < r.x
                    and r.right < frame.rect.right
                    and frame.rect.y < r.y < r.bottom < frame.rect.bottom
                )
            else:
                assert not frame.rect.overlaps(box.rect), (frame.path, box.name)
    for box in laid.boxes:
        assert 0 <= box.rect.x and box.rect.right <= laid.width and box.rect.bottom <= laid.height
    assert drawing_width(laid) >= 0.5 * (laid.width - 2 * graph.MARGIN)  # no empty half
    points = [p for e in laid.edges for p in canvas.sample(e, 64)]
    svg = canvas.to_svg(graph.draw(laid))
    texts = check_texts(svg)
    drawn = [t for t, _ in texts]
    for label in laid.labels:
        assert label in drawn, label
    where = {t: b for t, b in texts}
    for frame in laid.frames:
        for _, text in frame.parts:  # no arrow through a frame's label
            x0, y0, x1, y1 = where[text]
            assert not [p for p in points if x0 < p[0] < x1 and y0 < p[1] < y1], (frame.path, text)
    kinds = {b.kind for b in laid.boxes}
    assert [k for k, _, _ in laid.key if k in graph.COLOURS] == [k for k in graph.COLOURS if k in kinds]
    for kind in kinds:  # the key names every colour used
        assert graph.KIND_NAMES[kind] in drawn
    return svg


# ---- boxes: a layer with what folds into it -------------------------------------------------


def test_activations_norms_and_dropouts_join_the_layer_before() -> None:
    net = spec("lenet5.net")
    found = units.units(net, None)
    assert [(u.name, u.op, u.shape) for u in found.units] == [
        ("image", "input", (1, 32, 32)),
        ("C1", "conv 5×5 · tanh", (6, 28, 28)),
        ("S2", "avgpool 2×2 /2", (6, 14, 14)),
        ("C3", "conv 5×5 · tanh", (16, 10, 10)),
        ("S4", "avgpool 2×2 /2", (16, 5, 5)),
        ("C5", "conv 5×5 · tanh · flatten", (120,)),
        ("F6", "linear · tanh", (84,)),
        ("out", "linear", (10,)),
    ]
    assert sum(u.params for u in found.units) == net.total_params == 61_706
    assert found.succs == [[1], [2], [3], [4], [5], [6], [7], []]
    every = units.units(net, None, fold=False)
    assert [u.name for u in every.units] == [r.name for r in tree.rows(net, None)]  # 13: a box per layer
    assert len(every.units) == 13


def test_folding_never_hides_a_connection() -> None:
    net = spec("resnet18.net")
    found = units.units(net, None)
    ops = {u.name: u.op for u in found.units}
    assert ops["stem_1.conv1"] == "conv 7×7 /2 · bn · relu"
    assert ops["layer1.0.conv2"] == "conv 3×3 · bn"  # its bn folds in; the add after it does not
    assert ops["layer1.0.add_1"] == "add · relu"
    assert ops["layer2.0.downsample"] == "conv 1×1 /2 · bn"
    assert sum(u.params for u in found.units) == net.total_params
    assert len(found.units) == 32 and len(units.units(net, None, fold=False).units) == 70
    alexnet = {u.name: u.op for u in units.units(spec("alexnet.net"), None).units}
    assert alexnet["conv2"] == "conv 5×5 · 2 groups · relu · lrn"  # not "g2"
    assert alexnet["fc6"] == "linear · relu · dropout"
    zoo = {u.name: (u.op, u.kind) for u in units.units(spec("zoo/efficientnet_b0.net"), 3).units}
    assert zoo["classifier.0"] == ("dropout · linear", "linear")  # first in its seq: joins the layer after


# ---- layouts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "network", "depth", "fold", "direction"),
    [
        ("lenet5.net", None, None, True, "TB"),
        ("lenet5.net", None, None, False, "TB"),
        ("alexnet.net", None, None, True, "TB"),
        ("googlenet.net", None, None, True, "TB"),
        ("googlenet.net", None, 1, True, "LR"),
        ("resnet50.net", None, 2, True, "TB"),
        ("resnet18.net", None, None, True, "LR"),
        ("resnet18.net", None, None, False, "TB"),
        ("coral_cnn.net", "CoralCNN", 3, True, "TB"),
        ("coral_cnn.net", "ORCNN", 2, True, "LR"),
        ("zoo/efficientnet_b0.net", None, 3, True, "TB"),
        ("zoo/googlenet.net", None, None, True, "TB"),  # arrows out of a fork turn above the branches' frames
        ("zoo/mobilenet_v3_small.net", None, 2, True, "TB"),  # a label just as wide as half its frame
    ],
)
def test_graph_layouts(name: str, network: str | None, depth: int | None, fold: bool, direction: str) -> None:
    checked = spec(name, network)
    laid = graph.layout(checked, depth, fold, direction)
    assert laid.sections  # read as series and parallel sections, not the one-column fallback
    check_graph(laid, checked, depth, fold)


def test_left_to_right() -> None:
    laid = graph.layout(spec("lenet5.net"), None, True, "LR")
    rects = [b.rect for b in laid.boxes]
    assert len({r.y for r in rects}) == 1 and len({r.h for r in rects}) == 1  # one row of one height
    assert all(a.right + flow.GAP_Y == b.x for a, b in zip(rects, rects[1:], strict=False))
    for edge, (a, b) in zip(laid.edges, zip(rects, rects[1:], strict=False), strict=True):
        assert edge.points[0] == (a.right, a.y + a.h / 2) and edge.points[-1] == (b.x, b.y + b.h / 2)
    assert laid.width > 3 * laid.height
    top_down = graph.layout(spec("lenet5.net"), None)
    assert [b.lines for b in top_down.boxes] == [b.lines for b in laid.boxes]
    # skips go below the row: ResNet-18's identity shortcut of layer1.1
    net = graph.layout(spec("resnet18.net"), None, True, "LR")
    box = {b.name: b.rect for b in net.boxes}
    start, end = box["layer1.0.add_1"], box["layer1.1.add_1"]
    arc = next(e for e in net.edges if e.points[0] == (start.x + start.w / 2, start.bottom))
    assert arc.points[-1] == (end.x + end.w / 2, end.bottom)
    main_path = [box[f"layer1.1.{n}"] for n in ("conv1", "conv2")]
    assert max(y for _, y in canvas.sample(arc)) > max(r.bottom for r in main_path)


def test_frame_labels_at_the_top_left_to_right_too() -> None:
    for direction in ("TB", "LR"):
        laid = graph.layout(spec("resnet18.net"), None, True, direction)
        frame = next(f for f in laid.frames if f.path == "layer2.0")
        assert frame.label == "layer2.0 · Basic"
        inner = [b.rect for b in laid.boxes if b.name.startswith("layer2.0.")]
        assert min(r.y for r in inner) - frame.rect.y >= flow.FRAME + flow.FRAME_LABEL  # a band for the label


def test_inception_branches_side_by_side_and_joined() -> None:
    laid = graph.layout(spec("googlenet.net"), None)
    box = {b.name: b.rect for b in laid.boxes}
    firsts = [
        box[n] for n in ("inception3a.conv_1", "inception3a.conv_2", "inception3a.conv_4", "inception3a.maxpool_1")
    ]
    assert len({r.y for r in firsts}) == 1 and [r.x for r in firsts] == sorted({r.x for r in firsts})
    concat = box["inception3a.concat_1"]
    assert concat.y > max(box[f"inception3a.conv_{i}"].bottom for i in range(1, 7))
    assert firsts[0].x < concat.x < firsts[-1].x  # centred under its four branches


def test_residual_connections_are_arcs_on_the_right() -> None:
    laid = graph.layout(spec("resnet18.net"), None, False)
    box = {b.name: b.rect for b in laid.boxes}
    start, end = box["layer1.0.relu_2"], box["layer1.1.add_1"]  # the identity skip of layer1.1
    arcs = [e for e in laid.edges if e.points[0] == (start.right, start.y + start.h / 2)]
    assert len(arcs) == 1 and arcs[0].points[-1] == (end.right, end.y + end.h / 2)
    main_path = [box[f"layer1.1.{n}"] for n in ("conv1", "bn1", "relu_1", "conv2", "bn2")]
    assert max(x for x, _ in canvas.sample(arcs[0])) > max(r.right for r in main_path)
    assert len({r.x for r in main_path}) == 1 == len({box["layer1.1.conv1"].x, start.x})  # the main path straight
    downsample = box["layer2.0.downsample"]
    assert downsample.x > box["layer2.0.conv1"].right and downsample.y == box["layer2.0.conv1"].y


def test_shortcuts_marked_on_folded_blocks() -> None:
    laid = graph.layout(spec("resnet50.net"), 2)
    marked = [b for b in laid.boxes if b.shortcut is not None]
    assert [b.name for b in marked] == [f"layer{i}.{j}" for i, n in enumerate((3, 4, 6, 3), 1) for j in range(n)]
    for b in marked:
        xs = [x for x, _ in canvas.sample(b.shortcut)]
        ys = [y for _, y in canvas.sample(b.shortcut)]
        assert min(xs) >= b.rect.right - 1e-9 and max(xs) > b.rect.right + 8
        assert b.rect.y < min(ys) < max(ys) < b.rect.bottom
    assert graph.SHORTCUT_KEY in [k for k, _, _ in laid.key]
    inception = graph.layout(spec("googlenet.net"), 1)  # concat, no add: no mark
    assert not any(b.shortcut for b in inception.boxes) and graph.SHORTCUT_KEY not in [k for k, _, _ in inception.key]


def test_a_graph_that_is_not_sections_falls_back_to_one_column() -> None:
    from conftest import checked

    net = checked(
        "network Tangle {\n input x: [4, 8, 8]\n a = conv(4, 1)\n b = conv(4, 1)\n"
        " c = add(a, b)\n d = a -> relu\n add(c, d)\n}\n"
    )
    laid = graph.layout(net, None)
    assert not laid.sections
    check_graph(laid, net, None)
    assert len({b.rect.x for b in laid.boxes}) == 1


def test_a_long_title_wraps_to_the_drawing() -> None:
    laid = graph.layout(spec("zoo/efficientnet_b0.net"), 3)
    assert laid.heading == [
        "EfficientNetB0(classes=1000,",
        "width=1.0, depth=1.0, resolution=224,",
        "dropout=0.2)",
        "5,288,548 parameters, 0.39 GMACs",
        "blocks folded at depth 3",
    ]
    assert drawing_width(laid) > 0.8 * (laid.width - 2 * graph.MARGIN)  # no empty half beside the boxes


# ---- the default depth fits the page --------------------------------------------------------


def test_the_default_depth_is_the_deepest_that_fits() -> None:
    net = spec("resnet50.net")
    assert graph.fit_depth(net) == 2
    room = graph.FIT_PAGES * PAGE_H
    assert graph.layout(net, 2).height <= room < graph.layout(net, 3).height
    assert graph.fit_depth(spec("lenet5.net")) is None  # every layer fits
    assert graph.fit_depth(spec("googlenet.net")) == 1 and graph.layout(spec("googlenet.net"), 2).height > room
    wide = graph.fit_depth(net, direction="LR")
    assert graph.layout(net, wide, True, "LR").width <= room


def _default_pictures(paths: list[tuple[str, str]], directions: tuple[str, ...] = ("TB",)) -> None:
    """At the default depth: at most four pages long and one page wide, and every geometric check."""
    for path, network in paths:
        net = spec(path, network)
        for direction in directions:
            depth = graph.fit_depth(net, True, direction)
            laid = graph.layout(net, depth, True, direction)
            row = graph.fit_row(laid)
            if row is not None:
                laid = graph.layout(net, depth, True, direction, row)
            check_graph(laid, net, depth)
            if direction == "TB":
                assert laid.height <= TALLEST, (path, network, laid.height)
                assert laid.width <= PAGE_W, (path, network, laid.width)
            else:  # landscape: at most four pages wide, and one page tall
                assert laid.width <= 4 * PAGE_H, (path, network, laid.width)
                assert laid.height <= PAGE_W, (path, network, laid.height)


def test_no_shipped_picture_taller_than_four_pages() -> None:
    _default_pictures(every_network(sorted(SPECS.glob("*.net"))))


def test_left_to_right_wraps_onto_rows_a_page_wide() -> None:
    """GoogLeNet at depth 1 is 3,968 px in one row (3.5 landscape pages): it wraps onto four rows,
    each row's last box joined to the next row's first by a line back between the rows."""
    net = spec("googlenet.net")
    assert graph.fit_depth(net, True, "LR") == 1
    one = graph.layout(net, 1, True, "LR")
    assert one.width > graph.FIT_PAGES * PAGE_H and graph.fit_row(graph.layout(net, 1)) is None  # only LR wraps
    row = graph.fit_row(one)
    assert row == PAGE_H - 2 * graph.MARGIN
    laid = graph.layout(net, 1, True, "LR", row)
    check_graph(laid, net, 1)
    assert (one.rows, laid.rows) == (1, 4)
    assert laid.width <= PAGE_H and laid.height <= PAGE_W
    tops = sorted({round(b.rect.y) for b in laid.boxes})
    assert len(tops) == 4  # four rows of boxes
    rows = [[b for b in laid.boxes if round(b.rect.y) == top] for top in tops]
    assert [b.name for r in rows for b in sorted(r, key=lambda b: b.rect.x)] == [b.name for b in laid.boxes]
    for above, below in zip(rows, rows[1:], strict=False):
        assert max(b.rect.bottom for b in above) + graph.ROW_GAP <= min(b.rect.y for b in below) + 1
        end, start = max(above, key=lambda b: b.rect.x), min(below, key=lambda b: b.rect.x)
        back = [e for e in laid.edges if e.points[0] == (end.rect.right, end.rect.y + end.rect.h / 2)]
        assert len(back) == 1 and back[0].points[-1] == (start.rect.x, start.rect.y + start.rect.h / 2)
        gap = (max(b.rect.bottom for b in above) + min(b.rect.y for b in below)) / 2
        assert any(abs(y - gap) < 1 for _, y in back[0].points)  # it runs back between the rows
    assert len(laid.edges) == len(one.edges) == 18


def test_a_wrapped_row_may_open_with_branches() -> None:
    """Inception-v3 at depth 2, left to right: each Inception block is a section wider than a
    page, a row of its own; the line back from the row above fans out to its branches."""
    net = spec("zoo/inception_v3.net")
    one = graph.layout(net, 2, True, "LR")
    laid = graph.layout(net, 2, True, "LR", graph.fit_row(one))
    check_graph(laid, net, 2)
    assert one.width > 8 * PAGE_H and laid.width < 1.3 * PAGE_H
    assert len(laid.edges) == len(one.edges)
    starts = [b for b in laid.boxes if b.name.startswith("Mixed_5c.branch") and b.name.endswith(("1x1", "_1"))]
    assert len(starts) == 3  # branch1x1, branch5x5_1, branch3x3dbl_1 (and avgpool_1) start the row
    back = [e for e in laid.edges if e.points[-1] in [(b.rect.x, b.rect.y + b.rect.h / 2) for b in starts]]
    assert len(back) == 3 and len({e.points[0] for e in back}) == 1  # from the one concat above


@pytest.mark.slow
def test_no_zoo_picture_taller_than_four_pages() -> None:
    _default_pictures(every_network(sorted((SPECS / "zoo").glob("*.net"))), ("TB", "LR"))


# ---- planes ---------------------------------------------------------------------------------


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
    # as it was: to scale (3.2 px a pixel), one row, each op on one line
    assert [round(p.planes[0].w, 1) for p in laid.placed[:6]] == [102.4, 89.6, 44.8, 32.0, 16.0, 12.0]
    assert len({p.box.y for p in laid.placed}) == 1 and round(laid.width) == 1313
    assert all(planes.op_lines(p.stage.op) == [p.stage.op] for p in laid.placed)
    for i, a in enumerate(laid.placed):
        for b in laid.placed[i + 1 :]:
            assert not a.box.overlaps(b.box)
        assert all(a.box.x <= p.x and p.right <= a.box.right for p in a.planes)
    svg = canvas.to_svg(planes.draw(laid))
    drawn = [t for t, _ in check_texts(svg)]
    for label in laid.labels:
        assert label in drawn


def test_alexnet_planes_fit_a_slide() -> None:
    laid = planes.layout(spec("alexnet.net"))
    stage = {p.stage.name: p for p in laid.placed}
    assert planes.stage_text(stage["conv1"].stage) == "96@55×55"
    assert laid.width <= 2.5 * laid.height  # two rows, not one 6.4:1 strip
    assert laid.rows == (0, 5) and stage["conv3"].box.y > stage["pool2"].box.bottom
    assert stage["pool2"].planes[0].w - stage["pool5"].planes[0].w > 12  # 13×13 and 6×6 differ
    assert planes.op_lines(stage["conv2"].stage.op) == ["conv 5×5", "2 groups, relu, lrn"]
    for i, a in enumerate(laid.placed):
        for b in laid.placed[i + 1 :]:
            assert not a.box.overlaps(b.box)
    picture = planes.draw(laid)
    svg = canvas.to_svg(picture)
    drawn = [t for t, _ in check_texts(svg)]
    assert not [t for t in drawn if re.search(r"\bg\d", t)] and "2 groups, relu" in drawn
    kernels = [s for s in picture.shapes if isinstance(s, canvas.Rect) and s.fill == "#f6c89f"]
    pyramids = [s for s in picture.shapes if isinstance(s, canvas.Polygon)]
    assert len(kernels) == len(pyramids) == 7  # the conv and pool stages in a row after a map
    assert all(k.w >= planes.KERNEL for k in kernels)
    apexes = [max(pyramid.points, key=lambda p: p[0]) for pyramid in pyramids]
    pairs = 0
    for front in [p.planes[-1] for p in laid.placed]:  # each pyramid ends below where the next starts
        inside = [a for a in apexes if front.x <= a[0] <= front.right and front.y <= a[1] <= front.bottom]
        kernel = [k for k in kernels if front.x <= k.x and k.right <= front.right and front.y <= k.y <= front.bottom]
        if inside and kernel:
            assert inside[0][1] > kernel[0].bottom
            pairs += 1
    assert pairs == 5  # image → … → pool2 and conv4 → conv5 → pool5: not one band


def test_planes_refuse_branches() -> None:
    with pytest.raises(planes.NotAChain, match="use --style graph"):
        planes.layout(spec("resnet18.net"))


# ---- the command ----------------------------------------------------------------------------


def test_draw_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "r.svg"
    assert main(["draw", str(SPECS / "resnet50.net"), "-o", str(svg)]) == 0
    assert (
        capsys.readouterr().err.strip()
        == f"wrote {svg}: ResNet50, 21 boxes, 5 frames, blocks folded at depth 2 (graph)"
    )
    assert "blocks folded at depth 2" in [t for t, _ in svg_texts(svg.read_text())]
    assert main(["draw", str(SPECS / "lenet5.net"), "--unfold", "--direction", "LR", "-o", str(svg)]) == 0
    assert "13 boxes" in capsys.readouterr().err
    width, height = svg_size(svg.read_text())
    assert width > 5 * height
    assert main(["draw", str(SPECS / "googlenet.net"), "--direction", "LR", "-o", str(svg)]) == 0
    assert "19 boxes, 0 frames, blocks folded at depth 1 in 4 rows (graph)" in capsys.readouterr().err
    assert svg_size(svg.read_text()) == pytest.approx((1107, 490), abs=1)  # four rows on a landscape page
    png = tmp_path / "l.png"
    assert main(["draw", str(SPECS / "lenet5.net"), "-o", str(png)]) == 0
    with Image.open(png) as image:  # 1.5 pixels a unit
        laid = graph.layout(spec("lenet5.net"), None)
        assert [abs(a - b * 1.5) < 1 for a, b in zip(image.size, (laid.width, laid.height), strict=True)] == [True] * 2
    assert main(["draw", str(SPECS / "lenet5.net"), "-o", str(png), "--dpi", "300"]) == 0
    with Image.open(png) as image:  # 3 pixels a unit
        assert [abs(a - b * 3) < 1 for a, b in zip(image.size, (laid.width, laid.height), strict=True)] == [True] * 2
    pdf = tmp_path / "l.pdf"
    assert main(["draw", str(SPECS / "alexnet.net"), "--style", "planes", "-o", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    planes_laid = planes.layout(spec("alexnet.net"))  # a unit is 1/100 inch: 72/100 points
    media = re.search(rb"MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", pdf.read_bytes())
    assert media is not None
    assert [float(m) for m in media.groups()] == pytest.approx([planes_laid.width * 0.72, planes_laid.height * 0.72])
    capsys.readouterr()
    for flag in (["--unfold"], ["--direction", "LR"], ["--depth", "2"]):
        assert main(["draw", str(SPECS / "lenet5.net"), "--style", "planes", *flag, "-o", str(svg)]) == 2
        assert f"{flag[0]} is for --style graph" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["draw", str(SPECS / "lenet5.net"), "--direction", "RL", "-o", str(svg)])
    assert exit_.value.code == 2 and "invalid choice: 'RL'" in capsys.readouterr().err
