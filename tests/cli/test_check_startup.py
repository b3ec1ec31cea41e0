"""`netdsl check` starts light: it imports neither backend (nor the API built on them, the
runtime, quantization or training), and `import netdsl` alone imports nothing of netdsl's
until a name is used. Timing is bench/check_speed.py's; here, what gets imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

import netdsl

from conftest import ROOT

LOADED = "print('LOADED', sorted(m for m in sys.modules if m.startswith('netdsl')))"


def _loaded(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("LOADED "))
    return eval(line.removeprefix("LOADED "))  # noqa: S307 - our own printed list


def test_check_imports_no_backend() -> None:
    code = (
        "import sys, runpy; sys.argv = ['netdsl', 'check', 'specs/alexnet.net']\n"
        "try:\n    runpy.run_module('netdsl', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0\n"
        + LOADED
    )
    loaded = _loaded(code)
    assert {"netdsl.checker.check", "netdsl.language.parser", "netdsl.report.render"} <= set(loaded)
    banned = ("netdsl.backends", "netdsl.api", "netdsl.runtime.session", "netdsl.runtime.quantize", "netdsl.training")
    assert [m for m in loaded if m.startswith(banned)] == []


def test_import_netdsl_loads_its_exports_when_used() -> None:
    assert _loaded("import sys, netdsl\n" + LOADED) == ["netdsl"]
    loaded = _loaded("import sys, netdsl\nnetdsl.check_text\n" + LOADED)
    assert "netdsl.checker.check" in loaded and not [
        m for m in loaded if m.startswith(("netdsl.api", "netdsl.backends"))
    ]


def test_every_export_resolves() -> None:
    for name in netdsl.__all__:
        assert getattr(netdsl, name) is not None
    assert netdsl.load.__module__ == "netdsl.api" and netdsl.UsageError.__module__ == "netdsl.checker.elaborate"
    assert set(netdsl.__all__) <= set(dir(netdsl))
    with pytest.raises(AttributeError, match="^module 'netdsl' has no attribute 'nothing'$"):
        netdsl.nothing  # noqa: B018
