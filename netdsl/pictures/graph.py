"""`netdsl draw --style graph`: the network top to bottom as boxes (label, op, output shape,
parameters), branches side by side, connections that skip layers as arcs on the right, and
the blocks, repeats and seqs around layers as labelled frames (folded to one box below the
depth asked for, as in `netdsl check --depth`).

The layout reads the graph as nested series and parallel sections: a layer whose value goes
to several layers starts a parallel section, which ends at the first layer that every path
from it reaches (its immediate post-dominator). Inception's four branches, ResNet's main path
and shortcut and ShuffleNet's split all read that way. A graph that does not (a value joined
from two sections at once) falls back to one column of boxes with every other connection an
arc: always drawable, never overlapping. Space for frames is reserved while laying out, so
a frame never runs into a box outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.checker.ir import Node
from netdsl.pictures.canvas import Canvas, Curve, Label, Point, Rect, bounds, sample, text_width

FONT = 12.0
LINE = 15.0
PAD_X, PAD_Y = 9.0, 6.0
GAP_Y = 24.0  # between boxes one above the other: room for the arrow
GAP_X = 22.0  # between branches side by side
FORK = 14.0  # more room above and below a parallel section, where its arrows fan out and in
ARC = 36.0  # room on the right of a section whose input also skips past it
FRAME = 9.0  # a frame's margin around what it holds
FRAME_LABEL = 17.0  # room for a frame's label above what it holds
MARGIN = 24.0
TITLE = 40.0

# (fill, outline) by kind of layer
COLOURS = {
    "conv": ("#dbe8f6", "#3f72af"),
    "pool": ("#e2f0dc", "#4f8f45"),
    "norm": ("#fbf0cc", "#b48a1c"),
    "linear": ("#eadff4", "#7d55a3"),
    "merge": ("#fbe0cc", "#c96a2b"),
    "input": ("#ffffff", "#222222"),
    "block": ("#d5e1f0", "#2f4f78"),
    "other": ("#f1f1f1", "#7a7a7a"),
}
KINDS = {
    "conv": "conv",
    "maxpool": "pool",
    "avgpool": "pool",
    "adaptive_avgpool": "pool",
    "adaptive_maxpool": "pool",
    "global_avgpool": "pool",
    "batchnorm": "norm",
    "lrn": "norm",
    "linear": "linear",
    "coral": "linear",
    "ordinal": "linear",
    "add": "merge",
    "concat": "merge",
    "input": "input",
}
FRAME_COLOURS = ("#f6f8fb", "#eef2f8", "#e6ecf5", "#dfe6f1")


@dataclass(frozen=True)
class Box:
    """One drawn layer, or one folded group."""

    unit: int
    name: str  # the full dotted name
    lines: tuple[str, ...]  # the text in it: its short name, op, output shape, parameters
    kind: str
    rect: Rect


@dataclass(frozen=True)
class Frame:
    path: str
    label: str  # its name inside the frame around it, and what it holds: "0 · Bottleneck"
    rect: Rect
    level: int  # how many frames hold it
    parts: tuple[tuple[float, str], ...] = ()  # where the label is drawn: (x, text), clear of the arrows


@dataclass
class Layout:
    title: str
    boxes: list[Box]
    frames: list[Frame]
    edges: list[Curve]
    width: float
    height: float
    sections: bool = True  # False: the graph did not read as series and parallel sections
    labels: list[str] = field(default_factory=list)  # every text drawn


# ---- the unit graph -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Units:
    rows: list[tree.Row]
    chains: list[tuple[str, ...]]  # the frames around each unit, outermost first
    succs: list[list[int]]
    preds: list[list[int]]
    sink: int


def _units(checked: Checked, depth: int | None) -> _Units:
    rows = tree.rows(checked, depth)
    unit_of: dict[int, int] = {}
    for index, row in enumerate(rows):
        for node in row.nodes:
            unit_of[node] = index
    chains = []
    for row in rows:
        if row.group is not None:
            parts = row.name.split(".")
            chains.append(tuple(".".join(parts[:i]) for i in range(1, len(parts))))
        else:
            chains.append(tree.scope_paths(checked.graph.nodes[row.nodes[0]].scope))
    succs: list[list[int]] = [[] for _ in rows]
    preds: list[list[int]] = [[] for _ in rows]
    for node in checked.graph.nodes:
        v = unit_of[node.id]
        for i in node.inputs:
            u = unit_of[i]
            if u != v and v not in succs[u]:
                succs[u].append(v)
                preds[v].append(u)
    for lists in (succs, preds):
        for items in lists:
            items.sort()
    return _Units(rows, chains, succs, preds, unit_of[checked.graph.output])


def _post_dominators(units: _Units) -> list[int | None]:
    """Each unit's immediate post-dominator (None for the sink and units that never reach it)."""
    count = len(units.rows)
    ipdom: list[int | None] = [None] * count
    reaches = [False] * count
    reaches[units.sink] = True
    for v in range(count - 1, -1, -1):
        if v == units.sink:
            continue
        out = [s for s in units.succs[v] if reaches[s]]
        if not out:
            continue
        reaches[v] = True
        found: int | None = out[0]
        for s in out[1:]:
            found = _meet(found, s, ipdom, units.sink)
        ipdom[v] = found
    return ipdom


def _meet(a: int | None, b: int | None, ipdom: list[int | None], sink: int) -> int | None:
    """The nearest unit that post-dominates both (units are in topological order: a post-dominator
    always comes later)."""
    while a is not None and b is not None and a != b:
        if a < b:
            a = ipdom[a] if a != sink else None
        else:
            b = ipdom[b] if b != sink else None
    return a if a == b else None


# ---- series and parallel sections ---------------------------------------------------------


@dataclass
class _Parallel:
    branches: list[list[int | _Parallel] | None]  # None: the fork's value goes straight to the join


Item = int | _Parallel


class _NotSections(Exception):
    pass


def _sections(units: _Units) -> list[Item] | None:
    ipdom = _post_dominators(units)
    placed: set[int] = set()

    def series(start: int, stop: int | None) -> list[Item]:
        items: list[Item] = []
        v: int | None = start
        while v is not None and v != stop:
            if v in placed:
                raise _NotSections
            placed.add(v)
            items.append(v)
            out = units.succs[v]
            if not out:
                if stop is not None:
                    raise _NotSections  # a dead end inside a section
                return items
            if len(out) == 1:
                v = out[0]
                continue
            join = ipdom[v]
            if join is None:
                raise _NotSections
            branches: list[list[Item] | None] = [None if c == join else series(c, join) for c in out]
            items.append(_Parallel(branches))
            v = join
        if stop is not None and v != stop:
            raise _NotSections
        return items

    try:
        top = series(0, None)
    except (_NotSections, RecursionError):
        return None
    return top if len(placed) == len(units.rows) else None


def _units_in(item: Item | list[Item] | None) -> list[int]:
    if item is None:
        return []
    if isinstance(item, int):
        return [item]
    if isinstance(item, _Parallel):
        return [u for branch in item.branches for u in _units_in(branch)]
    return [u for part in item for u in _units_in(part)]


def _common(chains: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    if not chains:
        return ()
    first = chains[0]
    size = min(len(c) for c in chains)
    for i in range(size):
        if any(c[i] != first[i] for c in chains):
            return first[:i]
    return first[:size]


# ---- geometry -----------------------------------------------------------------------------


class _Geometry:
    """Sizes, then positions, of nested series and parallel sections of boxes of one width."""

    def __init__(self, units: _Units, heights: list[float], width: float) -> None:
        self.units, self.heights, self.width = units, heights, width
        self.rects: dict[int, Rect] = {}

    def chain(self, item: Item | list[Item]) -> tuple[str, ...]:
        return _common([self.units.chains[u] for u in _units_in(item)])

    # sizes: (left of the axis, right of the axis, height)
    def series_size(self, items: list[Item], context: tuple[str, ...]) -> tuple[float, float, float]:
        left = right = height = 0.0
        chains = [self.chain(i) for i in items]
        for item, chain in zip(items, chains, strict=True):
            to_left, to_right, tall = self.item_size(item, chain)
            pad = FRAME * (len(chain) - len(context))
            left, right, height = max(left, to_left + pad), max(right, to_right + pad), height + tall
        return left, right, height + sum(self.gaps(chains, context))

    def gaps(self, chains: list[tuple[str, ...]], context: tuple[str, ...]) -> list[float]:
        """The room above the first item, between items, and below the last: frames open and close there."""
        ends = [context, *chains, context]
        gaps = []
        for i, (above, below) in enumerate(zip(ends, ends[1:], strict=False)):
            shared = len(_common([above, below]))
            room = (len(above) - shared) * FRAME + (len(below) - shared) * (FRAME + FRAME_LABEL)
            gaps.append(room + (GAP_Y if 0 < i < len(chains) else 0.0))
        return gaps

    def item_size(self, item: Item, chain: tuple[str, ...]) -> tuple[float, float, float]:
        if isinstance(item, int):
            return self.width / 2, self.width / 2, self.heights[item]
        sizes = [self.series_size(b, chain) if b else None for b in item.branches]
        drawn = [s for s in sizes if s is not None]
        inner = sum(s[0] + s[1] for s in drawn) + GAP_X * (len(drawn) - 1)
        axis = self.axis(item, sizes, inner)
        arc = ARC if None in item.branches else 0.0
        return axis, inner - axis + arc, max(s[2] for s in drawn) + 2 * FORK

    def axis(self, item: _Parallel, sizes: list[tuple[float, float, float] | None], inner: float) -> float:
        """Where a section's input and output line up: on its first branch when that is the one
        longest branch (ResNet's main path stays straight), else in the middle (Inception)."""
        lengths = [len(_units_in(b)) for b in item.branches]
        first = next(i for i, b in enumerate(item.branches) if b)
        if lengths[first] == max(lengths) and lengths.count(max(lengths)) == 1:
            return sizes[first][0]  # type: ignore[index]
        return inner / 2

    # positions
    def place_series(self, items: list[Item], context: tuple[str, ...], axis: float, top: float) -> None:
        chains = [self.chain(i) for i in items]
        gaps = self.gaps(chains, context)
        y = top + gaps[0]
        for index, (item, chain) in enumerate(zip(items, chains, strict=True)):
            _, _, height = self.item_size(item, chain)
            self.place_item(item, chain, axis, y)
            y += height + gaps[index + 1]

    def place_item(self, item: Item, chain: tuple[str, ...], axis: float, top: float) -> None:
        if isinstance(item, int):
            self.rects[item] = Rect(axis - self.width / 2, top, self.width, self.heights[item])
            return
        sizes = [self.series_size(b, chain) if b else None for b in item.branches]
        drawn = [s for s in sizes if s is not None]
        inner = sum(s[0] + s[1] for s in drawn) + GAP_X * (len(drawn) - 1)
        x = axis - self.axis(item, sizes, inner)
        for branch, size in zip(item.branches, sizes, strict=True):
            if branch and size:
                self.place_series(branch, chain, x + size[0], top + FORK)
                x += size[0] + size[1] + GAP_X


# ---- text ---------------------------------------------------------------------------------


def _pair(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return str(value[0]) if len(set(value)) == 1 else "×".join(map(str, value))
    return str(value)


def op_text(node: Node) -> str:
    """`conv 3×3 /2`, `maxpool 3×3 /2`, `linear`: the op and what sets its window."""
    attrs = node.attrs
    if "kernel" in attrs and node.op in ("conv", "maxpool", "avgpool"):
        kernel = _pair(attrs["kernel"])
        text = f"{node.op} {kernel}×{kernel}" if "×" not in kernel else f"{node.op} {kernel}"
        stride = _pair(attrs.get("stride") or attrs["kernel"])  # pooling's stride defaults to its kernel
        if stride != "1":
            text += f" /{stride}"
        if node.op == "conv" and attrs.get("groups", 1) != 1:
            text += f" g{attrs['groups']}"
        return text
    return node.op


def _short(name: str, chain: tuple[str, ...]) -> str:
    """A box's name inside its innermost frame; a bare position keeps its parent (`layer1.0`)."""
    if not chain:
        return name
    short = name[len(chain[-1]) + 1 :]
    if short.isdigit():
        return name.rsplit(".", 2)[-2] + "." + short if name.count(".") else name
    return short


def _box_lines(row: tree.Row, chain: tuple[str, ...], checked: Checked) -> tuple[str, ...]:
    from netdsl.report.render import shape_text

    node = checked.graph.nodes[row.nodes[0]]
    op = row.op if row.folded else op_text(node)
    lines = [_short(row.name, chain), op, shape_text(row.output_shape)]
    if row.params:
        lines.append(f"{row.params:,} params")
    return tuple(lines)


def frame_label(group: tree.Group, found: dict[str, tree.Group], chain: tuple[str, ...]) -> tuple[str, str]:
    """A frame's name inside the frame around it (`chain`: the frames around it) and what it holds."""
    return _short(group.path, chain), tree.group_op(group, found)


# ---- the layout ---------------------------------------------------------------------------


def layout(checked: Checked, depth: int | None) -> Layout:
    units = _units(checked, depth)
    found = tree.groups(checked)
    lines = [_box_lines(row, chain, checked) for row, chain in zip(units.rows, units.chains, strict=True)]
    frames = sorted({g for chain in units.chains for g in chain}, key=lambda p: (p.count("."), p))
    labels = {path: frame_label(found[path], found, tree.scope_paths(tuple(path.split(".")))[:-1]) for path in frames}
    # boxes of one width, wide enough for their text, and for each piece of a frame's label on
    # one side of the arrow down the frame's middle
    width = max(
        [2 * PAD_X + text_width(t, FONT) for ls in lines for t in ls]
        + [2 * text_width(t, FONT - 1) + 24 - 2 * FRAME for pair in labels.values() for t in pair]
    )
    heights = [2 * PAD_Y + LINE * len(ls) for ls in lines]
    geometry = _Geometry(units, heights, width)
    top = _sections(units)
    sections = top is not None
    if top is None:
        top = list(range(len(units.rows)))
    left, right, height = geometry.series_size(top, ())
    geometry.place_series(top, (), MARGIN + left, MARGIN + TITLE)
    boxes = [
        Box(u, row.name, lines[u], "block" if row.folded else KINDS.get(row.op, "other"), geometry.rects[u])
        for u, row in enumerate(units.rows)
    ]
    frame_rects = _frame_rects(frames, units, geometry.rects)
    edges = _edges(units, geometry.rects, [r.right for r in frame_rects.values()])
    placed_frames = _frames(labels, frame_rects, edges)
    every = [b.rect for b in boxes] + [f.rect for f in placed_frames]
    reach = max([r.right for r in every] + [max((p[0] for e in edges for p in sample(e)), default=0.0)])
    title = _title(checked, depth)
    name, _, figures = title.partition(": ")
    total_width = max(reach + MARGIN, MARGIN * 2 + max(text_width(name, 14.0), text_width(figures, 12.0)))
    text = [t for b in boxes for t in b.lines] + [t for f in placed_frames for _, t in f.parts] + [name, figures]
    return Layout(title, boxes, placed_frames, edges, total_width, MARGIN + TITLE + height + MARGIN, sections, text)


def _title(checked: Checked, depth: int | None) -> str:
    from netdsl.report.render import report_title

    macs = checked.total_macs
    shown = f"{macs / 1e9:.2f} GMACs" if macs >= 1e8 else f"{macs / 1e6:.2f} MMACs" if macs >= 1e5 else f"{macs:,} MACs"
    fold = "" if depth is None or depth >= tree.max_depth(checked) else f", blocks folded at depth {depth}"
    return f"{report_title(checked).plain}: {checked.total_params:,} parameters, {shown}{fold}"


def _frame_rects(paths: list[str], units: _Units, rects: dict[int, Rect]) -> dict[str, Rect]:
    """Frames from the innermost out, each around its boxes and the frames inside it."""
    placed: dict[str, Rect] = {}
    for path in sorted(paths, key=lambda p: -p.count(".")):
        inside = [rects[u] for u, chain in enumerate(units.chains) if chain and chain[-1] == path]
        inside += [r for p, r in placed.items() if p.startswith(path + ".") and p.count(".") == path.count(".") + 1]
        around = bounds(inside)
        placed[path] = Rect(
            around.x - FRAME, around.y - FRAME - FRAME_LABEL, around.w + 2 * FRAME, around.h + 2 * FRAME + FRAME_LABEL
        )
    return placed


def _frames(labels: dict[str, tuple[str, str]], placed: dict[str, Rect], edges: list[Curve]) -> list[Frame]:
    points = [p for edge in edges for p in sample(edge, 24)]
    return [
        Frame(path, " · ".join(labels[path]), rect, path.count("."), _label_parts(labels[path], rect, points))
        for path, rect in sorted(placed.items(), key=lambda item: (item[0].count("."), item[1].y))
    ]


def _label_parts(label: tuple[str, str], rect: Rect, points: list[Point]) -> tuple[tuple[float, str], ...]:
    """Where a frame's label goes in the band at its top: whole in the first stretch no arrow
    crosses, else its two pieces in two such stretches, else whole at the left."""
    crossing = sorted(x for x, y in points if rect.y - 1 <= y <= rect.y + FRAME_LABEL + 1 and rect.x < x < rect.right)
    free, start = [], rect.x + 6
    for x in crossing:
        if x - 6 > start:
            free.append((start, x - 6))
        start = max(start, x + 6)
    if rect.right - 6 > start:
        free.append((start, rect.right - 6))
    whole = " · ".join(label)
    for a, b in free:
        if b - a >= text_width(whole, FONT - 1):
            return ((a, whole),)
    spots: list[tuple[float, str]] = []
    for text in label:
        spot = next(
            (s for s in free if s[1] - s[0] >= text_width(text, FONT - 1) and s[0] not in [x for x, _ in spots]), None
        )
        if spot is None:
            return ((rect.x + 6, whole),)
        spots.append((spot[0], text))
    return tuple(spots)


def _edges(units: _Units, rects: dict[int, Rect], borders: list[float]) -> list[Curve]:
    """Every connection; `borders`: the frames' right sides, which arcs keep clear of."""
    edges = []
    for u, targets in enumerate(units.succs):
        for v in targets:
            edges.append(_edge(rects[u], rects[v], [r for k, r in rects.items() if k not in (u, v)], borders))
    return edges


def _edge(a: Rect, b: Rect, others: list[Rect], borders: Sequence[float] = ()) -> Curve:
    """From the bottom of `a` to the top of `b`: straight down, then an S-curve in the last gap
    (a short branch into its join); or the S-curve first, then straight down; or one long
    S-curve; or, when each of those would cross another box, an arc on the right past every box
    between."""
    x0, y0 = a.x + a.w / 2, a.bottom
    x1, y1 = b.x + b.w / 2, b.y
    if y1 > y0:
        band = min(y1 - y0, FORK + GAP_Y)
        for turn_from, turn_to in ((y1 - band, y1), (y0, y0 + band), (y0, y1)):
            middle = (turn_from + turn_to) / 2
            points: list[Point] = [(x0, y0)]
            if turn_from > y0:
                points += [(x0, turn_from), (x0, turn_from), (x0, turn_from)]
            points += [(x0, middle), (x1, middle), (x1, turn_to)]
            if turn_to < y1:
                points += [(x1, y1), (x1, y1), (x1, y1)]
            curve = Curve(tuple(points), cubic=True)
            if not any(_crosses(curve, r) for r in others):
                return curve
    between = [r for r in others if r.bottom > a.y and r.y < b.bottom]
    x = max([a.right, b.right] + [r.right for r in between]) + ARC / 2
    while any(abs(x - border) < 5 for border in borders):  # not along a frame's side, where it would vanish
        x = min(border for border in borders if abs(x - border) < 5) + 6
    start: Point = (a.right, a.y + a.h / 2)
    end: Point = (b.right, b.y + b.h / 2)
    bend = min(ARC / 2, max(4.0, abs(end[1] - start[1]) / 4))
    down = 1.0 if end[1] >= start[1] else -1.0
    return Curve(
        (
            start,
            (x, start[1]),
            (x, start[1]),
            (x, start[1] + down * bend),
            (x, start[1] + down * bend),
            (x, end[1] - down * bend),
            (x, end[1] - down * bend),
            (x, end[1]),
            (x, end[1]),
            end,
        ),
        cubic=True,
    )


def _crosses(curve: Curve, rect: Rect) -> bool:
    inner = Rect(rect.x - 2, rect.y - 2, rect.w + 4, rect.h + 4)
    return any(inner.x < x < inner.right and inner.y < y < inner.bottom for x, y in sample(curve, 16))


# ---- drawing ------------------------------------------------------------------------------


def draw(laid: Layout) -> Canvas:
    canvas = Canvas(laid.width, laid.height, title=laid.title)
    name, _, figures = laid.title.partition(": ")
    canvas.add(Label(MARGIN, MARGIN + 4, name, 14.0, bold=True), Label(MARGIN, MARGIN + 22, figures, 12.0))
    for frame in laid.frames:
        r = frame.rect
        canvas.add(
            Rect(
                r.x,
                r.y,
                r.w,
                r.h,
                FRAME_COLOURS[min(frame.level, len(FRAME_COLOURS) - 1)],
                "#9aa7ba",
                1.0,
                6.0,
                dashed=True,
            )
        )
        for x, text in frame.parts:
            canvas.add(Label(x, r.y + FRAME_LABEL - 4, text, FONT - 1, colour="#3c4a5e"))
    for edge in laid.edges:
        canvas.add(edge)
    for box in laid.boxes:
        fill, outline = COLOURS[box.kind]
        r = box.rect
        canvas.add(Rect(r.x, r.y, r.w, r.h, fill, outline, 2.0 if box.kind == "block" else 1.2, 4.0))
        for i, line in enumerate(box.lines):
            canvas.add(
                Label(
                    r.x + r.w / 2,
                    r.y + PAD_Y + LINE * (i + 1) - 3.5,
                    line,
                    FONT,
                    bold=i == 0,
                    anchor="middle",
                    colour="#222222" if i < 2 else "#555555",
                )
            )
    return canvas
