"""The command line: `netdsl check|build|infer|train|experiment|draw|compare|features|fmt|lsp`.

`app` builds the argument parser and dispatches; `common` holds the exit codes, consoles and the
options several commands share; each command group is a module of its own, a leaf that nothing
imports back.

May import: everything in netdsl.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from netdsl.cli.app import main as run

    return run(argv)
