"""`ordinal-synth`: a counting benchmark whose labels are genuinely ordered.

Each image shows between 1 and K bright discs (K = the spec's number of classes) on a dim,
unevenly lit, noisy background; the label is the number of discs minus one. Discs differ in
radius (so the total brightness does not give the count away) and in brightness, and never
touch (a gap of two pixels at least); a faint gradient and Gaussian noise cover everything. Mistaking 6 discs for 7
is a small error and for 2 a large one, which is what MAE and RMSE measure and what the
ordinal heads can exploit.

The images depend only on (count, K, C, H, W): the generator is seeded with them, so every
run and every machine sees the same benchmark. The counts are uniform over 1..K.

`ordinal-synth-noisy` is the same images with noisy training labels, shaped like age labels:
a face shows an apparent age (here: the count of discs, the latent the network can see) and
the label is the recorded age, which scatters around it. Each training label is moved by
round(N(0, σ)) ranks (σ = 1 by default: 38% unchanged, 48% off by one, 12% by two, 1% by
three) and clipped to 0..K-1; the validation and test labels stay clean, so their figures
say how well the latent is recovered. A K-way classifier no longer finds clean classes to
separate, and CORAL's ideal thresholds are finite — what makes the ordinal heads matter.
The moves are drawn from a generator seeded like the images: the benchmark is fixed.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SIZE = 6000
DEFAULT_LABEL_NOISE = 1.0  # σ of ordinal-synth-noisy, in ranks
SEED = 0x0C0DA1
NOISE_SEED = 0x4015E


def generate(
    size: int, classes: int, channels: int, height: int, width: int, noise: float = 0.06
) -> tuple[np.ndarray, np.ndarray]:
    """`size` images uint8 [size, C, H, W] and their labels 0..classes-1 (count of discs - 1);
    `noise`: the standard deviation of the Gaussian noise, in units of full brightness."""
    from netdsl.data.images import DataError

    scale = min(height, width) / 32.0
    r_low, r_high = 1.6 * scale, 3.2 * scale
    fits = int(0.8 * height * width / (2 * r_high + 2) ** 2)
    if classes < 2 or classes > fits:
        raise DataError(
            f"ordinal-synth draws 1..K discs of radius up to {r_high:.1f} px: K = {classes} classes do "
            f"not fit a {height}×{width} image (2 ≤ K ≤ {fits}: try --set classes={min(fits, 8)})"
        )
    rng = np.random.default_rng([SEED, size, classes, channels, height, width])
    labels = np.arange(size, dtype=np.int64) % classes
    rng.shuffle(labels)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    images = np.empty((size, channels, height, width), dtype=np.uint8)
    for i, label in enumerate(labels):
        canvas = _background(rng, ys, xs, height, width)
        for cy, cx, radius, level in _discs(rng, int(label) + 1, r_low, r_high, height, width):
            inside = np.clip(radius + 0.5 - np.hypot(ys - cy, xs - cx), 0.0, 1.0)  # anti-aliased edge
            canvas = np.maximum(canvas, inside * level)
        canvas += rng.normal(0.0, noise, size=canvas.shape).astype(np.float32)
        images[i] = np.clip(canvas * 255.0, 0, 255).astype(np.uint8)[None]
    return images, labels


def _background(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, height: int, width: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xs / width + np.sin(angle) * ys / height
    background: np.ndarray = (0.1 + 0.12 * (ramp - ramp.min())).astype(np.float32)
    return background


def _discs(
    rng: np.random.Generator, count: int, r_low: float, r_high: float, height: int, width: int
) -> list[tuple[float, float, float, float]]:
    placed: list[tuple[float, float, float, float]] = []
    misses = 0
    while len(placed) < count:
        if misses == 50:  # packed into a corner: start this image over
            placed, misses = [], 0
        radius = rng.uniform(r_low, r_high)
        for _ in range(200):
            cy, cx = rng.uniform(radius, height - radius), rng.uniform(radius, width - radius)
            if all(np.hypot(cy - y, cx - x) >= radius + r + 2.0 for y, x, r, _ in placed):
                placed.append((cy, cx, radius, rng.uniform(0.45, 1.0)))
                break
        else:  # no room for this radius: draw another
            misses += 1
    return placed


def noisy_labels(labels: np.ndarray, classes: int, sigma: float, key: tuple[int, ...]) -> np.ndarray:
    """`labels` each moved by round(N(0, sigma)) ranks, clipped to 0..classes-1; the draws are
    seeded with `key` (what identifies the benchmark), so the same labels always move the same way."""
    rng = np.random.default_rng([NOISE_SEED, *key])
    moves = np.rint(rng.normal(0.0, sigma, size=len(labels))).astype(np.int64)
    moved: np.ndarray = np.clip(labels + moves, 0, classes - 1)
    return moved
