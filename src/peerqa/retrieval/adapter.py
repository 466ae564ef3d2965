"""The query adapter: a question's vector mapped before the dense comparison,
W q = q + U (V^T q), a residual of low rank fitted by eval/fit_adapter.py (`python -m
peerqa.eval.fit_adapter`) on the fitting questions and the user papers' dev questions
against the stores' fixed vectors, so that a question typed as users type lands nearer
the passage written as papers are. The corpus's vectors are not changed.

The artefact (retrieval/models/adapter.json) is keyed to the embedding model's weights
(its token space): another model's vectors mean something else, so its adapter is not
used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARTEFACT = Path(__file__).with_name("models") / "adapter.json"
SCHEMA = 1
# Stored to DIGITS decimals: the adapted vectors stay within ~1e-5 of the fitted ones and
# the file is the same bytes from the same fit.
DIGITS = 6

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adapter:
    u: np.ndarray  # (dims, rank)
    v: np.ndarray  # (dims, rank)

    def apply(self, vector: Sequence[float]) -> np.ndarray:
        """The adapted question vector, unit length (float32)."""
        q = np.asarray(vector, dtype=np.float32)
        adapted = q + self.u @ (self.v.T @ q)
        return (adapted / (np.linalg.norm(adapted) or 1.0)).astype(np.float32)

    def to_dict(self) -> dict[str, list[list[float]]]:
        return {
            name: [[round(float(x), DIGITS) for x in row] for row in matrix]
            for name, matrix in (("u", self.u), ("v", self.v))
        }

    @classmethod
    def from_dict(cls, data: dict) -> Adapter:
        return cls(np.asarray(data["u"], dtype=np.float32), np.asarray(data["v"], dtype=np.float32))


def dumps(artefact: dict) -> str:
    """The artefact as JSON, one matrix row per line."""
    fields = []
    for key, value in artefact.items():
        if key in ("u", "v"):
            rows = (json.dumps(row, separators=(",", ":")) for row in value)
            body = "[\n" + ",\n".join(f"  {row}" for row in rows) + "\n ]"
        else:
            body = json.dumps(value)
        fields.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def load_adapter(model: str, path: Path = ARTEFACT) -> Adapter | None:
    """The fitted adapter for the embedding model `model` (its token space); None, and the
    question's own vector, when the artefact is missing or belongs to another model."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.warning("no fitted query adapter at %s (run `python -m peerqa.eval.fit_adapter`)", path)
        return None
    if data.get("schema") != SCHEMA or data["key"]["model"] != model:
        log.warning("%s: fitted for another embedding model or schema: not used", path)
        return None
    return Adapter.from_dict(data)
