"""One generation of the index loaded: passages, BM25 (keyword.py), vectors (dense.py),
filter columns (filters.py), the fitted ranker and query adapter, late-interaction views, with the
look-ups the API makes of them; its search is search.py's. LiveIndex (live.py) holds the
live one."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

from peerqa.config import Settings
from peerqa.embedding import MiniLMEmbedding
from peerqa.files import derived_dir
from peerqa.models import Filters, Passage, Study
from peerqa.retrieval.adapter import Adapter, load_adapter
from peerqa.retrieval.dense import DenseCollection
from peerqa.retrieval.features import PassageFeatures
from peerqa.retrieval.filters import Column
from peerqa.retrieval.fusion import HybridFusion
from peerqa.retrieval.keyword import KeywordIndex
from peerqa.retrieval.late import load_views, passage_order
from peerqa.retrieval.programmes import ProgrammeFinder
from peerqa.retrieval.ranker import Ranker, first_authors, load_ranker
from peerqa.retrieval.search import CANDIDATES, Search
from peerqa.store import (
    FILTER_KEYS,
    IndexState,
    Store,
    embed_text,
    passage_to_node,
    sentence_collection,
    sentence_ids,
    sentence_passage,
    sentence_texts,
)


class LoadedNode(TextNode):
    """A passage node of a loaded generation, which never changes: its hash, which fusion
    takes of every hit (sha256 over text and metadata), is computed once."""

    @cached_property
    def hash(self) -> str:
        return TextNode.hash.fget(self)  # type: ignore[attr-defined]


class UnknownFilterValue(ValueError):
    def __init__(self, key: str, value: str, allowed: list[str]):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"filters.{key}: unknown value {value!r}")


class Snapshot(Search):
    """One generation of the index as loaded (passages, BM25, vectors, filter columns,
    ranker, late-interaction views), and search over it: a search runs on one snapshot
    from start to end. Built aside by LiveIndex and not changed once built (its caches
    aside, and `ranked_by`'s ranker and adapter); the next generation is a new snapshot."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embed_model: MiniLMEmbedding,
        state: IndexState,
        previous: Snapshot | None = None,
    ):
        """Load `state`'s generation; `previous` (the live snapshot) lends what carries
        over between generations (late-interaction rows of unchanged passages)."""
        self.settings, self.store, self.embed_model = settings, store, embed_model
        collection = self.store.collection(state.collection)
        passages = sorted(self.store.passages(collection), key=passage_order)
        nodes = [passage_to_node(p, LoadedNode) for p in passages]
        self._nodes = {n.node_id: n for n in nodes}
        self.ranker: Ranker | None = load_ranker(self.embed_model.token_space)
        self.adapter: Adapter | None = load_adapter(self.embed_model.token_space)
        self._columns = {
            k: Column.of([str(getattr(p, k) or "") for p in passages]) for k in FILTER_KEYS
        }
        self.passages = {p.id: p for p in passages}
        # Each lettered programme's table rows (its records), by position.
        self._records: dict[tuple[str, str], list[int]] = {}
        for i, p in enumerate(passages):
            if p.kind == "table_row" and p.programme:
                self._records.setdefault((p.document, p.programme), []).append(i)
        self._studies = {d.id: d.study for d in state.documents}
        self._first_authors = first_authors(self._studies)
        self._themes = {p.id: (p.document, p.theme) for p in passages if p.theme}
        self.order = [p.id for p in passages]
        self._position = {pid: i for i, pid in enumerate(self.order)}
        self._keywords = KeywordIndex(
            [embed_text(p) for p in passages],  # = node.get_content(MetadataMode.EMBED)
            [self._nodes[pid] for pid in self.order],
            self._columns["document"],
            self._first_authors,
            CANDIDATES,
        )
        self._corpus = self._keywords.all
        # A passage's sentence ids, made from its text when a filtered search first asks
        # Chroma for the nearest among them; not read from Chroma at load, which at 300k
        # sentences costs ~600 MB of Chroma's caches for the life of the process.
        self._sentence_ids: list[list[str] | None] = [None] * len(self.order)
        self._programmes = ProgrammeFinder(state.programmes)
        # Values the layers above keep for this generation (answer.sentences.bank_for): a
        # new dict per load, so a snapshot never inherits its predecessor's.
        self.generation_values: dict[str, Any] = {}
        self._fusion_template = HybridFusion.template(self._corpus.keyword)
        self._dense = DenseCollection.load(collection, len(nodes), self._position, str, fetch=1)
        sentences = self.store.collection(sentence_collection(collection.name))
        self._dense_sentences = DenseCollection.load(
            sentences,
            state.sentences or sentences.count(),  # counted when an older pointer omits it
            self._position,
            sentence_passage,
            fetch=3,
        )
        self.features = PassageFeatures(
            passages,
            self._keywords.tokens,
            self._keywords.vocab,
            self._keywords.stemmer,
            self._dense,
            self._dense_sentences,
            self._columns["document"],
            self._passage_id,
            self._sentences_of,
        )
        # The composer embeds an answer's candidate sentences: those the index holds are
        # looked up (peerqa.embedding.MiniLMEmbedding.remember), not embedded again.
        exact = self._dense_sentences.exact
        if exact is not None and isinstance(self.embed_model, MiniLMEmbedding):
            self.embed_model.remember(sentence_texts(exact.ids, self.passages), list(exact.unit))
        self._late = load_views(
            passages,
            self.embed_model,
            previous._late if previous is not None else (),
            self.settings.cache_dir,
            stored=derived_dir(self.settings.data_dir, self.settings.collection_prefix),
        )
        self.state = state

    @property
    def ready(self) -> bool:
        return True

    def require(self) -> None:
        """A snapshot is loaded: nothing to require."""

    @property
    def snapshot(self) -> Snapshot:
        return self

    # -- lookups -----------------------------------------------------------
    def vocabulary(self) -> dict[str, list[str]]:
        """Values present for each filterable key (validates filters, fills UI menus)."""
        return {k: column.vocabulary() for k, column in self._columns.items()}

    def select(self, values: dict[str, list[str]], limit: int) -> list[Passage]:
        """The first `limit` passages, in document order, whose filterable keys each take
        one of the given values (AND across keys, OR within one, as search filters)."""
        mask = self._mask(values)
        positions = range(len(self.order)) if mask is None else np.flatnonzero(mask)
        return [self.passages[self.order[int(i)]] for i in positions[:limit]]

    def neighbours(self, passage_id: str) -> tuple[str | None, str | None]:
        i = self._position[passage_id]
        doc = self.passages[passage_id].document
        prev_id = self.order[i - 1] if i > 0 else None
        next_id = self.order[i + 1] if i + 1 < len(self.order) else None
        return tuple(  # type: ignore[return-value]
            pid if pid and self.passages[pid].document == doc else None
            for pid in (prev_id, next_id)
        )

    def study(self, document: str) -> Study | None:
        """The citation metadata of a document in the index (API.md "Citation metadata")."""
        return self._studies.get(document)

    def _passage_id(self, position: int) -> tuple[str]:
        return (self.order[position],)

    def _sentences_of(self, position: int) -> list[str]:
        ids = self._sentence_ids[position]
        if ids is None:  # racing threads make the same list: no lock needed
            ids = self._sentence_ids[position] = sentence_ids(self.passages[self.order[position]])
        return ids

    def _validate(self, filters: Filters | None) -> dict[str, list[str]]:
        active = filters.active() if filters else {}
        for key in ("theme", "document"):
            for value in active.get(key, []):
                if value not in self._columns[key]:
                    raise UnknownFilterValue(key, value, self.vocabulary()[key])
        return active

    def _mask(self, active: dict[str, list[str]]) -> np.ndarray | None:
        """The passages (by position) that pass the filters; None without filters."""
        if not active:
            return None
        mask = np.ones(len(self.order), dtype=bool)
        for key, values in active.items():
            mask &= self._columns[key].mask(values)
        return mask
