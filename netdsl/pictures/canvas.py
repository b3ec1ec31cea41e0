"""A few drawing primitives in pixel coordinates (y downwards), written out as SVG by hand or
rasterized to PNG by matplotlib: one description, two formats that look alike.

Text is set in a monospace font so that layouts can measure it without a font file:
`text_width` is what every layout uses to size its boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR = 0.6  # a monospace character's advance, in ems (DejaVu Sans Mono: 0.602)
Point = tuple[float, float]


def text_width(text: str, size: float) -> float:
    return len(text) * CHAR * size


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str = "none"
    stroke: str = "#333333"
    width: float = 1.0
    radius: float = 0.0
    dashed: bool = False

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Rect, gap: float = 0.0) -> bool:
        """Whether the two rectangles share area (touching edges do not), with `gap` of room wanted."""
        return (
            self.x < other.right + gap
            and other.x < self.right + gap
            and self.y < other.bottom + gap
            and other.y < self.bottom + gap
        )


@dataclass(frozen=True)
class Polygon:
    points: tuple[Point, ...]
    fill: str = "none"
    stroke: str = "#333333"
    width: float = 1.0


@dataclass(frozen=True)
class Curve:
    """A line through `points`: straight segments, or with `cubic` each run of three points after
    the first is one cubic Bézier segment (control, control, end)."""

    points: tuple[Point, ...]
    stroke: str = "#555555"
    width: float = 1.2
    cubic: bool = False
    arrow: bool = True
    dashed: bool = False


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the baseline
    text: str
    size: float = 12.0
    bold: bool = False
    anchor: str = "start"  # start | middle | end
    colour: str = "#222222"


@dataclass
class Canvas:
    width: float
    height: float
    shapes: list[Rect | Polygon | Curve | Label] = field(default_factory=list)
    title: str = ""

    def add(self, *shapes: Rect | Polygon | Curve | Label) -> None:
        self.shapes.extend(shapes)


# ---- SVG ----------------------------------------------------------------------------------


def to_svg(canvas: Canvas) -> str:
    width, height = math.ceil(canvas.width), math.ceil(canvas.height)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}">',
    ]
    if canvas.title:
        out.append(f"<title>{escape(canvas.title)}</title>")
    out += [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/>'
        "</marker></defs>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
    ]
    out += [_svg_shape(shape) for shape in canvas.shapes]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg_shape(shape: Rect | Polygon | Curve | Label) -> str:
    if isinstance(shape, Rect):
        dash = ' stroke-dasharray="5 3"' if shape.dashed else ""
        return (
            f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.w)}" height="{_n(shape.h)}" '
            f'rx="{_n(shape.radius)}" fill="{shape.fill}" stroke="{shape.stroke}" '
            f'stroke-width="{_n(shape.width)}"{dash}/>'
        )
    if isinstance(shape, Polygon):
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.points)
        return (
            f'<polygon points="{points}" fill="{shape.fill}" stroke="{shape.stroke}" stroke-width="{_n(shape.width)}"/>'
        )
    if isinstance(shape, Curve):
        dash = ' stroke-dasharray="4 3"' if shape.dashed else ""
        arrow = ' marker-end="url(#arrow)"' if shape.arrow else ""
        return (
            f'<path d="{_path(shape)}" fill="none" stroke="{shape.stroke}" '
            f'stroke-width="{_n(shape.width)}"{dash}{arrow}/>'
        )
    weight = ' font-weight="bold"' if shape.bold else ""
    return (
        f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" font-size="{_n(shape.size)}" text-anchor="{shape.anchor}" '
        f'fill="{shape.colour}"{weight} xml:space="preserve">{escape(shape.text)}</text>'
    )


def _path(curve: Curve) -> str:
    (x0, y0), rest = curve.points[0], curve.points[1:]
    parts = [f"M {_n(x0)} {_n(y0)}"]
    if curve.cubic:
        for i in range(0, len(rest) - 2, 3):
            (a, b), (c, d), (e, f) = rest[i : i + 3]
            parts.append(f"C {_n(a)} {_n(b)} {_n(c)} {_n(d)} {_n(e)} {_n(f)}")
    else:
        parts += [f"L {_n(x)} {_n(y)}" for x, y in rest]
    return " ".join(parts)


def sample(curve: Curve, steps: int = 12) -> list[Point]:
    """Points along the curve (its Bézier segments sampled): for geometric checks."""
    if not curve.cubic:
        return list(curve.points)
    points = [curve.points[0]]
    rest = curve.points[1:]
    for i in range(0, len(rest) - 2, 3):
        p0, p1, p2, p3 = points[-1], *rest[i : i + 3]
        for k in range(1, steps + 1):
            t = k / steps
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
            x = a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0]
            points.append((x, a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return points


# ---- PNG ----------------------------------------------------------------------------------

MAX_PIXELS = 60_000  # Agg draws at most 2^16 pixels a side; past this the picture is scaled down


def to_png(canvas: Canvas, scale: float = 1.5, kind: str = "png") -> bytes:
    """The canvas rasterized by matplotlib (Agg) at `scale` pixels per unit (less for huge canvases);
    with `kind` "pdf" the same drawing as a PDF (vector, `scale` then only sets its raster parts)."""
    from matplotlib.patches import FancyArrowPatch, PathPatch
    from matplotlib.patches import Polygon as MplPolygon
    from matplotlib.patches import Rectangle as MplRect
    from matplotlib.path import Path as MplPath

    from netdsl.pictures.plot import figure, render

    scale = min(scale, MAX_PIXELS / max(canvas.width, canvas.height, 1))
    dpi = 100 * scale
    fig = figure(canvas.width / 100, canvas.height / 100)
    axes = fig.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, canvas.width)
    axes.set_ylim(canvas.height, 0)
    axes.set_axis_off()
    points_per_unit = 72 / 100  # the figure is `width / 100` inches: one unit is 1/100 inch
    for z, shape in enumerate(canvas.shapes):
        if isinstance(shape, Rect):
            if shape.radius:
                from matplotlib.patches import FancyBboxPatch

                patch = FancyBboxPatch(
                    (shape.x, shape.y), shape.w, shape.h, boxstyle=f"round,pad=0,rounding_size={shape.radius}"
                )
            else:
                patch = MplRect((shape.x, shape.y), shape.w, shape.h)
            patch.set(
                facecolor=shape.fill,
                edgecolor=shape.stroke,
                linewidth=shape.width * points_per_unit,
                linestyle=(0, (5, 3)) if shape.dashed else "-",
                zorder=z,
            )
            axes.add_patch(patch)
        elif isinstance(shape, Polygon):
            axes.add_patch(
                MplPolygon(
                    shape.points,
                    closed=True,
                    facecolor=shape.fill,
                    edgecolor=shape.stroke,
                    linewidth=shape.width * points_per_unit,
                    zorder=z,
                )
            )
        elif isinstance(shape, Curve):
            codes = [MplPath.MOVETO] + [MplPath.CURVE4 if shape.cubic else MplPath.LINETO] * (len(shape.points) - 1)
            path = MplPath(shape.points, codes)
            style = (0, (4, 3)) if shape.dashed else "-"
            if shape.arrow:
                axes.add_patch(
                    FancyArrowPatch(
                        path=path,
                        arrowstyle="-|>,head_length=5,head_width=2.8",
                        color=shape.stroke,
                        linewidth=shape.width * points_per_unit,
                        linestyle=style,
                        zorder=z,
                        shrinkA=0,
                        shrinkB=0,
                    )
                )
            else:
                axes.add_patch(
                    PathPatch(
                        path,
                        facecolor="none",
                        edgecolor=shape.stroke,
                        linewidth=shape.width * points_per_unit,
                        linestyle=style,
                        zorder=z,
                    )
                )
        else:
            axes.text(
                shape.x,
                shape.y,
                shape.text,
                fontsize=shape.size * points_per_unit,
                family="DejaVu Sans Mono",
                fontweight="bold" if shape.bold else "normal",
                color=shape.colour,
                ha={"start": "left", "middle": "center", "end": "right"}[shape.anchor],
                va="baseline",
                zorder=z,
            )
    return render(fig, kind, dpi=dpi)


def bounds(shapes: Sequence[Rect]) -> Rect:
    """The smallest rectangle around `shapes`."""
    x0, y0 = min(s.x for s in shapes), min(s.y for s in shapes)
    return Rect(x0, y0, max(s.right for s in shapes) - x0, max(s.bottom for s in shapes) - y0)


def encode(canvas: Canvas, kind: str, dpi: float | None = None) -> bytes | str:
    """The canvas as `kind` ('svg', 'png' or 'pdf'): the one path from a canvas to a file;
    `dpi` for a PNG (default 150: 1.5 pixels per unit)."""
    if kind == "svg":
        return to_svg(canvas)
    return to_png(canvas, (dpi or 150) / 100, kind)
