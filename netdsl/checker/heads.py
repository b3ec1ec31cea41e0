"""What a network's output means, read off the checked graph (no torch): the one list of head kinds.

- `coral` and `ordinal`: ordinal heads; their output has `classes - 1` tasks and gives a rank;
- `probabilities` (softmax) and `log_probabilities` (log_softmax) and `logits` (anything else):
  a classifier over `classes`.
"""

from __future__ import annotations

from netdsl.checker.analyze import Checked

ORDINAL = ("coral", "ordinal")
KINDS = ("logits", "probabilities", "log_probabilities", *ORDINAL)


class HeadError(ValueError):
    """The network's output is not something netdsl knows how to train."""


def head_kind(checked: Checked) -> str:
    """How outputs read: 'coral' and 'ordinal' give a rank; 'probabilities' (softmax),
    'log_probabilities' (log_softmax) and 'logits' (anything else) give classes."""
    op = checked.graph.nodes[checked.graph.output].op
    if op in ORDINAL:
        return op
    return {"softmax": "probabilities", "log_softmax": "log_probabilities"}.get(op, "logits")


def head_classes(checked: Checked) -> tuple[str, int]:
    """The head's kind and the classes it predicts; raises `HeadError` for an output that is no
    classifier's [classes] (classes ≥ 2) nor an ordinal head."""
    node = checked.graph.nodes[checked.graph.output]
    kind = head_kind(checked)
    if kind in ORDINAL:
        return kind, int(node.shape[0]) + 1
    if len(node.shape) != 1 or node.shape[0] < 2:
        raise HeadError(
            f"the network's output {node.name} has shape {list(node.shape)}: training needs a "
            f"classifier's [classes] (classes ≥ 2), or a coral or ordinal head"
        )
    return kind, int(node.shape[0])
