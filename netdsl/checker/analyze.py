"""Stage 3 — analyze: `ir.Graph` → `Checked` (per-layer statistics and totals).

Counts parameters (trainable and frozen), multiply-accumulates (one per weight use, the
fvcore/ptflops convention: conv and dense layers only), activations and each layer's
receptive field and jump on the network input. Pure arithmetic: nothing is allocated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from netdsl.checker.ir import Graph, Node
from netdsl.checker.ops import OPS, Shape, trainable_params
from netdsl.core.diagnostics import Diagnostic

Field = tuple[int, int]


@dataclass(frozen=True)
class Layer:
    name: str
    op: str
    output_shape: Shape
    params: int
    trainable: int
    macs: int
    activations: int
    receptive_field: Field | None  # (height, width) in input pixels; None for a flat input
    jump: Field | None
    line: int
    column: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "op": self.op,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable,
            "macs": self.macs,
            "activations": self.activations,
            "receptive_field": list(self.receptive_field) if self.receptive_field else None,
            "jump": list(self.jump) if self.jump else None,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True)
class Checked:
    graph: Graph
    layers: tuple[Layer, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def input_shape(self) -> Shape:
        return self.graph.input.shape

    @property
    def output_shape(self) -> Shape:
        return self.graph.nodes[self.graph.output].shape

    @property
    def feature_field(self) -> Field | None:
        """The receptive field of the last feature map: the last layer with a [C, H, W] output
        that is not a pooling over the whole map (`global_avgpool`, `adaptive_avgpool(1)` alike);
        what `compare` reports. None for a flat network."""
        nodes = self.graph.nodes
        maps = [
            layer.receptive_field
            for layer, node in zip(self.layers, nodes, strict=True)
            if len(layer.output_shape) == 3 and layer.receptive_field and not pools_whole_map(node, self.graph)
        ]
        return maps[-1] if maps else None

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable for layer in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def activation_bytes(self) -> int:
        """float32 bytes of every layer output for one sample (the input not counted)."""
        return 4 * sum(layer.activations for layer in self.layers[1:])

    def to_json(self) -> dict[str, Any]:
        return {
            "network": self.graph.network,
            "parameters": dict(self.graph.params) if self.graph.params else {},
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "activation_bytes": self.activation_bytes,
            "layers": [layer.to_json() for layer in self.layers],
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


def analyze(graph: Graph) -> Checked:
    """Per-layer statistics of an elaborated graph, in the graph's (topological) order."""
    fields: dict[int, tuple[Field, Field] | None] = {}
    layers = []
    spatial = len(graph.input.shape) == 3
    extent = (graph.input.shape[1], graph.input.shape[2]) if spatial else (1, 1)
    for node in graph.nodes:
        fields[node.id] = _field(node, graph, fields, extent) if spatial else None
        layers.append(_layer(node, graph, fields[node.id]))
    return Checked(graph, tuple(layers), graph.diagnostics)


def _layer(node: Node, graph: Graph, field: tuple[Field, Field] | None) -> Layer:
    inputs = tuple(graph.nodes[i].shape for i in node.inputs)
    trainable = frozen = macs = 0
    if node.op != "input":
        op = OPS[node.op]
        trainable, frozen = trainable_params(op, node.attrs, inputs, node.shape)
        macs = op.macs(node.attrs, inputs, node.shape)
    return Layer(
        node.name, node.op, node.shape, trainable + frozen, trainable, macs, math.prod(node.shape),
        field[0] if field else None, field[1] if field else None, node.span.line, node.span.column,
    )


def pools_whole_map(node: Node, graph: Graph) -> bool:
    """Whether each output of `node` sees its whole input: a global op (global pooling, linear,
    the heads), or a window as large as its input that leaves one pixel (`adaptive_avgpool(1)`,
    `maxpool(7)` on a 7×7 map). One definition, so that every spelling of global pooling gives
    the same receptive field: the larger of its input's field and the image."""
    if node.op == "input":
        return False
    op = OPS[node.op]
    if op.reach == "global":
        return True
    if op.reach != "window" or op.window is None or node.shape[1:] != (1, 1) or not node.inputs:
        return False
    shape = graph.nodes[node.inputs[0]].shape
    window = op.window(node.attrs, shape)
    return all(window.effective(a) >= shape[1 + a] for a in (0, 1))


def _field(node: Node, graph: Graph, fields: dict[int, Any], extent: Field) -> tuple[Field, Field]:
    """Receptive field r and jump j: r' = r + (K_eff - 1)·j, j' = j·S, per axis."""
    if node.op == "input":
        return ((1, 1), (1, 1))
    known = [fields[i] for i in node.inputs if fields.get(i)]
    if len(node.inputs) > 1 and len(node.shape) == 3:
        # a merge: an input broadcast over H and W (squeeze-excitation's [C, 1, 1] gate) scales
        # channels; the output's pixels are those of the inputs laid out like it
        laid_out = [fields[i] for i in node.inputs if fields.get(i) and graph.nodes[i].shape[1:] == node.shape[1:]]
        known = laid_out or known
    size = tuple(max(f[0][a] for f in known) for a in (0, 1))
    jump = tuple(max(f[1][a] for f in known) for a in (0, 1))
    op = OPS[node.op]
    if pools_whole_map(node, graph):
        return ((max(size[0], extent[0]), max(size[1], extent[1])), (jump[0], jump[1]))
    if op.reach == "window" and op.window is not None:
        window = op.window(node.attrs, graph.nodes[node.inputs[0]].shape)
        return (
            (size[0] + (window.effective(0) - 1) * jump[0], size[1] + (window.effective(1) - 1) * jump[1]),
            (jump[0] * window.stride[0], jump[1] * window.stride[1]),
        )
    return ((size[0], size[1]), (jump[0], jump[1]))


def analyze_partial(graph: Graph) -> Checked:
    """`analyze` of a graph that errors left partly unshaped (for editors): a node whose shape is
    unknown (shape ()) or that depends on one gets a layer of zeros with shape () and no field."""
    fields: dict[int, tuple[Field, Field] | None] = {}
    layers = []
    spatial = len(graph.input.shape) == 3
    extent = (graph.input.shape[1], graph.input.shape[2]) if spatial else (1, 1)
    for node in graph.nodes:
        layer = None
        if node.shape and all(i in fields for i in node.inputs):
            try:
                field = _field(node, graph, fields, extent) if spatial else None
                layer = _layer(node, graph, field)
                fields[node.id] = field
            except Exception:  # an op's rule meeting what an error left behind: unknown, as the error says
                layer = None
        if layer is None:  # unknown, and so is everything that depends on it (it gets no field entry)
            layer = Layer(node.name, node.op, (), 0, 0, 0, 0, None, None, node.span.line, node.span.column)
        layers.append(layer)
    return Checked(graph, tuple(layers), graph.diagnostics)
