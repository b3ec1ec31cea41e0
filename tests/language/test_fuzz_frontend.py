"""Front-end fuzz: mutants of every shipped spec through `netdsl check`, in process.

Each mutant (deletions, swaps, digit blow-ups, stray characters, truncation, odd line ends and
control characters, deep nesting, huge repeat counts) is written beside the shipped specs (so
that imports resolve) and checked three ways: `netdsl check --format json`, `netdsl check
--format markdown` (diagnostics drawn with their carets) and `netdsl.load`. Every way must:

- exit 0 or 1 — never 3 (an internal error), 2 (a usage error, for a file that exists), nor an
  exception escaping; `netdsl.load` raises nothing but `SpecError`;
- put every diagnostic inside its file: 1 ≤ line ≤ the file's lines (a line ends at \\n, \\r\\n
  or \\r, nothing else), 1 ≤ column ≤ the line's length + 1, the end no earlier than the start;
  an exit status of 1 comes with at least one error placed so;
- take at most `LIMIT_S` seconds.

Seeded: mutant `i` of spec `s` is `mutate(text, random.Random(f"{s}:{i}"))`.
NETDSL_FUZZ_EXAMPLES sets the number of random mutants (default 300, spread over the specs).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import netdsl
from netdsl import cli
from netdsl.core.diagnostics import SpecError

from conftest import ROOT, SPECS

SPEC_FILES = sorted(SPECS.rglob("*.net"))  # every shipped spec, the zoo and block files included
EXAMPLES = int(os.environ.get("NETDSL_FUZZ_EXAMPLES", "300"))
LIMIT_S = 5.0

LINE_END = re.compile(r"\r\n|\r|\n")
SPECIAL = [
    "\r\n",
    "\r",
    "\t",
    "\x00",
    "\f",
    "\v",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u200b",
    "\xa0",
    "\x7f",
    "\x1b",
]
STRAY = list("{}[]()@:->,=#\"\\.;'!$%^&*~|<>?+/`") + ["é", "λ", "😀", "->", "::", "@@", "#", '"']
BIG_NUMBERS = [
    "1" + "0" * 400,
    "9" * 5000,
    "9" * 4301,
    "9223372036854775808",
    "99999999999999999999",
    "0",
    "100000000000",
    "1e999",
    "1e-999",
    "0.0",
    "1" + "0" * 400 + ".5",
    "4" * 4300,
]


# ---- mutations -----------------------------------------------------------------------------------


def _spot(text: str, rng: random.Random) -> int:
    return rng.randrange(len(text) + 1)


def delete(text: str, rng: random.Random) -> tuple[str, str]:
    start = _spot(text, rng)
    end = min(len(text), start + rng.randint(1, 20))
    return text[:start] + text[end:], f"delete {start}:{end}"


def delete_line(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.split("\n")
    n = rng.randrange(len(lines))
    return "\n".join(lines[:n] + lines[n + 1 :]), f"delete line {n + 1}"


def swap(text: str, rng: random.Random) -> tuple[str, str]:
    tokens = list(re.finditer(r"[A-Za-z_][A-Za-z0-9_]*|\d+|\S", text))
    if len(tokens) < 2:
        return text, "swap (nothing)"
    a, b = sorted(rng.sample(range(len(tokens)), 2))
    ta, tb = tokens[a], tokens[b]
    out = text[: ta.start()] + tb.group() + text[ta.end() : tb.start()] + ta.group() + text[tb.end() :]
    return out, f"swap {ta.group()!r}@{ta.start()} and {tb.group()!r}@{tb.start()}"


def swap_lines(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.split("\n")
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "\n".join(lines), f"swap lines {a + 1} and {b + 1}"


def duplicate(text: str, rng: random.Random) -> tuple[str, str]:
    start = _spot(text, rng)
    end = min(len(text), start + rng.randint(1, 60))
    return text[:end] + text[start:end] + text[end:], f"duplicate {start}:{end}"


def blow_up_number(text: str, rng: random.Random) -> tuple[str, str]:
    numbers = list(re.finditer(r"\d+(\.\d*)?", text))
    big = rng.choice(BIG_NUMBERS)
    if not numbers:
        return text, "blow up (no number)"
    m = rng.choice(numbers)
    return text[: m.start()] + big + text[
        m.end() :
    ], f"number {m.group()!r}@{m.start()} -> {big[:12]}…({len(big)} chars)"


def stray(text: str, rng: random.Random) -> tuple[str, str]:
    at, char = _spot(text, rng), rng.choice(STRAY + SPECIAL)
    return text[:at] + char + text[at:], f"insert {char!r}@{at}"


def truncate(text: str, rng: random.Random) -> tuple[str, str]:
    at = _spot(text, rng)
    return text[:at], f"truncate at {at}"


def odd_whitespace(text: str, rng: random.Random) -> tuple[str, str]:
    spaces = [m.start() for m in re.finditer(r"\s", text)]
    char = rng.choice(SPECIAL)
    if not spaces:
        return text + char, f"append {char!r}"
    picked = rng.sample(spaces, min(len(spaces), rng.randint(1, 6)))
    chars = list(text)
    for at in picked:
        chars[at] = char
    return "".join(chars), f"whitespace at {sorted(picked)} -> {char!r}"


def line_ends(text: str, rng: random.Random) -> tuple[str, str]:
    end = rng.choice(["\r\n", "\r", "\x85", "\u2028", "\f\n", "\v\n", "\n\x1c"])
    bom = "\ufeff" if rng.random() < 0.5 else ""
    return bom + text.replace("\n", end), f"line ends -> {end!r}" + (", BOM" if bom else "")


def tabs(text: str, rng: random.Random) -> tuple[str, str]:
    return text.replace("    ", "\t"), "indents -> tabs"


MUTATIONS: list[Callable[[str, random.Random], tuple[str, str]]] = [
    delete,
    delete,
    delete_line,
    swap,
    swap_lines,
    duplicate,
    blow_up_number,
    blow_up_number,
    stray,
    stray,
    truncate,
    odd_whitespace,
    odd_whitespace,
    line_ends,
    tabs,
]


def nest(text: str, rng: random.Random) -> tuple[str, str]:
    """200 levels of `if true {`, `repeat 1 {` or parentheses, or a chain of 200 blocks."""
    depth = rng.choice([100, 101, 200, 1000])
    kind = rng.choice(["if", "repeat", "parens", "blocks", "list"])
    body = re.search(r"input [^\n]*\n", text)
    if kind == "blocks":
        chain = "block B0 { relu }\n" + "".join(f"block B{n} {{ B{n - 1} }}\n" for n in range(1, depth))
        return chain + text + f"\nnetwork Deep {{ input x: [3, 8, 8]  B{depth - 1} }}\n", f"{depth} chained blocks"
    if body is None:
        return text + f"\nnetwork Deep {{ input x: [3, 8, 8]  {'if true { ' * depth}relu{' }' * depth} }}\n", (
            f"{depth} nested if (new network)"
        )
    at = body.end()
    if kind == "parens":
        numbers = list(re.finditer(r"(?<=[(, ])\d+(?=[,)])", text))
        if numbers:
            m = rng.choice(numbers)
            return (
                text[: m.start()] + "(" * depth + m.group() + ")" * depth + text[m.end() :],
                f"{depth} parentheses around {m.group()}@{m.start()}",
            )
        kind = "if"
    if kind == "list":
        return text[:at] + f"    x = conv(3, {'[' * depth}1{']' * depth})\n" + text[at:], f"{depth} nested lists"
    opener = "if true {" if kind == "if" else "repeat 1 {"
    return text[:at] + (opener + "\n") * depth + "relu\n" + "}\n" * depth + text[at:], f"{depth} nested {kind}"


def huge_repeat(text: str, rng: random.Random) -> tuple[str, str]:
    body = re.search(r"input [^\n]*\n", text)
    stmt = rng.choice(
        [
            "repeat 9223372036854775808 { }",
            "repeat 3000000 { if false { relu } }",
            "repeat 300000 { nosuchop }",
            "repeat 100001 { identity }",
            "repeat 99999999999 { }",
            "repeat 1" + "0" * 400 + " { relu }",
            "repeat 70000 { repeat 70000 { } }",
            "repeat 2000000 as i { if i < 0 { relu } }",
        ]
    )
    if body is None:
        return text + f"\nnetwork Huge {{ input x: [3, 8, 8]  {stmt} }}\n", f"new network with {stmt[:40]}"
    counts = list(re.finditer(r"(?<=repeat )\d+", text))
    if counts and rng.random() < 0.3:
        m = rng.choice(counts)
        big = rng.choice(["9223372036854775808", "3000000", "1" + "0" * 400])
        return text[: m.start()] + big + text[m.end() :], f"repeat count {m.group()} -> {big[:20]}"
    return text[: body.end()] + f"    {stmt}\n" + text[body.end() :], f"insert {stmt[:50]}"


def mutate(text: str, rng: random.Random) -> tuple[str, list[str]]:
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        roll = rng.random()
        fn = nest if roll < 0.05 else huge_repeat if roll < 0.1 else rng.choice(MUTATIONS)
        text, what = fn(text, rng)
        steps.append(f"{fn.__name__}: {what}")
    return text, steps


# ---- checking one mutant -------------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised by the alarm (a BaseException, so that no `except Exception` in netdsl swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Run:
    status: int | str  # the exit status, or what went wrong instead
    stdout: str
    stderr: str
    seconds: float


def run_cli(args: list[str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    status: int | str
    try:
        with time_limit(LIMIT_S), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(args)
    except CaseTimeout:
        status = f"took over {LIMIT_S:.0f} s"
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else f"SystemExit({exc.code!r})"
    except BaseException as exc:  # noqa: BLE001 - anything escaping main is the finding
        status = f"{type(exc).__name__} escaped: {str(exc)[:200]}"
    return Run(status, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def lines_of(text: str) -> list[str]:
    """The file's lines: a line ends at \\n, \\r\\n or \\r, and at nothing else."""
    return LINE_END.split(text)


def span_problem(file_text: str | None, line: int, column: int, end_line: int, end_column: int) -> str | None:
    if file_text is None:
        return "names no file of the spec"
    lines = lines_of(file_text)
    for what, (ln, col) in (("start", (line, column)), ("end", (end_line, end_column))):
        if not 1 <= ln <= len(lines):
            return f"{what} line {ln} outside the file's {len(lines)} lines"
        if not 1 <= col <= len(lines[ln - 1]) + 1:
            return f"{what} column {col} outside line {ln} ({len(lines[ln - 1])} characters)"
    if (end_line, end_column) < (line, column):
        return f"ends ({end_line}:{end_column}) before it starts ({line}:{column})"
    return None


def _file_text(name: str, files: dict[str, str]) -> str | None:
    for candidate in (name, str(Path(name).resolve())):
        if candidate in files:
            return files[candidate]
    path = Path(name)
    if not path.is_absolute():
        path = Path.cwd() / path
    return files.get(str(path.resolve()))


def check_mutant(path: Path, files: dict[str, str]) -> list[str]:
    """Every problem of one mutant (empty: all is well). `files`: text by absolute path, of every spec file."""
    problems = []
    json_run = run_cli(["check", str(path), "--format", "json"])
    if json_run.status not in (0, 1):
        problems.append(f"check --format json: exit {json_run.status}: {json_run.stderr.strip()[:300]}")
    else:
        try:
            report = json.loads(json_run.stdout)
        except ValueError:
            problems.append(
                f"check --format json: stdout is not JSON: {json_run.stdout[:200]!r} "
                f"(stderr: {json_run.stderr.strip()[:200]})"
            )
            report = {"diagnostics": []}
        placed_errors = 0
        for d in report.get("diagnostics", []):
            problem = span_problem(_file_text(d["file"], files), d["line"], d["column"], d["end_line"], d["end_column"])
            if problem:
                problems.append(f"diagnostic {d['file']}:{d['line']}:{d['column']} '{d['message'][:100]}': {problem}")
            elif d["severity"] == "error":
                placed_errors += 1
        if json_run.status == 1 and not placed_errors:
            problems.append(
                f"exit 1 without an error diagnostic placed in the file (JSON diagnostics: "
                f"{len(report.get('diagnostics', []))}): {json_run.stderr.strip()[:200]}"
            )
    text_run = run_cli(["check", str(path), "--format", "markdown", "--no-color"])
    if text_run.status not in (0, 1):
        problems.append(f"check --format markdown: exit {text_run.status}: {text_run.stderr.strip()[:300]}")
    elif json_run.status in (0, 1) and text_run.status != json_run.status:
        problems.append(f"exit {text_run.status} with --format markdown, {json_run.status} with json")
    for m in re.finditer(r"^(.+?):(\d+):(\d+): (error|warning|note): ", text_run.stderr, re.M):
        text = _file_text(m.group(1), files)
        line = int(m.group(2))
        if text is None or not 1 <= line <= len(lines_of(text)):
            problems.append(f"drawn diagnostic {m.group(0)!r} lies outside its file")
    problems += _load_problems(path)
    for run in (json_run, text_run):
        if run.seconds > LIMIT_S:
            problems.append(f"check took {run.seconds:.1f} s")
    return problems


def _load_problems(path: Path) -> list[str]:
    start = time.perf_counter()
    try:
        with time_limit(LIMIT_S):
            netdsl.load(path)
    except (SpecError, netdsl.UsageError):
        pass
    except CaseTimeout:
        return [f"netdsl.load took over {LIMIT_S:.0f} s"]
    except BaseException as exc:  # noqa: BLE001
        return [f"netdsl.load raised {type(exc).__name__}: {str(exc)[:200]}"]
    if time.perf_counter() - start > LIMIT_S:
        return [f"netdsl.load took {time.perf_counter() - start:.1f} s"]
    return []


# ---- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of specs/ where mutants are written (imports resolve as in the original)."""
    root = tmp_path_factory.mktemp("fuzz") / "specs"
    shutil.copytree(SPECS, root)
    return root


def _files(tree: Path) -> dict[str, str]:
    found = {}
    for path in tree.rglob("*.net"):
        found[str(path.resolve())] = path.read_text(encoding="utf-8", errors="replace")
    return found


def _write(tree: Path, original: Path, text: str) -> Path:
    folder = tree / original.parent.relative_to(SPECS)
    path = folder / f"mutant_{original.stem}.net"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return path


def _failures(tree: Path, original: Path, cases: list[tuple[str, list[str], str]]) -> list[str]:
    """Check each (text, mutations, seed) as a mutant of `original`; a reproducer for each failure."""
    failures = []
    for text, steps, seed in cases:
        path = _write(tree, original, text)
        files = _files(tree)
        problems = check_mutant(path, files)
        if problems:
            excerpt = text if len(text) < 600 else text[:300] + f"…[{len(text) - 600} characters]…" + text[-300:]
            failures.append(
                f"seed {seed!r} ({'; '.join(steps)}):\n  " + "\n  ".join(problems) + f"\n  mutant: {excerpt!r}"
            )
    return failures


def _report(failures: list[str], count: int) -> str:
    return f"{len(failures)} of {count} mutants failed:\n\n" + "\n\n".join(failures[:12])


@pytest.mark.parametrize("original", SPEC_FILES, ids=lambda p: str(p.relative_to(SPECS)))
def test_mutants_of_each_shipped_spec(original: Path, tree: Path) -> None:
    text = original.read_text(encoding="utf-8")
    count = max(1, EXAMPLES // len(SPEC_FILES))
    cases = []
    for i in range(count):
        seed = f"{original.relative_to(SPECS)}:{i}"
        mutant, steps = mutate(text, random.Random(seed))
        cases.append((mutant, steps, seed))
    failures = _failures(tree, original, cases)
    assert not failures, _report(failures, count)


# The inputs the issue names, each on every spec file: line ends and invisible characters, deep
# nesting, huge numbers and repeat counts.
NAMED = {
    "bom+crlf": lambda t: "\ufeff" + t.replace("\n", "\r\n"),
    "cr": lambda t: t.replace("\n", "\r"),
    "tabs": lambda t: t.replace("    ", "\t"),
    "nul-in-comment": lambda t: "# \x00\n" + t,
    "formfeed-vt-lines": lambda t: t.replace("\n", "\f\n", 3).replace("\n", "\v\n", 3),
    "x1c-x1e": lambda t: "\x1c\x1d\x1e\n" + t,
    "nel-ls-ps": lambda t: "# \x85 \u2028 \u2029\n" + t + "\n\x85oops",
    "if-200": lambda t: nest_at(t, "if true {", 200),
    "repeat-200": lambda t: nest_at(t, "repeat 1 {", 200),
    "parens-200": lambda t: re.sub(r"\((\d+)", lambda m: "(" + "(" * 200 + m.group(1) + ")" * 200, t, count=1),
    "blocks-200": lambda t: (
        "block B0 { relu }\n"
        + "".join(f"block B{n} {{ B{n - 1} }}\n" for n in range(1, 200))
        + t
        + "\nnetwork Deep { input x: [3, 8, 8]  B199 }\n"
    ),
    "int-5000-digits": lambda t: re.sub(r"\b\d+\b", "9" * 5000, t, count=1),
    "dropout-1e400": lambda t: insert_after_input(t, "dropout(1" + "0" * 400 + ")"),
    "linear-10e400": lambda t: insert_after_input(t, "flatten -> linear(1" + "0" * 400 + ")"),
    "linear-half-10e400": lambda t: insert_after_input(t, "flatten -> linear((1" + "0" * 400 + " + 1) / 2)"),
    "eps-1e999": lambda t: insert_after_input(t, "batchnorm(eps=1e999)"),
    "repeat-2^63": lambda t: insert_after_input(t, "repeat 9223372036854775808 { }"),
    "repeat-3e6-if-false": lambda t: insert_after_input(t, "repeat 3000000 { if false { relu } }"),
    "repeat-3e5-unknown": lambda t: insert_after_input(t, "repeat 300000 { nosuchop }"),
    "import-nul": lambda t: 'import "a\x00b"\n' + t,
    "symbol-param": lambda t: "network Sym(c = relu) { input x: [4]  relu }\n" + t,
}


def insert_after_input(text: str, stmt: str) -> str:
    body = re.search(r"input [^\n]*\n", text)
    if body is None:
        return text + f"\nnetwork Extra {{ input x: [3, 8, 8]\n    {stmt}\n}}\n"
    return text[: body.end()] + f"    {stmt}\n" + text[body.end() :]


def nest_at(text: str, opener: str, depth: int) -> str:
    return insert_after_input(text, (opener + "\n") * depth + "relu\n" + "}\n" * depth)


# a network, one with imports, a file of blocks, and one in the newer syntax (let, for, seq)
NAMED_ON = [SPECS / "lenet5.net", SPECS / "resnet18.net", SPECS / "blocks/resnet.net", SPECS / "zoo/densenet121.net"]


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_hard_inputs(name: str, tree: Path) -> None:
    cases = []
    for original in NAMED_ON:
        text = NAMED[name](original.read_text(encoding="utf-8"))
        cases.append((original, text))
    failures = []
    for original, text in cases:
        failures += _failures(tree, original, [(text, [name], f"{name} on {original.relative_to(SPECS)}")])
    assert not failures, _report(failures, len(cases))


def test_lines_are_split_at_the_three_line_ends_only() -> None:
    """The harness's own definition of a line, which every diagnostic is held to."""
    assert len(lines_of("a\r\nb\rc\nd\x85e\u2028f\fg\vh\x1ci")) == 4
    assert span_problem("ab\r\ncd", 2, 3, 2, 3) is None
    assert span_problem("ab\r\ncd", 3, 1, 3, 1) == "start line 3 outside the file's 2 lines"
    assert span_problem("ab\x85cd", 1, 6, 1, 6) is None  # \x85 is a character of the line, not its end
    assert span_problem("ab\x85cd", 1, 7, 1, 7) == "start column 7 outside line 1 (5 characters)"


def test_the_fuzzer_reaches_the_cli_at_all() -> None:
    """A clean spec checks clean, and a mutant with an error exits 1 with its position (the harness can pass)."""
    files = {str(p.resolve()): p.read_text(encoding="utf-8") for p in SPEC_FILES}
    assert check_mutant(SPECS / "lenet5.net", files) == []
    run = run_cli(["check", str(ROOT / "tests/checker/bad/add_mismatched_shapes.net"), "--format", "json"])
    assert run.status == 1 and json.loads(run.stdout)["diagnostics"][0]["line"] >= 1


# ---- a plain run for the long mode and the report: failures grouped by kind -----------------------


def census(count: int) -> dict[str, list[tuple[str, str, str]]]:
    """`count` random mutants over every spec; each kind of problem with its (seed, mutations, mutant)."""
    import tempfile

    groups: dict[str, list[tuple[str, str, str]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "specs"
        shutil.copytree(SPECS, tree)
        for i in range(count):
            original = SPEC_FILES[i % len(SPEC_FILES)]
            seed = f"{original.relative_to(SPECS)}:{i // len(SPEC_FILES)}"
            text, steps = mutate(original.read_text(encoding="utf-8"), random.Random(seed))
            path = _write(tree, original, text)
            for problem in check_mutant(path, _files(tree)):
                kind = re.sub(r"/\S+\.net", "FILE", problem)
                kind = re.sub(r"'[^']*'", "'…'", re.sub(r"\d+", "N", kind))[:150]
                groups.setdefault(kind, []).append((seed, "; ".join(steps), text))
    return groups


def mutation_counts(count: int) -> dict[str, int]:
    """How often each kind of mutation is applied in the first `count` census mutants."""
    tally: dict[str, int] = {}
    for i in range(count):
        original = SPEC_FILES[i % len(SPEC_FILES)]
        _, steps = mutate(
            original.read_text(encoding="utf-8"), random.Random(f"{original.relative_to(SPECS)}:{i // len(SPEC_FILES)}")
        )
        for step in steps:
            kind = step.partition(":")[0]
            tally[kind] = tally.get(kind, 0) + 1
    return dict(sorted(tally.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    import sys

    total = int(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLES
    found = census(total)
    print(f"{total} mutants; {len(found)} kinds of problem; mutations applied: {mutation_counts(total)}")
    for kind, cases in sorted(found.items(), key=lambda kv: -len(kv[1])):
        seed, steps, text = min(cases, key=lambda c: len(c[2]))
        print(f"\n[{len(cases)}] {kind}\n  smallest: seed {seed!r} ({steps})\n  {text[:400]!r}")
