"""Writing files: regular files atomically; symlinks followed; devices and FIFOs written through;
`-` is standard output; a folder is a clear error. Through `write_atomic` and through `netdsl build -o`."""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from netdsl.cli import main
from netdsl.core.files import destination, write_atomic, write_atomic_chunks

from conftest import SPECS

LENET = str(SPECS / "lenet5.net")


def test_a_new_file_gets_the_umask_mode_and_no_temporary_is_left(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_an_existing_file_is_replaced_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    inode = target.stat().st_ino
    write_atomic_chunks(target, [b"new ", memoryview(b"text")])
    assert target.read_text() == "new text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("precious")

    def chunks():  # type: ignore[no-untyped-def]
        yield b"half"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic_chunks(target, chunks())
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("stale")
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    chain = tmp_path / "chain.txt"
    chain.symlink_to(link)
    assert destination(chain) == real
    write_atomic(chain, "fresh")
    assert chain.is_symlink() and link.is_symlink() and os.readlink(link) == "real.txt"
    assert real.read_text() == "fresh"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.txt", "link.txt", "real.txt"]


def test_a_dangling_symlink_makes_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to("sub/made.txt")
    (tmp_path / "sub").mkdir()
    write_atomic(link, "made")
    assert link.is_symlink() and (tmp_path / "sub" / "made.txt").read_text() == "made"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["made.txt"]


def test_a_fifo_is_written_through_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic_chunks(fifo, [b"x" * 200_000, b"end"])  # more than a pipe buffer: the reader drains it
    reader.join(timeout=30)
    assert received == [b"x" * 200_000 + b"end"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as caught:
        write_atomic(tmp_path, "x")
    assert caught.value.strerror == "it is a folder; give a file name" and caught.value.filename == str(tmp_path)


def test_dash_is_standard_output(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    sys.stdout.write("text first\n")
    write_atomic("-", b"\x00\x80binary")
    assert capsysbinary.readouterr().out == b"text first\n\x00\x80binary"


# ---- through the command line ---------------------------------------------------------------


def test_build_to_dev_null_works_and_leaves_the_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", LENET, "-o", os.devnull]) == 0
    assert capsys.readouterr().err == f"wrote {os.devnull}: class LeNet5, 61,706 parameters\n"
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_build_to_dev_full_fails_and_leaves_the_device(capsys: pytest.CaptureFixture[str]) -> None:
    for target in ("torch", "onnx"):
        assert main(["build", LENET, "--target", target, "-o", "/dev/full"]) == 2
        assert capsys.readouterr().err == "netdsl: error: cannot write '/dev/full': No space left on device\n"
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # as root this once became a regular file


def test_build_into_a_folder_or_a_link_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", LENET, "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"netdsl: error: cannot write '{tmp_path}': it is a folder; give a file name\n"
    (tmp_path / "model.py").write_text("# old\n")
    (tmp_path / "link.py").symlink_to("model.py")
    assert main(["build", LENET, "-o", str(tmp_path / "link.py")]) == 0
    assert (tmp_path / "link.py").is_symlink()
    assert (tmp_path / "model.py").read_text().startswith("# Generated by netdsl")


def test_build_onnx_to_standard_output(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    import onnx

    assert main(["build", LENET, "--target", "onnx", "-o", "-", "--opset", "17"]) == 0
    captured = capsysbinary.readouterr()
    model = onnx.load_model_from_string(captured.out)
    assert model.graph.name == "LeNet5" and model.opset_import[0].version == 17
    assert sum(len(t.raw_data) for t in model.graph.initializer) == 4 * 61_706
    assert captured.err == b"wrote standard output: LeNet5, opset 17, initial weights, seed 0\n"


def test_build_onnx_to_a_terminal_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["build", LENET, "--target", "onnx", "-o", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "netdsl: error: -o -: standard output is a terminal, and an ONNX model is binary; "
        "redirect it (-o - > model.onnx) or give -o FILE.onnx\n"
    )


def test_build_torch_to_dash_is_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", LENET, "-o", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Generated by netdsl") and "class LeNet5(nn.Module):" in captured.out
    assert captured.err == ""
