"""Steps → statements: chains of steps, one statement each; a value read elsewhere than by the
next step gets a name. Shared by the PyTorch and the ONNX importers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from netdsl.importer.refusal import ImportRefused
from netdsl.importer.stmts import Part, Stmt, fresh

RESERVED = {"in", "if", "else", "for", "seq", "let", "repeat", "input", "network", "block", "true",
            "false", "not", "and", "or", "import", "as", "len", "range", "min", "max", "abs"}


@dataclass(eq=False)
class Step:
    """One traced operation: its text ({0}, {1} … stand for merge operands), its inputs."""

    part: Part
    inputs: list[Any]
    merge: str | None = None
    container: str | None = None  # a ModuleList's name, for `blocks.0`, `blocks.1`
    index: int = 0
    name: str = ""
    users: list[Step] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # the ONNX importer's: module path, weights


def linearize(steps: list[Step], output: Any) -> list[Stmt]:
    """Chains of steps, one statement each; a value read elsewhere than by the next step gets a name."""
    _group_containers(steps)
    steps = [s for s in steps if s.part is not None]
    for step in steps:
        for source in step.inputs:
            if isinstance(source, Step):
                source.users.append(step)
    chains: list[list[Step]] = []
    for step in steps:
        last = chains[-1][-1] if chains else None
        if (last is not None and step.merge is None and step.inputs == [last] and last.users == [step]):
            chains[-1].append(step)
        else:
            chains.append([step])
    names: dict[int, str] = {}
    taken = set(RESERVED)
    for k, chain in enumerate(chains):
        end = chain[-1]
        follows = k + 1 < len(chains) and chains[k + 1][0].inputs == [end] and chains[k + 1][0].merge is None
        alone = end.users == [chains[k + 1][0]] if follows else False
        if not (alone or (end is output and k == len(chains) - 1)):
            names[id(end)] = _fresh(_value_name(end.name, taken), taken)
    stmts: list[Stmt] = []
    current: Any = "in"
    for chain in chains:
        head, end = chain[0], chain[-1]
        stmt = Stmt([s.part for s in chain])
        if head.merge:
            refs = [_ref(s, names) for s in head.inputs]
            stmt.parts[0] = Part(head.part.text.format(*refs))
            stmt.source = None
        else:
            source = head.inputs[0]
            stmt.source = _ref(source, names) if (source == "in" or id(source) in names) else None
            if source is not current:
                stmt.prefix = _ref(source, names)
        if id(end) in names:
            stmt.name = names[id(end)]
        else:
            current = end
        stmts.append(stmt)
    if output == "in" or id(output) in names:
        stmts.append(Stmt([Part(_ref(output, names))]))
    return stmts


def _ref(source: Any, names: dict[int, str]) -> str:
    if source == "in":
        return "in"
    if id(source) not in names:
        raise ImportRefused("a value read where netdsl cannot name it")
    return names[id(source)]


def _value_name(name: str, taken: set[str]) -> str:
    """A value's name: its last layer's, less an `_activation` suffix where the rest is free
    (`expand1x1_activation` → `expand1x1`)."""
    from netdsl.checker.ops import OPS

    short = re.sub(r"_(?:activation|act)$", "", name)
    return short if short and short not in taken and short not in OPS else name


def _fresh(name: str, taken: set[str]) -> str:
    from netdsl.checker.ops import OPS

    return fresh(re.sub(r"\W", "_", name) or "v", taken, "_", reserved=OPS)


def _group_containers(steps: list[Step]) -> None:
    """Consecutive calls of `blocks.0`, `blocks.1` … (a ModuleList) become one `blocks: seq` step."""
    k = 0
    while k < len(steps):
        step = steps[k]
        if step.container is None:
            k += 1
            continue
        run = [step]
        while (k + len(run) < len(steps) and steps[k + len(run)].container == step.container
               and steps[k + len(run)].inputs == [run[-1]]):
            run.append(steps[k + len(run)])
        if [s.index for s in run] != list(range(len(run))):
            raise ImportRefused(f"'{step.container}' is called out of order or in pieces (netdsl names a "
                                "ModuleList as one seq, called in order)")
        step.part = Part(f"{step.container}: ", [Stmt([s.part]) for s in run])
        for later in steps[k + len(run):]:
            later.inputs = [step if i is run[-1] else i for i in later.inputs]
        step.name = run[-1].name
        for s in run[1:]:
            s.part = None  # type: ignore[assignment]
        k += len(run)
