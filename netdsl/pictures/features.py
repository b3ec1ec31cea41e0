"""`netdsl features`: what a layer makes of one image — its feature maps as a grid, each map
scaled to its own range (so a weak map is as readable as a strong one), with its channel index,
beside the input as the network saw it.

The network runs through the ONNX backend and onnxruntime with the layer's value added as an
output (every layer's value is named after it there), so any layer can be looked at, merges
and functional ops included; a trained checkpoint's input normalization applies as in `infer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from netdsl.checker.analyze import Checked
from netdsl.core.diagnostics import did_you_mean

if TYPE_CHECKING:
    import numpy as np

    from netdsl.api import Spec, Weights

MAX_MAPS = 64


class FeatureError(ValueError):
    """A layer that cannot be shown, or an input that cannot be read."""


@dataclass(frozen=True)
class Maps:
    layer: str
    op: str
    maps: np.ndarray  # [C, H, W] of the layer
    image: np.ndarray  # [C, H, W] the input as read, in [0, 1]
    normalized: bool  # whether a checkpoint's normalization was applied


def pick_layer(checked: Checked, name: str | None) -> str:
    """The layer asked for (its feature maps must be [C, H, W]), or the first conv."""
    layers = {layer.name: layer for layer in checked.layers}
    if name is None:
        first = next((layer for layer in checked.layers if layer.op == "conv"), None)
        if first is None:
            raise FeatureError(f"{checked.graph.network} has no conv layer; pick a layer with --layer")
        return first.name
    if name not in layers:
        hint = did_you_mean(name, list(layers))
        if hint is None:
            spatial = [x.name for x in checked.layers[1:] if len(x.output_shape) == 3]
            hint = "layers with feature maps: " + ", ".join(spatial[:8]) + (", …" if len(spatial) > 8 else "")
        raise FeatureError(f"no layer '{name}' in {checked.graph.network}; {hint}")
    if len(layers[name].output_shape) != 3:
        raise FeatureError(
            f"--layer {name}: its output {list(layers[name].output_shape)} has no height and width; "
            "pick a layer with feature maps (conv, pooling, …)"
        )
    return name


def feature_maps(spec: Spec, layer: str, image: str, weights: Weights = None, seed: int = 0) -> Maps:
    import numpy as np
    import onnx

    from netdsl.runtime.session import open_session, read_image, read_inputs

    model = spec.to_onnx(weights, seed, graph="training")  # every layer's value is in the graph
    model.graph.output.append(onnx.helper.make_tensor_value_info(layer, onnx.TensorProto.FLOAT, None))
    session = open_session(model, "cpu")
    batch, _ = read_inputs([image], session.input_shape, session.normalize)
    raw = batch[0] if image.lower().endswith(".npy") else read_image(Path(image), session.input_shape)
    values = session.session.run([layer], {session.input_name: np.ascontiguousarray(batch)})[0][0]
    op = next(x.op for x in spec.checked.layers if x.name == layer)
    return Maps(layer, op, np.asarray(values), np.asarray(raw), session.normalize is not None)


def grid_shape(count: int) -> tuple[int, int]:
    """Rows and columns for `count` panels: one row for a few, else nearly square, a little wider."""
    if count <= 6:
        return 1, count
    columns = math.ceil(math.sqrt(count * 1.3))
    return math.ceil(count / columns), columns


def draw(maps: Maps, network: str, kind: str, limit: int = MAX_MAPS) -> bytes:
    import numpy as np

    from netdsl.pictures.plot import figure, render

    channels = maps.maps.shape[0]
    shown = min(channels, limit)
    rows, columns = grid_shape(shown + 1)  # the input first
    panel, head = 1.35, 0.62  # inches: a map, and the two title lines
    width, height = max(columns * panel, 5.2), rows * panel + head
    fig = figure(width, height)
    some = f" (the first {shown})" if shown < channels else ""
    norm = "; the input normalized as in training" if maps.normalized else ""
    fig.text(0.01, 1 - 0.1 / height, f"{network}: {maps.layer} ({maps.op})", fontsize=10, fontweight="bold", va="top")
    fig.text(
        0.01,
        1 - 0.32 / height,
        f"{channels} map{'s' * (channels != 1)} of {maps.maps.shape[1]}×"
        f"{maps.maps.shape[2]}{some}, each scaled to its own range{norm}",
        fontsize=8.5,
        va="top",
    )
    used = columns * panel / width
    fig.subplots_adjust(
        left=0.01, right=0.01 + used * 0.98, bottom=0.01, top=1 - head / height, wspace=0.08, hspace=0.22
    )
    image = maps.image.transpose(1, 2, 0) if maps.image.shape[0] in (3, 4) else maps.image[0]
    axes = fig.add_subplot(rows, columns, 1)
    axes.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _bare(axes, "input")
    for channel in range(shown):
        axes = fig.add_subplot(rows, columns, channel + 2)
        values = maps.maps[channel]
        low, high = float(values.min()), float(values.max())
        axes.imshow(values, cmap="gray", vmin=low, vmax=high if high > low else low + 1, interpolation="nearest")
        _bare(axes, str(channel))
    return render(fig, kind, dpi=110)


def _bare(axes: object, title: str) -> None:
    axes.set_xticks([])  # type: ignore[attr-defined]
    axes.set_yticks([])  # type: ignore[attr-defined]
    axes.grid(False)  # type: ignore[attr-defined]
    for spine in axes.spines.values():  # type: ignore[attr-defined]
        spine.set_visible(True)
        spine.set_color("#999999")
    axes.set_title(title, fontsize=8, pad=2)  # type: ignore[attr-defined]
