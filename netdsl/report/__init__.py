"""Stage 4 — reports: a checked graph and its diagnostics → what a person reads.

`render`: the rich table, JSON and markdown of `netdsl check`, and diagnostics with the source
line and a caret; `highlight`: the Pygments lexer of the language (rich and the README use it).

In: `checker.analyze.Checked`, `core.diagnostics.Diagnostic`. Out: text.
May import: `netdsl.core`, `netdsl.language`, `netdsl.checker`, rich, pygments.
"""
