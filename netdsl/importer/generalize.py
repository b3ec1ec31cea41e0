"""Instances of one class → one block: where instances differ in a literal, the block takes a
parameter; where one lacks a statement, a flag guards it with `if` (write.py then writes the spec).

Instances whose statements cannot be lined up become one block per shape (`Name`, `Name2`):
longer, never wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netdsl.importer.derive import derive_flags, derive_padding
from netdsl.importer.stmts import ACT_SLOT, ACTS, CALL, Part, Stmt, fill, fresh, plain, skeleton_text, slot, values


@dataclass
class Instance:
    cls: type
    path: str
    body: list[Stmt]
    is_seq: bool
    call: str = ""  # `Name(slots)` once its class is generalized
    channels: int | None = None  # its input's channels, where a forward pass found them


class Mismatch(Exception):
    pass


# ---- lining statements up -----------------------------------------------------------------


@dataclass
class Merged:
    """A statement of the widest instance, with the instances that have it (and their copies)."""

    stmt: Stmt
    copies: dict[int, Stmt]
    children: list[list[Merged] | None] = field(default_factory=list)
    else_ref: str | None = None


def _subst(text: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        # a value's name, not a label that reads the same (`bn2 = ... -> bn2: batchnorm`)
        text = re.sub(rf"(?<![\w.]){re.escape(old)}(?!\w|: )", new, text)
    return text


def _fits(base: Stmt, other: Stmt, renames: dict[str, str], last: bool) -> bool:
    if len(base.parts) != len(other.parts):
        return False
    if base.name != other.name and not (base.name and other.name is None and last):
        return False
    if _subst(base.prefix or "", renames) != (other.prefix or "") and base.prefix != other.prefix:
        return False
    for b, o in zip(base.parts, other.parts, strict=False):
        if (b.children is None) != (o.children is None):
            return False
        if _subst(skeleton_text(b.text), renames) != skeleton_text(o.text):
            return False
        if b.children is not None:
            try:
                _align(b.children, o.children or [])
            except Mismatch:
                return False
    return True


def _align(base: list[Stmt], other: list[Stmt]) -> list[int | None]:
    """For each base statement, the index of the other's statement it matches (or None)."""
    defined = {s.name for s in other if s.name}
    renames = {s.name: s.source for s in base if s.name and s.name not in defined and s.source}
    n, m = len(base), len(other)
    # longest common subsequence under `_fits`, which must cover all of `other`
    # (matches first, then literals that agree: a call of one block lines up with its like)
    score = {(i, j): _score(base[i], other[j]) if _fits(base[i], other[j], renames, j == m - 1) else 0
             for i in range(n) for j in range(m)}
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = max(best[i + 1][j], best[i][j + 1])
            if score[i, j]:
                best[i][j] = max(best[i][j], score[i, j] + best[i + 1][j + 1])
    if best[0][0] // 1000 != m:
        raise Mismatch()
    out: list[int | None] = [None] * n
    i = j = 0
    while i < n and j < m:
        if score[i, j] and best[i][j] == score[i, j] + best[i + 1][j + 1]:
            out[i] = j
            i, j = i + 1, j + 1
        elif best[i + 1][j] == best[i][j]:
            i += 1
        else:
            j += 1
    return out


def _score(base: Stmt, other: Stmt) -> int:
    """How alike two statements that fit are: literals that agree, and pairs of literals equal
    in one where they are equal in the other (a depthwise conv's `groups` = `out`)."""
    pairs = zip(base.parts, other.parts, strict=True)
    same = pattern = 0
    for p, q in pairs:
        a, b = values(p.text), values(q.text)
        same += sum(x == y for x, y in zip(a, b, strict=True))
        pattern += sum((a[i] == a[j]) == (b[i] == b[j]) for i in range(len(a)) for j in range(i + 1, len(a)))
    return 1000 + min(same + pattern, 999)


def merge(bodies: dict[int, list[Stmt]]) -> list[Merged]:
    keys = sorted(bodies)
    widest = max(keys, key=lambda k: (sum(s.size() for s in bodies[k]), -k))
    base = bodies[widest]
    merged = [Merged(s, {}) for s in base]
    for k in keys:
        other = bodies[k]
        for i, j in enumerate(_align(base, other)):
            if j is not None:
                merged[i].copies[k] = other[j]
                if base[i].name and other[j].name is None:
                    merged[-1].else_ref = base[i].name  # its output is this value
    for m in merged:
        for p, part in enumerate(m.stmt.parts):
            if part.children is None:
                m.children.append(None)
            else:
                m.children.append(merge({k: c.parts[p].children or [] for k, c in m.copies.items()}))
    return merged


# ---- parameters ---------------------------------------------------------------------------


@dataclass
class Params:
    count: int  # instances
    slots: list[tuple[str, tuple[str | None, ...]]] = field(default_factory=list)  # (name, values)
    flags: list[tuple[str, tuple[bool | None, ...]]] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    def value(self, hint: str, vector: tuple[str | None, ...]) -> str:
        known = {v for v in vector if v is not None}
        if len(known) == 1 and None in vector:
            # a statement only some instances have: a parameter that agrees with it reads better
            # than the literal (`conv(out, 1, stride=stride)` in an optional shortcut)
            for name, have in sorted(self.slots, key=lambda s: s[0].rstrip("0123456789") != hint):
                if len({a for a in have if a is not None}) > 1 and all(
                        a is None or b is None or a == b for a, b in zip(have, vector, strict=True)):
                    return name
        if len(known) == 1:
            return known.pop()
        for name, have in self.slots:
            if all(a is None or b is None or a == b for a, b in zip(have, vector, strict=False)):
                merged = tuple(a if a is not None else b for a, b in zip(have, vector, strict=False))
                self.slots[self.slots.index((name, have))] = (name, merged)
                return name
        name = self._fresh(hint)
        self.slots.append((name, vector))
        return name

    def flag(self, hint: str, vector: tuple[bool | None, ...]) -> str:
        for name, have in self.flags:
            if have == vector:
                return name
        name = self._fresh(hint)
        self.flags.append((name, vector))
        return name

    def _fresh(self, hint: str) -> str:
        return fresh(hint, self.taken)


def _text(part: Part, copies: dict[int, Part], params: Params) -> str:
    each = []
    per = {k: values(c.text) for k, c in copies.items()}
    for i, hint in enumerate(re.findall("\x00(\\w+)\x01", part.text)):
        vector = tuple(per[k][i] if k in per else None for k in range(params.count))
        each.append(params.value(hint, vector))
    return fill(part.text, each)


def render_merged(merged: list[Merged], params: Params, indent: str = "", scope: set[int] | None = None) -> list[str]:
    lines: list[str] = []
    k = 0
    scope = set(range(params.count)) if scope is None else scope
    while k < len(merged):
        present = _presence(merged[k], params.count, scope)
        run = [merged[k]]
        while k + len(run) < len(merged) and _presence(merged[k + len(run)], params.count, scope) == present:
            run.append(merged[k + len(run)])
        k += len(run)
        if all(p is not False for p in present):
            for m in run:
                lines += _stmt_lines(m, params, indent)
            continue
        if len(run) == 1 and not run[0].stmt.name and _act(run[0].stmt):
            # an activation some instances lack: the layer parameter is `none` there
            text = run[0].stmt.parts[0].text
            found = ACT_SLOT.fullmatch(text)
            assert found is not None
            none = Stmt([Part(text[: found.start(1)] + "none" + text[found.end(1):])])
            copies = {i: run[0].copies.get(i, none) for i in scope}
            lines += _stmt_lines(Merged(run[0].stmt, copies, run[0].children), params, indent)
            continue
        flag = params.flag("has_" + _hint(run[0]), present)
        if len(run) == 1 and run[0].stmt.name:
            inner = _stmt_lines(run[0], params, indent + "    ", bare=True)
            prefix = f"{run[0].stmt.prefix} -> " if run[0].stmt.prefix else ""
            lines.append(f"{indent}{run[0].stmt.name} = {prefix}if {flag} {{")
            lines += inner + [f"{indent}}}"]
            continue
        if any(m.stmt.name for m in run):
            raise Mismatch()
        lines.append(f"{indent}if {flag} {{")
        for m in run:
            lines += _stmt_lines(m, params, indent + "    ")
        else_ref = run[-1].else_ref if k == len(merged) else None
        lines.append(f"{indent}}}" + (f" else {{ {else_ref} }}" if else_ref else ""))
    return lines


def _act(stmt: Stmt) -> bool:
    return len(stmt.parts) == 1 and stmt.parts[0].children is None and bool(ACT_SLOT.fullmatch(stmt.parts[0].text))


def _presence(m: Merged, count: int, scope: set[int]) -> tuple[bool | None, ...]:
    return tuple((k in m.copies) if k in scope else None for k in range(count))


def _hint(m: Merged) -> str:
    label = re.match(r"\s*([A-Za-z_]\w*):", m.stmt.parts[0].text)
    if label:
        return label.group(1)
    word = re.match(r"\s*([A-Za-z_]\w*)", re.sub("\x03\\d+\x04", "block", plain(m.stmt.parts[0].text)))
    return _short(word.group(1)) if word else "step"


def _short(name: str) -> str:
    """A block's name as a flag's: `ConvBNAct` → `conv_bn_act`; a long one by its initials
    (`SqueezeExcitation` → `se`)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", _strip(name)) or [name]
    snake = "_".join(w.lower() for w in words)
    return snake if len(snake) <= 12 else "".join(w[0].lower() for w in words)


def _stmt_lines(m: Merged, params: Params, indent: str, bare: bool = False) -> list[str]:
    text = ""
    if not bare:
        text = (f"{m.stmt.name} = " if m.stmt.name else "") + (f"{m.stmt.prefix} -> " if m.stmt.prefix else "")
    pieces: list[str] = []
    tail: list[str] = []
    for p, part in enumerate(m.stmt.parts):
        head = _text(part, {k: c.parts[p] for k, c in m.copies.items()}, params)
        if part.children is None:
            pieces.append(head)
            continue
        inner = render_merged(m.children[p] or [], params, indent + "    ", set(m.copies))
        pieces.append(head + "seq {\n" + "\n".join(inner) + f"\n{indent}}}")
    tail = []
    return [indent + text + " -> ".join(pieces)] + tail


# ---- classes → blocks ---------------------------------------------------------------------


def generalize(instances: list[Instance], single: Callable[[list[Stmt], bool], list[str]],
               root: str = "") -> list[str]:
    """Block definitions, inner classes first; each instance's `call` set. `single` writes the
    body of a block with one instance (its runs as loops)."""
    blocks: list[str] = []
    used: set[str] = set()
    order: list[tuple[str, bool]] = []
    for inst in instances:
        if family(inst) not in order:
            order.append(family(inst))
    pending = list(order)
    while pending:
        # a family is written once every block its instances call is: inner classes first
        key = next((f for f in pending if all(instances[j].call for inst in instances
                                               if family(inst) == f for j in _calls_in(inst.body))), pending[0])
        pending.remove(key)
        members = [i for i, inst in enumerate(instances) if family(inst) == key]
        for i in members:
            resolve_calls(instances[i].body, instances)
            number_runs(instances[i].body)
        classes = list(dict.fromkeys(instances[i].cls for i in members))
        if len(classes) > 1 and _merges(instances, members):
            blocks.append(_define(_block_name(key[0], used), [instances[i] for i in members], classes, single, root))
            continue
        for cls in classes:
            groups = _groups(instances, [i for i in members if instances[i].cls is cls])
            for g, group in enumerate(groups):
                base = key[0] if len(classes) == 1 else cls.__name__
                name = _block_name(base + ("" if g == 0 else str(g + 1)), used)
                blocks.append(_define(name, [instances[i] for i in group], [cls], single, root))
    return [b for b in blocks if b]


def _pascal(op: str) -> str:
    return "".join(w.capitalize() for w in op.split("_"))


def family(inst: Instance) -> tuple[str, bool]:
    """A class's name without the layers the PyTorch backend names it by (`ConvBNActHardswish`,
    `ConvBNActNone` → `ConvBNAct`): classes of one family that line up make one block, the layer
    a parameter."""
    return _strip(inst.cls.__name__), inst.is_seq


def _strip(name: str) -> str:
    suffixes = sorted({_pascal(op) for op in ACTS} | {"None"}, key=len, reverse=True)
    while True:
        cut = next((x for x in suffixes if name.endswith(x) and len(name) > len(x)), None)
        if cut is None:
            return name
        name = name[: -len(cut)]


def _merges(instances: list[Instance], members: list[int]) -> bool:
    try:
        render_merged(merge({k: instances[i].body for k, i in enumerate(members)}), Params(len(members)))
        return True
    except Mismatch:
        return False


def _calls_in(body: list[Stmt]) -> set[int]:
    found: set[int] = set()
    for stmt in body:
        for part in stmt.parts:
            found.update(int(m) for m in CALL.findall(part.text))
            found |= _calls_in(part.children or [])
    return found


def _groups(instances: list[Instance], members: list[int]) -> list[list[int]]:
    try:
        merge({k: instances[i].body for k, i in enumerate(members)})
        render_merged(merge({k: instances[i].body for k, i in enumerate(members)}), Params(len(members)))
        return [members]
    except Mismatch:
        shapes: dict[str, list[int]] = {}
        for i in members:
            shapes.setdefault(";".join(s.skeleton() for s in instances[i].body), []).append(i)
        return list(shapes.values())


def _block_name(name: str, used: set[str]) -> str:
    return fresh(name, used, "_")


def _define(name: str, group: list[Instance], classes: list[type],
            single: Callable[[list[Stmt], bool], list[str]], root: str) -> str:
    params = Params(len(group))
    if len(group) == 1:
        lines = single(group[0].body, group[0].is_seq)
        if group[0].is_seq and len(lines) == 1 and "\n" not in lines[0] and len(lines[0]) <= 64:
            group[0].call = f"seq {{ {lines[0]} }}"  # a short seq used once: written where it is used
            return ""
    else:
        merged = merge({k: inst.body for k, inst in enumerate(group)})
        lines = derive_padding(params, render_merged(merged, params, "    "))
        lines = derive_flags(params, lines, [inst.channels for inst in group])
    order = [n for n, _ in params.slots] + [n for n, _ in params.flags]
    signature = f"({', '.join(order)})" if order else ""
    for k, inst in enumerate(group):
        args = [slot(n, _first(v, k)) for n, v in params.slots]
        args += [slot(n, bool(v[k])) for n, v in params.flags]
        inst.call = name + (f"({', '.join(args)})" if args else "")
    kind = "seq block" if group[0].is_seq else "block"
    # the class's origin, where the block's name does not say it (the file's first line names
    # the model's module)
    where = [c.__qualname__ if c.__module__ == root
             else f"{c.__module__.removeprefix('_netdsl_import_')}.{c.__qualname__}" for c in classes]
    head = [] if all(w.startswith(name.rstrip("0123456789_")) for w in where) else [f"# {', '.join(where)}"]
    return "\n".join([*head, f"{kind} {name}{signature} {{", *lines, "}"])


def _first(vector: tuple[str | None, ...], k: int) -> Any:
    if vector[k] is not None:
        return _number(vector[k])
    return _number(next(v for v in vector if v is not None))


def _number(text: str | None) -> Any:
    return text  # already spec text: literal() leaves it as is


def resolve_calls(body: list[Stmt], instances: list[Instance]) -> None:
    for stmt in body:
        for part in stmt.parts:
            part.text = CALL.sub(lambda m: instances[int(m.group(1))].call, part.text)
            if part.children:
                resolve_calls(part.children, instances)


NUMBERED = re.compile(r"([A-Za-z_]\w*?)(\d+): (.*)", re.S)


def number_runs(body: list[Stmt]) -> None:
    """`denselayer1: X -> denselayer2: X -> …` in one chain → `for i in range(n) { "denselayer{i + 1}": X }`."""
    for stmt in body:
        parts: list[Part] = []
        for part in stmt.parts:
            if part.children is not None:
                number_runs(part.children)
            match = NUMBERED.fullmatch(part.text) if part.children is None else None
            last = parts[-1].extra if parts else None
            if (match and last and last["prefix"] == match.group(1) and last["rest"] == match.group(3)
                    and int(match.group(2)) == last["start"] + last["count"]):
                last["count"] += 1
                continue
            part.extra = {"prefix": match.group(1), "rest": match.group(3), "start": int(match.group(2)),
                          "count": 1} if match else None
            parts.append(part)
        for part in parts:
            if part.extra and part.extra["count"] > 1:
                e = part.extra
                start = f"i + {e['start']}" if e["start"] else "i"
                part.text = f'for i in range({slot("n", e["count"])}) {{ "{e["prefix"]}{{{start}}}": {e["rest"]} }}'
        stmt.parts = parts
