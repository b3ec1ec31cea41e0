"""Syntax highlighting: a Pygments lexer (entry point `netdsl`, for the README, docs and rich)
and the TextMate grammar of the VS Code extension (editors/vscode), both made from the same
word lists here; the op names come from the op table.

`python -m netdsl.report.highlight > editors/vscode/syntaxes/netdsl.tmLanguage.json` writes the grammar.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from netdsl.checker.ops import OPS
from netdsl.checker.values import BUILTINS

CONTROL = ("repeat", "for", "in", "as", "seq", "if", "else")
STATEMENTS = ("input", "let", "import")
LOGIC = ("and", "or", "not")
CONSTANTS = ("true", "false", "none")  # none: the layer that is no layer (`act=none`)
DECLARATIONS = ("network", "block", "def", "inline")
LABEL = r"[A-Za-z_][A-Za-z0-9_]*(?=\s*:(?!=))|[0-9]+(?=\s*:(?!=))"
FLOAT = r"[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
OPERATOR = r"->|==|!=|<=|>=|//|\*\*|[-+*/%<>=@]"
INPUT_VALUE = r"\bin(?=\s*\.)"


class NetdslLexer(RegexLexer):
    """netdsl specs (`.net`)."""

    name = "netdsl"
    aliases = ["netdsl"]
    filenames = ["*.net"]
    mimetypes = ["text/x-netdsl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"', String.Double, "string"),
            (r"\b(network|block)(\s+)([A-Za-z_][A-Za-z0-9_]*)", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"\b(def)(\s+)([A-Za-z_][A-Za-z0-9_]*)", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (INPUT_VALUE, Name.Builtin.Pseudo),  # `in.channels`: the block's input, not the keyword
            (words(DECLARATIONS, prefix=r"\b", suffix=r"\b"), Keyword.Declaration),
            (words(("import",), prefix=r"\b", suffix=r"\b"), Keyword.Namespace),
            (words(CONSTANTS, prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (words(CONTROL + STATEMENTS, prefix=r"\b", suffix=r"\b"), Keyword),
            (words(LOGIC, prefix=r"\b", suffix=r"\b"), Operator.Word),
            (LABEL, Name.Label),
            (words(tuple(OPS), prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (words(BUILTINS, prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (r"[A-Z][A-Za-z0-9_]*", Name.Class),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (FLOAT, Number.Float),
            (r"[0-9]+", Number.Integer),
            (OPERATOR, Operator),
            (r"[()\[\]{},.:]", Punctuation),
        ],
        "string": [
            (r'[^"\\{\n]+', String.Double),
            (r"\\.", String.Escape),
            (r"\{[^{}\"\n]*\}", String.Interpol),
            (r"\{", String.Double),
            (r'"|\n', String.Double, "#pop"),
        ],
    }


def _words(names: tuple[str, ...] | list[str]) -> str:
    return r"\b(?:" + "|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n))) + r")\b"


def textmate_grammar() -> dict[str, Any]:
    """The TextMate grammar (as JSON data) of editors/vscode/syntaxes/netdsl.tmLanguage.json."""
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "netdsl",
        "scopeName": "source.netdsl",
        "fileTypes": ["net"],
        "patterns": [
            {"include": f"#{name}"}
            for name in (
                "comment",
                "string",
                "declaration",
                "input",
                "keyword",
                "label",
                "op",
                "builtin",
                "block",
                "number",
                "operator",
            )
        ],
        "repository": {
            "comment": {"name": "comment.line.number-sign.netdsl", "match": "#.*$"},
            "string": {
                "name": "string.quoted.double.netdsl",
                "begin": '"',
                "end": '"|$',
                "patterns": [
                    {"name": "constant.character.escape.netdsl", "match": r"\\."},
                    {"name": "meta.interpolation.netdsl", "match": r"\{[^{}\"]*\}"},
                ],
            },
            "declaration": {
                "patterns": [
                    {
                        "match": r"\b(network|block)\s+([A-Za-z_][A-Za-z0-9_]*)",
                        "captures": {"1": {"name": "storage.type.netdsl"}, "2": {"name": "entity.name.type.netdsl"}},
                    },
                    {
                        "match": r"\b(def)\s+([A-Za-z_][A-Za-z0-9_]*)",
                        "captures": {
                            "1": {"name": "storage.type.function.netdsl"},
                            "2": {"name": "entity.name.function.netdsl"},
                        },
                    },
                ]
            },
            "input": {"name": "variable.language.input.netdsl", "match": INPUT_VALUE},
            "keyword": {
                "patterns": [
                    {"name": "keyword.control.netdsl", "match": _words(CONTROL)},
                    {"name": "keyword.other.netdsl", "match": _words(STATEMENTS)},
                    {"name": "keyword.operator.logical.netdsl", "match": _words(LOGIC)},
                    {"name": "constant.language.netdsl", "match": _words(CONSTANTS)},
                    {"name": "storage.type.netdsl", "match": _words(DECLARATIONS)},
                ]
            },
            "label": {"name": "entity.name.tag.label.netdsl", "match": LABEL},
            "op": {"name": "support.function.op.netdsl", "match": _words(list(OPS))},
            "builtin": {"name": "support.function.builtin.netdsl", "match": _words(list(BUILTINS))},
            "block": {"name": "entity.name.type.block.netdsl", "match": r"\b[A-Z][A-Za-z0-9_]*\b"},
            "number": {"name": "constant.numeric.netdsl", "match": rf"(?:{FLOAT})|\b[0-9]+\b"},
            "operator": {
                "patterns": [
                    {"name": "keyword.operator.arrow.netdsl", "match": "->"},
                    {"name": "keyword.operator.assert.netdsl", "match": "@"},
                    {"name": "keyword.operator.netdsl", "match": r"==|!=|<=|>=|//|\*\*|[-+*/%<>=]"},
                ]
            },
        },
    }


def main() -> int:
    sys.stdout.write(json.dumps(textmate_grammar(), indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
