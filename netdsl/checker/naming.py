"""How layers are named: labels, automatic names (`conv_1`) and scopes (`layer1.0.conv1`).

Shared by `elaborate` (which names the IR's nodes) and the backends (which name module
attributes the same way, so that state_dict keys and ONNX node names are the spec's labels).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from netdsl.core.diagnostics import Span
from netdsl.language import ast

_NOWHERE = Span("", 0, 0, 0, 0)


def snake(name: str) -> str:
    """`ResNet34Features` → `res_net34_features`: the automatic name of a block instance."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def labels(statements: Iterable[ast.Statement]) -> frozenset[str]:
    """The labels written in a body, `if` branches included (they name layers of this scope)."""
    found: set[str] = set()
    for stmt in statements:
        if isinstance(stmt, ast.Input):
            found.add(stmt.name)
        if not isinstance(stmt, (ast.Flow, ast.Bind)):
            continue
        for step in stmt.chain.steps:
            if step.label and not step.label.computed:
                found.add(step.label.name)
            if isinstance(step, (ast.If, ast.For)):  # their layers live in this scope
                found |= labels(ast.step_bodies(step))
    return frozenset(found)


def single_instance(body: ast.Body, definitions: Mapping[str, ast.Definition]) -> bool:
    """A repeat body of exactly one unlabelled block instance: each iteration *is* that instance
    (`layer1.0.conv1`, as torchvision names it, not `layer1.0.basic_1.conv1`)."""
    if len(body.statements) != 1 or not isinstance(body.statements[0], ast.Flow):
        return False
    steps = body.statements[0].chain.steps
    return (len(steps) == 1 and isinstance(steps[0], ast.Call) and steps[0].label is None
            and steps[0].inputs is None  # given tensors by name: the iteration reads the scope around it
            and getattr(definitions.get(steps[0].name), "kind", None) == "block")


@dataclass
class Scope:
    """One block instance or repeat iteration: the names its layers have taken."""

    path: tuple[str, ...]
    reserved: frozenset[str]
    collapse: bool = False
    seq: bool = False  # a seq: unlabelled layers are named by their position, as in nn.Sequential
    taken: dict[str, Span] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    position: int = 0  # in a seq: the position of the next layer

    def take(self, label: str, span: Span) -> Span | None:
        """Claim a written label; returns where it was claimed before, if it was."""
        earlier = self.taken.get(label)
        self.taken.setdefault(label, span)
        self.position += 1
        return earlier

    def auto(self, base: str) -> str:
        """The next free automatic name: `base_N` (labels written anywhere in the scope are
        skipped), or in a seq the layer's position."""
        if self.seq:
            name = str(self.position)
            self.take(name, _NOWHERE)
            return name
        n = self.counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}_{n}"
            if candidate not in self.reserved and candidate not in self.taken:
                break
        self.counters[base] = n
        self.taken[candidate] = _NOWHERE
        return candidate

    def name(self, label: ast.Label | None, base: str) -> str:
        if label is None:
            return self.auto(base)
        self.take(label.name, label.span)
        return label.name
