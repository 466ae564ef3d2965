"""Late interaction: a passage scores by how well its words meet each word of the query.

ColBERT's MaxSim over the embedding model's own token vectors (no other model): each
content token of the query takes its most similar content token of the passage, and
the passage scores the mean of those. It ranks passages whose single pooled vector blurs
the one phrase a question asks about ("talk to a complete stranger", "sent letters to
the cardiologists"). Fused as one more ranking beside dense, sentence and BM25 search,
over the passages those found (scoring every passage gives the same fused ranking on the
curated set), it was kept on the curated set: MRR@10 0.674 -> 0.728 (calibrate 0.709 ->
0.770, held-out test 0.635 -> 0.682), nDCG@10 0.692 -> 0.729, answers citing gold
evidence 0.736 -> 0.755, Recall@5 unchanged at 0.800.

Token vectors (TOKEN_DIMS wide, peerqa/embedding.py) are made when a generation loads
(~2.8 s for the bundled corpus's 178 passages on 2 cores), reusing the previous
generation's for unchanged passages, and only up to LATE_MAX passages: above, the load
would take minutes, and search fuses the other rankings alone. A query's token vectors
come from the forward pass that embeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from peerqa.embedding import MiniLMEmbedding
from peerqa.models import Passage

LATE_MAX = 2_000  # passages in a generation


@dataclass(frozen=True)
class TokenVectors:
    """The content token vectors of a generation's passages: passage i (by position) owns
    rows starts[i]:starts[i+1] of one matrix, so a query is scored against many
    passages in a few numpy calls (a loop of one product per passage costs ~10 us a
    passage, with the GIL held)."""

    text: list[str]  # what each passage's vectors were made from (its verbatim text)
    matrix: np.ndarray  # float32 unit rows, one per content token
    starts: np.ndarray  # int64, len(text) + 1

    @classmethod
    def load(
        cls,
        passages: Sequence[Passage],
        embed_model: MiniLMEmbedding,
        previous: TokenVectors | None = None,
    ) -> TokenVectors | None:
        """None above LATE_MAX passages. A passage whose text the previous generation
        held keeps its vectors; the others are embedded."""
        if len(passages) > LATE_MAX:
            return None
        known = dict(zip(previous.text, previous.rows(), strict=True)) if previous else {}
        texts = [p.text for p in passages]
        new = sorted({t for t in texts if t not in known})
        known.update(zip(new, embed_model.token_vectors(new) if new else [], strict=True))
        rows = [known[t] for t in texts]
        starts = np.cumsum([0, *map(len, rows)])
        matrix = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        return cls(texts, matrix, starts)

    def rows(self) -> list[np.ndarray]:
        return np.split(self.matrix, self.starts[1:-1])

    def maxsim(self, query_tokens: np.ndarray, positions: Sequence[int]) -> np.ndarray:
        """The MaxSim score of each passage (by position) against the query's tokens."""
        if not len(positions):
            return np.zeros(0)
        at = np.asarray(positions)
        lengths = self.starts[at + 1] - self.starts[at]
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # each passage's first row
        rows = np.repeat(self.starts[at] - first, lengths) + np.arange(lengths.sum())
        similarity = self.matrix[rows] @ query_tokens.T
        return np.maximum.reduceat(similarity, first, axis=0).mean(axis=1)
