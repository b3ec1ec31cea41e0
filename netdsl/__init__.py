"""netdsl — a declarative architecture language and compiler for convolutional networks.

Pipeline: text → `parser.parse` (AST) → `program.load` (imports) → `elaborate` (IR graph)
→ `analyze` (shapes, parameters, MACs, receptive fields) → reports and backends.
This package's front end imports neither torch nor onnx nor onnxruntime.
"""

__version__ = "0.1.0"

from netdsl.api import Spec, load  # noqa: E402
from netdsl.check import Outcome, check_file, check_text  # noqa: E402
from netdsl.diagnostics import SpecError  # noqa: E402
from netdsl.elaborate import UsageError  # noqa: E402

__all__ = ["Outcome", "Spec", "SpecError", "UsageError", "__version__", "check_file", "check_text", "load"]
