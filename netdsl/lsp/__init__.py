"""`netdsl lsp`: the language server (pygls over standard input and output).

`positions` converts netdsl's 1-based character positions to the protocol's 0-based code
units; `analysis` checks a document (imports cached) and indexes what the checker found;
`features` answers requests from an analysis; `server` wires them to pygls. Nothing here
imports torch, onnx or onnxruntime.
"""
