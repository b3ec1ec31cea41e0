"""Backend — ONNX: checked graph + weights → an ONNX model, emitted directly with onnx.helper.

No tracing through torch.onnx.export: each IR node is lowered by `onnx_ops.ONNX_LOWERINGS`.
Tensors are named after the IR's nodes (`layer1.0.conv1`), initializers after the PyTorch
backend's state_dict keys (`layer1.0.conv1.weight`), nodes carry their spec line as doc string.
Attributes are sorted and nothing time-dependent is written: the same spec and weights give
the same bytes. onnx and numpy are imported inside the functions that use them.

Two graphs (`GRAPHS`). The inference graph, the default, is what deployment tools read without
optimizing first (onnxruntime's static quantizer, TensorRT's parser, Netron): a batchnorm is
folded into the conv it reads when nothing else reads that conv (one Conv named `conv+bn`,
carrying both spec lines), and identity, dropout and stochastic_depth write no node (their
readers read their input). The training graph writes every layer, BatchNorm and Dropout
included, for tools that fine-tune from ONNX.

The default opset is `DEFAULT_OPSET`, fixed rather than the newest the installed onnxruntime
runs: a file then reads in older runtimes and converters alike (onnx2torch, TensorRT), and
the lowerings are measured there.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.backends.onnx.lowerings import ONNX_LOWERINGS, TARGETS, conv_batchnorm, lowering_for
from netdsl.backends.pytorch.names import state_prefix
from netdsl.checker.analyze import Checked
from netdsl.checker.heads import head_kind
from netdsl.checker.ir import Node
from netdsl.checker.ops import Shape
from netdsl.core.diagnostics import source_line
from netdsl.core.files import STDOUT, destination, write_atomic, write_atomic_chunks
from netdsl.core.version import __version__

if TYPE_CHECKING:
    import numpy as np
    import onnx

MIN_OPSET = 17
DEFAULT_OPSET = 18  # torch.onnx.export's (dynamo) default too; onnxruntime runs it from 1.14 on
GRAPHS = ("inference", "training")
PROTOBUF_LIMIT = 2**31 - 2**24  # past this, weights go to an external data file


class WeightsError(Exception):
    """Weights that do not fit the spec: the message names the first misfit."""


class WeightsFileError(WeightsError):
    """A weights file that is missing or holds no weights (an ONNX model, a text file): a usage
    error (exit 2), where weights that do not fit the spec are an error in it (exit 1)."""


def expected_tensors(checked: Checked) -> dict[str, Shape]:
    """Every weight tensor the spec needs, by state_dict key, with its shape."""
    graph = checked.graph
    found: dict[str, Shape] = {}
    own: set[str] = set()  # layers that are a parameter of the module around them
    for node in graph.nodes[1:]:
        inputs = tuple(graph.nodes[i].shape for i in node.inputs)
        for suffix, shape in ONNX_LOWERINGS[node.op].tensors(node, inputs).items():
            found[tensor_key(node.name, suffix)] = shape
            if not suffix:
                own.add(tensor_key(node.name, suffix))
    return _module_order(found, own)


def _module_order(found: dict[str, Shape], own: set[str]) -> dict[str, Shape]:
    """The keys in the order PyTorch's state_dict gives them: a module's own parameters (a
    `scale` layer is one, on the module around it) before those of its children."""
    keys = [k for k in found if k not in own]
    for key in [k for k in found if k in own]:
        parent = key.rpartition(".")[0]
        prefix = parent + "." if parent else ""
        first = next((i for i, k in enumerate(keys) if k.startswith(prefix)), len(keys))
        keys.insert(first, key)
    return {k: found[k] for k in keys}


def value_name(checked: Checked, node: Node) -> str:
    """The tensor a layer makes is named after it, unless the layer is itself a parameter (its
    state_dict key is its name): then `name/out`, as ONNX names each value once."""
    if node.op == "input":
        return node.name
    inputs = tuple(checked.graph.nodes[i].shape for i in node.inputs)
    return f"{node.name}/out" if "" in ONNX_LOWERINGS[node.op].tensors(node, inputs) else node.name


def tensor_key(node_name: str, suffix: str) -> str:
    """The state_dict key of a layer's tensor: `conv1.weight`; a layer that is itself a parameter
    (`scale`, torchvision's layer_scale) has the suffix "" and the key `layer_scale`."""
    prefix = state_prefix(node_name)
    return f"{prefix}.{suffix}" if suffix else prefix


def check_weights(checked: Checked, weights: Mapping[str, Any]) -> None:
    """Raise `WeightsError` naming the first missing, extra or misshapen tensor."""
    expected = expected_tensors(checked)
    for key, shape in expected.items():
        if key not in weights:
            raise WeightsError(f"the weights have no tensor '{key}' (shape {list(shape)})")
        got = tuple(weights[key].shape)
        if got != shape:
            raise WeightsError(f"tensor '{key}' has shape {list(got)}, the spec needs {list(shape)}")
    extra = [k for k in weights if k not in expected and not k.endswith("num_batches_tracked")]
    if extra:
        raise WeightsError(
            f"the weights have a tensor the spec does not: '{extra[0]}' "
            f"({len(extra)} such tensor{'s' * (len(extra) != 1)})"
        )


@dataclass(frozen=True)
class Plan:
    """Which layers the graph writes. `source[i]`: the layer whose value the readers of layer i
    read instead (i writes no node); `folded[conv]`: the batchnorm written with that conv."""

    source: Mapping[int, int]
    folded: Mapping[int, int]

    def written(self, layer: int) -> bool:
        """Whether the layer's own value is in the graph (a folded conv's is not: the Conv
        writes its batchnorm's)."""
        return layer not in self.source and layer not in self.folded


def plan_graph(checked: Checked, graph: str = "inference") -> Plan:
    """The plan of the inference graph (see the module's docstring); the training graph writes
    every layer."""
    if graph not in GRAPHS:
        raise ValueError(f"graph '{graph}': netdsl writes {' or '.join(GRAPHS)} graphs")
    nodes, output = checked.graph.nodes, checked.graph.output
    if graph == "training":
        return Plan({}, {})
    source: dict[int, int] = {}
    for node in nodes[1:]:
        if ONNX_LOWERINGS[node.op].passes_through and node.id != output:  # the output keeps its name
            source[node.id] = source.get(node.inputs[0], node.inputs[0])
    readers: dict[int, list[int]] = {output: [-1]}  # the network's output is read from outside
    for node in nodes[1:]:
        if node.id not in source:
            for i in node.inputs:
                readers.setdefault(source.get(i, i), []).append(node.id)
    folded = {}
    for node in nodes[1:]:
        read_by = readers.get(node.id, [])
        if node.op == "conv" and len(read_by) == 1 and read_by[0] >= 0 and nodes[read_by[0]].op == "batchnorm":
            folded[node.id] = read_by[0]
    return Plan(source, folded)


@dataclass
class _Emitter:
    checked: Checked
    weights: Mapping[str, np.ndarray]
    opset: int
    sources: Mapping[str, str]
    spec_file: str
    training: bool
    target: str = "cpu"

    def __post_init__(self) -> None:
        import onnx

        self.onnx = onnx
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}  # written into the model last, in place
        self.layers: tuple[Node, ...] = ()  # the layers being written: one, or a conv and its batchnorm
        self.names = {node.id: value_name(self.checked, node) for node in self.checked.graph.nodes}

    @property
    def current(self) -> Node:
        return self.layers[0]

    def node(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> None:
        last = self.layers[-1]
        name = "+".join(n.name for n in self.layers) if output == last.name else output
        doc = "\n".join(self.doc(n) for n in self.layers)
        made = self.onnx.helper.make_node(op_type, inputs, [output], name=name, doc_string=doc)
        made.attribute.extend(self.onnx.helper.make_attribute(k, attrs[k]) for k in sorted(attrs))
        self.nodes.append(made)

    def doc(self, ir: Node) -> str:
        span = ir.span
        text = source_line(self.sources.get(span.file, ""), span.line).strip()
        return f"{recorded_path(span.file, self.spec_file)}:{span.line}:{span.column}: {text}"

    def weight(self, suffix: str) -> str:
        key = tensor_key(self.current.name, suffix)
        self.initializers.setdefault(key, self.weights[key])
        return key

    def array(self, layer: Node, suffix: str) -> np.ndarray:
        return self.weights[tensor_key(layer.name, suffix)]

    def tensor(self, suffix: str, array: np.ndarray) -> str:
        """A weight computed from the layers being written, named after them all: `conv1+bn1.weight`."""
        key = "+".join(tensor_key(n.name, "") for n in self.layers) + f".{suffix}"
        self.initializers.setdefault(key, array)
        return key

    def constant(self, key: str, values: list[int]) -> str:
        import numpy as np

        self.initializers.setdefault(key, np.array(values, dtype=np.int64))
        return key

    def floats(self, key: str, values: list[Any]) -> str:
        import numpy as np

        self.initializers.setdefault(key, np.array(values, dtype=np.float32))
        return key

    def scalar(self, key: str, value: float) -> str:
        import numpy as np

        self.initializers.setdefault(key, np.array(value, dtype=np.float32))
        return key

    def shape_of(self, tensor: int) -> Shape:
        return self.checked.graph.nodes[tensor].shape

    def write(self, plan: Plan) -> None:
        """Every layer the plan writes, in the graph's order."""
        nodes = self.checked.graph.nodes
        folded_into = set(plan.folded.values())
        for node in nodes[1:]:
            if node.id in plan.source or node.id in folded_into:
                continue
            inputs = [self.names[plan.source.get(i, i)] for i in node.inputs]
            batchnorm = plan.folded.get(node.id)
            if batchnorm is None:
                self.layers = (node,)
                lowering_for(node.op, self.target).emit(self, node, inputs, self.names[node.id])
            else:
                self.layers = (node, nodes[batchnorm])
                conv_batchnorm(self, node, nodes[batchnorm], inputs, self.names[batchnorm])


def _merge_concats(nodes: list[onnx.NodeProto]) -> None:
    """A Concat whose only reader is a Concat on the same axis is spliced into it, in place:
    one Concat of all the inputs (Inception-V3's Mixed_7b/7c: one six-input Concat instead of
    nested ones). The graph's output is never an inner Concat: its reader would be outside."""
    readers: dict[str, int] = {}
    for node in nodes:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    producers = {node.output[0]: node for node in nodes if node.op_type == "Concat"}

    def axis(node: onnx.NodeProto) -> int:
        return next(a.i for a in node.attribute if a.name == "axis")

    merged: set[int] = set()
    for node in nodes:
        if node.op_type != "Concat":
            continue
        inputs: list[str] = []
        for name in node.input:
            inner = producers.get(name)
            if inner is not None and readers.get(name) == 1 and axis(inner) == axis(node) and id(inner) not in merged:
                inputs.extend(inner.input)
                merged.add(id(inner))
                node.doc_string = "\n".join(filter(None, (inner.doc_string, node.doc_string)))
            else:
                inputs.append(name)
        del node.input[:]
        node.input.extend(inputs)
    nodes[:] = [node for node in nodes if id(node) not in merged]


def recorded_path(file: str, spec_file: str) -> str:
    """A source file as the model records it: relative to the main spec's folder, '/'-separated
    (the main spec is its file name), so that the bytes do not depend on the current folder or
    on how the spec's path was spelled. Spec text ('<string>') is relative to the current folder,
    where its imports are found."""
    if file.startswith("<"):
        return file
    if file == spec_file:
        return Path(file).name
    folder = Path.cwd() if spec_file.startswith("<") or not spec_file else Path(spec_file).resolve().parent
    return Path(os.path.relpath(Path(file).resolve(), folder)).as_posix()


def _add_initializers(model: onnx.ModelProto, arrays: Mapping[str, np.ndarray]) -> None:
    """Initializers written into the finished model in place, each from its array's bytes: going
    through make_tensor, make_graph and make_model would copy every weight three more times."""
    import numpy as np
    import onnx

    for name, array in arrays.items():
        tensor = model.graph.initializer.add()
        tensor.name = name
        tensor.data_type = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.raw_data = np.ascontiguousarray(array).tobytes()


def emit_onnx(
    checked: Checked,
    weights: Mapping[str, np.ndarray],
    opset: int = DEFAULT_OPSET,
    sources: Mapping[str, str] | None = None,
    spec_file: str = "",
    graph: str = "inference",
) -> onnx.ModelProto:
    """The ONNX model of a checked network with these weights (float32 numpy arrays by state_dict
    key; see `expected_tensors`): the inference graph or the training graph (see `GRAPHS`).
    Raises `WeightsError` when the weights do not fit."""
    return emit_onnx_parts(checked, weights, opset, sources, spec_file, graph=graph).proto()


@dataclass(frozen=True)
class OnnxParts:
    """An emitted model as its skeleton (no initializers) and its weights, so that saving can
    stream each tensor's bytes from memory instead of building and serializing one big message."""

    skeleton: onnx.ModelProto
    arrays: Mapping[str, np.ndarray]

    def proto(self) -> onnx.ModelProto:
        import onnx

        model = onnx.ModelProto()
        model.CopyFrom(self.skeleton)
        _add_initializers(model, self.arrays)
        return model

    def save(self, path: str | Path, limit: int = PROTOBUF_LIMIT) -> list[Path]:
        """Write the model atomically; past `limit` bytes of weights, as ONNX external data."""
        if sum(a.nbytes for a in self.arrays.values()) > limit:
            return save_model(self.proto(), path, limit)
        write_atomic_chunks(Path(path), _stream(self.skeleton, self.arrays))
        return [Path(path)]


def emit_onnx_parts(
    checked: Checked,
    weights: Mapping[str, np.ndarray],
    opset: int = DEFAULT_OPSET,
    sources: Mapping[str, str] | None = None,
    spec_file: str = "",
    metadata: Mapping[str, str] | None = None,
    graph: str = "inference",
    target: str = "cpu",
) -> OnnxParts:
    """`emit_onnx`, with the weights kept apart from the graph (see `OnnxParts`); `metadata`
    adds model properties (training writes the input normalization as netdsl.mean/netdsl.std)."""
    import numpy as np
    import onnx

    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is older than netdsl supports ({MIN_OPSET})")
    if target not in TARGETS:
        raise ValueError(f"target {target!r}: netdsl builds for {' or '.join(TARGETS)}")
    plan = plan_graph(checked, graph)
    check_weights(checked, weights)
    weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items() if not k.endswith("num_batches_tracked")}
    emitter = _Emitter(checked, weights, opset, sources or {}, spec_file, graph == "training", target)
    emitter.write(plan)
    if graph == "inference":
        _merge_concats(emitter.nodes)
    ir = checked.graph
    first, last = ir.input, ir.nodes[ir.output]
    model_graph = onnx.helper.make_graph(
        emitter.nodes,
        ir.network,
        [_value_info(first.name, first.shape)],
        [_value_info(emitter.names[last.id], last.shape)],
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(
        model_graph,
        opset_imports=opsets,
        producer_name="netdsl",
        producer_version=__version__,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    props = {
        "netdsl.network": ir.network,
        "netdsl.spec": recorded_path(spec_file, spec_file),
        "netdsl.graph": graph,
        "netdsl.head": head_kind(checked),
        "netdsl.input_shape": ",".join(map(str, first.shape)),
        "netdsl.for": target,
        **(metadata or {}),
    }
    onnx.helper.set_model_props(model, props)
    return OnnxParts(model, dict(emitter.initializers))


# ---- streaming a model to disk ------------------------------------------------------------
# A protobuf message is a sequence of (key, value) fields, and a repeated field may come in
# any number of pieces: the file is the skeleton's fields, then field 7 (graph) holding the
# graph's own fields followed by one field 5 (initializer) per tensor, whose field 9 (raw_data)
# is written straight from the array's memory. onnx.load reads it as the same ModelProto.

_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW_DATA = 7, 5, 9


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, length: int) -> bytes:
    """The key and length of a length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(length)


def _stream(skeleton: onnx.ModelProto, arrays: Mapping[str, np.ndarray]) -> list[bytes | memoryview]:
    import numpy as np
    import onnx

    head = onnx.ModelProto()
    head.CopyFrom(skeleton)
    head.ClearField("graph")
    pieces: list[bytes | memoryview] = []
    for name, array in arrays.items():
        data = np.ascontiguousarray(array).data.cast("B")  # the array's own memory, not a copy
        meta = onnx.TensorProto(
            name=name, data_type=onnx.helper.np_dtype_to_tensor_dtype(array.dtype), dims=array.shape
        ).SerializeToString()
        tensor = meta + _field(_TENSOR_RAW_DATA, data.nbytes)
        pieces += [_field(_GRAPH_INITIALIZER, len(tensor) + data.nbytes) + tensor, data]
    graph = skeleton.graph.SerializeToString()
    graph_length = len(graph) + sum(len(p) if isinstance(p, bytes) else p.nbytes for p in pieces)
    return [head.SerializeToString(), _field(_MODEL_GRAPH, graph_length), graph, *pieces]


def _value_info(name: str, shape: Shape) -> onnx.ValueInfoProto:
    import onnx

    info = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["N", *shape])
    return info


def weight_bytes(model: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) or 4 * math.prod(t.dims) for t in model.graph.initializer)


def save_model(model: onnx.ModelProto, path: str | Path, limit: int = PROTOBUF_LIMIT) -> list[Path]:
    """Write `model` atomically; weights past `limit` bytes go to `<name>.data` beside it (ONNX
    external data). Returns the files written. On failure nothing is left half-written."""
    import errno
    import os
    import shutil
    import tempfile

    import onnx

    if weight_bytes(model) <= limit:
        write_atomic(path, model.SerializeToString())
        return [Path(path)]
    target = destination(path)  # a symlink's target: the weights go beside the real file
    if str(path) == STDOUT or (target.exists() and not target.is_file()):
        raise OSError(
            errno.EINVAL, "a model with external data needs a regular file (its weights go beside it)", str(path)
        )
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent or Path(".")))
    data = target.with_name(target.name + ".data")
    try:
        onnx.save_model(
            model,
            folder / target.name,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data.name,
            size_threshold=1024,
        )
        os.replace(folder / data.name, data)
        os.replace(folder / target.name, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [target, data]
