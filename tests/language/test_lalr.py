"""The parser's runtime: lark's standalone parser generated into a cache folder, keyed by the
grammar, parsing exactly as lark does; lark itself where no module can be generated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lark
import pytest

from netdsl.core.version import __version__
from netdsl.language import lalr
from netdsl.language.parser import grammar_path

from conftest import ROOT, SHIPPED

GRAMMAR = grammar_path().read_text(encoding="utf-8")


def test_the_generated_parser_parses_as_lark_does(tmp_path: Path) -> None:
    module = lalr.standalone(GRAMMAR, __version__, tmp_path)
    assert [p.name for p in tmp_path.glob("*.py")] == [f"{lalr.module_name(GRAMMAR, __version__)}.py"]
    generated, reference = lalr.make_parser(module, GRAMMAR), lalr.make_parser(None, GRAMMAR)
    assert isinstance(reference, lark.Lark) and not isinstance(generated, lark.Lark)
    for path in [*SHIPPED, *sorted((ROOT / "specs" / "zoo").glob("*.net"))[:6]]:
        text = path.read_text(encoding="utf-8")
        assert generated.parse(text).pretty() == reference.parse(text).pretty(), path.name
    with pytest.raises(module.UnexpectedInput) as caught:
        generated.parse("network N {\n    input x: [3, 8, 8]\n    conv(4, 3) ->\n}\n")
    with pytest.raises(lark.exceptions.UnexpectedInput) as expected:
        reference.parse("network N {\n    input x: [3, 8, 8]\n    conv(4, 3) ->\n}\n")
    assert (caught.value.line, caught.value.column) == (expected.value.line, expected.value.column)


def test_an_edited_grammar_gets_a_module_of_its_own(tmp_path: Path) -> None:
    lalr.standalone(GRAMMAR, __version__, tmp_path)
    edited = GRAMMAR + "\n// an edit\n"
    assert lalr.module_name(edited, __version__) != lalr.module_name(GRAMMAR, __version__)
    assert lalr.standalone(edited, __version__, tmp_path).NETDSL_GRAMMAR == edited
    assert len(list(tmp_path.glob("*.py"))) == 2


def test_a_module_that_holds_another_grammar_is_written_again(tmp_path: Path) -> None:
    stale = tmp_path / f"{lalr.module_name(GRAMMAR, __version__)}.py"
    stale.write_text("NETDSL_GRAMMAR = 'something else'\n", encoding="utf-8")
    assert lalr._import(stale.stem, stale).NETDSL_GRAMMAR == "something else"  # and its code compiled beside it
    assert lalr.standalone(GRAMMAR, __version__, tmp_path).NETDSL_GRAMMAR == GRAMMAR
    assert "Lark_StandAlone" in stale.read_text(encoding="utf-8")


def test_the_compiled_code_is_kept_and_a_damaged_one_compiled_again(tmp_path: Path) -> None:
    module = lalr.standalone(GRAMMAR, __version__, tmp_path)
    (compiled,) = tmp_path.glob("*.code")
    assert compiled.stat().st_size > 10_000 and module.__file__ == str(next(tmp_path.glob("*.py")))
    compiled.write_bytes(b"not marshal data")
    assert lalr.standalone(GRAMMAR, __version__, tmp_path).NETDSL_GRAMMAR == GRAMMAR
    assert compiled.read_bytes() != b"not marshal data"


def test_the_key_holds_lark_s_version_read_without_importing_it() -> None:
    assert lalr.lark_version() == lark.__version__
    assert lalr.module_name(GRAMMAR, "0.1.0, lark 1.3.1") != lalr.module_name(GRAMMAR, "0.1.0, lark 1.3.2")


def test_lark_parses_where_no_module_can_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(blocker / "cache"))
    module, names = lalr.runtime(GRAMMAR, __version__)
    assert module is None and names["Transformer"] is lark.Transformer
    assert names["UnexpectedToken"] is lark.exceptions.UnexpectedToken
    monkeypatch.setenv("NETDSL_CACHE_DIR", "off")
    assert lalr.cache_dir() is None and lalr.runtime(GRAMMAR, __version__)[0] is None


def test_check_starts_without_lark_once_the_module_is_written(tmp_path: Path) -> None:
    env = {**os.environ, "NETDSL_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = (
        "import sys\nfrom netdsl.cli import main\nstatus = main(['check', 'specs/lenet5.net'])\n"
        "print('LARK', any(m == 'lark' or m.startswith('lark.') for m in sys.modules), status)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True) for _ in "12"
    ]
    assert [r.stdout.splitlines()[-1] for r in runs] == ["LARK True 0", "LARK False 0"], runs[0].stderr
    assert "61,706" in runs[1].stdout
