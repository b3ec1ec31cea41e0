"""Backend — PyTorch: a checked spec → the Python source of its `nn.Module` classes.

`emit` writes the file (`emit_torch`) with `body` (each class's __init__ and forward), `seq`
(lets, loops and seqs), `scope` (what a class's writers share), `lowerings` (the op table's
PyTorch spelling and the prelude), `names` (attribute and parameter names others must predict),
`pysource` (the one namespace of generated names), `pyexpr` (spec expressions as Python) and
`pyformat`/`pyprint` (line breaking as ruff format would; kept over black by measurement, see
`pyformat`).
"""
