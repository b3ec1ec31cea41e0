"""Parameters a block need not take: values that follow from others or from the input.

Given a block's parameters (each with its value per instance) and its body's lines, each
function drops the parameters it can write as an expression and puts the expression in the lines.
"""

from __future__ import annotations

import re
from typing import Protocol


class Params(Protocol):
    """generalize.Params: each parameter's name and its value per instance (None: not there)."""

    slots: list[tuple[str, tuple[str | None, ...]]]
    flags: list[tuple[str, tuple[bool | None, ...]]]


def derive_padding(params: Params, lines: list[str]) -> list[str]:
    """A padding parameter that is always `(kernel - 1) // 2` of a kernel parameter ("same"
    padding, the usual convention) is written as that expression, not passed."""
    for name, have in list(params.slots):
        if not name.startswith("padding"):
            continue
        for kernel, ks in params.slots:
            pairs = [(a, b) for a, b in zip(have, ks, strict=True) if a is not None or b is not None]
            if kernel.startswith("kernel") and all(
                    a is not None and b is not None and a.isdigit() and b.isdigit() and int(a) == (int(b) - 1) // 2
                    for a, b in pairs):
                params.slots.remove((name, have))
                pattern = re.compile(rf"(?<![\w.]){name}(?![\w=]|\s*=[^=])")
                return derive_padding(params, [pattern.sub(f"({kernel} - 1) // 2", line) for line in lines])
    return lines


def derive_flags(params: Params, lines: list[str], channels: list[int | None]) -> list[str]:
    """A flag that is a condition on the input's channels and the parameters (ResNet's
    `stride != 1 or in.channels != out`, MobileNet's `stride == 1 and in.channels == out`) is
    written as that condition, not passed."""
    if None in channels:
        return lines
    ints = [(n, [int(x) for x in v]) for n, v in params.slots
            if all(x is not None and re.fullmatch(r"-?\d+", x) for x in v)]
    strides = [(n, v) for n, v in ints if n.startswith("stride")]
    for flag, have in list(params.flags):
        found = None
        for name, v in ints:
            tests = []
            for st, sv in strides:
                tests.append((f"{st} != 1 or in.channels != {name}",
                              [s != 1 or c != x for c, x, s in zip(channels, v, sv, strict=True)]))
                tests.append((f"{st} == 1 and in.channels == {name}",
                              [s == 1 and c == x for c, x, s in zip(channels, v, sv, strict=True)]))
            plain = [(f"in.channels != {name}", [c != x for c, x in zip(channels, v, strict=True)]),
                     (f"in.channels == {name}", [c == x for c, x in zip(channels, v, strict=True)])]
            # the condition the source most likely wrote, where the instances agree with both: a
            # shortcut (a named value) or a residual `add` on the stride too, a layer on the width
            shortcut = bool(re.search(rf"= if {flag} |if {flag} {{\s*add\(", "\n".join(lines)))
            tests = tests + plain if shortcut else plain + tests
            found = next((text for text, result in tests if tuple(result) == have), None)
            if found:
                break
        if found:
            params.flags.remove((flag, have))
            pattern = re.compile(rf"(?<![\w.]){flag}(?!\w)")
            lines = [pattern.sub(found, line) for line in lines]
    return lines
