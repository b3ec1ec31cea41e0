"""`netdsl draw --style planes`: a chain drawn as the LeNet-5 figure draws it — each feature map
a stack of planes sized by its H×W and labelled `6@28×28`, each dense layer a column labelled
with its width, and between them the kernel that makes the next map (a small square on the
last plane, with lines to the next stack) and the op's name.

Only chains are drawn this way (every layer feeds the next); layers that keep the shape
(activations, normalization, dropout, flatten) join the stage before them, whose op they
extend (`conv 5×5, tanh`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from netdsl.checker.analyze import Checked
from netdsl.checker.ir import Node
from netdsl.pictures.canvas import Canvas, Curve, Label, Polygon, Rect, text_width
from netdsl.pictures.units import op_text

FONT = 12.0
LINE = 14.0  # between the lines of an op
SCALE = 3.2  # pixels per input pixel of H and W, for the largest stage
MIN_SIDE, MAX_SIDE = 12.0, 200.0
STEP = 7.0  # offset between planes of a stack
GAP = 64.0  # between stages
MARGIN = 24.0
TOP = 56.0  # room for the title and the stage names
WRAP = 120.0  # an op's text wider than this takes two lines
ASPECT = 5.5  # stages wrap into rows when one row would be wider than this many times its height
ROW_GAP = 24.0
KERNEL = 8.0  # the smallest kernel square drawn
SHAPE_KEEPERS = {"flatten", "dropout", "identity", "batchnorm", "lrn"}


class NotAChain(ValueError):
    """The network branches: the planes style draws chains only."""


@dataclass(frozen=True)
class Stage:
    name: str  # the label of the layer that made it (`C1`)
    op: str  # what made it from the stage before (`conv 5×5, tanh`)
    shape: tuple[int, ...]
    window: int | None  # the kernel's size, for the square drawn on the stage before


@dataclass(frozen=True)
class Placed:
    stage: Stage
    box: Rect  # around its planes (or column) and its labels: what must not overlap
    planes: tuple[Rect, ...]


@dataclass
class Layout:
    title: str
    placed: list[Placed]
    width: float
    height: float
    labels: list[str]
    rows: tuple[int, ...] = (0,)  # the first stage of each row


def stages(checked: Checked) -> list[Stage]:
    """The chain's stages: every layer that changes the shape (with the input first)."""
    nodes = checked.graph.nodes
    for node in nodes[1:]:
        users = [n for n in nodes if node.id in n.inputs]
        if (
            len(node.inputs) != 1
            or node.inputs[0] != node.id - 1
            or (node.id != checked.graph.output and len(users) != 1)
        ):
            raise NotAChain(
                f"{checked.graph.network} is not a chain ({node.name} "
                f"{'joins several values' if len(node.inputs) != 1 else 'branches off'}): "
                "--style planes draws chains of conv, pooling and linear layers; use --style graph"
            )
    found = [Stage(nodes[0].name, "input", nodes[0].shape, None)]
    for node in nodes[1:]:
        if node.op in SHAPE_KEEPERS or (node.shape == found[-1].shape and node.op not in ("conv", "linear")):
            if node.op not in ("flatten", "dropout", "identity"):
                last = found[-1]
                found[-1] = Stage(last.name, f"{last.op}, {node.op}", last.shape, last.window)
            continue
        found.append(Stage(node.name, op_text(node), node.shape, _window(node)))
    return found


def _window(node: Node) -> int | None:
    kernel = node.attrs.get("kernel")
    if kernel is None:
        return None
    return int(kernel[0]) if isinstance(kernel, (tuple, list)) else int(kernel)


def stage_text(stage: Stage) -> str:
    """`6@28×28`, or `84` for a dense layer."""
    if len(stage.shape) == 3:
        return f"{stage.shape[0]}@{stage.shape[1]}×{stage.shape[2]}"
    return "×".join(map(str, stage.shape))


def op_lines(op: str) -> list[str]:
    """An op's text under the gap before its stage: one line when short (`conv 5×5, tanh`), else
    the op that changes the shape, then what joins it (`conv 11×11 /4` / `relu, lrn`)."""
    if text_width(op, FONT - 1) <= WRAP:
        return [op]
    head, _, rest = op.partition(", ")
    head, _, detail = head.partition(" · ")
    return [head] + [", ".join(p for p in (detail, rest) if p)]


def layout(checked: Checked) -> Layout:
    found = stages(checked)
    largest = max((s.shape[1] for s in found if len(s.shape) == 3), default=1)
    scale = min(SCALE, MAX_SIDE / largest)
    sides = [_side(s, scale, largest) for s in found]
    depths = [_planes(s) for s in found]
    tall = max(h + (d - 1) * STEP for (_, h), d in zip(sides, depths, strict=True))
    gaps = [max(GAP, max(text_width(t, FONT - 1) for t in op_lines(s.op)) + 16) for s in found[1:]]
    extents = [
        max(w + (d - 1) * STEP, *(text_width(t, FONT) for t in (s.name, stage_text(s))))
        for s, (w, _), d in zip(found, sides, depths, strict=True)
    ]
    row_height = tall + 44 + 16 + LINE * max(len(op_lines(s.op)) for s in found)
    title = f"{checked.graph.network}: {len(found)} stages, {checked.total_params:,} parameters"
    for count in range(1, len(found) + 1):  # the fewest rows that keep it at most ASPECT times as wide as tall
        rows = _breaks(extents, gaps, count)
        placed = _place(found, sides, depths, extents, gaps, (tall, row_height), rows)
        width = max(max(p.box.right for p in placed) + MARGIN, MARGIN * 2 + text_width(title, 14.0))
        height = placed[-1].box.bottom + 16 + LINE * max(len(op_lines(s.op)) for s in found) + MARGIN
        if width <= ASPECT * height:
            break
    labels = [t for p in placed for t in (p.stage.name, stage_text(p.stage))]
    labels += [t for p in placed[1:] for t in op_lines(p.stage.op)]
    return Layout(title, placed, width, height, labels + [title], rows)


def _breaks(extents: list[float], gaps: list[float], count: int) -> tuple[int, ...]:
    """Where each of `count` rows starts: at the stage whose middle passes the next equal share
    of the one-row width, so that the rows come out about as wide as each other."""
    starts, x = [0], 0.0
    total = sum(extents) + sum(gaps)
    for index, extent in enumerate(extents):
        if index and len(starts) < count and x + extent / 2 > total * len(starts) / count:
            starts.append(index)
        x += extent + (gaps[index] if index < len(gaps) else 0.0)
    return tuple(starts)


def _place(
    found: list[Stage],
    sides: list[tuple[float, float]],
    depths: list[int],
    extents: list[float],
    gaps: list[float],
    heights: tuple[float, float],
    rows: tuple[int, ...],
) -> list[Placed]:
    """The stages left to right, a new row at each of `rows`; `heights`: the tallest stack's, and a row's."""
    tall, row_height = heights
    placed, x = [], MARGIN
    for index, (stage, (w, h), depth) in enumerate(zip(found, sides, depths, strict=True)):
        row = sum(start <= index for start in rows) - 1
        if index and index in rows:
            x = MARGIN + gaps[index - 1]  # a new row: room on its left for the op that starts it
        middle = TOP + 20 + tall / 2 + row * (row_height + ROW_GAP)
        extent_w, extent_h = w + (depth - 1) * STEP, h + (depth - 1) * STEP
        left, top = x + (extents[index] - extent_w) / 2, middle - extent_h / 2
        planes = tuple(Rect(left + i * STEP, top + i * STEP, w, h) for i in range(depth))
        box = Rect(x, middle - tall / 2 - 22, extents[index], tall + 44)  # every stage's labels on the same two lines
        placed.append(Placed(stage, box, planes))
        x += extents[index] + (gaps[index] if index < len(gaps) else 0.0)
    return placed


def _side(stage: Stage, scale: float, largest: int) -> tuple[float, float]:
    if len(stage.shape) == 3:
        return _length(stage.shape[2], scale, largest), _length(stage.shape[1], scale, largest)
    features = math.prod(stage.shape)
    return 10.0, max(MIN_SIDE, min(MAX_SIDE, 14 * math.log2(features + 1)))  # a column, longer for more units


def _length(pixels: int, scale: float, largest: int) -> float:
    """A plane's side: to scale when the largest map fits MAX_SIDE at SCALE (LeNet-5), else on a
    square-root scale, so that small maps still differ (AlexNet's 13×13 and 6×6: 48 and 33 px,
    where to scale they were both the 12 px minimum)."""
    if largest * SCALE <= MAX_SIDE:
        return max(MIN_SIDE, pixels * scale)
    return max(MIN_SIDE, MAX_SIDE * math.sqrt(pixels / largest))


def _planes(stage: Stage) -> int:
    """How many planes to draw: more for more channels, at most 12 (the label gives the count)."""
    if len(stage.shape) != 3:
        return 1
    return max(1, min(stage.shape[0], 12, round(2 * math.log2(stage.shape[0])) or 1))


def draw(laid: Layout) -> Canvas:
    canvas = Canvas(laid.width, laid.height, title=laid.title)
    canvas.add(Label(MARGIN, MARGIN + 4, laid.title, 14.0, bold=True))
    for index, item in enumerate(laid.placed):
        flat = len(item.stage.shape) != 3
        fill = "#eadff4" if flat else "#dbe8f6"
        for plane in item.planes:
            canvas.add(Rect(plane.x, plane.y, plane.w, plane.h, fill, "#3f5f8a", 1.0, 0.0))
        centre = item.box.x + item.box.w / 2
        canvas.add(Label(centre, item.box.y + 12, item.stage.name, FONT, bold=True, anchor="middle"))
        canvas.add(Label(centre, item.box.bottom - 6, stage_text(item.stage), FONT, anchor="middle"))
        if index + 1 < len(laid.placed):
            _connect(canvas, item, laid.placed[index + 1])
    return canvas


def _connect(canvas: Canvas, before: Placed, after: Placed) -> None:
    """The kernel: a square high on the front plane of `before` and a pyramid from it to a point
    low on the next stack — so that the pyramids between small maps make a sawtooth, not one
    band; and the op's name between the two stacks (under the next one's left, when it starts a row)."""
    front, target = before.planes[-1], after.planes[-1]
    window = after.stage.window
    wrapped = after.box.x < before.box.x
    if wrapped:
        _around(canvas, before, after)
    elif window is not None and len(before.stage.shape) == 3:
        side = max(KERNEL, min(front.w * 0.6, front.w * window / max(before.stage.shape[2], 1)))
        sx = front.x + front.w * 0.55 - side / 2
        sy = min(max(front.y + front.h * 0.4 - side / 2, front.y + 1), front.bottom - side - 1)
        canvas.add(Rect(sx, sy, side, side, "#f6c89f", "#c96a2b", 1.0))
        apex = (target.x + target.w * 0.3, target.y + target.h * 0.7)
        corners = ((sx, sy), (sx + side, sy), (sx + side, sy + side), (sx, sy + side))
        canvas.add(Polygon(_hull([*corners, apex]), "#f6c89f88", "#c96a2b", 0.8))
    else:
        canvas.add(
            Curve(
                ((front.right, front.y + front.h / 2), (target.x, target.y + target.h / 2)),
                "#7a7a7a",
                1.0,
                arrow=True,
                dashed=True,
            )
        )
    middle = (MARGIN + after.box.x) / 2 if wrapped else (before.box.right + after.box.x) / 2
    for i, line in enumerate(op_lines(after.stage.op)):
        canvas.add(Label(middle, after.box.bottom + 22 + LINE * i, line, FONT - 1, anchor="middle", colour="#444444"))


def _around(canvas: Canvas, before: Placed, after: Placed) -> None:
    """From the end of one row to the start of the next: a dashed line right, down below the
    row's labels, back left, and down into the next row's first stack."""
    front, target = before.planes[-1], after.planes[0]
    y0, x0 = front.y + front.h / 2, before.box.right + 12
    below = before.box.bottom + 22 + 2 * LINE + 4
    x1, y1 = MARGIN / 2, target.y + target.h / 2
    points = ((front.right, y0), (x0, y0), (x0, below), (x1, below), (x1, y1), (target.x, y1))
    canvas.add(Curve(points, "#7a7a7a", 1.0, arrow=True, dashed=True))


def _hull(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The convex hull (Andrew's monotone chain), counter-clockwise."""
    ordered = sorted(set(points))

    def half(items: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in items:
            while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return tuple(half(ordered) + half(ordered[::-1]))


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
