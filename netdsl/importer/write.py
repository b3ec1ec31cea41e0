"""Writing the spec: block definitions, then the network, whose seqs show runs of one block's
calls as `repeat`s or as a `for` over a `let` table; laid out by `netdsl.format`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from netdsl.importer.generalize import Instance, generalize, number_runs, resolve_calls
from netdsl.importer.stmts import Stmt, fill, plain, values
from netdsl.importer.torch_ops import drop_defaults


def _runs(lines: list[Stmt], lets: list[str]) -> list[str]:
    """A seq's elements: a run of one block's calls as `repeat`s, one per stage (a first call, then
    equal ones); three stages or more as a `for` over a `let` table (added to `lets`)."""
    out: list[str] = []
    k = 0
    while k < len(lines):
        run = [lines[k]]
        skel = lines[k].skeleton()
        while (k + len(run) < len(lines) and lines[k + len(run)].skeleton() == skel
               and len(lines[k].parts) == 1 and lines[k].parts[0].children is None and not lines[k].name):
            run.append(lines[k + len(run)])
        k += len(run)
        if len(run) < 2 or not re.search(r"\w\(", plain(run[0].parts[0].text)):
            out += [_concrete(s, lets) for s in run]
            continue
        calls = [tuple(values(s.parts[0].text)) for s in run]
        stages = _stages(calls)
        if len(stages) >= 3:
            out.append(_table(run[0].parts[0].text, stages, lets))
            continue
        for stage in stages:
            out.append(_repeat(run[0].parts[0].text, stage))
    return out


def _repeat(text: str, stage: list[tuple[str, ...]]) -> str:
    if len(stage) == 1:
        return fill(text, list(stage[0]))
    first, later = stage[0], stage[1]
    each = [a if a == b else _first_only(a, b) for a, b in zip(first, later, strict=True)]
    counter = " as i" if first != later else ""
    return f"repeat {len(stage)}{counter} {{ {fill(text, each)} }}"


def _stages(calls: list[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
    """The split into stages (a first call, then calls equal to each other) with the fewest stages,
    then the fewest table columns."""
    best: tuple[tuple[int, int], list[list[tuple[str, ...]]]] | None = None
    tried = 0

    def walk(i: int, acc: list[list[tuple[str, ...]]]) -> None:
        nonlocal best, tried
        tried += 1
        if tried > 20000 or (best and len(acc) > best[0][0]):
            return
        if i == len(calls):
            cost = (len(acc), _columns(acc)[0])
            if best is None or cost < best[0]:
                best = (cost, [list(a) for a in acc])
            return
        j = i + 1
        while True:
            walk(j, [*acc, calls[i:j]])
            if j >= len(calls) or (j > i + 1 and calls[j] != calls[i + 1]):
                break
            j += 1

    walk(0, [])
    return best[1] if best else [[c] for c in calls]


def _columns(stages: list[list[tuple[str, ...]]]) -> tuple[int, list[tuple[str, str | None, str | None]]]:
    """For each slot: its first-call and later-call forms: a literal, or a column of the table."""
    count, forms = 0, []
    for p in range(len(stages[0][0])):
        firsts = [s[0][p] for s in stages]
        rests = [s[1][p] if len(s) > 1 else None for s in stages]
        if all(r is None or r == f for f, r in zip(firsts, rests, strict=True)):
            if len(set(firsts)) == 1:
                forms.append(("same", firsts[0], None))
            else:
                count += 1
                forms.append(("column", None, None))
            continue
        first = firsts[0] if len(set(firsts)) == 1 else None
        known = {r for r in rests if r is not None}
        rest = known.pop() if len(known) == 1 else None
        count += (first is None) + (rest is None)
        forms.append(("split", first, rest))
    return count, forms


def _table(text: str, stages: list[list[tuple[str, ...]]], lets: list[str]) -> str:
    hints = re.findall("\x00(\\w+)\x01", text)
    _, forms = _columns(stages)
    names: list[str] = []
    each: list[str] = []
    rows: list[list[str]] = [[] for _ in stages]
    for p, (kind, first, rest) in enumerate(forms):
        if kind == "same":
            each.append(first or "")
            continue
        if kind == "column":
            names.append(hints[p])
            for row, stage in zip(rows, stages, strict=True):
                row.append(stage[0][p])
            each.append(hints[p])
            continue
        parts = []
        for which, fixed, pick in (("0", first, 0), ("", rest, 1)):
            if fixed is not None:
                parts.append(fixed)
                continue
            names.append(hints[p] + which)
            for row, stage in zip(rows, stages, strict=True):
                row.append(stage[min(pick, len(stage) - 1)][p])
            parts.append(hints[p] + which)
        each.append(_first_only(parts[0], parts[1]))
    for row, stage in zip(rows, stages, strict=True):
        row.append(str(len(stage)))
    table = f"stages{len(lets) + 1}" if lets else "stages"
    lets.append(f"let {table} = [" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]")
    header = ", ".join([*names, "count"])
    split = [n for n in names if n.endswith("0") and n[:-1] in names]
    note = f" ({', '.join(split)}: the stage's first block's)" if split else ""
    return (f"# per stage: {header}{note}\n"
            f"for {header} in {table} {{ repeat count as i {{ {fill(text, each)} }} }}")


def _first_only(first: str, rest: str) -> str:
    if (first, rest) == ("true", "false"):
        return "i == 0"
    if (first, rest) == ("false", "true"):
        return "i != 0"
    return f"{first} if i == 0 else {rest}"


def _concrete(stmt: Stmt, lets: list[str]) -> str:
    text = (f"{stmt.name} = " if stmt.name else "") + (f"{stmt.prefix} -> " if stmt.prefix else "")
    pieces = []
    for part in stmt.parts:
        if part.children is None:
            pieces.append(plain(part.text))
            continue
        inner = _runs(part.children, lets)
        if len(inner) == 1 and inner[0].startswith("repeat ") and part.text:
            pieces.append(plain(part.text) + inner[0])
        else:
            pieces.append(plain(part.text) + "seq {\n" + "\n".join(inner) + "\n}")
    return text + " -> ".join(pieces)


def write_spec(instances: list[Instance], body: list[Stmt], network: str, input_shape: Sequence[int],
               comment: str) -> str:
    from netdsl.format import format_text

    blocks = generalize(instances)
    resolve_calls(body, instances)
    number_runs(body)
    shape = ", ".join(str(d) for d in input_shape)
    lines = [f"# {comment}", ""]
    for block in blocks:
        lines += [block, ""]
    lets: list[str] = []
    statements = [_concrete(s, lets) for s in body]
    lines += [f"network {network} {{", f"input image: [{shape}]", *lets, *statements, "}"]
    return format_text(drop_defaults("\n".join(lines) + "\n"))
