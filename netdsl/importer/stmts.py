"""The importer's statements: a chain of steps per line, literal values kept in slots.

A slot is a literal the source gave (a channel count, a stride, a flag) marked with a hint (the
argument's name), so that instances of one class can be compared: where their slots differ, the
block they become takes a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

SLOT = re.compile("\x00([A-Za-z_]\\w*)\x01([^\x02]*)\x02")
CALL = re.compile("\x03(\\d+)\x04")
# activations without arguments: a slot (`act`) of their own, so that instances that differ in
# one (or lack it) make one block with the activation a layer parameter (`act=relu`, `act=none`)
ACTS = frozenset({"relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "tanh", "gelu", "silu"})
ACT_SLOT = re.compile('(?:[A-Za-z_]\\w*: |"[^"]*": )?\x00act\x01([a-z_0-9]+)\x02')


def slot(hint: str, value: object) -> str:
    """A literal `value` in a slot named `hint`."""
    return f"\x00{hint}\x01{literal(value)}\x02"


def literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return str(value)


def values(text: str) -> list[str]:
    return [m.group(2) for m in SLOT.finditer(text)]


def skeleton_text(text: str) -> str:
    return SLOT.sub("\x00\\1\x02", text)


def fill(text: str, each: list[str]) -> str:
    """`text` with its slots, in order, replaced by `each`."""
    it = iter(each)
    return SLOT.sub(lambda m: next(it), text)


def plain(text: str) -> str:
    return SLOT.sub(lambda m: m.group(2), text)


@dataclass
class Part:
    """One step of a chain: text (`label: conv(…)`), or a seq (`label: ` + children)."""

    text: str
    children: list[Stmt] | None = None
    extra: dict[str, Any] | None = None

    def skeleton(self) -> str:
        if self.children is None:
            return skeleton_text(self.text)
        return skeleton_text(self.text) + "seq{" + ";".join(c.skeleton() for c in self.children) + "}"


@dataclass
class Stmt:
    """`[name =] [prefix ->] part -> part ...`; `source` is the name of its input value."""

    parts: list[Part]
    name: str | None = None
    prefix: str | None = None
    source: str | None = None
    note: str | None = None  # a comment line above it
    extra: dict[str, object] = field(default_factory=dict)

    def skeleton(self) -> str:
        head = f"{self.name}=" if self.name else ""
        pre = f"{self.prefix}->" if self.prefix else ""
        return head + pre + "->".join(p.skeleton() for p in self.parts)

    def size(self) -> int:
        return 1 + sum(len(p.children or []) for p in self.parts)


KEYWORDS = ("in", "if", "for", "seq", "true", "false")


def fresh(hint: str, taken: set[str], sep: str = "", reserved: Collection[str] = KEYWORDS) -> str:
    """`hint`, or `hint2`, `hint3`… (with `sep` before the number): the first that is neither
    taken nor reserved (by default the keywords); it is then taken."""
    name, n = hint, 1
    while name in taken or name in reserved:
        n += 1
        name = f"{hint}{sep}{n}"
    taken.add(name)
    return name
