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
SCALE = 3.2  # pixels per input pixel of H and W, for the largest stage
MIN_SIDE, MAX_SIDE = 12.0, 200.0
STEP = 7.0  # offset between planes of a stack
GAP = 64.0  # between stages
MARGIN = 24.0
TOP = 56.0  # room for the title and the stage names
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


def layout(checked: Checked) -> Layout:
    found = stages(checked)
    largest = max((s.shape[1] for s in found if len(s.shape) == 3), default=1)
    scale = min(SCALE, MAX_SIDE / largest)
    sides = [_side(s, scale) for s in found]
    depths = [_planes(s) for s in found]
    tall = max(h + (d - 1) * STEP for (_, h), d in zip(sides, depths, strict=True))
    middle = TOP + 20 + tall / 2
    x = MARGIN
    placed = []
    for stage, (w, h), depth in zip(found, sides, depths, strict=True):
        extent_w, extent_h = w + (depth - 1) * STEP, h + (depth - 1) * STEP
        top = middle - extent_h / 2
        planes = tuple(Rect(x + i * STEP, top + i * STEP, w, h) for i in range(depth))
        words = [stage.name, stage_text(stage)]
        label_w = max(text_width(t, FONT) for t in words)
        box_w = max(extent_w, label_w)
        left = x + (box_w - extent_w) / 2
        planes = tuple(Rect(p.x + left - x, p.y, p.w, p.h) for p in planes)
        box = Rect(x, middle - tall / 2 - 22, box_w, tall + 44)  # every stage's labels on the same two lines
        placed.append(Placed(stage, box, planes))
        op_room = text_width(found[len(placed)].op, FONT - 1) if len(placed) < len(found) else 0.0
        x += box_w + max(GAP, op_room + 16)
    width = x - max(GAP, 0) + MARGIN
    title = f"{checked.graph.network}: {len(found)} stages, {checked.total_params:,} parameters"
    width = max(width, MARGIN * 2 + text_width(title, 14.0))
    height = middle + tall / 2 + 22 + 40 + MARGIN
    labels = [t for p in placed for t in (p.stage.name, stage_text(p.stage))] + [p.stage.op for p in placed[1:]]
    return Layout(title, placed, width, height, labels + [title])


def _side(stage: Stage, scale: float) -> tuple[float, float]:
    if len(stage.shape) == 3:
        return (
            max(MIN_SIDE, min(MAX_SIDE, stage.shape[2] * scale)),
            max(MIN_SIDE, min(MAX_SIDE, stage.shape[1] * scale)),
        )
    features = math.prod(stage.shape)
    return 10.0, max(MIN_SIDE, min(MAX_SIDE, 14 * math.log2(features + 1)))  # a column, longer for more units


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
    """The kernel: a square on the front plane of `before`, lines to a point on the next stack;
    and the op's name between the two stacks."""
    front, target = before.planes[-1], after.planes[-1]
    window = after.stage.window
    tx, ty = target.x + target.w * 0.3, target.y + target.h * 0.45
    if window is not None and len(before.stage.shape) == 3:
        side = max(5.0, min(front.w * 0.6, front.w * window / max(before.stage.shape[2], 1)))
        sx, sy = front.x + front.w * 0.55 - side / 2, front.y + front.h * 0.45 - side / 2
        canvas.add(Rect(sx, sy, side, side, "#f6c89f", "#c96a2b", 1.0))
        canvas.add(Polygon(((sx + side, sy), (sx + side, sy + side), (tx, ty)), "#f6c89f88", "#c96a2b", 0.8))
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
    middle = (before.box.right + after.box.x) / 2
    canvas.add(Label(middle, after.box.bottom + 22, after.stage.op, FONT - 1, anchor="middle", colour="#444444"))
