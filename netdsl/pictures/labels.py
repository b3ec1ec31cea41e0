"""Labels for the points of a chart, placed so that none covers another label, a point or a
leader line: pure geometry in display coordinates (pixels, y upwards, as matplotlib's), no
drawing. A label sits next to its point when there is room, else further out in one of 36
directions with a leader line from the point's edge to it. Greedy placement, then seeded
simulated annealing over each label's spots (as in Christensen, Marks and Shieber's map
labelling): same points, same spots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Box = tuple[float, float, float, float]  # x0, y0, x1, y1
GAP = 2.0  # pixels kept free around every label
# degrees, best first: beside, above and below, then the diagonals, then everything between
DIRECTIONS = (
    (0, 180, 90, 270, 30, 150, 330, 210, 60, 120, 300, 240)
    + tuple(range(15, 360, 30))
    + tuple(d for d in range(10, 360, 10) if d % 15)
)
STEPS = (3, 12, 24, 38, 55, 75, 100, 130, 165, 205, 250, 300, 360, 430, 510, 600)  # pixels out from the edge


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    radius: float  # of the blob drawn there


@dataclass(frozen=True)
class Placed:
    box: Box
    anchor: tuple[float, float]  # where the label's nearest side meets its direction
    ha: str  # left | center | right: which side of the box the anchor is on
    va: str  # bottom | center | top
    leader: tuple[tuple[float, float], tuple[float, float]] | None  # from the point's edge to the anchor


def overlaps(a: Box, b: Box, gap: float = 0.0) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def hits_circle(box: Box, point: Point) -> bool:
    nearest_x = min(max(point.x, box[0]), box[2])
    nearest_y = min(max(point.y, box[1]), box[3])
    return math.hypot(point.x - nearest_x, point.y - nearest_y) < point.radius


def crosses(segment: tuple[tuple[float, float], tuple[float, float]], box: Box) -> bool:
    """Whether the segment passes through the box (Liang-Barsky clipping)."""
    (x0, y0), (x1, y1) = segment
    low, high = 0.0, 1.0
    for p, q in ((x0 - x1, x0 - box[0]), (x1 - x0, box[2] - x0), (y0 - y1, y0 - box[1]), (y1 - y0, box[3] - y0)):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low >= high:
            return False
    return True


def distance(segment: tuple[tuple[float, float], tuple[float, float]], x: float, y: float) -> float:
    """From the point (x, y) to the nearest point of the segment."""
    (x0, y0), (x1, y1) = segment
    dx, dy = x1 - x0, y1 - y0
    t = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / ((dx * dx + dy * dy) or 1.0)))
    return math.hypot(x0 + t * dx - x, y0 + t * dy - y)


def _candidate(point: Point, size: tuple[float, float], reach: float, degrees: int) -> Placed:
    w, h = size
    dx, dy = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    ax, ay = point.x + (point.radius + reach) * dx, point.y + (point.radius + reach) * dy
    ha = "left" if dx > 0.3 else "right" if dx < -0.3 else "center"
    va = "bottom" if dy > 0.3 else "top" if dy < -0.3 else "center"
    x0 = ax if ha == "left" else ax - w if ha == "right" else ax - w / 2
    y0 = ay if va == "bottom" else ay - h if va == "top" else ay - h / 2
    leader = None
    if reach > STEPS[1]:
        leader = ((point.x + point.radius * dx, point.y + point.radius * dy), (ax, ay))
    return Placed((x0, y0, x0 + w, y0 + h), (ax, ay), ha, va, leader)


def place(points: Sequence[Point], sizes: Sequence[tuple[float, float]], frame: Box) -> list[Placed]:
    """A spot for each point's label (`sizes`: width and height) inside `frame`, never over another
    label: first greedily, the most crowded points choosing first the cheapest spot (see
    `_candidates`) that covers no label nor leader line, or failing that no label, then refined
    by `improve`."""
    spots = [_candidates(points, i, sizes[i], frame) for i in range(len(points))]
    order = sorted(range(len(points)), key=lambda i: (-_crowd(points, i), i))
    placed: dict[int, tuple[Placed, float]] = {}
    for i in order:
        layout = _Layout([spot for spot, _ in placed.values()])
        free = [(spot, cost) for spot, cost in spots[i] if not layout.overlaps(spot.box)]
        clear = (pair for pair in free if layout.pair_cost(pair[0]) == 0)
        placed[i] = next(clear, None) or (free[0] if free else (_candidate(points[i], sizes[i], STEPS[0], 0), 0.0))
    return improve(spots, [placed[i] for i in range(len(points))])


# ---- refinement: simulated annealing over each label's candidate spots ----------------------

MOVES = 1200  # tries per label
# per blob covered, leader line through a label (unreadable: worse than a covered blob), pair
# of crossing leader lines, leader line, and pixel of reach
WEIGHTS = {"blob": 60.0, "through": 150.0, "cross": 15.0, "leader": 4.0, "reach": 0.02}


class _Layout:
    """The labels' boxes and leader lines, for a spot's costs against all of them; the box
    around two things is compared before the exact test (most pairs are far apart)."""

    def __init__(self, spots: Sequence[Placed]) -> None:
        self.boxes = [s.box for s in spots]
        self.leaders = [s.leader for s in spots]
        self.skip = -1  # the label being moved: not its own neighbour

    def set(self, i: int, spot: Placed) -> None:
        self.boxes[i], self.leaders[i] = spot.box, spot.leader

    def overlaps(self, box: Box) -> bool:
        return any(j != self.skip and overlaps(box, other, GAP) for j, other in enumerate(self.boxes))

    def pair_cost(self, spot: Placed) -> float:
        through = cross = 0
        box = spot.box
        for j, leader in enumerate(self.leaders):
            if leader is not None and j != self.skip and overlaps(_around(leader), box) and crosses(leader, box):
                through += 1
        if spot.leader is not None:
            around = _around(spot.leader)
            for j, (other, leader) in enumerate(zip(self.boxes, self.leaders, strict=True)):
                if j == self.skip:
                    continue
                if overlaps(around, other) and crosses(spot.leader, other):
                    through += 1
                if leader is not None and overlaps(around, _around(leader)) and _intersect(spot.leader, leader):
                    cross += 1
        return WEIGHTS["through"] * through + WEIGHTS["cross"] * cross


def _around(segment: tuple[tuple[float, float], tuple[float, float]]) -> Box:
    (x0, y0), (x1, y1) = segment
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def improve(spots: list[list[tuple[Placed, float]]], placed: list[tuple[Placed, float]]) -> list[Placed]:
    """Fewer labels over blobs, leader lines through labels and crossing leader lines: a label
    moves to another of its `spots` when that lowers the cost (or, early on, raises it a little:
    simulated annealing, seeded so the same chart comes out every time), then each to its best
    spot. No move makes two labels overlap."""
    import random

    chooser = random.Random(0)
    current = [spot for spot, _ in placed]
    own = [cost for _, cost in placed]
    layout = _Layout(current)
    steps = MOVES * len(current)
    version, known = 0, [(-1, 0.0)] * len(current)  # each label's pair cost, as of a version
    for step in range(steps):
        i = chooser.randrange(len(current))
        if not spots[i]:
            continue
        spot, cost = spots[i][chooser.randrange(len(spots[i]))]
        heat = 20.0 * (0.002 ** (step / steps))  # from 20 down to 0.04
        bar = -heat * math.log(1.0 - chooser.random())  # accepted: a change below this (or ≤ 0)
        layout.skip = i
        if known[i][0] != version:
            known[i] = (version, layout.pair_cost(current[i]))
        floor = cost - own[i] - known[i][1]  # the change if the new spot crossed nothing
        if floor > 0 and floor >= bar:
            continue
        if layout.overlaps(spot.box):
            continue
        change = floor + layout.pair_cost(spot)
        if change <= 0 or change < bar:
            current[i], own[i] = spot, cost
            layout.set(i, spot)
            version += 1
    for _ in range(2):  # then each label to its best spot, the others staying put
        for i in range(len(current)):
            layout.skip = i
            here = own[i] + layout.pair_cost(current[i])
            for spot, cost in spots[i]:
                if cost >= here:
                    break  # sorted by cost: no later spot can do better
                if not layout.overlaps(spot.box):
                    total = cost + layout.pair_cost(spot)
                    if total < here:
                        current[i], own[i], here = spot, cost, total
                        layout.set(i, spot)
    return current


def _candidates(points: Sequence[Point], i: int, size: tuple[float, float], frame: Box) -> list[tuple[Placed, float]]:
    """The label's spots inside the frame, cheapest first, with what each costs on its own: the
    other blobs its label or leader line covers, a leader line, and its reach (the nearer and
    the earlier direction, the better, all else equal)."""
    import numpy as np

    spots = [
        (_candidate(points[i], size, reach, degrees), 0.02 * reach + 0.01 * rank)
        for reach in STEPS
        for rank, degrees in enumerate(DIRECTIONS)
    ]
    spots = [(spot, cost) for spot, cost in spots if _inside(spot.box, frame)]
    if not spots:
        return []
    others = np.array([(q.x, q.y, q.radius) for j, q in enumerate(points) if j != i], dtype=float).reshape(-1, 3)
    boxes = np.array([spot.box for spot, _ in spots], dtype=float)
    nearest_x = np.clip(others[None, :, 0], boxes[:, None, 0], boxes[:, None, 2])
    nearest_y = np.clip(others[None, :, 1], boxes[:, None, 1], boxes[:, None, 3])
    covered = (np.hypot(others[None, :, 0] - nearest_x, others[None, :, 1] - nearest_y) < others[None, :, 2]).sum(1)
    segments = np.array([_segment(spot) for spot, _ in spots], dtype=float)
    under = (_distances(segments, others[:, :2]) < others[None, :, 2] * 0.8).sum(1)  # NaN leader: no blob
    length = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    leader = np.where(np.isnan(length), 0.0, WEIGHTS["leader"] + WEIGHTS["reach"] * np.nan_to_num(length))
    costs = WEIGHTS["blob"] * (covered + under) + leader + np.array([cost for _, cost in spots])
    ranked = sorted(zip(costs.tolist(), range(len(spots)), strict=True))[:160]
    return [(spots[k][0], cost) for cost, k in ranked]


def _segment(spot: Placed) -> tuple[float, float, float, float]:
    if spot.leader is None:
        return (math.nan,) * 4  # type: ignore[return-value]
    (x0, y0), (x1, y1) = spot.leader
    return (x0, y0, x1, y1)


def _distances(segments: Any, centres: Any) -> Any:
    """[segments, centres]: from each centre to the nearest point of each segment (NaN: none)."""
    import numpy as np

    x0, y0 = segments[:, None, 0], segments[:, None, 1]
    dx, dy = segments[:, None, 2] - x0, segments[:, None, 3] - y0
    length = dx * dx + dy * dy
    t = np.clip(
        ((centres[None, :, 0] - x0) * dx + (centres[None, :, 1] - y0) * dy) / np.where(length > 0, length, 1), 0, 1
    )
    return np.hypot(x0 + t * dx - centres[None, :, 0], y0 + t * dy - centres[None, :, 1])


def _crowd(points: Sequence[Point], i: int) -> int:
    p = points[i]
    return sum(math.hypot(p.x - q.x, p.y - q.y) < 60 + q.radius + p.radius for q in points)


def _inside(box: Box, frame: Box) -> bool:
    return frame[0] <= box[0] and box[2] <= frame[2] and frame[1] <= box[1] and box[3] <= frame[3]


def _intersect(
    a: tuple[tuple[float, float], tuple[float, float]], b: tuple[tuple[float, float], tuple[float, float]]
) -> bool:
    """Whether two segments cross (each one's ends on either side of the other)."""

    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    (p1, p2), (p3, p4) = a, b
    return side(p3, p4, p1) * side(p3, p4, p2) < 0 and side(p1, p2, p3) * side(p1, p2, p4) < 0
