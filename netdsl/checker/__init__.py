"""Stages 2 and 3 — the checker: `Program` + overrides → IR graph → checked graph.

`ops` defines every layer kind once (arguments, shape rule, parameters, MACs); `values` and
`calls` evaluate compile-time expressions and pair arguments; `naming` names layers;
`elaborate` expands blocks, repeats and loops into the `ir.Graph`; `lint` checks what
elaboration did not reach; `analyze` computes shapes, parameters, MACs and receptive fields
(`Checked`); `tree` groups layers into the block tree; `budget` judges what would be allocated;
`heads` says what a network's output means; `check` runs all of it in one call.

In: `language.program.Program`. Out: `checker.analyze.Checked` or diagnostics.
May import: `netdsl.core`, `netdsl.language`. Never torch, onnx or onnxruntime.
"""
