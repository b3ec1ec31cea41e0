"""ONNX → statements: each node (or the few nodes netdsl's and the exporters' lowerings make of
one layer) back to an op of the table, each step with its module path and its initializers;
onnx_tree nests the steps into the modules the paths name (seqs and block instances, for the
shared generalizer) and keys the weights as the written spec's module names them.
"""

from __future__ import annotations

import math
import re
import textwrap
from functools import partial
from typing import Any

import numpy as np

from netdsl.importer.refusal import ImportRefused, UsageError
from netdsl.importer.stmts import ACTS, Part, slot

CONTROL = {"Loop", "If", "Scan"}
SIMPLE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "Gelu": "gelu"}


def from_onnx_file(path: str, input_shape: tuple[int, ...] | None, name: str | None) -> Any:
    import onnx

    try:
        model = onnx.load(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except Exception as error:
        raise UsageError(f"{path} is not an ONNX model ({type(error).__name__}: {error})") from None
    return from_onnx(model, input_shape, name, path)


def from_onnx(
    model: Any, input_shape: tuple[int, ...] | None = None, name: str | None = None, source: str | None = None
) -> Any:
    """`Imported` (spec text and a state_dict of numpy arrays) for an onnx.ModelProto."""
    from netdsl.importer.chains import linearize
    from netdsl.importer.onnx_tree import nest
    from netdsl.importer.refusal import Imported
    from netdsl.importer.write import write_spec

    reader = _Reader(model)
    shape = reader.input_shape(input_shape)
    output = reader.walk()
    steps, output, instances, weights = nest(reader.steps, output, partial(reader.channels, shape), reader.classes)
    folded = [s.meta["folded_as"] for s in reader.steps if "folded_as" in s.meta]
    body = linearize(steps, output)
    network = name or _name(model.graph.name)
    comment = f"Imported from {source or 'an ONNX model'} by netdsl import (ONNX, opset {reader.opset})."
    if folded:
        note = (
            "The exporter folded a batchnorm into each of these convs (a node named conv+bn): they stay "
            "convs with a bias: " + ", ".join(folded) + "."
        )
        comment += "\n# " + "\n# ".join(textwrap.wrap(note, 92))
    text = write_spec(instances, body, network, shape, comment)
    return Imported(text, weights)


def _name(graph_name: str) -> str:
    name = re.sub(r"\W", "_", graph_name or "")
    return name if name.isidentifier() and name[0].isupper() else "Imported"


class _Reader:
    def __init__(self, model: Any):
        from netdsl.importer.onnx_graph import fold

        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        folded = fold(model)
        self.nodes, self.consts, self.shapes = folded.nodes, folded.consts, folded.shapes
        self.env: dict[str, Any] = {}
        self.classes: dict[str, str] = {}  # a module's class by path, where the exporter says
        self.steps: list[Any] = []

    def input_shape(self, given: tuple[int, ...] | None) -> tuple[int, ...]:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1 or len(self.graph.output) != 1:
            raise ImportRefused(
                f"a model of {len(inputs)} inputs and {len(self.graph.output)} outputs "
                "(netdsl networks take one and give one)"
            )
        dims = inputs[0].type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in list(dims)[1:])
        self.env[inputs[0].name] = "in"
        if given is not None:
            return given
        if not 1 <= len(shape) <= 3 or None in shape:
            names = [str(d.dim_value) if d.HasField("dim_value") else d.dim_param or "?" for d in list(dims)[1:]]
            raise ImportRefused(
                f"input '{inputs[0].name}' has a dynamic shape [{', '.join(names)}] (give one with --input CxHxW)"
            )
        return shape  # type: ignore[return-value]

    def walk(self) -> Any:
        from netdsl.importer.onnx_patterns import find

        matches = find(self.nodes, self.consts, self.shapes)
        for node in self.nodes:
            match = matches.get(id(node))
            if match is not None:
                if node is match.anchor:
                    where = f"node '{node.name or node.output[0]}' ({node.op_type})"
                    if not match.text:  # a copy of its source
                        self.env[node.output[0]] = self.tensor(match.source, where)
                        continue
                    self._keep(node, self.step(node, match.text, match.source, where, **match.weights))
                continue
            result = self._node(node)
            if result is not None:
                self._keep(node, result)
        out = self.graph.output[0].name
        if not (self.env.get(out) == "in" or _is_step(self.env.get(out))):
            raise ImportRefused(f"the output '{out}' is not computed from the input")
        return self.env[out]

    def _node(self, node: Any) -> Any:
        where = f"node '{node.name or node.output[0]}' ({node.op_type})"
        if node.op_type == "Constant":
            self.consts[node.output[0]] = np.array(next(iter(_attrs(node).values())))
            return None
        if node.domain not in ("", "ai.onnx"):
            raise ImportRefused(f"an op of domain '{node.domain}' has no netdsl op", where)
        if node.op_type in CONTROL:
            raise ImportRefused(f"control flow (ONNX {node.op_type}) has no netdsl form", where)
        if node.op_type in SIMPLE:
            if _attrs(node).get("approximate", b"none") not in (b"none", "none"):
                raise ImportRefused("GELU's tanh approximation (netdsl's gelu is exact)", where)
            return self.step(node, SIMPLE[node.op_type], node.input[0], where)
        handler = getattr(self, f"_{node.op_type}", None)
        if handler is None:
            raise ImportRefused(f"ONNX {node.op_type} has no netdsl op", where)
        return handler(node, _attrs(node), where)

    def _keep(self, node: Any, result: Any) -> None:
        self.env[node.output[0]] = result
        if _is_step(result) and not any(s is result for s in self.steps):
            result.name = _module_path(node) or node.output[0]
            result.meta.update(path=_path(node), out=node.output[0])
            self.classes.update(_classes(node))
            self.steps.append(result)

    def channels(self, shape: tuple[int, ...], source: Any) -> int | None:
        """The channels of the value `source` (a step, or the input `in`)."""
        if source == "in" or not _is_step(source):
            return shape[0] if len(shape) == 3 else None
        dims = self.shapes.get(source.meta.get("out", "")) or ()
        return dims[1] if len(dims) == 4 else None

    # ---- helpers ------------------------------------------------------------------------

    def tensor(self, name: str, where: str) -> Any:
        held = self.env.get(name)
        if held == "in" or _is_step(held):
            return held
        raise ImportRefused(f"'{name}' is not a value computed from the input (a constant or a shape)", where)

    def const(self, name: str, where: str) -> Any:
        if name in self.consts:
            return self.consts[name]
        raise ImportRefused(f"'{name}' is computed at run time (a dynamic shape or weight)", where)

    def step(self, node: Any, text: str, source: str, where: str, **tensors: Any) -> Any:
        from netdsl.importer.chains import Step

        made = Step(Part(slot("act", text) if text in ACTS else text), [self.tensor(source, where)])
        made.meta.update(
            weights=tensors,
            fallback=(_module_path(node) or (node.name or node.output[0]).split("+")[0]) or node.op_type.lower(),
            folded=bool(tensors) and "+" in (node.name or "") and node.op_type == "Conv",
        )
        return made

    # ---- one method per ONNX op ---------------------------------------------------------

    def _Conv(self, node: Any, a: dict[str, Any], where: str) -> Any:
        weight = self.const(node.input[1], where)
        if weight.ndim != 4:
            raise ImportRefused(f"a {weight.ndim - 2}-D convolution (netdsl's conv is 2-D)", where)
        pads = _pads(a.get("pads", [0, 0, 0, 0]), where)
        text = (
            f"conv({slot('out', weight.shape[0])}, {slot('kernel', _pair(weight.shape[2:]))}, "
            f"stride={slot('stride', _pair(a.get('strides', [1, 1])))}, padding={slot('padding', pads)}, "
            f"dilation={slot('dilation', _pair(a.get('dilations', [1, 1])))}, "
            f"groups={slot('groups', a.get('group', 1))}"
        )
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ImportRefused("auto_pad (netdsl writes padding out)", where)
        tensors = {"weight": weight}
        if len(node.input) > 2 and node.input[2]:
            tensors["bias"] = self.const(node.input[2], where)
        else:
            text += ", bias=false"
        return self.step(node, text + ")", node.input[0], where, **tensors)

    def _BatchNormalization(self, node: Any, a: dict[str, Any], where: str) -> Any:
        import numpy as np

        scale, bias, mean, var = (self.const(n, where) for n in node.input[1:5])
        eps, momentum = a.get("epsilon", 1e-5), 1.0 - a.get("momentum", 0.9)
        text = f"batchnorm(eps={slot('eps', _round(eps))}, momentum={slot('momentum', _round(momentum))})"
        return self.step(
            node,
            text,
            node.input[0],
            where,
            weight=scale,
            bias=bias,
            running_mean=mean,
            running_var=var,
            num_batches_tracked=np.array(0, dtype=np.int64),
        )

    def _Gemm(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
            raise ImportRefused("Gemm with alpha, beta or transA (netdsl's linear is x·Wᵀ + b)", where)
        weight = self.const(node.input[1], where)
        weight = weight if a.get("transB", 0) else weight.T
        bias = self.const(node.input[2], where) if len(node.input) > 2 and node.input[2] else None
        return self._linear(node, weight, bias, where)

    def _linear(self, node: Any, weight: Any, bias: Any, where: str) -> Any:
        tensors = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
        text = f"linear({slot('out', weight.shape[0])}{'' if bias is not None else ', bias=false'})"
        return self.step(node, text, node.input[0], where, **tensors)

    def _MatMul(self, node: Any, a: dict[str, Any], where: str) -> Any:
        weight = self.const(node.input[1], where)
        if weight.ndim != 2:
            raise ImportRefused("MatMul by a tensor that is no [in, out] matrix", where)
        return self._linear(node, weight.T.copy(), None, where)

    def _Transpose(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if node.input[0] in self.consts:
            self.consts[node.output[0]] = self.consts[node.input[0]].transpose(a.get("perm"))
            return None
        perm = list(a.get("perm", []))
        if perm[:1] != [0]:
            raise ImportRefused(f"Transpose(perm={perm}) moves the batch axis", where)
        return self.step(node, f"permute({slot('order', [p - 1 for p in perm[1:]])})", node.input[0], where)

    def _Add(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self._binary(node, "add", where)

    def _Mul(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self._binary(node, "mul", where)

    def _binary(self, node: Any, op: str, where: str) -> Any:
        from netdsl.importer.chains import Step

        left, right = node.input[0], node.input[1]
        if left in self.consts:
            left, right = right, left
        if right in self.consts:
            value = self.consts[right]
            if op == "mul" and value.ndim == 3 and value.shape[1:] == (1, 1):
                made = self.step(
                    node, f"scale({slot('init', _round(float(value.flat[0])))})", left, where, **{"": value}
                )
                made.meta["fallback"] = right.rsplit(".", 1)[-1]  # the parameter's name: `layer_scale`
                return made
            raise ImportRefused(f"{op} of a constant (netdsl merges values computed from the input)", where)
        inputs = [self.tensor(n, where) for n in node.input]
        return Step(Part(f"{op}({_operands(len(inputs))})"), inputs, merge=op)

    def _Concat(self, node: Any, a: dict[str, Any], where: str) -> Any:
        from netdsl.importer.chains import Step

        if all(n in self.consts or isinstance(self.env.get(n), tuple) for n in node.input):
            self.env[node.output[0]] = ("shape", [self.env.get(n, self.consts.get(n)) for n in node.input])
            return self.env[node.output[0]]
        if a.get("axis") != 1:
            raise ImportRefused(f"Concat on axis {a.get('axis')} (netdsl's concat joins channels)", where)
        inputs = [self.tensor(n, where) for n in node.input]
        return Step(Part(f"concat({_operands(len(inputs))})"), inputs, merge="concat")

    def _pool(self, node: Any, a: dict[str, Any], op: str, where: str) -> Any:
        kernel = _pair(a["kernel_shape"])
        pads = _pads(a.get("pads", [0, 0, 0, 0]), where)
        if _pair(a.get("dilations", [1, 1])) != 1:
            raise ImportRefused("pooling with dilation", where)
        text = (
            f"{op}({slot('kernel', kernel)}, stride={slot('stride', _pair(a.get('strides', [1, 1])))}, "
            f"padding={slot('padding', pads)}{', ceil=true' if a.get('ceil_mode') else ''})"
        )
        return self.step(node, text, node.input[0], where)

    def _MaxPool(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self._pool(node, a, "maxpool", where)

    def _AveragePool(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if not a.get("count_include_pad", 0) and any(a.get("pads", [0])):
            raise ImportRefused("AveragePool that leaves padding out of the count (count_include_pad=0)", where)
        return self._pool(node, a, "avgpool", where)

    def _GlobalAveragePool(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self.step(node, "global_avgpool", node.input[0], where)

    def _GlobalMaxPool(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self.step(node, "adaptive_maxpool(1)", node.input[0], where)

    def _ReduceMean(self, node: Any, a: dict[str, Any], where: str) -> Any:
        axes = a.get("axes") or (list(self.const(node.input[1], where)) if len(node.input) > 1 else None)
        if sorted(int(x) % 4 for x in axes or []) != [2, 3]:
            raise ImportRefused(f"ReduceMean over axes {axes} (netdsl averages H and W)", where)
        text = "global_avgpool" if a.get("keepdims", 1) else "global_avgpool -> flatten"
        return self.step(node, text, node.input[0], where)

    def _Flatten(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if a.get("axis", 1) != 1:
            raise ImportRefused(f"Flatten on axis {a.get('axis')} (netdsl flattens from axis 1)", where)
        return self.step(node, "flatten", node.input[0], where)

    def _Reshape(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if self._flattens(node):
            return self._flatten(node, where)
        shape = self.consts.get(node.input[1])
        held = self.env.get(node.input[1])
        flat = shape is not None and len(shape) == 2 and int(shape[1]) == -1 and int(shape[0]) in (0, 1, -1)
        flat = flat or (isinstance(held, tuple) and held[0] == "shape" and _batch_then_minus_one(held[1]))
        if not flat:
            raise ImportRefused("Reshape to a shape other than [N, -1] (a flatten), or computed at run time", where)
        return self.step(node, "flatten", node.input[0], where)

    def _flattens(self, node: Any) -> bool:
        """Whether the inferred shapes say [N, …] → [N, product of …] (a flatten)."""
        before, after = self.shapes.get(node.input[0]), self.shapes.get(node.output[0])
        if not before or not after or None in before[1:] or len(after) != 2:
            return False
        return after[1] == math.prod(before[1:]) and (after[0] == before[0] or None in (after[0], before[0]))

    def _flatten(self, node: Any, where: str) -> Any:
        if len(self.shapes.get(node.input[0]) or ()) == 2:
            return self.tensor(node.input[0], where)  # already [N, F]
        return self.step(node, "flatten", node.input[0], where)

    def _Squeeze(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if self._flattens(node):
            return self._flatten(node, where)
        raise ImportRefused("Squeeze other than of [N, C, 1, 1] to [N, C] (a flatten)", where)

    def _LayerNormalization(self, node: Any, a: dict[str, Any], where: str) -> Any:
        rank = len(self.shapes.get(node.input[0]) or ())
        axis = a.get("axis", -1)
        if axis != -1 and axis != rank - 1:
            raise ImportRefused(
                f"LayerNormalization from axis {axis} (netdsl's layernorm is over the last axis)", where
            )
        if len(node.input) < 3 or not node.input[2]:
            raise ImportRefused("LayerNormalization without a bias (netdsl's layernorm has one)", where)
        scale, bias = self.const(node.input[1], where), self.const(node.input[2], where)
        text = f"layernorm(eps={slot('eps', _round(a.get('epsilon', 1e-5)))})"
        return self.step(node, text, node.input[0], where, weight=scale, bias=bias)

    def _Slice(self, node: Any, a: dict[str, Any], where: str) -> Any:
        starts, ends = (self.const(n, where) for n in node.input[1:3])
        axes = self.const(node.input[3], where) if len(node.input) > 3 and node.input[3] else [0]
        steps = self.const(node.input[4], where) if len(node.input) > 4 and node.input[4] else [1]
        shape = self.shapes.get(node.input[0])
        if len(starts) != 1 or int(axes[0]) % len(shape or [0, 0]) != 1 or int(steps[0]) != 1 or not shape:
            raise ImportRefused("Slice other than of a run of channels (netdsl slices axis 1, step 1)", where)
        channels = shape[1]
        start, stop = (min(max(int(v) + (channels if int(v) < 0 else 0), 0), channels) for v in (starts[0], ends[0]))
        return self._channels(node, start, stop, channels, where)

    def _channels(self, node: Any, start: int, stop: int, channels: int, where: str) -> Any:
        size = stop - start
        if size > 0 and channels % size == 0 and start % size == 0:
            return self.step(
                node, f"chunk({slot('parts', channels // size)}, {slot('index', start // size)})", node.input[0], where
            )
        return self.step(node, f"slice({slot('start', start)}, {slot('stop', stop)})", node.input[0], where)

    def _Split(self, node: Any, a: dict[str, Any], where: str) -> Any:
        shape = self.shapes.get(node.input[0])
        if not shape or a.get("axis", 0) % len(shape) != 1 or shape[1] is None:
            raise ImportRefused("Split other than of channels (netdsl's chunk splits axis 1)", where)
        sizes = (
            list(a["split"])
            if "split" in a
            else [int(v) for v in self.const(node.input[1], where)]
            if len(node.input) > 1 and node.input[1]
            else [shape[1] // len(node.output)] * len(node.output)
        )
        start = 0
        for output, size in zip(node.output, sizes, strict=True):
            part = self._channels(node, start, start + size, shape[1], where)
            self._keep(_Output(output, node), part)
            start += size
        return None

    def _Shape(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return ("dims", self.tensor(node.input[0], where))

    def _Gather(self, node: Any, a: dict[str, Any], where: str) -> Any:
        held = self.env.get(node.input[0])
        if isinstance(held, tuple) and held[0] == "dims" and int(self.const(node.input[1], where)) == 0:
            return ("batch",)
        raise ImportRefused("Gather (netdsl has no indexing op)", where)

    def _Unsqueeze(self, node: Any, a: dict[str, Any], where: str) -> Any:
        held = self.env.get(node.input[0])
        if isinstance(held, tuple) and held[0] == "batch":
            return held
        raise ImportRefused("Unsqueeze of a tensor", where)

    def _HardSigmoid(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if abs(a.get("alpha", 0.2) - 1 / 6) > 1e-6 or a.get("beta", 0.5) != 0.5:
            raise ImportRefused("HardSigmoid other than PyTorch's (alpha 1/6, beta 0.5)", where)
        return self.step(node, "hardsigmoid", node.input[0], where)

    def _LeakyRelu(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self.step(
            node, f"leaky_relu({slot('negative_slope', _round(a.get('alpha', 0.01)))})", node.input[0], where
        )

    def _Clip(self, node: Any, a: dict[str, Any], where: str) -> Any:
        low = a.get("min", float(self.const(node.input[1], where)) if len(node.input) > 1 and node.input[1] else None)
        high = a.get("max", float(self.const(node.input[2], where)) if len(node.input) > 2 and node.input[2] else None)
        if (low, high) != (0.0, 6.0):
            raise ImportRefused(f"Clip to [{low}, {high}] (netdsl has relu6: [0, 6])", where)
        return self.step(node, "relu6", node.input[0], where)

    def _Softmax(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self._softmax(node, a, "softmax", where)

    def _LogSoftmax(self, node: Any, a: dict[str, Any], where: str) -> Any:
        return self._softmax(node, a, "log_softmax", where)

    def _softmax(self, node: Any, a: dict[str, Any], op: str, where: str) -> Any:
        if a.get("axis", -1) not in (1, -3) and not (a.get("axis", -1) == -1 and self._flat(node.input[0])):
            raise ImportRefused(f"{op} on axis {a.get('axis', -1)} (netdsl's is over channels)", where)
        return self.step(node, op, node.input[0], where)

    def _flat(self, name: str) -> bool:
        held = self.env.get(name)
        text = held.part.text if _is_step(held) else ""
        return bool(re.search(r"linear\(|flatten", text))

    def _Dropout(self, node: Any, a: dict[str, Any], where: str) -> Any:
        ratio = a.get("ratio") or (
            float(self.const(node.input[1], where)) if len(node.input) > 1 and node.input[1] else 0.5
        )
        return self.step(node, f"dropout({slot('p', _round(ratio))})", node.input[0], where)

    def _Identity(self, node: Any, a: dict[str, Any], where: str) -> Any:
        if node.input[0] in self.consts:  # the TorchScript exporter shares equal weights this way
            self.consts[node.output[0]] = self.consts[node.input[0]]
            return None
        return self.tensor(node.input[0], where)

    def _LRN(self, node: Any, a: dict[str, Any], where: str) -> Any:
        text = (
            f"lrn({slot('size', a['size'])}, alpha={slot('alpha', _round(a.get('alpha', 1e-4)))}, "
            f"beta={slot('beta', _round(a.get('beta', 0.75)))}, k={slot('k', _round(a.get('bias', 1.0)))})"
        )
        return self.step(node, text, node.input[0], where)


def _module_path(node: Any) -> str | None:
    """The PyTorch module that torch.onnx.export wrote `node` for: the dynamo exporter's name
    scopes (`['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d']`) or the TorchScript
    exporter's node name (`/layer1/layer1.0/conv1/Conv`), as `layer1.0.conv1`."""
    import ast

    scopes = next((p.value for p in getattr(node, "metadata_props", ()) if p.key == "pkg.torch.onnx.name_scopes"), None)
    if scopes is not None:
        try:
            parts = [str(s) for s in ast.literal_eval(scopes)][1:-1]
        except (ValueError, SyntaxError):
            return None
    elif (node.name or "").startswith("/"):
        parts = node.name.split("/")[1:-1]
    else:
        return None
    return _join_scopes(parts) or None


def _join_scopes(parts: list[str]) -> str:
    """A module's path from its scopes' names. Dynamo names each scope in full; TorchScript
    relative to the nearest module that is not an nn.Sequential
    (`/features/features.1/features.1.0/block/block.0/block.0.0/Conv`): a scope that does not
    extend the one before starts from the path so far."""
    base = prev = path = ""
    for part in parts:
        if prev and not part.startswith(prev + "."):
            base = path
        path, prev = (f"{base}.{part}" if base else part), part
    return path


def _classes(node: Any) -> dict[str, str]:
    """The classes of the modules around `node` by path (the dynamo exporter's class hierarchy,
    `['…ResNet18', 'torch.nn…Sequential', '…BasicBlock', …]` beside its name scopes), less
    PyTorch's own."""
    import ast

    meta = {p.key: p.value for p in getattr(node, "metadata_props", ())}
    try:
        scopes = [str(s) for s in ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])][1:-1]
        classes = [str(c) for c in ast.literal_eval(meta["pkg.torch.onnx.class_hierarchy"])][1:-1]
    except (KeyError, ValueError, SyntaxError):
        return {}
    found: dict[str, str] = {}
    for k, cls in enumerate(classes[: len(scopes)]):
        name = cls.rsplit(".", 1)[-1]
        if not cls.startswith("torch.") and name.isidentifier() and name[0].isupper():
            found[_join_scopes(scopes[: k + 1])] = name
    return found


def _path(node: Any) -> str | None:
    """The module path of `node`: the exporters' (see `_module_path`), or netdsl's own node name
    (`layer1.0.conv1`); None where the name is no path."""
    path = _module_path(node)
    if path is not None:
        return path
    # a folded conv+bn: the conv's; a node of several a layer became (`features.0.1/normed`): the layer's
    name = (node.name or "").split("+")[0].split("/")[0]
    return name if re.fullmatch(r"[A-Za-z_][\w-]*(?:\.[\w-]+)*", name) else None


class _Output:
    """One output of a node of several (a Split): its name as the node's only output."""

    def __init__(self, name: str, node: Any):
        self.output, self.name, self.op_type = [name], node.name, node.op_type


def _operands(count: int) -> str:
    return ", ".join(f"{{{i}}}" for i in range(count))


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _is_step(value: Any) -> bool:
    return hasattr(value, "part") and hasattr(value, "inputs")


def _pair(values: Any) -> Any:
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _pads(pads: Any, where: str) -> Any:
    pads = [int(p) for p in pads]
    if pads[:2] != pads[2:]:
        raise ImportRefused(f"asymmetric padding {pads} (netdsl pads both sides alike)", where)
    return _pair(pads[:2])


def _round(value: float) -> float:
    return float(f"{value:.7g}")


def _batch_then_minus_one(parts: list[Any]) -> bool:
    return (
        len(parts) == 2
        and isinstance(parts[0], tuple)
        and parts[0][0] == "batch"
        and not isinstance(parts[1], tuple)
        and [int(x) for x in parts[1].flatten()] == [-1]
    )
