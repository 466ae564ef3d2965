"""Late interaction: a passage scores by how well its words meet each word of the query.

ColBERT's MaxSim over the embedding model's own token vectors (no other model): each
content token of the query takes its most similar content token of the passage, and
the passage scores the mean of those. It ranks passages whose single pooled vector blurs
the one phrase a question asks about ("talk to a complete stranger", "sent letters to
the cardiologists"). Fused as two more rankings beside dense, sentence and BM25 search,
over the passages those found (scoring every passage gives the same fused ranking on the
curated set), one reading each passage's verbatim text and one its text under its
context. Each was kept because it raised MRR@10, nDCG@10 and the answers citing gold
evidence on the curated set (Recall@5 unchanged).

Token vectors (TOKEN_DIMS wide, peerqa/embedding.py) are made at ingest, beside the
generation they belong to (the data dir's derived folder, peerqa.files.derived_dir):
a passage's context view from the forward pass that embeds the passage, its text view
from the passes that embed its sentences (text_rows), reusing the previous generation's
for texts it held. A server start, another
worker or a CLI run reads them back in milliseconds, whatever its cache dir. A generation
published without them (an older version, another machine's data dir) has them made at
its first load and kept in the settings' cache_dir. Only up to LATE_MAX passages: above,
making them would take minutes, and search fuses the other rankings alone. A query's
token vectors come from the forward pass that embeds it.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from peerqa.config import Settings
from peerqa.embedding import MiniLMEmbedding
from peerqa.files import derived_dir, prune, used, write_aside
from peerqa.models import Passage
from peerqa.store import LEAN_KINDS, embed_text, indexed_sentences

# Passages in a generation. A document filter ranks as its documents alone only when the
# generation has views (retrieval.keyword.Corpus), so this covers the bundled paper with a
# few dozen user papers beside it; the views hold ~32 kB a passage in memory.
LATE_MAX = 4_000
CACHE_FILES = 8  # generations' token vectors kept in cache_dir, the least recently used go
# Names how views are made (with the model's token space): files made otherwise are not read.
VIEWS_FORMAT = "2: the text view from sentences"

log = logging.getLogger("peerqa.retrieval")


def passage_order(passage: Passage) -> tuple[str, int]:
    """The order of a loaded generation's passages (by document, then offset): view rows
    are by position in it, so ingest and load must agree."""
    return (passage.document, passage.char_start)


def verbatim_text(passage: Passage) -> str:
    # A lean kind (a reference entry, peerqa.store.LEAN_KINDS) reads as it is embedded in
    # this view too: its tokens come from the pass that embeds it, not a second pass.
    return embed_text(passage) if passage.kind in LEAN_KINDS else passage.text


# What each late ranking reads of a passage: its verbatim text, and the text under its
# context as it is embedded (section, theme, caption, a quote's programme, cited titles).
# The context ranking ranks better beside the text one than in its place.
LATE_VIEWS = (verbatim_text, embed_text)


@dataclass(frozen=True)
class TokenVectors:
    """The content token vectors of one view of a generation's passages: passage i (by
    position) owns rows starts[i]:starts[i+1] of one matrix, so a query is scored against
    many passages in a few numpy calls (a loop of one product per passage costs ~10 us a
    passage, with the GIL held)."""

    text: list[str]  # what each passage's vectors were made from
    matrix: np.ndarray  # float32 unit rows, one per content token
    starts: np.ndarray  # int64, len(text) + 1

    @classmethod
    def of(cls, texts: Sequence[str], rows_by_text: Mapping[str, np.ndarray]) -> TokenVectors:
        rows = [rows_by_text[t] for t in texts]
        starts = np.cumsum([0, *map(len, rows)])
        matrix = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        return cls(list(texts), matrix, starts)

    def rows(self) -> list[np.ndarray]:
        return np.split(self.matrix, self.starts[1:-1]) if self.text else []

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


def load_views(
    passages: Sequence[Passage],
    embed_model: MiniLMEmbedding,
    previous: Sequence[TokenVectors] = (),
    cache_dir: Path | None = None,
    stored: Path | None = None,
) -> tuple[TokenVectors, ...]:
    """The TokenVectors of each of LATE_VIEWS (passages in load order), or none above
    LATE_MAX passages: read from `stored` (ingest made them there) or cache_dir when
    there, else made and kept in cache_dir. A text `previous` holds (in either view)
    keeps its vectors; the context view's others are embedded once each, the text view's
    made from sentences (text_rows)."""
    if len(passages) > LATE_MAX:
        return ()
    views = [[read(p) for p in passages] for read in LATE_VIEWS]
    for folder in (stored, cache_dir):
        cached = folder and _read_cache(cache_path(folder, embed_model.token_space, views), views)
        if cached:
            return cached
    path = cache_dir and cache_path(cache_dir, embed_model.token_space, views)
    known = {t: r for old in previous for t, r in zip(old.text, old.rows(), strict=True)}
    _embed_new(views[1], known, embed_model)
    text_rows(passages, embed_model, known)
    made = tuple(TokenVectors.of(texts, known) for texts in views)
    if path:
        _write_cache(path, made)
    return made


def _embed_new(texts: Sequence[str], known: dict[str, np.ndarray], model: MiniLMEmbedding) -> None:
    """The token vectors of each of `texts` not in `known`, once each, into `known`."""
    new = sorted(set(texts) - known.keys())
    known.update(zip(new, model.token_vectors(new) if new else [], strict=True))


def text_rows(
    passages: Sequence[Passage], model: MiniLMEmbedding, known: dict[str, np.ndarray] | None = None
) -> list[np.ndarray]:
    """The text view's token vectors of each passage, kept in `known` by text: its
    sentences' in order, each sentence's from the pass that embeds it alone (ingest embeds
    every sentence for the sentence index, so the view costs no forward pass of its own;
    a passage's own pass was a fifth of a user paper's ingest). A lean kind's view is its
    embedded text (one pass)."""
    known = {} if known is None else known
    parts = {}
    for passage in passages:
        text = verbatim_text(passage)
        if text not in known and text not in parts:
            spans = [] if passage.kind in LEAN_KINDS else indexed_sentences(passage)
            parts[text] = [passage.text[a:b] for a, b in spans] or [text]
    _embed_new([s for sentences in parts.values() for s in sentences], known, model)
    for text, sentences in parts.items():
        known[text] = np.concatenate([known[s] for s in sentences])
    return [known[verbatim_text(p)] for p in passages]


def stored_views(
    passages: Sequence[Passage], embed_model: MiniLMEmbedding, folder: Path
) -> tuple[TokenVectors, ...] | None:
    """A generation's views as ingest stored them in `folder`; None when absent."""
    views = [[read(p) for p in sorted(passages, key=passage_order)] for read in LATE_VIEWS]
    return _read_cache(cache_path(folder, embed_model.token_space, views), views)


def store_views(
    passages: Sequence[Passage],
    embed_model: MiniLMEmbedding,
    folder: Path,
    known: Sequence[TokenVectors] = (),
    keep: Sequence[Sequence[Passage]] = (),
) -> Path | None:
    """Make a new generation's views in `folder` at ingest (texts in `known` are not
    embedded again), and remove the others there except those of the generations in
    `keep` (the live one, still served until the pointer moves). The file made, or None
    above LATE_MAX passages."""
    if len(passages) > LATE_MAX:
        return None
    ordered = sorted(passages, key=passage_order)
    load_views(ordered, embed_model, known, cache_dir=folder)
    wanted = {_path_of(p, embed_model, folder) for p in (ordered, *keep)}
    for old in folder.glob("late-*.npz"):
        if old not in wanted:
            old.unlink(missing_ok=True)
    return _path_of(ordered, embed_model, folder)


def _path_of(passages: Sequence[Passage], embed_model: MiniLMEmbedding, folder: Path) -> Path:
    views = [[read(p) for p in sorted(passages, key=passage_order)] for read in LATE_VIEWS]
    return cache_path(folder, embed_model.token_space, views)


def cache_path(cache_dir: Path, token_space: str, views: Sequence[Sequence[str]]) -> Path:
    """Named by the model's token space and every text of every view, in order."""
    key = hashlib.sha256(f"{token_space}:{VIEWS_FORMAT}".encode())
    for texts in views:
        key.update(f"\0view:{len(texts)}".encode())
        for text in texts:
            key.update(f"\0{len(text)}:{text}".encode())
    return cache_dir / f"late-{key.hexdigest()[:32]}.npz"


def _read_cache(path: Path, views: Sequence[Sequence[str]]) -> tuple[TokenVectors, ...] | None:
    """None when the file is missing or unreadable (it is then made again)."""
    try:
        with np.load(path) as stored:
            made = tuple(
                TokenVectors(list(texts), stored[f"matrix{i}"], stored[f"starts{i}"])
                for i, texts in enumerate(views)
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if any(len(v.starts) != len(v.text) + 1 or v.starts[-1] != len(v.matrix) for v in made):
        return None
    used(path)
    return made


def _write_cache(path: Path, views: Sequence[TokenVectors]) -> None:
    """Written aside (other processes may be reading the cache), then all but the
    CACHE_FILES most recently used are removed. A cache that cannot be written only costs
    the next load its time."""
    arrays = {
        f"{name}{i}": getattr(v, name) for i, v in enumerate(views) for name in ("matrix", "starts")
    }

    def save(aside: Path) -> None:
        with aside.open("wb") as f:  # a file object: np.savez would add ".npz" to a name
            np.savez(f, **arrays)

    try:
        write_aside(path, save)
        prune(path.parent, "late-*.npz", CACHE_FILES)
    except OSError as err:
        log.warning("token vectors not cached in %s: %s", path.parent, err)


def derive_files(
    settings: Settings,
    live: Sequence[Passage],
    passages: Sequence[Passage],
    model: object,
    kept: Mapping[str, np.ndarray],
) -> None:
    """At ingest, before the publish: the new generation's token vectors in the data dir
    (peerqa.files.derived_dir), made from `kept` (tokens kept while embedding), the live
    generation's (in the data dir, or a server's cache dir) and a batch for the rest; and
    the model's ONNX export beside them. Nothing for an embedder that is not the model
    (the bench's precomputed vectors)."""
    if not isinstance(model, MiniLMEmbedding):
        return
    folder = derived_dir(settings.data_dir, settings.collection_prefix)
    known = [TokenVectors.of(list(kept), kept)]
    if live:
        previous = stored_views(live, model, folder) or stored_views(
            live, model, settings.cache_dir
        )
        known += previous or []
    store_views(passages, model, folder, known, keep=[live] if live else [])
    model.keep_export(folder)
