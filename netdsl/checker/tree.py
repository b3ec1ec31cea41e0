"""The block tree of a checked network, and its report rows at a depth (torchinfo's `depth`).

A group is what a layer's dotted name passes through: a block instance (`layer1.0`), a
repeat (`layer1`), a repeat's iteration or a seq (`features`). Depth counts those names:
at depth N a layer inside N or more groups is folded into its group at depth N, one row
with the group's summed parameters and MACs and the shape and receptive field of its
output. Pure bookkeeping on `Checked`: nothing is imported that `netdsl check` must avoid.
"""

from __future__ import annotations

from dataclasses import dataclass

from netdsl.checker.analyze import Checked, Field, Layer
from netdsl.checker.ops import Shape

# The default depth is the deepest whose report has at most this many rows (two screens or so):
# ResNet-50's 176 layers in 24 rows (its bottleneck blocks folded), VGG-16's 40 layers all shown.
ROW_BUDGET = 80


@dataclass(frozen=True)
class Group:
    path: str  # "layer1.0"
    block: str | None  # the block of an instance ("Bottleneck"); None for a repeat, an iteration or a seq
    depth: int  # how many names deep: 1 for "layer1", 2 for "layer1.0"
    nodes: tuple[int, ...]  # every layer inside, nested groups' included, in graph order
    output: int  # the node whose value leaves the group

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Row:
    """One line of the report: a layer, or a group folded at the depth asked for."""

    name: str
    op: str  # the layer's op; for a group its block ("Bottleneck"), "3 × Bottleneck" or "12 layers"
    output_shape: Shape
    params: int
    trainable: int
    macs: int
    activations: int
    receptive_field: Field | None
    jump: Field | None
    nodes: tuple[int, ...]  # the layers it stands for (one for a layer)
    group: Group | None = None  # the folded group, None for a layer

    @property
    def folded(self) -> bool:
        return self.group is not None


def scope_paths(scope: tuple[str, ...]) -> tuple[str, ...]:
    """The groups around a layer, outermost first: ('layer1', '0') → ('layer1', 'layer1.0')."""
    return tuple(".".join(scope[: i + 1]) for i in range(len(scope)))


def groups(checked: Checked) -> dict[str, Group]:
    """Every group of the network by path, in the order of their first layer."""
    graph = checked.graph
    members: dict[str, list[int]] = {}
    for node in graph.nodes:
        for path in scope_paths(node.scope):
            members.setdefault(path, []).append(node.id)
    blocks = {".".join(instance.path): instance.block for instance in graph.instances}
    return {
        path: Group(path, blocks.get(path), path.count(".") + 1, tuple(nodes), graph.outputs.get(path, nodes[-1]))
        for path, nodes in members.items()
    }


def max_depth(checked: Checked) -> int:
    """The depth that shows every layer."""
    return max((len(node.scope) + 1 for node in checked.graph.nodes), default=1)


def auto_depth(checked: Checked, budget: int = ROW_BUDGET) -> int | None:
    """The deepest depth whose report has at most `budget` rows (None when every layer fits);
    depth 1 when even that is longer."""
    deepest = max_depth(checked)
    if len(checked.layers) <= budget:
        return None
    for depth in range(deepest - 1, 1, -1):
        if len(rows(checked, depth)) <= budget:
            return depth
    return 1


def rows(checked: Checked, depth: int | None) -> list[Row]:
    """The report's rows: every layer (depth None), or groups folded below `depth` (≥ 1)."""
    found = groups(checked)
    layers = checked.layers
    out: list[Row] = []
    seen: set[str] = set()
    for node in checked.graph.nodes:
        if depth is None or len(node.scope) < depth:
            out.append(_layer_row(layers[node.id], node.id))
            continue
        path = ".".join(node.scope[:depth])
        if path not in seen:
            seen.add(path)
            out.append(group_row(found[path], found, checked))
    return out


def _layer_row(layer: Layer, node: int) -> Row:
    return Row(
        layer.name,
        layer.op,
        layer.output_shape,
        layer.params,
        layer.trainable,
        layer.macs,
        layer.activations,
        layer.receptive_field,
        layer.jump,
        (node,),
    )


def group_row(group: Group, found: dict[str, Group], checked: Checked) -> Row:
    inside = [checked.layers[i] for i in group.nodes]
    last = checked.layers[group.output]
    return Row(
        group.path,
        group_op(group, found),
        last.output_shape,
        sum(x.params for x in inside),
        sum(x.trainable for x in inside),
        sum(x.macs for x in inside),
        sum(x.activations for x in inside),
        last.receptive_field,
        last.jump,
        group.nodes,
        group,
    )


def group_op(group: Group, found: dict[str, Group]) -> str:
    """What a folded row holds: its block, `3 × Bottleneck` for uses of one block, or `12 layers`."""
    if group.block is not None:
        return group.block
    children = [g for g in found.values() if g.depth == group.depth + 1 and g.path.startswith(group.path + ".")]
    blocks = {g.block for g in children}
    covered = sum(len(g.nodes) for g in children)
    if len(blocks) == 1 and None not in blocks and covered == len(group.nodes):
        return f"{len(children)} × {children[0].block}"
    return f"{len(group.nodes)} layer{'s' * (len(group.nodes) != 1)}"


def parse_depth(text: str) -> int | str:
    """`--depth`: N (≥ 1), `all` (every layer) or `auto` (see `auto_depth`); ValueError otherwise."""
    word = text.strip().lower()
    if word in ("all", "auto"):
        return word
    value = int(word)
    if value < 1:
        raise ValueError(text)
    return value


def resolve_depth(choice: int | str, checked: Checked) -> int | None:
    """The depth that `--depth` asks for on this network (None: every layer)."""
    if choice == "auto":
        return auto_depth(checked)
    return None if choice == "all" else int(choice)
