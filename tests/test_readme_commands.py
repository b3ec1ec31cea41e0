"""Every `netdsl …` command of the README's shell blocks runs as written: the fast ones (check,
build, fmt, draw, compare) here, exit 0, in a scratch folder beside the shipped specs; those that
need a trained run, a data set or files of the reader's own (train, experiment, infer, features,
a build from runs/) are listed, so that a new command is placed knowingly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

FAST = ("check", "build", "fmt", "draw", "compare")


def readme_commands() -> list[str]:
    """The `netdsl …` lines of the README's ```sh blocks (and `$ netdsl` examples), comments cut."""
    commands, block, shell = [], False, False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            block = not block
            shell = block and line.strip() in ("```sh", "```")
            continue
        text = line.removeprefix("$ ")
        if shell and text.startswith("netdsl "):
            commands.append(re.sub(r"\s+#.*$", "", text).strip())
    return commands


def sequel(command: str, commands: list[str]) -> bool:
    """Whether `command` reads a file that an earlier README command writes (the importer's
    example builds the tiny.net that `netdsl import` wrote): run by the tests of that command."""
    earlier = commands[: commands.index(command)]
    written = {m for c in earlier for m in re.findall(r"(?:-o|--weights-out) (\S+)", c)}
    return any(word in written for word in command.split()[2:])


def runnable(command: str) -> bool:
    """A command as written (no synopsis: no [options] nor a|b alternatives) that needs nothing
    but the shipped specs."""
    words = command.split()
    return (
        words[1] in FAST
        and not re.search(r"[\[|]|\.\.\.|runs/|\bSPEC\b|FILE", command)
        and not sequel(command, COMMANDS)
    )


COMMANDS = readme_commands()
FAST_COMMANDS = [c for c in COMMANDS if runnable(c)]


def test_the_readme_commands_are_found_and_placed() -> None:
    assert len(COMMANDS) >= 20
    assert len(FAST_COMMANDS) == 7, FAST_COMMANDS
    rest = [c for c in COMMANDS if c not in FAST_COMMANDS]
    for command in rest:  # what is not run here is a synopsis, or needs a run, data or files of one's own
        assert (
            re.search(r"[\[|]|\.\.\.|runs/|\bSPEC\b|FILE", command)
            or command.split()[1] in ("train", "experiment", "infer", "features", "import")
            or sequel(command, COMMANDS)
        ), command


@pytest.mark.parametrize("command", FAST_COMMANDS)
def test_a_readme_command_runs_as_written(command: str, tmp_path: Path) -> None:
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    env = dict(os.environ, COLUMNS="80", NO_COLOR="1")
    script = f'netdsl() {{ "{sys.executable}" -m netdsl "$@"; }}\n{command}\n'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    written = re.search(r"-o (\S+)", command)
    if written:
        assert (tmp_path / written.group(1)).stat().st_size > 0


@pytest.mark.slow
def test_the_readme_int8_build_reads_the_run_training_writes(tmp_path: Path) -> None:
    """The int8 command reads runs/LeNet5/best.pt: where `netdsl train specs/lenet5.net` writes."""
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    (command,) = [c for c in COMMANDS if "--quantize int8" in c and "runs/" in c]
    train = next(c for c in COMMANDS if c.startswith("netdsl train specs/lenet5.net"))
    env = dict(os.environ, COLUMNS="80", NO_COLOR="1")
    script = f'netdsl() {{ "{sys.executable}" -m netdsl "$@"; }}\n{train} --epochs 1 --quiet && {command}\n'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs" / "LeNet5" / "best.pt").is_file() and (tmp_path / "lenet5-int8.onnx").stat().st_size
