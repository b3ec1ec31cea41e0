"""When errors stop the check: the graph as far as it was shaped (`Outcome.partial`) and its
report (`analyze_partial`), which editors show beside the errors."""

from __future__ import annotations

from netdsl.checker.analyze import analyze_partial
from netdsl.checker.check import check_text

SPEC = """network P {
    input image: [3, 8, 8]
    a: conv(4, 3)
    b: reul
    c: conv(8, 3)
    flatten
}
"""


def test_an_unknown_op_leaves_what_came_before_shaped_and_what_follows_unknown() -> None:
    outcome = check_text(SPEC)
    assert outcome.checked is None and outcome.partial is not None
    report = analyze_partial(outcome.partial)
    assert [(layer.name, layer.output_shape, layer.params) for layer in report.layers] == [
        ("image", (3, 8, 8), 0),
        ("a", (4, 6, 6), 112),
        ("c", (), 0),
        ("flatten_1", (), 0),
    ]
    assert report.layers[1].receptive_field == (3, 3)


def test_a_failed_assertion_keeps_every_layer_shaped() -> None:
    outcome = check_text(SPEC.replace("reul", "relu").replace("a: conv(4, 3)", "a: conv(4, 3) @ [4, 5, 5]"))
    assert outcome.checked is None and outcome.partial is not None
    report = analyze_partial(outcome.partial)
    assert [layer.output_shape for layer in report.layers] == [(3, 8, 8), (4, 6, 6), (4, 6, 6), (8, 4, 4), (128,)]
    assert report.total_params == 112 + 296


def test_a_clean_spec_has_no_partial_graph() -> None:
    outcome = check_text(SPEC.replace("reul", "relu"))
    assert outcome.checked is not None and outcome.partial is None
