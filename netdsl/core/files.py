"""Writing output files: regular files atomically, everything else as Unix tools write to it.

A regular file, or a path that does not exist yet, is written through a temporary file in its
folder and an atomic rename: on any failure the old file is untouched and nothing half-written
is left. A symlink is followed — its target is replaced that way and the link stays a link.
A character device, FIFO or other special file is written through, never renamed over:
`-o /dev/null` discards, `-o /dev/full` fails with "No space left on device" and stays a
device, a FIFO feeds its reader. `-` is standard output. Every file netdsl writes (build -o,
infer --save, a training run's files, ONNX models) goes through here.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

STDOUT = "-"  # the conventional name for standard output


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` (str as UTF-8); see the module's docstring for what each kind of
    path gets. Raises `OSError` (`IsADirectoryError` for a folder) when it cannot be written."""
    write_atomic_chunks(Path(path), [data.encode("utf-8") if isinstance(data, str) else data])


def write_atomic_chunks(target: Path, chunks: Iterable[bytes | memoryview]) -> None:
    """`write_atomic` for data given in pieces (written in order, none of them copied)."""
    if str(target) == STDOUT:
        _write_stdout(chunks)
        return
    real = destination(target)
    mode = _mode(real)
    if mode is None or stat.S_ISREG(mode):
        _replace(real, chunks, mode)
    elif stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a folder; give a file name", str(target))
    else:
        _write_through(real, chunks)


def destination(path: str | Path) -> Path:
    """Where writing `path` lands: the final target of a symlink (chains followed; a dangling
    link gives the path it points to, so the file is made there), else `path` itself."""
    target = Path(path)
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None


def _replace(target: Path, chunks: Iterable[bytes | memoryview], mode: int | None) -> None:
    """Temporary file + fsync + rename over `target`, keeping an existing file's permissions."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())  # not mkstemp's 0600
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _write_through(target: Path, chunks: Iterable[bytes | memoryview]) -> None:
    """Write into an existing special file: no O_CREAT, no O_TRUNC, no rename (a FIFO blocks
    here until its reader opens it, as `cat > fifo` does)."""
    fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
    with os.fdopen(fd, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()


def _write_stdout(chunks: Iterable[bytes | memoryview]) -> None:
    sys.stdout.flush()  # whatever text went before comes first
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
