"""Writing output files so that a failure leaves nothing half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and an atomic rename:
    on any failure the old file (if there was one) is untouched and no partial file is left."""
    write_atomic_chunks(Path(path), [data.encode("utf-8") if isinstance(data, str) else data])


def write_atomic_chunks(target: Path, chunks: Iterable[bytes | memoryview]) -> None:
    """`write_atomic` for data given in pieces (written in order, none of them copied)."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # as an ordinary new file would be, not mkstemp's 0600
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
