"""Stage 1 — the language: spec text → AST → `Program`.

`parser` (the Lark grammar in `grammars/netdsl.lark`, LALR) turns text into the frozen AST of
`ast`, every node carrying its source span; `lalr` is the parser's runtime (lark's standalone
parser, generated once per grammar text into the user cache folder, or lark itself); `program`
loads a file and everything it imports into one `Program` (import cycles are errors).

In: text. Out: `language.program.Program`. May import: `netdsl.core`, lark.
"""
