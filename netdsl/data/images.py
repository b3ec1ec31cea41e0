"""Images as pixels: one list of the suffixes netdsl reads, and one reader for training,
calibration and inference alike. Raises `DataError` naming the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first image read: runtime.session imports the suffixes alone
    import numpy as np

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


class DataError(Exception):
    """The data cannot be used: the message names the file or folder and what is wrong."""


def read_pixels(file: Path, shape: Sequence[int]) -> np.ndarray:
    """An image as uint8 [C, H, W]: its channels converted (grey, RGB or RGBA) and resized
    (bilinear) to H×W. Raises `DataError` naming the file when it cannot be read."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    try:
        with Image.open(file) as opened:
            image = opened.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"'{file}': no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"'{file}': cannot read it as an image ({exc})") from None
    return pixels[None] if channels == 1 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


def check_image(file: Path) -> None:
    """Raises `DataError` naming `file` unless Pillow recognises it as an image (its header
    only: a file cut short shows when it is decoded, in training)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file):
            pass
    except FileNotFoundError:
        raise DataError(f"'{file}': no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"'{file}': cannot read it as an image ({exc})") from None
