"""Writing the spec: block definitions, then the network, whose seqs show runs of one block's
calls as `repeat`s or as a `for` over a `let` table; laid out by `netdsl.format`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial

from netdsl.importer.generalize import Instance, generalize, number_runs, resolve_calls
from netdsl.importer.stmts import Stmt, fill, fresh, plain, values
from netdsl.importer.torch_ops import drop_defaults


def _runs(lines: list[Stmt], lets: list[str]) -> list[str]:
    """A seq's elements: a run of one block's calls as `repeat`s, one per stage (a first call, then
    equal ones); three stages or more as a `for` over a `let` table (added to `lets`). A period of
    runs that recurs (VGG's convolutions then a pooling, five times) is a `for` over a table too."""
    runs = _group(_units(lines))
    out: list[str] = []
    k = 0
    while k < len(runs):
        period = _period(runs, k)
        if period is not None:
            size, times = period
            out.append(_periodic(runs[k:k + size * times], size, lets))
            k += size * times
            continue
        run = runs[k]
        k += 1
        if len(run) < 2 or not re.search(r"\w\(", _text(run[0])):
            out += [_concrete(s, lets) for s in run]
            continue
        calls = [tuple(values(_text(s))) for s in run]
        stages = _stages(calls)
        if len(stages) >= 3:
            text = _text(run[0])
            out.append(_shortest(lets, [partial(_table, text, stages), partial(_rows, text, calls)]))
            continue
        for stage in stages:
            differ = sum(a != b for a, b in zip(*stage, strict=True)) if len(stage) == 2 else 0
            if differ > 1:  # two calls read better than a repeat of two with conditionals
                out += [fill(_text(run[0]), list(call)) for call in stage]
            else:
                out.append(_repeat(_text(run[0]), stage))
    return out


def _shortest(lets: list[str], writers: list[Callable[[list[str]], str]]) -> str:
    """The loop, of those `writers` write, that takes the fewest lines laid out; its table joins
    `lets`."""
    from netdsl.format import format_text

    best: tuple[int, str, str] | None = None
    for write in writers:
        trial = list(lets)
        text = write(trial)
        probe = f"network N {{\ninput image: [1]\n{trial[-1]}\nx: seq {{\n{text}\n}}\n}}\n"
        height = len(format_text(drop_defaults(probe)).splitlines())
        if best is None or height < best[0]:
            best = (height, text, trial[-1])
    assert best is not None
    lets.append(best[2])
    return best[1]


def _list(rows: list[list[str]]) -> str:
    """A table's text: a list of rows, or of values where a row has one (`for out in [64, 128]`)."""
    if all(len(row) == 1 for row in rows):
        return "[" + ", ".join(row[0] for row in rows) + "]"
    return "[" + ", ".join("[" + ", ".join(row) + "]" for row in rows) + "]"


def _rows(text: str, calls: list[tuple[str, ...]], lets: list[str]) -> str:
    """A `for` over a table with a row per call: a column for each slot that differs."""
    names: list[str] = []
    taken: set[str] = set()
    columns: list[list[str]] = []
    each: list[str] = []
    for p, hint in enumerate(re.findall("\x00(\\w+)\x01", text)):
        cells = [call[p] for call in calls]
        if len(set(cells)) == 1:
            each.append(cells[0])
        elif cells in columns:
            each.append(names[columns.index(cells)])
        else:
            name = fresh(hint, taken)
            names.append(name)
            columns.append(cells)
            each.append(name)
    table = f"stages{len(lets) + 1}" if lets else "stages"
    lets.append(f"let {table} = " + _list([list(row) for row in zip(*columns, strict=True)]))
    return f"for {', '.join(names)} in {table} {{ {fill(text, each)} }}"


# ops that read as the tail of the line before (`conv -> batchnorm -> relu`, `linear -> relu ->
# dropout`); weighted layers, pools, merges and block calls start a line
JOINERS = frozenset({"relu", "relu6", "tanh", "sigmoid", "leaky_relu", "gelu", "silu", "hardswish",
                     "hardsigmoid", "softmax", "log_softmax", "identity", "batchnorm", "layernorm",
                     "layernorm2d", "dropout", "flatten", "lrn", "channel_shuffle", "stochastic_depth"})
_STEP = re.compile(r'(?:(?:[A-Za-z_]\w*|"[^"]*"): )?([a-z_0-9]+)(?:\(.*\))?', re.S)


def joins(text: str) -> bool:
    """Whether a step `text` reads as the tail of the chain before it."""
    found = _STEP.fullmatch(text.strip())
    # `act`, `act2`: a block's layer parameter (an activation, see stmts.ACTS)
    word = found.group(1) if found else ""
    return "->" not in text and (word in JOINERS or bool(re.fullmatch(r"act\d*", word)))


def _simple(stmt: Stmt) -> bool:
    return not stmt.name and not stmt.prefix and all(p.children is None for p in stmt.parts)


def _units(lines: list[Stmt]) -> list[Stmt]:
    """A seq's statements with each joiner appended to the statement before it."""
    units: list[Stmt] = []
    for stmt in lines:
        if (units and _simple(units[-1]) and _simple(stmt) and len(stmt.parts) == 1
                and joins(plain(stmt.parts[0].text)) and len(drop_defaults(plain(_text(units[-1])))) < 70):
            units[-1] = Stmt([*units[-1].parts, *stmt.parts])
        else:
            units.append(stmt)
    whole = drop_defaults(" -> ".join(plain(_text(u)) for u in units))
    runs = len(_group(units)) < len(units)  # a run of one skeleton is a `repeat`
    if 1 < len(units) <= 4 and all(_simple(u) for u in units) and len(whole) <= 64 and not runs:
        return [Stmt([p for u in units for p in u.parts])]  # a short seq on one line
    return units


def _text(stmt: Stmt) -> str:
    return " -> ".join(p.text for p in stmt.parts)


def _group(units: list[Stmt]) -> list[list[Stmt]]:
    """Consecutive statements of one skeleton (slots aside), unnamed and without seqs."""
    runs: list[list[Stmt]] = []
    for stmt in units:
        if runs and _simple(stmt) and _simple(runs[-1][0]) and runs[-1][0].skeleton() == stmt.skeleton():
            runs[-1].append(stmt)
        else:
            runs.append([stmt])
    return runs


_LABEL = re.compile(r'(?:^|-> )(?:[A-Za-z_]\w*|"[^"]*"): ')


def _uniform(run: list[Stmt]) -> bool:
    """A run whose statements are all alike, unlabelled: one line, or one `repeat`."""
    first = _text(run[0])
    return _simple(run[0]) and not _LABEL.search(plain(first)) and all(_text(s) == first for s in run)


def _period(runs: list[list[Stmt]], k: int) -> tuple[int, int] | None:
    """(runs per period, periods) of the best table of recurring runs from `k`, if one saves lines."""
    best: tuple[int, int, int] | None = None
    for size in range(2, (len(runs) - k) // 2 + 1):
        head = runs[k:k + size]
        if not all(_uniform(r) for r in head):
            continue
        times = 1
        while k + (times + 1) * size <= len(runs) and all(
                _uniform(r) and r[0].skeleton() == h[0].skeleton()
                for r, h in zip(runs[k + times * size:k + (times + 1) * size], head, strict=True)):
            times += 1
        saved = size * times - (size + 4)
        if times >= 2 and saved > 0 and (best is None or saved > best[0]):
            best = (saved, size, times)
    return (best[1], best[2]) if best else None


def _periodic(runs: list[list[Stmt]], size: int, lets: list[str]) -> str:
    """`for` over a `let` table whose rows are the periods: a column for each slot or count that
    differs between periods."""
    periods = [runs[t:t + size] for t in range(0, len(runs), size)]
    taken: set[str] = set()
    names: list[str] = []
    rows: list[list[str]] = [[] for _ in periods]
    body: list[str] = []

    def column(hint: str, cells: list[str]) -> str:
        name = fresh(hint, taken)
        names.append(name)
        for row, cell in zip(rows, cells, strict=True):
            row.append(cell)
        return name

    for q in range(size):
        text = _text(periods[0][q][0])
        hints = re.findall("\x00(\\w+)\x01", text)
        each = []
        for i, hint in enumerate(hints):
            cells = [values(_text(p[q][0]))[i] for p in periods]
            each.append(cells[0] if len(set(cells)) == 1 else column(hint, cells))
        line = fill(text, each)
        counts = [str(len(p[q])) for p in periods]
        if len(set(counts)) > 1:
            line = f"repeat {column('count', counts)} {{ {line} }}"
        elif counts[0] != "1":
            line = f"repeat {counts[0]} {{ {line} }}"
        body.append(line)
    table = f"stages{len(lets) + 1}" if lets else "stages"
    lets.append(f"let {table} = " + _list(rows))
    header = ", ".join(names)
    return f"for {header} in {table} {{\n" + "\n".join(body) + "\n}"


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

    greedy = _greedy(calls)
    best = ((len(greedy), _columns(greedy)[0]), greedy)
    walk(0, [])
    return best[1]


def _greedy(calls: list[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
    """Stages as long as they go: a first call, then every call equal to the second (the walk's
    starting point: ResNet-152's 36 blocks of one stage are too many splits to try them all)."""
    stages: list[list[tuple[str, ...]]] = []
    i = 0
    while i < len(calls):
        j = i + 1
        while j < len(calls) and calls[j] == calls[i + 1]:
            j += 1
        stages.append(calls[i:j])
        i = j
    return stages


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
    comment = f"# per stage: {header}{note}\n" if note else ""
    return comment + f"for {header} in {table} {{ repeat count as i {{ {fill(text, each)} }} }}"


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
               comment: str, root: str = "") -> str:
    """The spec: `comment` first, then the blocks (a class's origin named unless it is `root`,
    the model's module), then the network."""
    from netdsl.format import format_text

    blocks = generalize(instances, _single, root)
    resolve_calls(body, instances)
    number_runs(body)
    shape = ", ".join(str(d) for d in input_shape)
    lines = [f"# {comment}", ""]
    for block in blocks:
        lines += [block, ""]
    lets: list[str] = []
    statements = [_concrete(s, lets) for s in body]
    lines += [f"network {network} {{", f"input image: [{shape}]", *lets, *statements, "}"]
    return format_text(join_lines(format_text(drop_defaults("\n".join(lines) + "\n"))))


def _single(body: list[Stmt], is_seq: bool) -> list[str]:
    """The body of a block with one instance: literals, with runs as `repeat`s and `for`s."""
    lets: list[str] = []
    lines = _runs(body, lets) if is_seq else [_concrete(s, lets) for s in body]
    return lets + lines


_OPENS = ("#", "if ", "for ", "repeat ", "let ", "input ", "}", ")", "]", "->", "else", "seq block ",
          "block ", "network ", "inline ")


def join_lines(text: str) -> str:
    """Formatted spec text with each joiner statement (`relu`, `batchnorm`, `dropout(0.5)`) moved
    to the end of the statement before it, where that one is an unnamed one-line chain: the same
    graph (a statement reads the output of the one before), laid out as people write it."""
    from netdsl.format import WIDTH

    out: list[str] = []
    for line in text.split("\n"):
        if out and _joinable(out[-1], line, WIDTH):
            out[-1] += " -> " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def _joinable(before: str, line: str, width: int) -> bool:
    head, step = before.strip(), line.strip()
    indent = len(line) - len(line.lstrip())
    return (bool(head) and indent == len(before) - len(before.lstrip()) and joins(step)
            and not head.startswith(_OPENS) and not head.endswith(("{", "}", ",", "[", "("))
            and not re.match(r"[A-Za-z_]\w* = ", head) and "#" not in head
            and len(before) + 4 + len(step) <= width)
