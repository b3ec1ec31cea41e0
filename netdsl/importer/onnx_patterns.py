"""ONNX import — the layers that a lowering writes as several nodes, found by their structure.

netdsl's own lowerings (`backends/onnx/lowerings.py`) and torch.onnx.export's (TorchScript and
dynamo) write LRN, GELU, SiLU, adaptive pooling, a channel shuffle and the ordinal heads as a
few nodes each. A matcher starts at the node that gives the layer's output and walks back
through producers whose outputs nothing else reads; it checks every constant (a window of
alpha/n, a pad of n//2 before and (n-1)//2 after, a factor of 1/2) so that what it returns
computes what the nodes compute, and otherwise returns None.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from netdsl.importer.stmts import slot


@dataclass
class Match:
    """One layer: the node giving its output, all its nodes, the tensor it reads, its text."""

    anchor: Any
    nodes: list[Any]
    source: str
    text: str
    weights: dict[str, Any] = field(default_factory=dict)


class View:
    """Producers and readers of each tensor, with the folded constants and inferred shapes."""

    def __init__(self, nodes: list[Any], consts: dict[str, Any], shapes: dict[str, tuple[int | None, ...]]):
        self.consts, self.shapes = consts, shapes
        self.producer = {o: n for n in nodes for o in n.output}
        self.readers: dict[str, int] = defaultdict(int)
        for node in nodes:
            for name in node.input:
                self.readers[name] += 1

    def only(self, name: str, *ops: str) -> Any:
        """The node of one of `ops` that gives `name`, where nothing else reads `name`."""
        node = self.producer.get(name)
        if node is None or node.op_type not in ops or self.readers[name] != 1:
            return None
        return node

    def scalar(self, name: str) -> float | None:
        value = self.consts.get(name)
        return float(value.flatten()[0]) if value is not None and value.size == 1 else None

    def split(self, node: Any) -> tuple[str, float] | None:
        """(tensor, scalar) of a binary node with one scalar constant operand."""
        a, b = node.input[0], node.input[1]
        if self.scalar(b) is not None and a not in self.consts:
            return a, self.scalar(b)  # type: ignore[return-value]
        if self.scalar(a) is not None and b not in self.consts:
            return b, self.scalar(a)  # type: ignore[return-value]
        return None


def find(nodes: list[Any], consts: dict[str, Any], shapes: dict[str, tuple[int | None, ...]]) -> dict[int, Match]:
    """Every match, by the id of each of its nodes (a node belongs to one match at most)."""
    view = View(nodes, consts, shapes)
    found: dict[int, Match] = {}
    for node in reversed(nodes):
        if id(node) in found:
            continue
        for matcher in MATCHERS:
            match = matcher(view, node)
            if match is not None and not any(id(n) in found for n in match.nodes):
                found.update((id(n), match) for n in match.nodes)
                break
    return found


def _close(value: float | None, want: float) -> bool:
    return value is not None and abs(value - want) <= 1e-6 * max(1.0, abs(want))


def _lrn(view: View, div: Any) -> Match | None:
    """x / (k + alpha/n · Σ x² over n channels)^beta: netdsl sums with a 3-D Conv of alpha/n,
    PyTorch averages with Pad + a 3-D AveragePool, then multiplies by alpha."""
    if div.op_type != "Div":
        return None
    x = div.input[0]
    power = view.only(div.input[1], "Pow")
    add = power and view.only(power.input[0], "Add")
    if not add or view.scalar(power.input[1]) is None or view.split(add) is None:
        return None
    beta = view.scalar(power.input[1])
    t, k = view.split(add)  # type: ignore[misc]
    nodes, factor = [div, power, add], 1.0
    scaled = view.only(t, "Mul")
    if scaled is not None and view.split(scaled) is not None:
        t, factor = view.split(scaled)  # type: ignore[misc]
        nodes.append(scaled)
    t, squeezes = _reshapes(view, t, "Squeeze")
    window = squeezes and view.only(t, "Conv", "AveragePool")
    summed = window and _window(view, window)
    if not summed:
        return None
    size, weight, t, more = summed
    volume = t
    t, unsqueezes = _reshapes(view, t, "Unsqueeze")
    square = unsqueezes and view.only(t, "Mul")
    if not square or list(square.input) != [x, x] or not _volume(view, x, volume, squeezes[0].output[0]):
        return None
    nodes += [*squeezes, window, *more, *unsqueezes, square]
    alpha = float(f"{weight * size * factor:.7g}")
    text = (
        f"lrn({slot('size', size)}, alpha={slot('alpha', alpha)}, beta={slot('beta', _round(beta))}, "
        f"k={slot('k', _round(k))})"
    )
    return Match(div, nodes, x, text)


def _volume(view: View, x: str, volume: str, back: str) -> bool:
    """Whether the window reads [N, 1, C, H, W] of x's [N, C, H, W] and the result is x's shape
    again (true where shapes are unknown: the window's kernel and pads were checked)."""
    shape, inner, after = (view.shapes.get(n) for n in (x, volume, back))
    if not shape or not after or not inner:
        return True
    return after == shape and inner in (shape[:1] + (1,) + shape[1:],)


def _reshapes(view: View, name: str, kind: str) -> tuple[str, list[Any]]:
    """Back through a run of `kind` and Reshape nodes (from [N, C, H, W] to [N, 1, C, H, W] or
    back, as the exporters write it): the tensor before them, and the nodes."""
    nodes = []
    while (node := view.only(name, kind, "Reshape")) is not None:
        nodes.append(node)
        name = node.input[0]
    return name, nodes


def _window(view: View, node: Any) -> tuple[int, float, str, list[Any]] | None:
    """(n, each window weight, the tensor read, the Pad node if any) of an n×1×1 window over
    [N, 1, C, H, W] with n//2 channels before and (n-1)//2 after, or None."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    kernel = list(attrs.get("kernel_shape", []))
    if len(kernel) != 3 or kernel[1:] != [1, 1] or any(s != 1 for s in attrs.get("strides", [1, 1, 1])):
        return None
    size = kernel[0]
    pads = [int(p) for p in attrs.get("pads", [0] * 6)]
    t, more = node.input[0], []
    if node.op_type == "Conv":
        weight = view.consts.get(node.input[1])
        if weight is None or weight.shape != (1, 1, size, 1, 1) or len(set(weight.flatten().tolist())) != 1:
            return None
        each = float(weight.flatten()[0])
    else:
        pad = view.only(t, "Pad")
        if pad is not None and any(pads):
            return None
        if pad is not None:
            amounts = view.consts.get(pad.input[1])
            if amounts is None or len(amounts) != 10 or (len(pad.input) > 2 and pad.input[2]):
                return None
            amounts = [int(v) for v in amounts]
            pads = [amounts[2], 0, 0, amounts[7], 0, 0]
            if any(amounts[i] for i in (0, 1, 3, 4, 5, 6, 8, 9)):
                return None
            t, more = pad.input[0], [pad]
        elif any(pads) and not attrs.get("count_include_pad", 0):
            return None
        each = 1.0 / size
    if pads != [size // 2, 0, 0, (size - 1) // 2, 0, 0]:
        return None
    return size, each, t, more


def _gelu(view: View, node: Any) -> Match | None:
    """x · ½ · (1 + erf(x / √2)), in any order of the products."""
    if node.op_type != "Mul":
        return None
    leaves, nodes = _product(view, node)
    consts = [view.scalar(n) for n in leaves if n in view.consts]
    tensors = [n for n in leaves if n not in view.consts]
    if len(tensors) != 2 or None in consts or not _close(math.prod(consts), 0.5):  # type: ignore[arg-type]
        return None
    for one_plus, x in (tensors, tensors[::-1]):
        add = view.only(one_plus, "Add")
        split = add and view.split(add)
        erf = split and _close(split[1], 1.0) and view.only(split[0], "Erf")
        inner = erf and view.only(erf.input[0], "Div", "Mul")
        scaled = inner and view.split(inner)
        want = math.sqrt(2.0) if inner and inner.op_type == "Div" else math.sqrt(0.5)
        if scaled and scaled[0] == x and _close(scaled[1], want):
            return Match(node, [*nodes, add, erf, inner], x, "gelu")
    return None


def _product(view: View, node: Any) -> tuple[list[str], list[Any]]:
    """The factors of a tree of Mul nodes whose inner results nothing else reads."""
    leaves, nodes = [], [node]
    for name in node.input:
        inner = view.only(name, "Mul")
        if inner is not None and name not in view.consts:
            more, deeper = _product(view, inner)
            leaves += more
            nodes += deeper
        else:
            leaves.append(name)
    return leaves, nodes


def _silu(view: View, node: Any) -> Match | None:
    if node.op_type != "Mul":
        return None
    for gate, x in (node.input, node.input[::-1]):
        sigmoid = view.only(gate, "Sigmoid")
        if sigmoid is not None and sigmoid.input[0] == x:
            return Match(node, [node, sigmoid], x, "silu")
    return None


def _channel_shuffle(view: View, node: Any) -> Match | None:
    """[N, C, H, W] → [N, g, C/g, H, W] → swap the two channel axes → [N, C, H, W]."""
    from onnx import helper

    if node.op_type != "Reshape":
        return None
    swap = view.only(node.input[0], "Transpose")
    grouped = swap and view.only(swap.input[0], "Reshape")
    if not grouped or list(helper.get_attribute_value(swap.attribute[0])) != [0, 2, 1, 3, 4]:
        return None
    before, middle, after = (view.shapes.get(n) for n in (grouped.input[0], grouped.output[0], node.output[0]))
    if not before or not middle or not after or len(middle) != 5 or before[1:] != after[1:] or None in middle[1:]:  # type: ignore[index]
        return None
    if middle[3:] != before[2:] or None in before[1:] or middle[1] * middle[2] != before[1]:  # type: ignore[operator]
        return None
    return Match(node, [node, swap, grouped], grouped.input[0], f"channel_shuffle({slot('groups', middle[1])})")


def _adaptive_avgpool(view: View, node: Any) -> Match | None:
    """netdsl's adaptive average pooling of windows of unequal size: rows · X · colsᵀ."""
    from netdsl.backends.onnx.lowerings import adaptive_windows

    if node.op_type != "MatMul" or node.input[0] not in view.consts:
        return None
    across = view.only(node.input[1], "MatMul")
    if across is None or across.input[1] not in view.consts:
        return None
    rows, cols = view.consts[node.input[0]], view.consts[across.input[1]]
    size = view.shapes.get(across.input[0])
    if not size or len(size) != 4 or rows.ndim != 2 or cols.ndim != 2 or (rows.shape[1], cols.shape[0]) != size[2:]:
        return None
    for matrix, n, o in ((rows, size[2], rows.shape[0]), (cols.T, size[3], cols.shape[1])):
        want = [[1 / len(w) if j in w else 0.0 for j in range(n)] for w in adaptive_windows(n, o)]  # type: ignore[arg-type]
        if not (abs(matrix - want) <= 1e-6).all():
            return None
    output = rows.shape[0] if rows.shape[0] == cols.shape[1] else [rows.shape[0], cols.shape[1]]
    return Match(node, [node, across], across.input[0], f"adaptive_avgpool({slot('output', output)})")


def _heads(view: View, node: Any) -> Match | None:
    """A linear (Gemm or MatMul) and an Add of a bias: a linear with a bias, or, where one weight
    row meets several biases, a CORAL head (one shared weight, `classes - 1` biases)."""
    if node.op_type != "Add":
        return None
    for product, bias_name in (node.input, node.input[::-1]):
        bias = view.consts.get(bias_name)
        weight = _weight(view, view.only(product, "Gemm", "MatMul"))
        if bias is None or bias.ndim != 1 or weight is None or product in view.consts:
            continue
        source = view.producer[product].input[0]
        nodes = [node, view.producer[product]]
        if weight.shape[0] == 1 and bias.shape[0] > 1:
            return Match(
                node, nodes, source, f"coral({slot('classes', bias.shape[0] + 1)})", {"fc.weight": weight, "bias": bias}
            )
        if bias.shape[0] == weight.shape[0]:
            return Match(
                node, nodes, source, f"linear({slot('out', weight.shape[0])})", {"weight": weight, "bias": bias}
            )
    return None


def _weight(view: View, node: Any) -> Any:
    """The [out, in] weight of a Gemm (no bias, no scaling) or MatMul by a constant, else None."""
    from onnx import helper

    if node is None or node.input[1] not in view.consts:
        return None
    weight = view.consts[node.input[1]]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if weight.ndim != 2 or (
        node.op_type == "Gemm"
        and (len(node.input) > 2 and node.input[2] or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0)
    ):
        return None
    return weight if attrs.get("transB", 0) else weight.T.copy()


def _ordinal(view: View, node: Any) -> Match | None:
    """A Gemm of 2·(classes - 1) outputs reshaped to [N, classes - 1, 2]: an OR-CNN head."""
    from onnx import helper

    if node.op_type != "Reshape":
        return None
    gemm = view.only(node.input[0], "Gemm")
    after = view.shapes.get(node.output[0])
    target = view.consts.get(node.input[1])
    dims = list(after or ()) if after else ([int(v) for v in target] if target is not None else [])
    if gemm is None or len(dims) != 3 or dims[2] != 2 or len(gemm.input) < 3 or gemm.input[2] not in view.consts:
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    weight = view.consts.get(gemm.input[1])
    if weight is None or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        return None
    weight = weight if attrs.get("transB", 0) else weight.T.copy()
    if weight.shape[0] != 2 * dims[1]:
        return None
    return Match(
        node,
        [node, gemm],
        gemm.input[0],
        f"ordinal({slot('classes', dims[1] + 1)})",
        {"fc.weight": weight, "fc.bias": view.consts[gemm.input[2]]},
    )


def _copy(view: View, node: Any) -> Match | None:
    """Reshape to [-1], then a Gather of every element in order (the dynamo exporter's
    as_strided of a contiguous tensor): the tensor itself."""
    import numpy as np

    if node.op_type != "Gather" or node.input[1] not in view.consts:
        return None
    flat = view.only(node.input[0], "Reshape")
    target = flat and view.consts.get(flat.input[1])
    indices = view.consts[node.input[1]]
    if target is None or [int(v) for v in target] != [-1] or view.shapes.get(flat.input[0]) != indices.shape:
        return None
    if not (indices.flatten() == np.arange(indices.size)).all():
        return None
    return Match(node, [node, flat], flat.input[0], "")


def _layernorm2d(view: View, node: Any) -> Match | None:
    """Channels last, LayerNormalization over them, channels first again: a layernorm2d."""
    from onnx import helper

    if node.op_type != "Transpose" or list(helper.get_attribute_value(node.attribute[0])) != [0, 3, 1, 2]:
        return None
    norm = view.only(node.input[0], "LayerNormalization")
    last = norm and view.only(norm.input[0], "Transpose")
    if not last or list(helper.get_attribute_value(last.attribute[0])) != [0, 2, 3, 1] or len(norm.input) < 3:
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in norm.attribute}
    scale, bias = view.consts.get(norm.input[1]), view.consts.get(norm.input[2]) if norm.input[2] else None
    if attrs.get("axis", -1) not in (-1, 3) or scale is None or bias is None or scale.ndim != 1:
        return None
    text = f"layernorm2d(eps={slot('eps', _round(attrs.get('epsilon', 1e-5)))})"
    return Match(node, [node, norm, last], last.input[0], text, {"weight": scale, "bias": bias})


def _round(value: float) -> float:
    return float(f"{value:.7g}")


MATCHERS = [_copy, _layernorm2d, _lrn, _gelu, _silu, _channel_shuffle, _adaptive_avgpool, _heads, _ordinal]
