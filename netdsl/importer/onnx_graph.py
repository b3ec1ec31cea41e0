"""ONNX import, first pass — an onnx.ModelProto → its nodes with every constant computed.

Exporters compute shapes and small constants inside the graph (torch.onnx.export's TorchScript
graphs take a Pad's amounts from Shape, Concat, Slice and Cast nodes, and branch with an `If` on
a dimension known when the model was written). Here each node whose inputs are all known is run
once (onnx's reference evaluator), a `Shape` of a tensor whose shape is static becomes its
value, an `If` on a known condition becomes the nodes of its branch, and what is left reads the
input. Shapes come from onnx's shape inference, run on a copy without the large weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SMALL = 4096  # initializers up to this many elements go to shape inference (Reshape targets, pads)


@dataclass
class Folded:
    """The nodes that read the input, in order; the value of every constant tensor; the static
    shape of each tensor that shape inference found (None for a dimension it does not know)."""

    nodes: list[Any]
    consts: dict[str, Any]
    shapes: dict[str, tuple[int | None, ...]] = field(default_factory=dict)


def fold(model: Any) -> Folded:
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    shapes = _infer_shapes(model)
    nodes, queue = [], list(model.graph.node)
    while queue:
        node = queue.pop(0)
        if node.op_type == "If" and node.input[0] in consts:
            queue[:0] = _branch(node, bool(consts[node.input[0]].all()))
            continue
        value = _value(node, consts, shapes)
        if value is None:
            nodes.append(node)
        else:
            consts.update(zip(node.output, value, strict=False))
    return Folded(nodes, consts, shapes)


def _value(node: Any, consts: dict[str, Any], shapes: dict[str, tuple[int | None, ...]]) -> list[Any] | None:
    """The outputs of `node` where they are known without the input, else None."""
    import numpy as np
    from onnx import numpy_helper

    if node.op_type == "Constant":
        return [numpy_helper.to_array(node.attribute[0].t)] if node.attribute[0].name == "value" else None
    if node.op_type == "Shape":
        dims = shapes.get(node.input[0])
        if dims is None or None in dims or node.attribute:
            return None
        return [np.array(dims, dtype=np.int64)]
    inputs = [n for n in node.input if n]
    if not inputs or node.domain not in ("", "ai.onnx") or node.op_type in ("If", "Loop", "Scan"):
        return None
    if not all(n in consts for n in inputs):
        return None
    from onnx.reference import ReferenceEvaluator

    feeds = {n: consts[n] for n in inputs}
    return list(ReferenceEvaluator(node).run(None, feeds))


def _branch(node: Any, which: bool) -> list[Any]:
    """The nodes of the `If`'s branch that `which` picks, then an Identity to the If's output."""
    from onnx import helper

    name = "then_branch" if which else "else_branch"
    graph = next(a.g for a in node.attribute if a.name == name)
    outs = [helper.make_node("Identity", [o.name], [mine], name=f"{node.name}/{name}")
            for o, mine in zip(graph.output, node.output, strict=True)]
    return [*graph.node, *outs]


def _infer_shapes(model: Any) -> dict[str, tuple[int | None, ...]]:
    """Every tensor's shape as onnx infers it, on a copy whose large weights are inputs."""
    import onnx
    from onnx import helper

    light = helper.make_model(helper.make_graph([], model.graph.name, [], []), ir_version=model.ir_version)
    light.ClearField("opset_import")
    light.opset_import.extend(model.opset_import)
    graph = light.graph
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    inputs = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        if _size(tensor.dims) <= SMALL:
            graph.initializer.append(tensor)
        elif tensor.name not in inputs:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    try:
        inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    except Exception:  # noqa: BLE001 - a graph onnx cannot infer: the importer then works without shapes
        return {}
    found = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        if info.type.tensor_type.HasField("shape"):
            dims = info.type.tensor_type.shape.dim
            found[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return found


def _size(dims: Any) -> int:
    count = 1
    for d in dims:
        count *= d
    return count
