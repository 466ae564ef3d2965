"""Regression gate: the eval must not fall below the levels recorded in eval/gate.json.

Keys name `EvalReport.headline()` figures. A key starting with "max_" is an upper bound
(figures where lower is better); every other key is a lower bound. The levels are the
figures last measured, less a small margin; raise them as retrieval and answers improve.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GATE = json.loads(
    (Path(__file__).resolve().parents[1] / "src/peerqa/eval" / "gate.json").read_text()
)


@pytest.fixture(scope="module")
def headline(eval_report) -> dict[str, float]:
    return eval_report.headline()


def test_gate_names_only_reported_figures(headline):
    assert set(GATE) <= set(headline), set(GATE) - set(headline)


@pytest.mark.parametrize("key", sorted(GATE))
def test_figure_holds_its_gate(headline, key):
    if key.startswith("max_"):
        assert headline[key] <= GATE[key], f"{key}: {headline[key]:.3f} > {GATE[key]}"
    else:
        assert headline[key] >= GATE[key], f"{key}: {headline[key]:.3f} < {GATE[key]}"
