"""Where nodes really run: onnxruntime's own assignment, read back, and the line a CUDA session
says when some stay on the CPU (a fake assignment stands for the GPU the CI lacks)."""

from __future__ import annotations

from typing import Any

import onnxruntime as ort
import pytest

import netdsl
from netdsl.runtime import session as runtime
from netdsl.runtime.session import (
    CPU,
    CUDA,
    cuda_opset_warning,
    node_placement,
    placement_notice,
)

from conftest import ROOT


def test_onnxruntime_reports_every_node_it_placed() -> None:
    model = netdsl.load(ROOT / "specs/lenet5.net").to_onnx()
    options = runtime._quiet_options(record_placement=True)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=[CPU])
    placed = node_placement(session)
    assert len(placed) == 12  # 3 convs, 4 tanh, 2 average pools, flatten, 2 Gemm: nothing fused on the CPU
    assert {provider for provider, _, _ in placed} == {CPU}
    assert [op for _, op, _ in placed].count("Conv") == 3
    assert ("CPUExecutionProvider", "Conv", "C1") in placed


def test_all_on_cuda_says_nothing() -> None:
    placed = [(CUDA, "Conv", "c1"), (CUDA, "Relu", "r1"), (CUDA, "MemcpyToHost", "m")]
    assert placement_notice(placed, 22) is None


def test_a_newer_op_version_without_a_cuda_kernel_is_named_with_the_opset_that_avoids_it() -> None:
    placed = [(CUDA, "Conv", f"c{i}") for i in range(37)]
    placed += [(CPU, "MaxPool", f"p{i}") for i in range(10)] + [
        (CPU, "Shape", "s"),
        (CPU, "Gather", "g"),
    ]
    assert placement_notice(placed, 22) == (
        "12 of 49 nodes run on the CPU: MaxPool-22 has no CUDA kernel (10 nodes), onnxruntime keeps Shape, "
        "Gather there; build with --opset 21 or lower"
    )
    # at opset 26 MaxPool is still version 22: the same advice
    assert placement_notice(placed[:47], 26) == (
        "10 of 47 nodes run on the CPU: MaxPool-22 has no CUDA kernel (10 nodes); build with --opset 21 or lower"
    )


def test_ops_kept_on_the_cpu_by_choice_get_no_opset_advice() -> None:
    placed = [(CUDA, "Conv", "c"), (CPU, "Shape", "s")]
    assert placement_notice(placed, 18) == "1 of 2 nodes run on the CPU: onnxruntime keeps Shape there"


def test_opset_past_the_cuda_provider_warns() -> None:
    assert cuda_opset_warning(None) is None and cuda_opset_warning(21) is None and cuda_opset_warning(18) is None
    warning = cuda_opset_warning(26)
    assert warning is not None and warning.startswith("--opset 26: onnxruntime's CUDA provider")
    assert "MaxPool-22" in warning and "--opset 21 or lower" in warning


def test_a_cuda_session_with_nodes_on_the_cpu_says_so_in_infer(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_session on a (faked) CUDA provider reads the assignment, and `infer` prints it."""
    import numpy as np

    from netdsl.cli import main

    real = ort.InferenceSession

    class FakeCuda:
        def __init__(self, source: Any, options: Any, providers: list[str]) -> None:
            self.inner = real(source, options, providers=[CPU])

        def get_providers(self) -> list[str]:
            return [CUDA, CPU]

        def get_provider_graph_assignment_info(self) -> Any:
            class Node:
                def __init__(self, op: str) -> None:
                    self.op_type, self.name = op, op

            class Sub:
                def __init__(self, ep: str, ops: list[str]) -> None:
                    self.ep_name, self.ops = ep, ops

                def get_nodes(self) -> list[Any]:
                    return [Node(op) for op in self.ops]

            return [
                Sub(CUDA, ["Conv", "Relu", "Conv"]),
                Sub(CPU, ["MaxPool", "MaxPool"]),
            ]

        def __getattr__(self, name: str) -> Any:  # io_binding, get_outputs, run_with_iobinding …
            return getattr(self.inner, name)

    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", FakeCuda)
    monkeypatch.setattr(runtime, "_preload_cuda", lambda ort: None)
    bound: list[str] = []
    real_bound = runtime.Session.bound_run

    def bound_run(self: runtime.Session, batch: Any, device: str, keep_output: bool) -> Any:
        bound.append(device)  # a CUDA session runs through I/O binding: here on the CPU's memory
        return real_bound(self, batch, "cpu", keep_output)

    monkeypatch.setattr(runtime.Session, "bound_run", bound_run)
    model = tmp_path / "m.onnx"
    assert (
        main(
            [
                "build",
                str(ROOT / "specs/lenet5.net"),
                "--target",
                "onnx",
                "--opset",
                "22",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 32, 32), np.float32))
    capsys.readouterr()
    assert (
        main(
            [
                "infer",
                str(model),
                "--input",
                str(tmp_path / "x.npy"),
                "--provider",
                "cuda",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert (
        "netdsl: warning: 2 of 5 nodes run on the CPU: MaxPool-22 has no CUDA kernel (2 nodes); build with "
        "--opset 21 or lower" in err
    )
    assert bound == ["cuda"]


def test_io_binding_gives_the_plain_run_s_outputs() -> None:
    """Session.run on CUDA goes through I/O binding; the CPU provider runs the same binding path."""
    import numpy as np

    session = runtime.open_session(netdsl.load(ROOT / "specs/lenet5.net").to_onnx(), "cpu")
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32)).astype(np.float32)
    plain = session.run(x)
    bound = session.bound_run(x, "cpu", keep_output=False)
    assert bound.shape == (4, 10) and np.array_equal(bound, plain)
    kept = session.run_on_device(x)
    assert kept.device_name().lower() == "cpu" and np.array_equal(kept.numpy(), plain)
    with pytest.raises(runtime.RuntimeUsageError, match="the model takes"):
        session.run_on_device(x[:, :, :16])
