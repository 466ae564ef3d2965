"""A learned query-side adapter for dense search: the question's MiniLM sentence vector v
becomes normalise(v + v @ A @ B), a low-rank correction of the identity (A: dim x rank,
B: rank x dim) fitted by `python -m eval.fit_adapter` on (fitting question, gold passage)
pairs, every passage of the store a negative, with the correction's size penalised.

Only dense search reads the adapted vector; passages are embedded as before, so the store
needs no re-ingest and a query costs one small matrix product more. Every other reader
of the question's vector (intent, scope, sentence scoring) keeps the model's own.

The artefact, retrieval/models/adapter.json, is keyed to the embedding model's weights
(its token space): another model's vectors live in another space, so its artefact is not
used and dense search reads the model's own vector.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ARTEFACT = Path(__file__).with_name("models") / "adapter.json"
SCHEMA = 1

log = logging.getLogger("peerqa.retrieval")


@dataclass(frozen=True)
class Adapter:
    a: np.ndarray  # (dim, rank)
    b: np.ndarray  # (rank, dim)

    def __call__(self, vector: Sequence[float]) -> np.ndarray:
        """The adapted unit vector."""
        v = np.asarray(vector, dtype=np.float64)
        adapted = v + (v @ self.a) @ self.b
        return adapted / (np.linalg.norm(adapted) or 1.0)

    def to_dict(self) -> dict:
        return {"a": np.round(self.a, 6).tolist(), "b": np.round(self.b, 6).tolist()}


def from_dict(data: dict) -> Adapter:
    return Adapter(np.asarray(data["a"], dtype=np.float64), np.asarray(data["b"], dtype=np.float64))


@cache
def load_adapter(model: str, path: Path = ARTEFACT) -> Adapter | None:
    """The fitted adapter for the embedding model `model` (its token space); None, and the
    model's own vector, when the artefact is missing or belongs to another model."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if data.get("schema") != SCHEMA or data["key"]["model"] != model:
        log.warning("%s was fitted for another embedding model: dense search reads its own", path)
        return None
    return from_dict(data)
