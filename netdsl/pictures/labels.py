"""Labels for the points of a chart, placed so that none covers another label, a point or a
leader line: pure geometry in display coordinates (pixels, y upwards, as matplotlib's), no
drawing. A label sits next to its point when there is room, else further out in one of 36
directions with a leader line from the point's edge to it. Greedy placement, then seeded
simulated annealing over each label's spots (as in Christensen, Marks and Shieber's map
labelling): same points, same spots.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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
    label: first greedily, the most crowded points choosing first the nearest spot that covers no
    label, point or leader line (or, where none is left, the one that covers fewest), then
    refined by `improve`."""
    order = sorted(range(len(points)), key=lambda i: (-_crowd(points, i), i))
    placed: dict[int, Placed] = {}
    for i in order:
        taken = list(placed.values())
        placed[i] = _free_spot(points, i, sizes[i], frame, taken) or _fallback(points, i, sizes[i], frame, taken)
    return improve(points, sizes, frame, [placed[i] for i in range(len(points))])


# ---- refinement: simulated annealing over each label's candidate spots ----------------------

MOVES = 300  # tries per label
# per blob covered, leader line through a label, pair of crossing leader lines, leader line,
# and pixel of reach
WEIGHTS = {"blob": 60.0, "through": 40.0, "cross": 15.0, "leader": 4.0, "reach": 0.02}


def improve(
    points: Sequence[Point], sizes: Sequence[tuple[float, float]], frame: Box, placed: list[Placed]
) -> list[Placed]:
    """Fewer labels over blobs, leader lines through labels and crossing leader lines: a label
    moves to another of its spots when that lowers the cost (or, early on, raises it a little:
    simulated annealing, seeded so the same chart comes out every time). No move makes two
    labels overlap."""
    import random

    chooser = random.Random(0)
    spots = [_candidates(points, i, sizes[i], frame) for i in range(len(points))]
    current = list(placed)
    own = [_spot_cost(spots[i], spot, points, i) for i, spot in enumerate(current)]
    steps = MOVES * len(points)
    for step in range(steps):
        i = chooser.randrange(len(points))
        if not spots[i]:
            continue
        spot, cost = spots[i][chooser.randrange(len(spots[i]))]
        others = [c for j, c in enumerate(current) if j != i]
        if any(overlaps(spot.box, other.box, GAP) for other in others):
            continue
        change = cost + _pair_cost(spot, others) - own[i] - _pair_cost(current[i], others)
        heat = 20.0 * (0.002 ** (step / steps))  # from 20 down to 0.04
        if change <= 0 or chooser.random() < math.exp(-change / heat):
            current[i], own[i] = spot, cost
    for _ in range(2):  # then each label to its best spot, the others staying put
        for i in range(len(points)):
            others = [c for j, c in enumerate(current) if j != i]
            here = own[i] + _pair_cost(current[i], others)
            for spot, cost in spots[i]:
                if cost >= here:
                    break  # sorted by cost: no later spot can do better
                if not any(overlaps(spot.box, o.box, GAP) for o in others):
                    total = cost + _pair_cost(spot, others)
                    if total < here:
                        current[i], own[i], here = spot, cost, total
    return current


def _candidates(points: Sequence[Point], i: int, size: tuple[float, float], frame: Box) -> list[tuple[Placed, float]]:
    spots = []
    for reach in STEPS:
        for degrees in DIRECTIONS:
            spot = _candidate(points[i], size, reach, degrees)
            if _inside(spot.box, frame):  # the nearer and the earlier direction, the better, all else equal
                spots.append((spot, _own_cost(points, i, spot) + 0.02 * reach + 0.01 * DIRECTIONS.index(degrees)))
    return sorted(spots, key=lambda pair: pair[1])[:160]


def _spot_cost(spots: list[tuple[Placed, float]], spot: Placed, points: Sequence[Point], i: int) -> float:
    return next((cost for candidate, cost in spots if candidate == spot), _own_cost(points, i, spot) + 1.0)


def _own_cost(points: Sequence[Point], i: int, spot: Placed) -> float:
    """What a spot costs on its own: the blobs its label or leader line covers, and its reach."""
    covered = sum(hits_circle(spot.box, q) for j, q in enumerate(points) if j != i)
    reach = 0.0
    if spot.leader is not None:
        covered += sum(_leader_hits(spot.leader, q) for j, q in enumerate(points) if j != i)
        (x0, y0), (x1, y1) = spot.leader
        reach = WEIGHTS["leader"] / WEIGHTS["reach"] + math.hypot(x1 - x0, y1 - y0)
    return WEIGHTS["blob"] * covered + WEIGHTS["reach"] * reach


def _pair_cost(spot: Placed, others: list[Placed]) -> float:
    through = sum(o.leader is not None and crosses(o.leader, spot.box) for o in others)
    cross = 0
    if spot.leader is not None:
        through += sum(crosses(spot.leader, o.box) for o in others)
        cross = sum(o.leader is not None and _intersect(spot.leader, o.leader) for o in others)
    return WEIGHTS["through"] * through + WEIGHTS["cross"] * cross


def _crowd(points: Sequence[Point], i: int) -> int:
    p = points[i]
    return sum(math.hypot(p.x - q.x, p.y - q.y) < 60 + q.radius + p.radius for q in points)


def _spots(
    points: Sequence[Point], i: int, size: tuple[float, float], frame: Box, taken: list[Placed]
) -> Iterator[tuple[int, Placed]]:
    """Spots inside the frame that cover no label, nearest first, with how many other blobs and
    leader lines each covers or crosses."""
    for reach in STEPS:
        for degrees in DIRECTIONS:
            spot = _candidate(points[i], size, reach, degrees)
            if not _inside(spot.box, frame) or not _free(spot, taken):
                continue
            covered = sum(hits_circle(spot.box, q) for j, q in enumerate(points) if j != i)
            if spot.leader is not None:
                covered += sum(_leader_hits(spot.leader, q) for j, q in enumerate(points) if j != i)
            yield covered + _crossings(spot, taken), spot


def _free_spot(
    points: Sequence[Point], i: int, size: tuple[float, float], frame: Box, taken: list[Placed]
) -> Placed | None:
    return next((spot for covered, spot in _spots(points, i, size, frame, taken) if covered == 0), None)


def _fallback(points: Sequence[Point], i: int, size: tuple[float, float], frame: Box, taken: list[Placed]) -> Placed:
    """The spot that covers the fewest blobs and leader lines (never a label), else beside the point."""
    spots = sorted(_spots(points, i, size, frame, taken), key=lambda pair: pair[0])
    return spots[0][1] if spots else _candidate(points[i], size, STEPS[0], 0)


def _inside(box: Box, frame: Box) -> bool:
    return frame[0] <= box[0] and box[2] <= frame[2] and frame[1] <= box[1] and box[3] <= frame[3]


def _free(spot: Placed, taken: list[Placed]) -> bool:
    return not any(overlaps(spot.box, other.box, GAP) for other in taken)


def _crossings(spot: Placed, taken: list[Placed]) -> int:
    """Leader lines through the spot's label, labels its own leader line passes through, and
    leader lines it crosses."""
    count = sum(other.leader is not None and crosses(other.leader, spot.box) for other in taken)
    if spot.leader is not None:
        count += sum(crosses(spot.leader, other.box) for other in taken)
        count += sum(other.leader is not None and _intersect(spot.leader, other.leader) for other in taken)
    return count


def _intersect(
    a: tuple[tuple[float, float], tuple[float, float]], b: tuple[tuple[float, float], tuple[float, float]]
) -> bool:
    """Whether two segments cross (each one's ends on either side of the other)."""

    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    (p1, p2), (p3, p4) = a, b
    return side(p3, p4, p1) * side(p3, p4, p2) < 0 and side(p1, p2, p3) * side(p1, p2, p4) < 0


def _leader_hits(leader: tuple[tuple[float, float], tuple[float, float]], point: Point) -> bool:
    """Whether a leader line passes over another blob (more than grazing it)."""
    return distance(leader, point.x, point.y) < point.radius * 0.8
