"""The importer's shared types: its one error type (a source it will not guess about) and its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ImportRefused(Exception):
    """A model netdsl cannot say: names the module or node (and its source line where known)."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.where = message, where


class UsageError(ImportRefused):
    """A source that cannot be read at all (no such file or factory, bad arguments): exit 2."""


@dataclass(frozen=True)
class Imported:
    """What an import gives: the spec's text and its weights (name → numpy array, in the
    generated module's state_dict order)."""

    text: str
    weights: dict[str, Any]
