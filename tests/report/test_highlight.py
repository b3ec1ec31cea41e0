"""Highlighting: the Pygments lexer on every shipped spec, and the VS Code extension's TextMate
grammar run by the real TextMate engine (vscode-textmate + vscode-oniguruma under node).

The node test installs the two npm packages into editors/vscode/node_modules when they are
missing, and skips when node or npm is absent or the registry cannot be reached.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pygments import lex
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from netdsl.checker.ops import OPS
from netdsl.report.highlight import NetdslLexer, textmate_grammar

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("specs/**/*.net"))
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "netdsl.tmLanguage.json"
SAMPLE = """# a comment
import "blocks/resnet.net"
network Net(classes = 10) {
    input image: [3, 32, 32]
    let widths = [16, 32]
    stem: conv(widths[0], 3, padding=1) -> relu  @ [16, 32, 32]
    for i in range(2) { "stage{i + 1}": repeat 2 { Basic(32) } }
    3: lrn(5, alpha=1e-4) -> dropout(0.5)
    head: linear(classes)
    wide: conv(in.channels * 2, 1)
}
"""


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_lexer_reads_every_shipped_spec_without_an_error_token(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tokens = list(lex(text, NetdslLexer()))
    assert [t for t in tokens if t[0] in Error] == []
    assert "".join(value for _, value in tokens) == (text if text.endswith("\n") else text + "\n")


def test_the_lexer_scopes_each_kind_of_word() -> None:
    tokens = [(kind, value) for kind, value in lex(SAMPLE, NetdslLexer()) if kind not in Whitespace]
    assert tokens[:8] == [
        (Comment.Single, "# a comment"),
        (Keyword.Namespace, "import"),
        (String.Double, '"'),
        (String.Double, "blocks/resnet.net"),
        (String.Double, '"'),
        (Keyword.Declaration, "network"),
        (Name.Class, "Net"),
        (Punctuation, "("),
    ]
    pairs = set(tokens)
    assert {(Keyword, "in"), (Name.Builtin.Pseudo, "in")} <= pairs  # `for i in`, and `in.channels`
    assert {
        (Name.Label, "stem"),
        (Name.Builtin, "conv"),
        (Name.Builtin, "relu"),
        (Number.Integer, "16"),
        (Number.Float, "1e-4"),
        (Operator, "->"),
        (Operator, "@"),
        (Keyword, "for"),
        (Keyword, "repeat"),
        (String.Interpol, "{i + 1}"),
        (Name.Label, "3"),
        (Name.Class, "Basic"),
        (Keyword, "let"),
    } <= pairs


def test_the_lexer_is_registered_for_pygments_and_rich() -> None:
    assert isinstance(get_lexer_by_name("netdsl"), NetdslLexer)
    assert isinstance(get_lexer_for_filename("model.net"), NetdslLexer)


def test_the_textmate_grammar_is_json_made_from_the_op_table() -> None:
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    assert grammar["scopeName"] == "source.netdsl"
    written = set(grammar["repository"]["op"]["match"][len(r"\b(?:") : -len(r")\b")].split("|"))
    assert written <= set(OPS), f"ops no longer in the op table: {written - set(OPS)}"
    assert grammar["repository"]["keyword"] == textmate_grammar()["repository"]["keyword"]
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert package["contributes"]["grammars"][0]["path"] == "./syntaxes/netdsl.tmLanguage.json"
    configuration = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}


@pytest.fixture(scope="module")
def textmate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tokenizer script, once node and the two npm packages are there."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        pytest.skip("node is not installed: the TextMate grammar is checked as JSON only")
    packages = [VSCODE / "node_modules" / name for name in ("vscode-textmate", "vscode-oniguruma")]
    if not all(p.is_dir() for p in packages):
        if npm is None:
            pytest.skip("npm is not installed: cannot fetch vscode-textmate")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", "vscode-textmate@9", "vscode-oniguruma@2"],
            cwd=VSCODE,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0 or not all(p.is_dir() for p in packages):
            pytest.skip(f"could not install vscode-textmate from npm (offline?): {done.stderr.strip()[-300:]}")
    return VSCODE / "test" / "tokenize.js"


def test_the_textmate_grammar_scopes_a_sample_with_the_real_engine(textmate: Path, tmp_path: Path) -> None:
    sample = tmp_path / "sample.net"
    sample.write_text(SAMPLE)
    done = subprocess.run(
        ["node", str(textmate), str(GRAMMAR), str(sample)], capture_output=True, text=True, timeout=60, check=True
    )
    tokens = [json.loads(line) for line in done.stdout.splitlines()]
    scope = {(line, text.strip()): scopes[-1] for line, text, scopes in tokens if text.strip()}
    assert scope[(1, "# a comment")] == "comment.line.number-sign.netdsl"
    assert scope[(2, "import")] == "keyword.other.netdsl"
    assert scope[(2, "blocks/resnet.net")] == "string.quoted.double.netdsl"
    assert scope[(3, "network")] == "storage.type.netdsl"
    assert scope[(3, "Net")] == "entity.name.type.netdsl"
    assert scope[(6, "stem")] == "entity.name.tag.label.netdsl"
    assert scope[(6, "conv")] == "support.function.op.netdsl"
    assert scope[(6, "relu")] == "support.function.op.netdsl"
    assert scope[(6, "->")] == "keyword.operator.arrow.netdsl"
    assert scope[(6, "@")] == "keyword.operator.assert.netdsl"
    assert scope[(7, "for")] == "keyword.control.netdsl"
    assert scope[(7, "{i + 1}")] == "meta.interpolation.netdsl"
    assert scope[(7, "Basic")] == "entity.name.type.block.netdsl"
    assert scope[(8, "3")] == "entity.name.tag.label.netdsl"
    assert scope[(8, "1e-4")] == "constant.numeric.netdsl"
    assert scope[(8, "0.5")] == "constant.numeric.netdsl"
    assert scope[(5, "let")] == "keyword.other.netdsl"
    assert scope[(7, "in")] == "keyword.control.netdsl"
    assert scope[(10, "in")] == "variable.language.input.netdsl"  # `in.channels`: a value
