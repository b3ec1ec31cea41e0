"""bench/gpu.sh's env part: the versions and devices the figures were taken with."""

import sys

import onnx
import onnxruntime as ort
import torch

print("python", sys.version.split()[0], "| torch", torch.__version__, "| onnx", onnx.__version__)
print("onnxruntime", ort.__version__, ort.get_available_providers())
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
try:
    import onnxscript

    print("onnxscript", onnxscript.__version__)
except ImportError:
    print("onnxscript missing: the dynamo exporter is skipped (carry its and onnx_ir's wheels in .gpu/)")
