"""Learning curves drawn with Pillow (no plotting library): loss on the left, the validation
metrics on the right, one point per epoch. Returns PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT, MARGIN = 1000, 420, 56
COLOURS = {"train_loss": (31, 119, 180), "val_loss": (255, 127, 14), "val_accuracy": (44, 160, 44),
           "val_mae": (214, 39, 40), "val_rmse": (148, 103, 189), "train_accuracy": (127, 127, 127),
           "train_mae": (127, 127, 127)}


def draw_curves(history: Sequence[dict[str, float]], title: str, select: str, best: int | None = None) -> bytes:
    """`best`: the epoch (1-based) to mark with a vertical line."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = _font(13)
    draw.text((MARGIN, 8), f"{title}: {len(history)} epoch{'s' * (len(history) != 1)}", fill="black",
              font=_font(15))
    half = WIDTH // 2
    _panel(draw, font, history, ["train_loss", "val_loss"], (0, 30, half, HEIGHT), "loss", best)
    metrics = ["val_accuracy", "train_accuracy"] if select == "accuracy" else ["val_mae", "val_rmse", "train_mae"]
    _panel(draw, font, history, metrics, (half, 30, WIDTH, HEIGHT), "accuracy" if select == "accuracy" else "error",
           best)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _panel(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
           history: Sequence[dict[str, float]], keys: list[str], box: tuple[int, int, int, int], label: str,
           best: int | None) -> None:
    left, top, right, bottom = box[0] + MARGIN, box[1] + 30, box[2] - 20, box[3] - MARGIN + 10
    series = {k: [float(row[k]) for row in history if k in row] for k in keys}
    series = {k: v for k, v in series.items() if v and all(math.isfinite(x) for x in v)}
    draw.rectangle((left, top, right, bottom), outline=(90, 90, 90))
    values = [x for v in series.values() for x in v]
    if not values:
        return
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    span = high - low
    low, high = max(low - 0.05 * span, 0.0), high + 0.05 * span  # losses, accuracies and errors are ≥ 0
    if label == "accuracy":
        high = min(high, 1.0)
    epochs = max(len(v) for v in series.values())

    def x_of(i: int) -> float:
        return left + (right - left) * (i / max(epochs - 1, 1))

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / (high - low)

    for step in range(5):  # horizontal grid and value ticks
        value = low + (high - low) * step / 4
        y = y_of(value)
        draw.line((left, y, right, y), fill=(225, 225, 225))
        draw.text((left - 6, y), f"{value:.3g}", fill="black", font=font, anchor="rm")
    for i in sorted({0, epochs - 1, *range(0, epochs, max(1, epochs // 8))}):  # epoch ticks
        draw.text((x_of(i), bottom + 6), str(i + 1), fill="black", font=font, anchor="mt")
    draw.text(((left + right) / 2, bottom + 24), "epoch", fill="black", font=font, anchor="mt")
    if best is not None and 1 <= best <= epochs:
        x = x_of(best - 1)
        for y in range(int(top), int(bottom), 8):
            draw.line((x, y, x, min(y + 4, bottom)), fill=(120, 120, 120))
        draw.text((x + 4, top + 4), f"best ({best})", fill=(90, 90, 90), font=font)
    legend_x = float(left)
    for key, points in series.items():
        colour = COLOURS.get(key, (0, 0, 0))
        xy = [(x_of(i), y_of(v)) for i, v in enumerate(points)]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=colour)
        draw.line((legend_x, top - 14, legend_x + 22, top - 14), fill=colour, width=3)
        name = key.replace("_", " ")
        draw.text((legend_x + 28, top - 14), name, fill="black", font=font, anchor="lm")
        legend_x += 28 + draw.textlength(name, font=font) + 20
