"""The boxes of `netdsl draw --style graph` and how they connect: checked graph + depth → units.

A unit is one box: a layer, a group folded below the depth asked for (as in `netdsl check
--depth`), or — unless `fold` is off — a layer together with the activations, normalizations,
dropouts and flattens that follow it in a chain (`conv 5×5 /2 · bn · relu`). Such a layer
folds into the box before it only when that box feeds it alone and it has no other input,
inside the same frames: folding never hides a connection.

The layout then reads the unit graph as nested series and parallel sections: a unit whose
value goes to several units starts a parallel section, which ends at the first unit every
path from it reaches (its immediate post-dominator).
"""

from __future__ import annotations

from dataclasses import dataclass

from netdsl.checker import tree
from netdsl.checker.analyze import Checked
from netdsl.checker.ir import Node
from netdsl.checker.ops import Shape

# layers that join the box before them, and the short name they take there
FOLDED = {
    "relu": "relu",
    "relu6": "relu6",
    "leaky_relu": "leaky relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "hardsigmoid": "hardsigmoid",
    "hardswish": "hardswish",
    "silu": "silu",
    "gelu": "gelu",
    "softmax": "softmax",
    "log_softmax": "log softmax",
    "batchnorm": "bn",
    "layernorm": "ln",
    "layernorm2d": "ln",
    "lrn": "lrn",
    "dropout": "dropout",
    "stochastic_depth": "drop path",
    "flatten": "flatten",
}


@dataclass(frozen=True)
class Unit:
    name: str  # the full dotted name of its first layer (or of the folded group)
    op: str  # `conv 5×5 /2 · bn · relu`, or a folded group's block (`Bottleneck`)
    shape: Shape  # its output's
    params: int
    kind: str  # the first layer's op, or "block"
    chain: tuple[str, ...]  # the frames around it, outermost first
    nodes: tuple[int, ...]  # the layers it stands for
    residual: bool = False  # a folded group whose input also skips to an `add` inside it


@dataclass(frozen=True)
class Units:
    units: list[Unit]
    succs: list[list[int]]
    preds: list[list[int]]
    sink: int


def _pair(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return str(value[0]) if len(set(value)) == 1 else "×".join(map(str, value))
    return str(value)


def op_text(node: Node) -> str:
    """`conv 3×3 /2`, `maxpool 3×3 /2`, `conv 5×5 · 2 groups`, `linear`: the op and what sets its window."""
    attrs = node.attrs
    if "kernel" in attrs and node.op in ("conv", "maxpool", "avgpool"):
        kernel = _pair(attrs["kernel"])
        text = f"{node.op} {kernel}×{kernel}" if "×" not in kernel else f"{node.op} {kernel}"
        stride = _pair(attrs.get("stride") or attrs["kernel"])  # pooling's stride defaults to its kernel
        if stride != "1":
            text += f" /{stride}"
        groups = attrs.get("groups", 1)
        if node.op == "conv" and groups != 1:
            text += " · depthwise" if node.shape and groups == node.shape[0] else f" · {groups} groups"
        return text
    return node.op


def units(checked: Checked, depth: int | None, fold: bool = True) -> Units:
    """The boxes at `depth` (None: every layer), with their connections in graph order."""
    rows = tree.rows(checked, depth)
    nodes = checked.graph.nodes
    row_of = {node: index for index, row in enumerate(rows) for node in row.nodes}
    succs, preds = _links(checked, row_of, len(rows))
    chains = [_chain(row, checked) for row in rows]
    root = list(range(len(rows)))
    for v, row in enumerate(rows):
        u = preds[v][0] if len(preds[v]) == 1 else None
        if (
            fold
            and u is not None
            and not row.folded
            and row.op in FOLDED
            and not rows[u].folded
            and succs[u] == [v]
            and chains[u] == chains[v]
            and u != 0  # the input keeps a box of its own
        ):
            root[v] = root[u]
    if fold:
        _fold_forward(rows, succs, preds, chains, root)
    made: dict[int, int] = {}  # a root row → its unit
    out: list[Unit] = []
    for v, row in enumerate(rows):
        if root[v] != v:
            last = out[made[root[v]]]
            leads = row.op not in FOLDED  # the layer that a dropout (or a bn and relu) before it joins
            out[made[root[v]]] = Unit(
                last.name,
                f"{last.op} · {op_text(nodes[row.nodes[0]]) if leads else FOLDED[row.op]}",
                row.output_shape,
                last.params + row.params,
                row.op if leads else last.kind,
                last.chain,
                last.nodes + row.nodes,
            )
            continue
        made[v] = len(out)
        if row.group is not None:
            op, kind = row.op, "block"
        else:
            op, kind = op_text(nodes[row.nodes[0]]), row.op
        residual = row.group is not None and _residual(row.group, checked)
        out.append(Unit(row.name, op, row.output_shape, row.params, kind, chains[v], row.nodes, residual))
    unit_of = {node: made[root[index]] for node, index in row_of.items()}
    succs, preds = _links(checked, unit_of, len(out))
    return Units(out, succs, preds, unit_of[checked.graph.output])


def _fold_forward(
    rows: list[tree.Row], succs: list[list[int]], preds: list[list[int]], chains: list[tuple[str, ...]], root: list[int]
) -> None:
    """A box of folded layers only (a dropout first in its seq, DenseNet's bn · relu before its
    conv) joins the layer after it, when that one reads it alone in the same frames."""
    for r in range(len(rows)):
        if root[r] != r or rows[r].folded or rows[r].op not in FOLDED:
            continue
        last = max(v for v in range(len(rows)) if root[v] == r)
        if len(succs[last]) != 1:
            continue
        w = succs[last][0]
        if preds[w] == [last] and chains[w] == chains[r] and not rows[w].folded and root[w] == w:
            for v in range(w, len(rows)):
                if root[v] == w:
                    root[v] = r


def _chain(row: tree.Row, checked: Checked) -> tuple[str, ...]:
    if row.group is not None:
        parts = row.name.split(".")
        return tuple(".".join(parts[:i]) for i in range(1, len(parts)))
    return tree.scope_paths(checked.graph.nodes[row.nodes[0]].scope)


def _links(checked: Checked, unit_of: dict[int, int], count: int) -> tuple[list[list[int]], list[list[int]]]:
    succs: list[list[int]] = [[] for _ in range(count)]
    preds: list[list[int]] = [[] for _ in range(count)]
    for node in checked.graph.nodes:
        v = unit_of[node.id]
        for i in node.inputs:
            u = unit_of[i]
            if u != v and v not in succs[u]:
                succs[u].append(v)
                preds[v].append(u)
    for lists in (succs, preds):
        for items in lists:
            items.sort()
    return succs, preds


def _residual(group: tree.Group, checked: Checked) -> bool:
    """Whether a folded group holds a shortcut: an `add` one of whose inputs is the group's own
    input, or a layer that reads it directly (a projection beside the main path)."""
    inside = set(group.nodes)
    nodes = checked.graph.nodes
    entries = {i for n in group.nodes for i in nodes[n].inputs if i not in inside}
    readers = [n for n in group.nodes if any(i in entries for i in nodes[n].inputs)]
    adds = [n for n in group.nodes if nodes[n].op == "add"]
    return bool(adds) and (len(readers) > 1 or any(i in entries for n in adds for i in nodes[n].inputs))


# ---- series and parallel sections ---------------------------------------------------------


@dataclass
class Parallel:
    branches: list[list[int | Parallel] | None]  # None: the fork's value goes straight to the join


Item = int | Parallel


class _NotSections(Exception):
    pass


def post_dominators(graph: Units) -> list[int | None]:
    """Each unit's immediate post-dominator (None for the sink and units that never reach it)."""
    count = len(graph.units)
    ipdom: list[int | None] = [None] * count
    reaches = [False] * count
    reaches[graph.sink] = True
    for v in range(count - 1, -1, -1):
        if v == graph.sink:
            continue
        out = [s for s in graph.succs[v] if reaches[s]]
        if not out:
            continue
        reaches[v] = True
        found: int | None = out[0]
        for s in out[1:]:
            found = _meet(found, s, ipdom, graph.sink)
        ipdom[v] = found
    return ipdom


def _meet(a: int | None, b: int | None, ipdom: list[int | None], sink: int) -> int | None:
    """The nearest unit that post-dominates both (units are in topological order: a post-dominator
    always comes later)."""
    while a is not None and b is not None and a != b:
        if a < b:
            a = ipdom[a] if a != sink else None
        else:
            b = ipdom[b] if b != sink else None
    return a if a == b else None


def sections(graph: Units) -> list[Item] | None:
    """The units as nested series and parallel sections, or None when they do not read that way."""
    ipdom = post_dominators(graph)
    placed: set[int] = set()

    def series(start: int, stop: int | None) -> list[Item]:
        items: list[Item] = []
        v: int | None = start
        while v is not None and v != stop:
            if v in placed:
                raise _NotSections
            placed.add(v)
            items.append(v)
            out = graph.succs[v]
            if not out:
                if stop is not None:
                    raise _NotSections  # a dead end inside a section
                return items
            if len(out) == 1:
                v = out[0]
                continue
            join = ipdom[v]
            if join is None:
                raise _NotSections
            branches: list[list[Item] | None] = [None if c == join else series(c, join) for c in out]
            items.append(Parallel(branches))
            v = join
        if stop is not None and v != stop:
            raise _NotSections
        return items

    try:
        top = series(0, None)
    except (_NotSections, RecursionError):
        return None
    return top if len(placed) == len(graph.units) else None


def units_in(item: Item | list[Item] | None) -> list[int]:
    if item is None:
        return []
    if isinstance(item, int):
        return [item]
    if isinstance(item, Parallel):
        return [u for branch in item.branches for u in units_in(branch)]
    return [u for part in item for u in units_in(part)]
