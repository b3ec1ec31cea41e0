"""`netdsl fmt`: the canonical layout, comments kept, idempotent, the AST unchanged.

The properties run over every spec in specs/ (the zoo included, whatever it holds when the
tests run) and over the random networks of tests/netgen.py; the layout rules and comment
placements are pinned by exact expected text.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from netdsl.cli import main
from netdsl.cli.fmt import run
from netdsl.core.diagnostics import SpecError
from netdsl.format import WIDTH, format_text, strip_spans
from netdsl.format.comments import find_comments
from netdsl.language.parser import parse

import netgen

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("specs/**/*.net"))


def assert_canonical(text: str) -> str:
    """Format `text` and check the three promises: same AST, same comments, a fixed point."""
    out = format_text(text)
    assert strip_spans(parse(out)) == strip_spans(parse(text))
    assert [c.text for c in find_comments(out)] == [c.text for c in find_comments(text)]
    assert format_text(out) == out
    return out


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_spec_formats_to_a_fixed_point_with_its_ast_and_comments(path: Path) -> None:
    out = assert_canonical(path.read_text(encoding="utf-8"))
    assert out.endswith("}\n") or out.endswith("\n")
    assert "\t" not in out and not any(line.endswith(" ") for line in out.split("\n"))


def test_specs_are_found() -> None:
    assert len(SPECS) >= 10


@pytest.mark.parametrize("seed", range(25))
def test_random_networks_format_to_a_fixed_point_with_their_ast(seed: int) -> None:
    net = netgen.Generator(netgen.RandomChooser(seed)).net()
    assert_canonical(net.text)


def test_spacing_commas_arguments_and_aligned_shape_checks() -> None:
    text = """network A(k=3,c = 8) {
  input [3,32,32]
  let t=[[1,2],[3,4]]
  x=conv( c , k,padding = (k-1)//2 )->relu@[c,32,32]
  conv(c, 1, stride=2 if k>1 else 1)-> relu   @ [8, 16, 16]
  merged: add(x,in)
  flatten->linear(10)@[10]
}"""
    assert (
        assert_canonical(text)
        == """network A(k = 3, c = 8) {
    input [3, 32, 32]
    let t = [[1, 2], [3, 4]]
    x = conv(c, k, padding=(k - 1) // 2) -> relu    @ [c, 32, 32]
    conv(c, 1, stride = 2 if k > 1 else 1) -> relu  @ [8, 16, 16]
    merged: add(x, in)
    flatten -> linear(10)                           @ [10]
}
"""
    )


def test_brackets_only_where_precedence_needs_them() -> None:
    text = """network A {
    input [3, 8, 8]
    let a = ((1 + 2)) * 3 - (4 - 5) + -(6 - 7) + (8 * 9)
    let b = not (true and false) or (1 < 2) and (3 if true else 4) == 3
    let c = [1, 2][(0)] + (a + 1) // 2 % (3 * 4)
    let d = ((1 if true else 2) if false else 3 if true else 4)
    conv(4, 3, padding = (1 if true else 2) if false else 3 if true else 4)
}
"""
    out = assert_canonical(text)
    assert "let a = (1 + 2) * 3 - (4 - 5) + -(6 - 7) + 8 * 9\n" in out
    assert "let b = not (true and false) or 1 < 2 and (3 if true else 4) == 3\n" in out
    assert "let c = [1, 2][0] + (a + 1) // 2 % (3 * 4)\n" in out
    assert "let d = ((1 if true else 2) if false else 3 if true else 4)\n" in out
    assert "conv(4, 3, padding = (1 if true else 2) if false else 3 if true else 4)\n" in out


def test_long_chains_fill_lines_and_continue_indented() -> None:
    steps = " -> ".join(f"c{i}: conv(64, 3, padding=1, bias=false)" for i in range(5))
    out = assert_canonical(f"block B {{\n    main = {steps}\n    main\n}}\n")
    assert out.split("\n")[1:4] == [
        "    main = c0: conv(64, 3, padding=1, bias=false) -> c1: conv(64, 3, padding=1, bias=false)",
        "        -> c2: conv(64, 3, padding=1, bias=false) -> c3: conv(64, 3, padding=1, bias=false)",
        "        -> c4: conv(64, 3, padding=1, bias=false)",
    ]
    assert max(len(line) for line in out.split("\n")) <= WIDTH


def test_bodies_inline_when_short_and_written_out_otherwise() -> None:
    long = ", ".join(f"a{i}=1" for i in range(30))
    text = f"""block B {{
    r: repeat 2 as i {{ conv(4, 3) }}
    s: seq {{ relu
       tanh }}
    c: if in.channels == 4 {{ relu }} else if in.channels == 3 {{ tanh }} else {{ sigmoid }}
    f: for a, b in [[1, 2]] {{ conv(a, b, {long}) }}
    e: seq {{}}
}}
"""
    out = assert_canonical(text)
    assert out.split("\n")[1:8] == [
        "    r: repeat 2 as i { conv(4, 3) }",
        "    s: seq {",
        "        relu",
        "        tanh",
        "    }",
        "    c: if in.channels == 4 { relu } else if in.channels == 3 { tanh } else { sigmoid }",
        "    f: for a, b in [[1, 2]] {",
    ]
    assert "    e: seq {}\n" in out


def test_comments_stay_where_they_are() -> None:
    text = """# head

import "a.net"   # why
import "b.net"
# before net
network N { # after brace
    input [3, 8, 8]
    # lead a
    a = conv(4,   # first
             3)
        -> relu  # after relu
        # before bn
        -> batchnorm

    add(a, in)  # trailing
    "lay{1}": seq { relu  # inner
    }
    # end of body
}
# end of file
"""
    assert (
        assert_canonical(text)
        == """# head

import "a.net"  # why
import "b.net"

# before net
network N {  # after brace
    input [3, 8, 8]
    # lead a
    a = conv(
        4,  # first
        3,
    ) -> relu  # after relu
        # before bn
        -> batchnorm

    add(a, in)  # trailing
    "lay{1}": seq {
        relu  # inner
    }
    # end of body
}

# end of file
"""
    )


def test_trailing_comments_align_in_their_own_column() -> None:
    text = """network N {
    input [3, 8, 8]
    let growth = 32 # k
    let block_config = [6, 12] # per block
    conv(4, 3) @ [4, 6, 6]
    relu # a string "#" is no comment: "x#y"
}
"""
    assert (
        assert_canonical(text)
        == """network N {
    input [3, 8, 8]
    let growth = 32             # k
    let block_config = [6, 12]  # per block
    conv(4, 3)  @ [4, 6, 6]
    relu                        # a string "#" is no comment: "x#y"
}
"""
    )


def test_literals_labels_and_imports_are_kept_as_written() -> None:
    text = 'import   "blocks/x.net"\nnetwork N {\n input in2: [3, 8, 8]\n 3: lrn(5, alpha=1e-4, beta=.75)\n "a\\"b{1}": relu\n}\n'
    out = assert_canonical(text)
    assert 'import "blocks/x.net"\n' in out
    assert "    3: lrn(5, alpha=1e-4, beta=.75)\n" in out
    assert '    "a\\"b{1}": relu\n' in out


def test_line_ends_are_kept_and_syntax_errors_refused() -> None:
    assert format_text("network N {\r\n  input [3]\r\n}\r\n") == "network N {\r\n    input [3]\r\n}\r\n"
    with pytest.raises(SpecError) as caught:
        format_text("network N {\n    input [3]\n    conv(\n}\n", "x.net")
    assert str(caught.value.diagnostics[0]).startswith("x.net:4:1: error: unexpected '}'")


def test_command_check_diff_and_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = tmp_path / "messy.net"
    messy.write_text("network N {\n  input [3, 8, 8]\n  conv(4,3)->relu\n}\n")
    tidy = tmp_path / "tidy.net"
    tidy.write_text("network N {\n    input [3, 8, 8]\n}\n")
    assert main(["fmt", "--check", str(messy), str(tidy)]) == 1
    assert capsys.readouterr().err == f"would reformat {messy}\n"
    out, err = io.StringIO(), io.StringIO()
    assert run([str(messy)], diff=True, out=out, err=err) == 0
    assert (
        "-  input [3, 8, 8]\n-  conv(4,3)->relu\n+    input [3, 8, 8]\n+    conv(4, 3) -> relu\n }\n" in out.getvalue()
    )
    assert err.getvalue() == f"would reformat {messy}\n"
    assert main(["fmt", str(messy)]) == 0
    assert messy.read_text() == "network N {\n    input [3, 8, 8]\n    conv(4, 3) -> relu\n}\n"
    assert main(["fmt", "--check", str(messy), str(tidy)]) == 0


def test_command_reports_errors_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.net"
    broken.write_text("network N {\n    input [3\n}\n")
    assert main(["fmt", str(broken)]) == 1
    assert capsys.readouterr().err.startswith(f"{broken}:3:1: error: unexpected '}}'")
    assert broken.read_text() == "network N {\n    input [3\n}\n"
    assert main(["fmt", str(tmp_path / "missing.net")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_standard_input_to_standard_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("network N {\n input [3]\n}\n"))
    out, err = io.StringIO(), io.StringIO()
    assert run(["-"], out=out, err=err) == 0
    assert (out.getvalue(), err.getvalue()) == ("network N {\n    input [3]\n}\n", "")


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs_are_written_in_the_canonical_layout(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, f"run: netdsl fmt {path.relative_to(ROOT)}"
