"""Fit the decline decision (answer/decline.py) and report how well it does.

    python -m peerqa.eval.fit_decline                  # intent, then thresholds (needs an index)
    python -m peerqa.eval.fit_decline --intent-only    # (reads the index too: coverage)
    PEERQA_DATA_DIR=/path/to/store python -m peerqa.eval.fit_decline --thresholds-only

Two fits, in order (the thresholds read the intent model the first one wrote):
1. the intent model (eval/fit_intent.py): writes answer/data/intent.json;
2. the support thresholds (eval/fit_support.py, over eval/decline_sweep.py's arrays):
   writes answer/data/support.json.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from peerqa.eval.artefact_keys import corpus_key, sha256
from peerqa.eval.decline_sweep import Decisions, Observation, Point, observe, point
from peerqa.eval.fit_intent import TRAINING, fit_intent, load_rows
from peerqa.eval.fit_support import (
    FOLDS,
    MAX_WRONGLY_FOLD,
    MAX_WRONGLY_SUPPORT,
    Fitting,
    _best_interval,
    fit_support,
    fit_thresholds,
    folds_of,
)

# Read from here by tests written before the fits had modules of their own.
__all__ = [
    "FOLDS",
    "MAX_WRONGLY_FOLD",
    "MAX_WRONGLY_SUPPORT",
    "TRAINING",
    "Decisions",
    "Fitting",
    "Observation",
    "Point",
    "_best_interval",
    "corpus_key",
    "fit_thresholds",
    "folds_of",
    "load_rows",
    "observe",
    "point",
    "sha256",
]


def _embedder() -> Callable[[str], np.ndarray]:
    from peerqa.embedding import load_embedding

    model = load_embedding()
    return lambda text: np.asarray(model.get_query_embedding(text))


def _coverage() -> Callable[[str], np.ndarray]:
    """Coverage features against the ingested bundled corpus (PEERQA_DATA_DIR)."""
    from peerqa.answer.coverage import coverage_of
    from peerqa.config import get_settings
    from peerqa.retrieval.hybrid import LiveIndex

    index = LiveIndex(get_settings())
    index.require()
    return coverage_of(index).features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intent-only", action="store_true")
    parser.add_argument("--thresholds-only", action="store_true")
    args = parser.parse_args()
    embed = _embedder()
    if not args.thresholds_only:
        fit_intent(embed, _coverage())
        from peerqa.answer.intent import load_intent_model

        load_intent_model.cache_clear()
    if not args.intent_only:
        fit_support()


if __name__ == "__main__":
    main()
