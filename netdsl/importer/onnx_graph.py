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
    """Constants computed, then shapes inferred again, until a round folds nothing more (a Pad
    whose amounts were computed gets a shape only once they are known, and so an If on it)."""
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = list(model.graph.node)
    for _ in range(4):
        shapes = _infer_shapes(model, nodes, consts)
        before = len(consts)
        nodes = _fold(nodes, consts, shapes)
        if len(consts) == before:
            break
    return Folded(nodes, consts, shapes)


def _fold(nodes: list[Any], consts: dict[str, Any], shapes: dict[str, tuple[int | None, ...]]) -> list[Any]:
    kept, queue = [], list(nodes)
    while queue:
        node = queue.pop(0)
        if node.op_type == "If" and node.input[0] in consts:
            queue[:0] = _branch(node, bool(consts[node.input[0]].all()))
            continue
        value = _value(node, consts, shapes)
        if value is None:
            kept.append(node)
        else:
            consts.update(zip(node.output, value, strict=False))
    return kept


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
    """The nodes of the `If`'s branch that `which` picks, writing the If's outputs."""
    import onnx

    name = "then_branch" if which else "else_branch"
    graph = next(a.g for a in node.attribute if a.name == name)
    rename = {o.name: mine for o, mine in zip(graph.output, node.output, strict=True)}
    nodes = []
    for inner in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(inner)
        copy.output[:] = [rename.get(o, o) for o in inner.output]
        nodes.append(copy)
    return nodes


def _infer_shapes(model: Any, nodes: list[Any], consts: dict[str, Any]) -> dict[str, tuple[int | None, ...]]:
    """Every tensor's shape as onnx infers it, on a copy of `nodes` whose large constants are inputs."""
    import onnx
    from onnx import helper, numpy_helper

    light = helper.make_model(helper.make_graph([], model.graph.name, [], []), ir_version=model.ir_version)
    light.ClearField("opset_import")
    light.opset_import.extend(model.opset_import)
    graph = light.graph
    graph.node.extend(nodes)
    graph.input.extend(i for i in model.graph.input if i.name not in consts)
    graph.output.extend(model.graph.output)
    for name, value in consts.items():
        if value.size <= SMALL:
            graph.initializer.append(numpy_helper.from_array(value, name))
        else:
            kind = helper.np_dtype_to_tensor_dtype(value.dtype)
            graph.input.append(helper.make_tensor_value_info(name, kind, list(value.shape)))
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
