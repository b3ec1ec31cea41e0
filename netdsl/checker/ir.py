"""The IR: the graph that `elaborate` makes from the AST, with every op's attributes resolved.

Nodes are in topological order (each input comes before its users); a node's `name` is its
dotted path through block instances and repeats (`layer2.0.conv_1`), unique in the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netdsl.checker.ops import Shape
from netdsl.core.diagnostics import Diagnostic, Span


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    op: str
    attrs: Mapping[str, Any]
    inputs: tuple[int, ...]
    shape: Shape
    span: Span
    scope: tuple[str, ...] = ()  # enclosing block instances and repeat iterations


@dataclass(frozen=True)
class Instance:
    """One use of a block: where its layers live and the arguments it was given."""

    path: tuple[str, ...]
    block: str
    args: Mapping[str, Any]
    span: Span


@dataclass(frozen=True)
class Graph:
    network: str
    params: Mapping[str, Any]
    nodes: tuple[Node, ...]
    output: int
    instances: tuple[Instance, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # the output node of every block instance and repeat, by dotted path ("layer1", "layer1.0")
    outputs: Mapping[str, int] = field(default_factory=dict)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)
