"""`netdsl features`: what a layer makes of one image — its feature maps as a grid beside the
input as the network saw it. Each map is scaled to its own largest |value| (so a weak map is as
readable as a strong one; that value is in its title) on a diverging colour map centred on 0,
with one colour bar: the sign of an edge stays readable. Maps are titled by the spec's labels
where a channel has one (a concat of labelled one-channel convs), else by their index.

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
from netdsl.checker.ir import Graph
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


KEEPS_CHANNELS = frozenset(
    ("relu", "tanh", "sigmoid", "leaky_relu", "gelu", "identity", "dropout", "batchnorm", "maxpool", "avgpool")
)


def channel_names(graph: Graph, layer: str) -> list[str]:
    """A title for each channel of `layer`: a one-channel layer's label, the labels of a concat's
    parts, a channel-keeping op's input's; else the channel index."""
    by_name = {node.name: node for node in graph.nodes}

    def names(node_id: int) -> list[str] | None:
        node = graph.nodes[node_id]
        if node.op == "concat":
            parts = [names(i) or [f"{node.name}[{k}]" for k in range(graph.nodes[i].shape[0])] for i in node.inputs]
            return [name for part in parts for name in part]
        if node.op in KEEPS_CHANNELS and len(node.inputs) == 1:
            return names(node.inputs[0])
        if len(node.shape) == 3 and node.shape[0] == 1 and node.op != "input":
            return [node.name]
        return None

    node = by_name[layer]
    found = names(node.id)
    return found if found and len(found) == node.shape[0] else [str(k) for k in range(node.shape[0])]


def draw(
    maps: Maps,
    network: str,
    kind: str,
    limit: int = MAX_MAPS,
    titles: list[str] | None = None,
    dpi: float = 150,
) -> bytes:
    import numpy as np

    from netdsl.pictures.plot import figure, render

    channels = maps.maps.shape[0]
    shown = min(channels, limit)
    titles = titles or [str(k) for k in range(channels)]
    rows, columns = grid_shape(shown + 1)  # the input first
    panel, head, bar = (2.4, 0.9, 1.1) if shown <= 6 else (1.5, 0.8, 1.0)  # inches: a map, titles, colour bar
    width, height = columns * panel + bar, rows * (panel + 0.25) + head
    fig = figure(width, height)
    some = f" (the first {shown})" if shown < channels else ""
    norm = "; the input normalized as in training" if maps.normalized else ""
    signed = bool((maps.maps[:shown] < 0).any())
    fig.text(0.01, 1 - 0.12 / height, f"{network}: {maps.layer} ({maps.op})", fontsize=12, fontweight="bold", va="top")
    fig.text(
        0.01,
        1 - 0.42 / height,
        f"{channels} map{'s' * (channels != 1)} of {maps.maps.shape[1]}×"
        f"{maps.maps.shape[2]}{some}, each scaled to its own largest |value| (in its title)"
        + ("; blue below 0, red above" if signed else "")
        + norm,
        fontsize=9.5,
        va="top",
    )
    right = (columns * panel) / width
    fig.subplots_adjust(left=0.01, right=right - 0.01, bottom=0.02, top=1 - head / height, wspace=0.1, hspace=0.35)
    image = maps.image.transpose(1, 2, 0) if maps.image.shape[0] in (3, 4) else maps.image[0]
    axes = fig.add_subplot(rows, columns, 1)
    axes.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _bare(axes, "input")
    cmap = "RdBu_r" if signed else "magma"
    shade = None
    for channel in range(shown):
        axes = fig.add_subplot(rows, columns, channel + 2)
        values = maps.maps[channel]
        peak = float(np.abs(values).max())  # 0 for a map that is all zeros (a dead relu): drawn as 0
        shade = axes.imshow(
            values / (peak or 1.0), cmap=cmap, vmin=-1 if signed else 0, vmax=1, interpolation="nearest"
        )
        _bare(axes, f"{titles[channel]}  ({'±' if signed else 'max '}{peak:.3g})")
    if shade is not None:
        top = axes.get_position()  # the last map's panel: the bar spans the grid's height
        first = fig.axes[0].get_position()
        holder = fig.add_axes((right + 0.12 / width, top.y0, 0.16 / width, first.y1 - top.y0))
        colour_bar = fig.colorbar(shade, cax=holder)
        colour_bar.set_ticks([-1, -0.5, 0, 0.5, 1] if signed else [0, 0.25, 0.5, 0.75, 1])
        colour_bar.set_label("value ÷ the map's largest |value|", fontsize=9)
        colour_bar.ax.tick_params(labelsize=8)
    return render(fig, kind, dpi=dpi)


def _bare(axes: object, title: str) -> None:
    axes.set_xticks([])  # type: ignore[attr-defined]
    axes.set_yticks([])  # type: ignore[attr-defined]
    axes.grid(False)  # type: ignore[attr-defined]
    for spine in axes.spines.values():  # type: ignore[attr-defined]
        spine.set_visible(True)
        spine.set_color("#999999")
    axes.set_title(title, fontsize=9, pad=3)  # type: ignore[attr-defined]
