"""Shared helpers: where the specs are, and checking spec text in one call."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.analyze import Checked
from netdsl.check import Outcome, check_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SHIPPED = sorted(SPECS.glob("*.net"))


def checked(text: str, **options: object) -> Checked:
    """Check spec text that must be free of errors; fail the test with the diagnostics otherwise."""
    outcome = check_text(text, "test.net", **options)
    if outcome.checked is None:
        pytest.fail("\n".join(str(d) for d in outcome.diagnostics))
    return outcome.checked


def errors(text: str, file: str = "test.net", **options: object) -> list[str]:
    """The diagnostics of spec text as 'severity line:col message' strings."""
    outcome: Outcome = check_text(text, file, **options)
    return [f"{d.severity} {d.span.line}:{d.span.column} {d.message}" for d in outcome.diagnostics]


def layer(result: Checked, name: str):  # type: ignore[no-untyped-def]
    return next(x for x in result.layers if x.name == name)
