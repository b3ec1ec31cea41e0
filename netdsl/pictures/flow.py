"""The geometry of `netdsl draw --style graph` in flow coordinates (x across the flow, y along
it): units + their lengths → a rectangle per box, one around each frame, and a curve per
connection. `netdsl.pictures.graph` turns it a quarter for left to right.

Nested series and parallel sections of boxes of one breadth: a parallel section's branches
side by side, its input and output on one axis; room for frames, their labels and the arcs
beside sections is reserved while sizing, so nothing placed runs into anything else.
"""

from __future__ import annotations

from collections.abc import Sequence

from netdsl.pictures.canvas import Curve, Point, Rect, bounds, sample
from netdsl.pictures.units import Item, Parallel, Units, units_in

__all__ = ["Geometry", "Item", "common", "edges", "shortcut", "wrap"]

GAP_Y = 24.0  # between boxes one after the other: room for the arrow
GAP_X = 22.0  # between branches side by side
FORK = 14.0  # more room before and after a parallel section, where its arrows fan out and in
ARC = 36.0  # room beside a section whose input also skips past it
SHORTCUT = 22.0  # room beside a folded block for the mark of the shortcut inside it
FRAME = 9.0  # a frame's margin around what it holds
FRAME_LABEL = 17.0  # room for a frame's label at its top


# ---- geometry, in flow coordinates ----------------------------------------------------------


def common(chains: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    if not chains:
        return ()
    first = chains[0]
    size = min(len(c) for c in chains)
    for i in range(size):
        if any(c[i] != first[i] for c in chains):
            return first[:i]
    return first[:size]


class Geometry:
    """Sizes, then positions, of nested series and parallel sections of boxes of one breadth
    (x, across the flow) and each its own length (y, along it). A frame's label takes room along
    the flow when the flow runs down (`label_along`), across it when it runs right."""

    def __init__(self, graph: Units, lengths: list[float], breadth: float, across: bool) -> None:
        self.graph, self.lengths, self.breadth = graph, lengths, breadth
        self.label_along, self.label_across = (0.0, FRAME_LABEL) if across else (FRAME_LABEL, 0.0)
        self.rects: dict[int, Rect] = {}

    def chain(self, item: Item | list[Item]) -> tuple[str, ...]:
        return common([self.graph.units[u].chain for u in units_in(item)])

    # sizes: (left of the axis, right of the axis, length)
    def series_size(self, items: list[Item], context: tuple[str, ...]) -> tuple[float, float, float]:
        left = right = length = 0.0
        chains = [self.chain(i) for i in items]
        for item, chain in zip(items, chains, strict=True):
            to_left, to_right, tall = self.item_size(item, chain)
            levels = len(chain) - len(context)
            left = max(left, to_left + levels * (FRAME + self.label_across))
            right, length = max(right, to_right + levels * FRAME), length + tall
        return left, right, length + sum(self.gaps(chains, context))

    def gaps(self, chains: list[tuple[str, ...]], context: tuple[str, ...]) -> list[float]:
        """The room before the first item, between items, and after the last: frames open and close there."""
        ends = [context, *chains, context]
        gaps = []
        for i, (above, below) in enumerate(zip(ends, ends[1:], strict=False)):
            shared = len(common([above, below]))
            room = (len(above) - shared) * FRAME + (len(below) - shared) * (FRAME + self.label_along)
            gaps.append(room + (GAP_Y if 0 < i < len(chains) else 0.0))
        return gaps

    def item_size(self, item: Item, chain: tuple[str, ...]) -> tuple[float, float, float]:
        if isinstance(item, int):
            mark = SHORTCUT if self.graph.units[item].residual else 0.0
            return self.breadth / 2, self.breadth / 2 + mark, self.lengths[item]
        sizes = [self.series_size(b, chain) if b else None for b in item.branches]
        drawn = [s for s in sizes if s is not None]
        inner = sum(s[0] + s[1] for s in drawn) + GAP_X * (len(drawn) - 1)
        axis = self.axis(item, sizes, inner)
        arc = ARC if None in item.branches else 0.0
        return axis, inner - axis + arc, max(s[2] for s in drawn) + 2 * FORK

    def axis(self, item: Parallel, sizes: list[tuple[float, float, float] | None], inner: float) -> float:
        """Where a section's input and output line up: on its first branch when that is the one
        longest branch (ResNet's main path stays straight), else in the middle (Inception)."""
        lengths = [len(units_in(b)) for b in item.branches]
        first = next(i for i, b in enumerate(item.branches) if b)
        if lengths[first] == max(lengths) and lengths.count(max(lengths)) == 1:
            return sizes[first][0]  # type: ignore[index]
        return inner / 2

    def place_series(self, items: list[Item], context: tuple[str, ...], axis: float, top: float) -> None:
        chains = [self.chain(i) for i in items]
        gaps = self.gaps(chains, context)
        y = top + gaps[0]
        for index, (item, chain) in enumerate(zip(items, chains, strict=True)):
            _, _, length = self.item_size(item, chain)
            self.place_item(item, chain, axis, y)
            y += length + gaps[index + 1]

    def place_item(self, item: Item, chain: tuple[str, ...], axis: float, top: float) -> None:
        if isinstance(item, int):
            self.rects[item] = Rect(axis - self.breadth / 2, top, self.breadth, self.lengths[item])
            return
        sizes = [self.series_size(b, chain) if b else None for b in item.branches]
        drawn = [s for s in sizes if s is not None]
        inner = sum(s[0] + s[1] for s in drawn) + GAP_X * (len(drawn) - 1)
        x = axis - self.axis(item, sizes, inner)
        for branch, size in zip(item.branches, sizes, strict=True):
            if branch and size:
                self.place_series(branch, chain, x + size[0], top + FORK)
                x += size[0] + size[1] + GAP_X

    def frame_rects(self, paths: list[str]) -> dict[str, Rect]:
        """Frames from the innermost out, each around its boxes and the frames inside it."""
        placed: dict[str, Rect] = {}
        chains = [u.chain for u in self.graph.units]
        for path in sorted(paths, key=lambda p: -p.count(".")):
            inside = [self.rects[u] for u, chain in enumerate(chains) if chain and chain[-1] == path]
            inside += [r for p, r in placed.items() if p.startswith(path + ".") and p.count(".") == path.count(".") + 1]
            inside += [
                _mark_room(self.rects[u]) for u, c in enumerate(chains) if path in c and self.graph.units[u].residual
            ]
            around = bounds(inside)
            placed[path] = Rect(
                around.x - FRAME - self.label_across,
                around.y - FRAME - self.label_along,
                around.w + 2 * FRAME + self.label_across,
                around.h + 2 * FRAME + self.label_along,
            )
        return placed


def _mark_room(rect: Rect) -> Rect:
    return Rect(rect.x, rect.y, rect.w + SHORTCUT - 4, rect.h)


# ---- connections --------------------------------------------------------------------------


def edges(graph: Units, rects: dict[int, Rect], borders: list[float]) -> list[Curve]:
    """Every connection; `borders`: the frames' right sides, which arcs keep clear of."""
    edges = []
    for u, targets in enumerate(graph.succs):
        for v in targets:
            others = [r for k, r in rects.items() if k not in (u, v)]
            edges.append(_edge(rects[u], rects[v], others, borders, fork=len(targets) > 1))
    return edges


def shortcut(rect: Rect) -> Curve:
    """The mark of a shortcut inside a folded block: an arc beside the box from its top to its bottom."""
    x, reach = rect.right, SHORTCUT - 8
    a, b = rect.y + min(10.0, rect.h / 4), rect.bottom - min(10.0, rect.h / 4)
    return Curve(((x, a), (x + reach, a), (x + reach, b), (x + 1, b)), "#c96a2b", 1.4, cubic=True)


def _edge(a: Rect, b: Rect, others: list[Rect], borders: Sequence[float] = (), fork: bool = False) -> Curve:
    """From the bottom of `a` to the top of `b`: straight down, then an S-curve in the last gap
    (a short branch into its join); or the S-curve first, then straight down (first choice out of
    a fork: it turns above the branches' frames, never through their labels); or one long
    S-curve; or, when each of those would cross another box, an arc on the right past every box
    between."""
    x0, y0 = a.x + a.w / 2, a.bottom
    x1, y1 = b.x + b.w / 2, b.y
    if y1 > y0:
        band = min(y1 - y0, FORK + GAP_Y)
        late, early = (y1 - band, y1), (y0, y0 + band)
        for turn_from, turn_to in (early, late, (y0, y1)) if fork else (late, early, (y0, y1)):
            middle = (turn_from + turn_to) / 2
            points: list[Point] = [(x0, y0)]
            if turn_from > y0:
                points += [(x0, turn_from), (x0, turn_from), (x0, turn_from)]
            points += [(x0, middle), (x1, middle), (x1, turn_to)]
            if turn_to < y1:
                points += [(x1, (turn_to + y1) / 2), (x1, y1 - 1), (x1, y1)]  # a tangent at the end, for the arrowhead
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


def wrap(a: Rect, b: Rect, between: float) -> Curve:
    """From the bottom of `a`, the end of one wrapped run, to the top of `b`, the start of the next
    one placed beside it: down past `a`, across to `between` (the gap between the runs), back up
    above `b`'s run and down into `b`. Straight segments, as cubic runs for one kind of curve."""
    x0, y0, x1, y1 = a.x + a.w / 2, a.bottom, b.x + b.w / 2, b.y
    corners = [
        (x0, y0 + GAP_Y / 2),
        (between, y0 + GAP_Y / 2),
        (between, y1 - GAP_Y / 2),
        (x1, y1 - GAP_Y / 2),
        (x1, y1),
    ]
    points: list[Point] = [(x0, y0)]
    for q in corners:
        p = points[-1]
        points += [
            (p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3),
            (p[0] + 2 * (q[0] - p[0]) / 3, p[1] + 2 * (q[1] - p[1]) / 3),
            q,
        ]
    return Curve(tuple(points), cubic=True)


def _crosses(curve: Curve, rect: Rect) -> bool:
    inner = Rect(rect.x - 2, rect.y - 2, rect.w + 4, rect.h + 4)
    return any(inner.x < x < inner.right and inner.y < y < inner.bottom for x, y in sample(curve, 16))
