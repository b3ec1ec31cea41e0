"""Backends: lowering the checked graph to PyTorch (and, later, ONNX)."""
