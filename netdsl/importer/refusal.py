"""The one error type of the importer: a source it will not guess about."""

from __future__ import annotations


class ImportRefused(Exception):
    """A model netdsl cannot say: names the module or node (and its source line where known)."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.where = message, where


class UsageError(ImportRefused):
    """A source that cannot be read at all (no such file or factory, bad arguments): exit 2."""
