"""The malformed-spec corpus: each file in tests/checker/bad/ ends with the diagnostics it must give.

`# expect: SEVERITY LINE:COL MESSAGE` lines list every diagnostic, in order, exactly; a
`# hint: ...` line after one gives that diagnostic's hint. Files starting with `_` are only
imported by others.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.checker.check import check_file

BAD = Path(__file__).resolve().parent / "bad"
CORPUS = sorted(p for p in BAD.glob("*.net") if not p.name.startswith("_"))


def _expected(path: Path) -> list[tuple[str, str | None]]:
    expected: list[tuple[str, str | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect: "):
            expected.append((line.removeprefix("# expect: "), None))
        elif line.startswith("# hint: "):
            expected[-1] = (expected[-1][0], line.removeprefix("# hint: "))
    return expected


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    assert all(_expected(p) for p in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_spec_reports_exactly_its_diagnostics(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)  # diagnostics name files relative to the working folder
    outcome = check_file(path.name)
    assert outcome.checked is None, "a malformed spec must not check clean"
    got = [(f"{d.severity} {d.span.line}:{d.span.column} {d.message}", d.hint) for d in outcome.diagnostics]
    want = _expected(path)
    assert [g[0] for g in got] == [w[0] for w in want]
    for (_, hint), (_, wanted) in zip(got, want, strict=True):
        if wanted is not None:
            assert hint == wanted
    assert all(d.span.file.endswith(".net") for d in outcome.diagnostics)
