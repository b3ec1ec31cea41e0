"""Stage 5 — backends: a checked graph → a PyTorch module (`pytorch`) or an ONNX model (`onnx`).

Each backend is a lowering table keyed by the ops of `netdsl.checker.ops` (merges included),
plus an emitter that walks the checked graph. `onnx` names initializers as the PyTorch module's
state_dict keys, through `pytorch.names` (nothing else of the PyTorch emitter).

In: `checker.analyze.Checked`. Out: Python source / an `onnx.ModelProto`.
May import: `netdsl.core`, `netdsl.language`, `netdsl.checker`; torch and onnx inside functions.
"""
