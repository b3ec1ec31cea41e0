"""ONNX steps → a module tree: the exporters' module paths (`layer1.0.conv1`, from node names or
name scopes) nest onnx_import's flat steps into seqs and block instances, the form the PyTorch
importer's walk gives `generalize`. A module that cannot stand alone (not one input and one
output, a seq whose positions have gaps) is written in its parent, its layers labelled by their
joined path. Weights are keyed by where the layers end up, so they match the written spec's
module whatever was kept.
"""

from __future__ import annotations

import re
from typing import Any

from netdsl.importer.chains import RESERVED, Step, linearize
from netdsl.importer.generalize import Instance
from netdsl.importer.stmts import Part, fresh, plain


def nest(
    steps: list[Step], output: Any, channels: Any, known: dict[str, str] | None = None
) -> tuple[list[Step], Any, list[Instance], dict[str, Any]]:
    """(the network's steps, its output, the block instances, the weights by state_dict key).
    Each step's `meta` holds `path` (its module path or None), `weights`, `fallback` (a label);
    `known` gives a module's class by path, where the exporter wrote it (dynamo)."""
    tree = _Tree(steps, output, channels)
    top = tree.build((), list(steps))
    _label(top, "root")
    weights: dict[str, Any] = {}
    _keys(top, "", weights)
    _classes(tree.instances, tree.names, known or {})
    return top, tree.output, tree.instances, weights


def _scope(steps: list[Step]) -> None:
    """Each step's module (`scope`, a tuple of path parts) and its name there (`local`); a path
    that has modules under it is a module whose own forward made the step (a merge, a call)."""
    paths = {s.meta.get("path") for s in steps} - {None}
    inner = {p[: m.start()] for p in paths for m in re.finditer(r"\.", p)}
    for s in steps:
        path = s.meta.get("path")
        parts = tuple(path.split(".")) if path else ()
        if path in inner:
            s.meta.update(scope=parts, local=None)
        else:
            s.meta.update(scope=parts[:-1], local=parts[-1] if parts else None)


class _Tree:
    def __init__(self, steps: list[Step], output: Any, channels: Any):
        _scope(steps)
        self.output = output
        self.channels = channels
        self.instances: list[Instance] = []
        self.names: list[tuple[str, frozenset[str]]] = []  # each instance's path and member names
        self.users: dict[int, list[Step]] = {id(s): [] for s in steps}
        for s in steps:
            for x in s.inputs:
                if isinstance(x, Step):
                    self.users[id(x)].append(s)

    def build(self, scope: tuple[str, ...], steps: list[Step]) -> list[Step]:
        """The steps of module `scope`: its own, and one per child module (or the child's, lifted)."""
        out: list[Step] = []
        done: set[str] = set()
        depth, i = len(scope), 0
        while i < len(steps):
            s = steps[i]
            if len(s.meta["scope"]) == depth:
                out.append(s)
                i += 1
                continue
            key = s.meta["scope"][depth]
            j = i
            while j < len(steps) and len(steps[j].meta["scope"]) > depth and steps[j].meta["scope"][depth] == key:
                j += 1
            inner = self.build((*scope, key), steps[i:j])
            made = None if key in done else self.compose((*scope, key), inner)
            done.add(key)
            i = j
            if made is not None:
                out.append(made)
                continue
            for t in inner:  # written in this module: `downsample.0` → `downsample_0`
                t.meta["scope"] = scope
                if t.meta["local"] is not None:
                    t.meta["local"] = f"{key}_{t.meta['local']}"
            out += inner
        return out

    def compose(self, scope: tuple[str, ...], inner: list[Step]) -> Step | None:
        """One step calling module `scope` (a seq or a block instance), or None where it cannot stand alone."""
        ids = {id(t) for t in inner}
        sources: list[Any] = []
        for t in inner:
            for x in t.inputs:
                if (isinstance(x, str) or id(x) not in ids) and not any(x is y for y in sources):
                    sources.append(x)
        outs = [t for t in inner if t is self.output or any(id(u) not in ids for u in self.users.get(id(t), []))]
        if len(sources) != 1 or len(outs) != 1:
            return None
        names = [t.meta["local"] for t in inner]
        digits = [n is not None and n.isdigit() for n in names]
        if all(digits):
            if not _seq(inner, sources[0]):
                return None
            kind = "seq"
        elif any(digits):
            return None
        else:
            kind = "block"
        source, out = sources[0], outs[0]
        for t in inner:
            t.inputs = ["in" if x is source else x for x in t.inputs]
        _label(inner, kind)
        if kind == "seq":
            for t in inner:
                self._seq_block(t)
            part = Part("", [_stmt(t) for t in inner])
        else:
            for t in inner:  # value names alike in every instance: labels, or the op
                word = re.match(r"[a-z_]+", plain(t.part.text).split(": ")[-1])
                name = t.meta.get("label") or t.meta["local"] or (word.group(0) if word else "v")
                t.name = name if name[:1].isalpha() else f"v{name}"
            body = linearize(inner, out)
            self.instances.append(Instance(object, ".".join(scope), body, False, channels=self.channels(source)))
            self.names.append((".".join(scope), frozenset(n for n in names if n)))
            part = Part(f"\x03{len(self.instances) - 1}\x04")
        made = Step(part, [source])
        made.meta.update(
            scope=scope[:-1],
            local=scope[-1],
            inner=inner,
            composite=kind,
            weights={},
            out=out.meta.get("out"),
            path=".".join(scope),
            channels=self.channels(source),
        )
        made.name = "_".join(scope)  # a value name at the top: `features_0`
        self._redirect(inner, ids, source, out, made)
        return made

    def _seq_block(self, t: Step) -> None:
        """A seq of layers that is an item of a seq (torchvision's Conv2dNormActivation in a
        `features` or a `block` seq): a seq block instance, so that its like make one block."""
        inner = t.meta.get("inner") or []
        if t.meta.get("composite") != "seq" or any(i.meta.get("composite") for i in inner):
            return
        self.instances.append(
            Instance(object, t.meta["path"], list(t.part.children or []), True, channels=t.meta["channels"])
        )
        self.names.append((t.meta["path"], frozenset(str(k) for k in range(len(inner)))))
        t.part.text, t.part.children = f"\x03{len(self.instances) - 1}\x04", None

    def _redirect(self, inner: list[Step], ids: set[int], source: Any, out: Step, made: Step) -> None:
        outside = [u for u in self.users.get(id(out), []) if id(u) not in ids]
        for u in outside:
            u.inputs = [made if x is out else x for x in u.inputs]
        self.users[id(made)] = outside
        if isinstance(source, Step):
            self.users[id(source)] = [u for u in self.users[id(source)] if id(u) not in ids] + [made]
        if self.output is out:
            self.output = made


def _seq(inner: list[Step], source: Any) -> bool:
    """Whether `inner` is an nn.Sequential: positions 0, 1, … in order, each the next's input."""
    if [int(t.meta["local"]) for t in inner] != list(range(len(inner))):
        return False
    previous = source
    for t in inner:
        if t.merge or len(t.inputs) != 1 or t.inputs[0] is not previous:
            return False
        if t.part.children is None and "->" in t.part.text:  # two layers in one step
            return False
        previous = t
    return True


def _stmt(step: Step) -> Any:
    from netdsl.importer.stmts import Stmt

    return Stmt([step.part])


def _label(items: list[Step], kind: str) -> None:
    """Labels of one module's layers: positions in a seq; else the module's names, where a layer
    has weights or is a module of its own."""
    if kind == "seq":
        for k, t in enumerate(items):
            t.meta["label"] = str(k)
        return
    taken: set[str] = set()
    for t in items:
        if not t.meta.get("weights") and not t.meta.get("composite"):
            t.meta["label"] = None
            continue
        raw = t.meta.get("local") or t.meta.get("fallback") or "layer"
        base = re.sub(r"\W", "_", raw).strip("_") or "layer"
        if not base[0].isalpha() or re.match(r"(block|network)\w", base) or base in RESERVED:
            base = f"l_{base}"
        label = fresh(base, taken, "_", reserved=())
        t.meta["label"] = label
        t.part.text = f"{label}: {t.part.text}"


def _keys(items: list[Step], prefix: str, weights: dict[str, Any]) -> None:
    """The state_dict key of each weight: the labels of the modules it sits in."""
    for t in items:
        label = t.meta.get("label")
        if label is None:
            continue
        for key, value in t.meta.get("weights", {}).items():
            weights[f"{prefix}{label}.{key}" if key else f"{prefix}{label}"] = value
        if t.meta.get("folded"):
            t.meta["folded_as"] = prefix + label
        if t.meta.get("inner"):
            _keys(t.meta["inner"], f"{prefix}{label}.", weights)


def _classes(instances: list[Instance], names: list[tuple[str, frozenset[str]]], known: dict[str, str]) -> None:
    """A class for each family of instances: the exporter's class where it names one; else those
    whose layer names one holds all of the other's (a Bottleneck with and without `downsample`)
    are one class; `generalize` splits a class whose instances do not line up."""
    parent = list(range(len(instances)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    paths: dict[int, list[str]] = {i: [p] for i, (p, _) in enumerate(names)}  # by class
    for i, (p, a) in enumerate(names):
        for j in range(i):
            q, b = names[j]
            if p in known or q in known:
                if known.get(p) != known.get(q) or root(i) == root(j):
                    continue
            elif not a or not b or not (a <= b or b <= a) or root(i) == root(j):
                continue
            mine, theirs = paths[root(i)], paths[root(j)]
            if any(x.startswith(y + ".") or y.startswith(x + ".") for x in mine for y in theirs):
                continue  # one class never holds an instance of itself
            paths[root(j)] = theirs + mine
            parent[root(i)] = root(j)
    made: dict[int, type] = {}
    used: set[str] = set()
    for i, inst in enumerate(instances):
        r = root(i)
        if r not in made:
            name = fresh(known.get(names[r][0]) or _class_name(names[r][0]), used, reserved=())
            made[r] = type(name, (), {"__module__": ""})
        inst.cls = made[r]


def _class_name(path: str) -> str:
    """A block's name from its first instance's path: `layer1.0` → `Layer`, `Mixed_5b` → `Mixed`."""
    parts = [p for p in path.split(".") if not p.isdigit()] or ["block"]
    word = re.sub(r"(?:[\d_]+[a-z]?)+$", "", parts[-1]) or parts[-1]
    name = "".join(w[:1].upper() + w[1:] for w in re.split(r"_+", word) if w)
    name = re.sub(r"\W", "", name)
    return name if name.isidentifier() and name[0].isupper() else "Block"
