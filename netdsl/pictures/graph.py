"""`netdsl draw --style graph`: the network as boxes (label, op, output shape, parameters),
top to bottom or left to right, branches side by side, connections that skip layers as arcs
beside them, and the blocks, repeats and seqs around layers as labelled frames (folded to one
box below the depth asked for, as in `netdsl check --depth`). The boxes are the units of
`netdsl.pictures.units`: by default a layer with the activations, normalizations and dropouts
that follow it.

The layout is computed top to bottom in "flow" coordinates (x across the flow, y along it:
`netdsl.pictures.flow`) and turned a quarter for left to right, so one code path draws both. Space for frames and
their labels is reserved while laying out, so a frame never runs into a box outside it. A
graph that does not read as series and parallel sections falls back to one column of boxes
with every other connection an arc: always drawable, never overlapping.

`fit_depth` picks the default depth: the deepest whose picture fits a page (`PAGE`, A4 at 96
px per inch, the SVG's pixel), else the shallowest. Left to right, a picture still longer than
that (Inception-v3, GoogLeNet at depth 1) wraps onto rows a page wide (`fit_row`), each row's
end joined to the next row's start by a line that runs back between the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.pictures import flow
from netdsl.pictures.canvas import Canvas, Curve, Label, Point, Rect, sample, text_width
from netdsl.pictures.flow import FRAME, FRAME_LABEL, GAP_Y, Geometry
from netdsl.pictures.units import Item, Unit, Units, sections, units

__all__ = ["PAGE", "Layout", "draw", "fit_depth", "fit_row", "layout"]

PAGE = (794.0, 1123.0)  # A4 portrait at 96 px per inch (210 × 297 mm), in SVG pixels
FIT_PAGES = 2.5  # the default depth: the deepest whose picture is at most this many pages long

FONT = 12.0
LINE = 15.0
PAD_X, PAD_Y = 9.0, 6.0
MARGIN = 24.0
TITLE = 40.0
KEY = 18.0  # a line of the colour key
HEADING = 320.0  # the title's network is wrapped to the drawing's width, or this
ROW_GAP = 44.0  # between wrapped rows, left to right: room for the line back to the next row's start

# (fill, outline) by kind of box, and the name the key gives each kind
COLOURS = {
    "input": ("#ffffff", "#222222"),
    "conv": ("#dbe8f6", "#3f72af"),
    "pool": ("#e2f0dc", "#4f8f45"),
    "norm": ("#fbf0cc", "#b48a1c"),
    "linear": ("#eadff4", "#7d55a3"),
    "merge": ("#fbe0cc", "#c96a2b"),
    "block": ("#d5e1f0", "#2f4f78"),
    "other": ("#f1f1f1", "#7a7a7a"),
}
KIND_NAMES = {
    "input": "input",
    "conv": "conv",
    "pool": "pooling",
    "norm": "normalization",
    "linear": "dense",
    "merge": "add, concat",
    "block": "folded block",
    "other": "other",
}
KINDS = {
    "conv": "conv",
    "maxpool": "pool",
    "avgpool": "pool",
    "adaptive_avgpool": "pool",
    "adaptive_maxpool": "pool",
    "global_avgpool": "pool",
    "batchnorm": "norm",
    "layernorm": "norm",
    "layernorm2d": "norm",
    "lrn": "norm",
    "linear": "linear",
    "coral": "linear",
    "ordinal": "linear",
    "add": "merge",
    "concat": "merge",
    "mul": "merge",
    "input": "input",
    "block": "block",
}
FRAME_COLOURS = ("#f6f8fb", "#eef2f8", "#e6ecf5", "#dfe6f1")
SHORTCUT_KEY = "shortcut inside a folded block"


@dataclass(frozen=True)
class Box:
    """One drawn unit: a layer (with what folds into it), or one folded group."""

    unit: int
    name: str  # the full dotted name
    lines: tuple[str, ...]  # the text in it: its short name, op, output shape and parameters
    kind: str  # a key of COLOURS
    rect: Rect
    shortcut: Curve | None = None  # the mark of a residual connection inside a folded block


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
    key: list[tuple[str, Rect, Rect]] = field(default_factory=list)  # (kind, swatch, where its name is)
    direction: str = "TB"
    heading: list[str] = field(default_factory=list)  # the title's lines
    rows: int = 1  # left to right: the rows it wraps onto


# ---- text ---------------------------------------------------------------------------------


def _short(name: str, chain: tuple[str, ...]) -> str:
    """A box's name inside its innermost frame; a bare position keeps its parent (`layer1.0`)."""
    if not chain:
        return name
    short = name[len(chain[-1]) + 1 :]
    if short.isdigit():
        return name.rsplit(".", 2)[-2] + "." + short if name.count(".") else name
    return short


def _box_lines(unit: Unit) -> tuple[str, ...]:
    from netdsl.report.render import shape_text

    shape = shape_text(unit.shape)
    return (_short(unit.name, unit.chain), unit.op, f"{shape} · {unit.params:,} params" if unit.params else shape)


def frame_label(group: tree.Group, found: dict[str, tree.Group], chain: tuple[str, ...]) -> tuple[str, str]:
    """A frame's name inside the frame around it (`chain`: the frames around it) and what it holds."""
    return _short(group.path, chain), tree.group_op(group, found)


def _kind(unit: Unit) -> str:
    return KINDS.get(unit.kind, "other")


# ---- the layout ---------------------------------------------------------------------------


def layout(
    checked: Checked, depth: int | None, fold: bool = True, direction: str = "TB", row: float | None = None
) -> Layout:
    """The picture's geometry at `depth` (None: every layer); `fold`: activations, normalizations
    and dropouts join the box before them; `direction`: TB (top to bottom) or LR; `row` (LR only):
    wrap onto rows at most this long, breaking only between sections outside every frame."""
    graph = units(checked, depth, fold)
    across = direction == "LR"
    found = tree.groups(checked)
    lines = [_box_lines(u) for u in graph.units]
    paths = sorted({g for u in graph.units for g in u.chain}, key=lambda p: (p.count("."), p))
    labels = {path: frame_label(found[path], found, tree.scope_paths(tuple(path.split(".")))[:-1]) for path in paths}
    # wide enough for each piece of a frame's label on one side of the arrow down the frame's middle
    least = max([2 * text_width(t, FONT - 1) + 28 - 2 * FRAME for pair in labels.values() for t in pair], default=0.0)
    widths = [max(2 * PAD_X + text_width(t, FONT) for t in ls) for ls in lines]
    heights = [2 * PAD_Y + LINE * len(ls) for ls in lines]
    if across:
        geometry = Geometry(graph, [max(w, least) for w in widths], max(heights), True)
    else:
        geometry = Geometry(graph, heights, max([*widths, least]), False)
    order = sections(graph)
    top = order if order is not None else list(range(len(graph.units)))
    rows = _rows(geometry, top, row) if across and row is not None and order is not None else [top]
    starts, x = [], 0.0
    for items in rows:
        left, right, _ = geometry.series_size(items, ())
        geometry.place_series(items, (), x + left, 0.0)
        starts.append(x)
        x += left + right + ROW_GAP
    frame_rects = geometry.frame_rects(paths)
    edges = flow.edges(graph, geometry.rects, [r.right for r in frame_rects.values()])
    if len(rows) > 1:
        edges = _wrapped(graph, geometry, rows, starts, edges)
    marks = {u: flow.shortcut(geometry.rects[u]) for u, unit in enumerate(graph.units) if unit.residual}
    turn = _turn if across else (lambda r: r)
    bend = _turn_curve if across else (lambda c: c)
    rects = {u: turn(r) for u, r in geometry.rects.items()}
    edges = [bend(e) for e in edges]
    boxes = [
        Box(u, unit.name, lines[u], _kind(unit), rects[u], bend(marks[u]) if u in marks else None)
        for u, unit in enumerate(graph.units)
    ]
    frames = _frames(labels, {p: turn(r) for p, r in frame_rects.items()}, edges)
    title = _title(checked, depth)
    return _framed(Layout(title, boxes, frames, edges, 0.0, 0.0, order is not None, [], [], direction, [], len(rows)))


def _rows(geometry: Geometry, items: list[Item], row: float) -> list[list[Item]]:
    """The series cut into runs no longer than `row` (a longer section is a run of its own), as
    even as that many runs allow; a cut only where no frame spans it."""
    chains = [geometry.chain(i) for i in items]
    lengths = [geometry.item_size(i, c)[2] for i, c in zip(items, chains, strict=True)]
    cuttable = [not flow.common([a, b]) for a, b in zip(chains, chains[1:], strict=False)]

    def length(a: int, b: int) -> float:
        return sum(lengths[a:b]) + sum(geometry.gaps(chains[a:b], ()))

    def cut(limit: float) -> list[list[Item]]:
        runs, start = [], 0
        for i in range(1, len(items)):
            if cuttable[i - 1] and length(start, i + 1) > limit:
                runs.append(items[start:i])
                start = i
        return [*runs, items[start:]]

    most = len(cut(row))
    total = length(0, len(items))
    even = total / most  # the shortest limit that still gives no more runs than `row` does
    while even < row and len(cut(even)) > most:
        even += 8.0
    return cut(min(even, row))


def _wrapped(
    graph: Units, geometry: Geometry, rows: list[list[Item]], starts: list[float], edges: list[Curve]
) -> list[Curve]:
    """The connections from one row to the next drawn as lines back between the rows."""
    from netdsl.pictures.units import units_in

    row_of = {u: k for k, items in enumerate(rows) for u in units_in(items)}
    pairs = [(u, v) for u, targets in enumerate(graph.succs) for v in targets]
    out = []
    for (u, v), edge in zip(pairs, edges, strict=True):
        if row_of[u] == row_of[v]:
            out.append(edge)
        else:
            out.append(flow.wrap(geometry.rects[u], geometry.rects[v], starts[row_of[v]] - ROW_GAP / 2))
    return out


def _turn(rect: Rect) -> Rect:
    return replace(rect, x=rect.y, y=rect.x, w=rect.h, h=rect.w)


def _turn_curve(curve: Curve) -> Curve:
    return replace(curve, points=tuple((y, x) for x, y in curve.points))


def _framed(laid: Layout) -> Layout:
    """The title and the colour key above the drawing, and margins around: every shape moved
    into place and the canvas sized to hold it."""
    content = [b.rect for b in laid.boxes] + [f.rect for f in laid.frames]
    points = [p for e in laid.edges + [b.shortcut for b in laid.boxes if b.shortcut] for p in sample(e)]
    x0 = min([r.x for r in content] + [x for x, _ in points])
    y0 = min([r.y for r in content] + [y for _, y in points])
    x1 = max([r.right for r in content] + [x for x, _ in points])
    y1 = max([r.bottom for r in content] + [y for _, y in points])
    heading = _heading(laid.title, max(x1 - x0, HEADING))
    width = max(x1 - x0, *(text_width(t, 14.0) for t in heading))
    kinds = [k for k in COLOURS if any(b.kind == k for b in laid.boxes)]
    if any(b.shortcut for b in laid.boxes):
        kinds.append(SHORTCUT_KEY)
    key = _key(kinds, width)
    title = TITLE + 18 * (len(heading) - 2)
    header = title + (max(r.bottom for _, _, r in key) + 12 if key else 0.0)
    dx, dy = MARGIN - x0, MARGIN + header - y0
    key = [(k, _moved(s, MARGIN, MARGIN + title), _moved(t, MARGIN, MARGIN + title)) for k, s, t in key]
    laid.boxes = [
        replace(b, rect=_moved(b.rect, dx, dy), shortcut=_moved_curve(b.shortcut, dx, dy) if b.shortcut else None)
        for b in laid.boxes
    ]
    laid.frames = [
        replace(f, rect=_moved(f.rect, dx, dy), parts=tuple((x + dx, t) for x, t in f.parts)) for f in laid.frames
    ]
    laid.edges = [_moved_curve(e, dx, dy) for e in laid.edges]
    laid.key = key
    laid.width = MARGIN * 2 + max(width, max((t.right for _, _, t in key), default=0.0) - MARGIN)
    laid.height = MARGIN * 2 + header + (y1 - y0)
    laid.labels = [t for b in laid.boxes for t in b.lines] + [t for f in laid.frames for _, t in f.parts]
    laid.heading = heading
    laid.labels += heading + [KIND_NAMES.get(k, k) for k, _, _ in key]
    return laid


def _heading(title: str, width: float = 0.0) -> list[str]:
    """The title's lines: the network (its arguments wrapped to `width` when wider than the
    drawing: no empty half beside a narrow network), its figures, and how deep its blocks are folded."""
    name, _, figures = title.partition(": ")
    figures, folded, depth = figures.partition(", blocks folded")
    lines = [""]
    for i, piece in enumerate(name.split(", ")):
        piece += "," if i < name.count(", ") else ""
        if lines[-1] and text_width(f"{lines[-1]} {piece}", 14.0) > width:
            lines.append(piece)
        else:
            lines[-1] = f"{lines[-1]} {piece}" if lines[-1] else piece
    return [*lines, figures] + ([f"blocks folded{depth}"] if folded else [])


def _key(kinds: list[str], width: float) -> list[tuple[str, Rect, Rect]]:
    """A swatch and a name for each kind, in lines no wider than `width` (relative to the key's corner)."""
    out: list[tuple[str, Rect, Rect]] = []
    x = y = 0.0
    for kind in kinds:
        text = KIND_NAMES.get(kind, kind)
        span = 18 + text_width(text, FONT - 1)
        if x > 0 and x + span > width:
            x, y = 0.0, y + KEY
        out.append((kind, Rect(x, y, 13, 11), Rect(x + 18, y - 1, text_width(text, FONT - 1), 13)))
        x += span + 16
    return out


def _moved(rect: Rect, dx: float, dy: float) -> Rect:
    return replace(rect, x=rect.x + dx, y=rect.y + dy)


def _moved_curve(curve: Curve, dx: float, dy: float) -> Curve:
    return replace(curve, points=tuple((x + dx, y + dy) for x, y in curve.points))


def _title(checked: Checked, depth: int | None) -> str:
    from netdsl.report.render import report_title

    macs = checked.total_macs
    shown = f"{macs / 1e9:.2f} GMACs" if macs >= 1e8 else f"{macs / 1e6:.2f} MMACs" if macs >= 1e5 else f"{macs:,} MACs"
    folded = "" if depth is None or depth >= tree.max_depth(checked) else f", blocks folded at depth {depth}"
    return f"{report_title(checked).plain}: {checked.total_params:,} parameters, {shown}{folded}"


def _frames(labels: dict[str, tuple[str, str]], placed: dict[str, Rect], edges: list[Curve]) -> list[Frame]:
    points = [p for edge in edges for p in sample(edge, 24)]
    return [
        Frame(path, " · ".join(labels[path]), rect, path.count("."), _label_parts(labels[path], rect, points))
        for path, rect in sorted(placed.items(), key=lambda item: (item[0].count("."), item[1].y, item[1].x))
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


# ---- the default depth --------------------------------------------------------------------


def fit_depth(checked: Checked, fold: bool = True, direction: str = "TB", pages: float = FIT_PAGES) -> int | None:
    """The deepest depth whose picture fits `pages` pages along the flow (A4 portrait top to
    bottom, landscape left to right); None when every layer fits; else the shallowest, depth 1."""
    room = pages * PAGE[1]
    deepest = tree.max_depth(checked)
    for depth in [None, *range(deepest - 1, 0, -1)]:
        graph = units(checked, depth, fold)
        if _longest(graph) * (GAP_Y + 2 * PAD_Y + 2 * LINE) - GAP_Y > room:
            continue  # a chain of boxes longer than the page, whatever the layout
        laid = layout(checked, depth, fold, direction)
        if (laid.width if direction == "LR" else laid.height) <= room:
            return depth
    return 1


def _longest(graph: Units) -> int:
    """The number of boxes on the longest path (units are in topological order)."""
    longest = [1] * len(graph.units)
    for u, targets in enumerate(graph.succs):
        for v in targets:
            longest[v] = max(longest[v], longest[u] + 1)
    return max(longest, default=0)


def fit_row(laid: Layout) -> float | None:
    """Left to right, a picture longer than FIT_PAGES pages at its depth wraps onto rows a
    landscape page wide; None: it stays one row (or runs top to bottom)."""
    if laid.direction != "LR" or laid.width <= FIT_PAGES * PAGE[1]:
        return None
    return PAGE[1] - 2 * MARGIN


# ---- drawing ------------------------------------------------------------------------------


def draw(laid: Layout) -> Canvas:
    canvas = Canvas(laid.width, laid.height, title=laid.title)
    names = len(laid.heading) - (2 if laid.heading[-1].startswith("blocks folded") else 1)
    for i, line in enumerate(laid.heading):
        canvas.add(Label(MARGIN, MARGIN + 4 + 18 * i, line, 14.0 if i < names else 12.0, bold=i < names))
    for kind, swatch, where in laid.key:
        if kind == SHORTCUT_KEY:
            s = swatch
            canvas.add(
                Curve(((s.x, s.y), (s.right + 4, s.y), (s.right + 4, s.bottom), (s.x, s.bottom)), "#c96a2b", 1.4, True)
            )
        else:
            fill, outline = COLOURS[kind]
            canvas.add(Rect(swatch.x, swatch.y, swatch.w, swatch.h, fill, outline, 1.2, 2.0))
        canvas.add(Label(where.x, where.bottom - 3, KIND_NAMES.get(kind, kind), FONT - 1, colour="#3c4a5e"))
    for frame in laid.frames:
        r = frame.rect
        colour = FRAME_COLOURS[min(frame.level, len(FRAME_COLOURS) - 1)]
        canvas.add(Rect(r.x, r.y, r.w, r.h, colour, "#9aa7ba", 1.0, 6.0, dashed=True))
        for x, text in frame.parts:
            canvas.add(Label(x, r.y + FRAME_LABEL - 4, text, FONT - 1, colour="#3c4a5e"))
    for edge in laid.edges:
        canvas.add(edge)
    for box in laid.boxes:
        fill, outline = COLOURS[box.kind]
        r = box.rect
        canvas.add(Rect(r.x, r.y, r.w, r.h, fill, outline, 2.0 if box.kind == "block" else 1.2, 4.0))
        if box.shortcut is not None:
            canvas.add(box.shortcut)
        top = r.y + (r.h - LINE * len(box.lines)) / 2  # lines centred: boxes left to right share one height
        for i, line in enumerate(box.lines):
            canvas.add(
                Label(
                    r.x + r.w / 2,
                    top + LINE * (i + 1) - 3.5,
                    line,
                    FONT,
                    bold=i == 0,
                    anchor="middle",
                    colour="#222222" if i < 2 else "#555555",
                )
            )
    return canvas
