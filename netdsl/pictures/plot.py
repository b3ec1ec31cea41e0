"""matplotlib, set up once for every picture netdsl draws: the Agg canvas (no display, no
pyplot state), text kept as text in SVG, and files without a date so that the same input
gives the same bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
DPI = 150  # PNG pixels per inch unless --dpi says otherwise
STYLE = {
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "svg.fonttype": "none",  # text stays text: searchable, and selectable in a browser
    "svg.hashsalt": "netdsl",  # stable ids
}


def picture_format(path: str | Path) -> str:
    """'svg', 'png' or 'pdf' from a file name ('' for any other suffix: the caller refuses it)."""
    return FORMATS.get(Path(path).suffix.lower(), "")


def figure(width: float, height: float) -> Figure:
    """A figure of `width` × `height` inches on the Agg canvas, in netdsl's style."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(STYLE)
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def render(fig: Figure, kind: str, **options: Any) -> bytes:
    """The figure as SVG, PNG or PDF (vector) bytes, dated nowhere: same figure, same bytes."""
    buffer = io.BytesIO()
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(kind, {"Software": None})
    fig.savefig(buffer, format=kind, metadata=metadata, **options)
    return buffer.getvalue()
