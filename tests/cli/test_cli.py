"""The command line: exit codes, output formats, options, and the light import path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netdsl.cli import main

from conftest import ROOT, SPECS


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_check_prints_the_table_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "lenet5.net"), "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "LeNet5(classes=10)" in out
    assert "│ C1" in out and "6×28×28" in out and "61,706" in out and "416,520" in out
    assert "parameters: 61,706 (61,706 trainable, 0 frozen)" in out


def test_piped_table_is_never_cut() -> None:
    env = dict(os.environ, COLUMNS="60")  # narrower than the table; a pipe must still get all of it
    result = subprocess.run(
        [sys.executable, "-m", "netdsl", "check", "specs/resnet50.net", "--depth", "all"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0
    row = next(line for line in result.stdout.splitlines() if "layer4.0.downsample_bn" in line)
    assert "2048×7×7" in row and "4,096" in row
    assert "│ stem_1.conv1 " in result.stdout and "118,013,952" in result.stdout
    assert "…" not in result.stdout


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "alexnet.net"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {
        "network",
        "input_shape",
        "output_shape",
        "total_params",
        "trainable_params",
        "total_macs",
        "layers",
        "diagnostics",
    } <= set(data)
    assert data["network"] == "AlexNet" and data["input_shape"] == [3, 227, 227] and data["output_shape"] == [1000]
    assert data["total_params"] == 60_965_224 and data["diagnostics"] == []
    conv1 = data["layers"][1]
    assert {"name", "op", "output_shape", "params", "macs", "receptive_field", "jump"} <= set(conv1)
    assert (conv1["name"], conv1["output_shape"], conv1["receptive_field"], conv1["jump"]) == (
        "conv1",
        [96, 55, 55],
        [11, 11],
        [4, 4],
    )


def test_json_diagnostics_on_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.net"
    spec.write_text("network A {\n  input [1, 4, 4]\n  conv(3, 5)\n}\n")
    assert main(["check", str(spec), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["network"] is None and data["layers"] == []
    (diag,) = data["diagnostics"]
    assert diag == {
        "severity": "error",
        "message": "kernel 5 is larger than the padded input (4×4)",
        "file": str(spec),
        "line": 3,
        "column": 3,
        "end_line": 3,
        "end_column": 13,
        "hint": None,
    }


def test_error_output_has_caret_and_hint(tmp_path: Path) -> None:
    (tmp_path / "bad.net").write_text("network A {\n    input [1, 8, 8]\n    S2: maxpol(2)\n}\n")
    result = run("check", "bad.net", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "bad.net:3:9: error: unknown op or block 'maxpol'"
    assert lines[1].endswith("|     S2: maxpol(2)")
    assert lines[2].endswith("|         ^~~~~~")
    assert lines[3].strip() == "= hint: did you mean 'maxpool'?"
    assert "Traceback" not in result.stderr


def test_markdown_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "edge_detectors.net"), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## EdgeDetectors\n")
    assert "| `vertical` | conv | 1×28×28 | 9 | 7,056 | 3 | 1 |" in out
    assert "0 trainable, 18 frozen" in out


def test_set_input_and_network_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["check", str(SPECS / "coral_cnn.net"), "--network", "ORCNN", "--set", "classes=26", "--format", "json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["network"] == "ORCNN" and data["output_shape"] == [25, 2]
    assert main(["check", str(SPECS / "lenet5.net"), "--input", "1x36x36", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["diagnostics"][0]["message"] == "shape assertion failed: expected [6, 28, 28], got [6, 32, 32]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no/such/file.net"], "cannot read 'no/such/file.net'"),
        (["check", "specs/lenet5.net", "--set", "clases=3"], "has no parameter 'clases'; did you mean 'classes'?"),
        (["check", "specs/lenet5.net", "--set", "classes"], "expected NAME=VALUE"),
        (["check", "specs/lenet5.net", "--input", "1x0x5"], "expected CxHxW"),
        (["check", "specs/lenet5.net", "--network", "LeNet"], "no network 'LeNet'"),
        (["check", "specs/lenet5.net", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_of_blocks_only_gets_its_static_checks(tmp_path: Path) -> None:
    result = run("check", "specs/blocks/resnet.net")
    assert result.returncode == 0, result.stderr
    assert "no network to check" in result.stdout and "Bottleneck" in result.stdout
    (tmp_path / "blocks.net").write_text("block B {\n  batchnrom\n}\n")
    result = run("check", "blocks.net", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    (diag,) = json.loads(result.stdout)["diagnostics"]
    assert (diag["line"], diag["column"], diag["message"]) == (2, 3, "unknown op or block 'batchnrom'")
    assert diag["hint"] == "did you mean 'batchnorm'?"


def test_pathological_nesting_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    blocks = "".join(f"block B{i} {{ B{i + 1} }}\n" for i in range(3000)) + "block B3000 { relu }\n"
    (tmp_path / "deep.net").write_text(blocks + "network N { input [3] B0 }\n")
    result = run("check", "deep.net", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("deep.net:64:13: error: blocks nest more than 64 deep here (B0 → B1 → B2 → …)\n")
    assert "Traceback" not in result.stderr


def test_warnings_still_exit_0() -> None:
    result = run("check", "specs/alexnet.net", "--input", "3x224x224")
    assert result.returncode == 0
    assert "specs/alexnet.net:13:5: warning: conv1 drops input pixels" in result.stderr


def test_check_never_imports_torch_onnx_or_onnxruntime() -> None:
    code = (
        "import sys, runpy; sys.argv = ['netdsl', 'check', 'specs/coral_cnn.net']\n"
        "try:\n    runpy.run_module('netdsl', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'onnxruntime'))\n"
        "print('HEAVY', heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_console_script_and_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("netdsl ")


LONG = "network Long {\n  input x: [4]\n  repeat 3000 { relu }\n}\n"  # about 0.9 MB of JSON


@pytest.mark.parametrize(
    "args",
    [["check", "--format", "json"], ["check"], ["check", "--format", "markdown"], ["build"]],
    ids=["json", "table", "markdown", "build"],
)
def test_a_reader_gone_ends_quietly_with_the_sigpipe_status(args: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "netdsl", args[0], "specs/lenet5.net", *args[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first write, as once `head` has its lines
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141  # 128 + SIGPIPE, as `cat` or `seq` under `set -o pipefail`
    assert stderr == b""


def test_head_gets_its_lines_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "long.net").write_text(LONG)
    command = f"set -o pipefail; '{sys.executable}' -m netdsl check long.net --format json | head -3"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.stdout.splitlines() == ["{", '  "network": "Long",', '  "parameters": {},']
    assert result.stderr == ""
    assert result.returncode in (0, 141)  # 0 when the pipe took all of it before head left
