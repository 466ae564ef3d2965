"""index -> ranked passages: dense (Chroma) and BM25 over the same nodes, and late
interaction over what they found, fused by relative score; then the passages of the top
hit's theme rise with it (THEME_FEEDBACK), reference entries leave unless the question
asks about literature (or names their first author, when that is no indexed paper's), and
the fitted ranker (retrieval/ranker.py) reorders the best ranker.POOL by features of
every ranking.

A `Snapshot` is one generation loaded (passages, BM25, vectors, filter columns, ranker)
and searched; `LiveIndex`, made once per process with the model, holds the live snapshot
and swaps in a new one when an ingest publishes a new generation. Dense search, BM25,
fusion and filter columns are their own modules (dense.py, keyword.py, fusion.py,
filters.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from copy import copy
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized
from chromadb.errors import ChromaError
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from threadpoolctl import threadpool_limits

from peerqa.config import Settings, get_settings
from peerqa.embedding import MiniLMEmbedding, QueryEncoding, load_embedding
from peerqa.files import derived_dir
from peerqa.models import Filters, Passage, ScoredPassage, Study
from peerqa.retrieval.dense import DenseCollection, DenseFilter, DenseRetriever
from peerqa.retrieval.expansion import expand
from peerqa.retrieval.features import PassageFeatures, token_ids
from peerqa.retrieval.filters import Column, chroma_where
from peerqa.retrieval.fusion import FUSION_MODE, HybridFusion  # noqa: F401 (tests read it)
from peerqa.retrieval.keyword import KeywordRetriever
from peerqa.retrieval.late import TokenVectors, load_views, passage_order
from peerqa.retrieval.programmes import ProgrammeFinder
from peerqa.retrieval.quantity import asks_quantity
from peerqa.retrieval.ranker import (
    POOL,
    Query,
    Ranker,
    asks_literature,
    documents_named,
    features,
    first_author,
    first_authors,
    load_ranker,
    names_author,
)
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
from peerqa.words import TOKEN_PATTERN, bm25_tokenize, english_stemmer

CANDIDATES = 30  # per retriever, before fusion
# The top hit's theme (one of the paper's Results themes: its paragraphs and the quotes
# of Tables 3-4 that illustrate them) is taken as the question's topic, and every hit of
# that theme gains THEME_FEEDBACK times the top hit's score: the quote behind a claim
# joins the claim. The top hit gains most and stays first. Chosen on the calibrate split
# over 0.1-0.8 (Recall@5 and nDCG@10 rose, MRR@10 held).
THEME_FEEDBACK = 0.3
# Tries at loading the live generation while other processes keep publishing and dropping.
LOAD_ATTEMPTS = 3
# A document filter's own Corpus (BM25, idf) is built at its first search and kept, for
# up to CORPORA_KEPT document sets; above CORPUS_MAX passages building one would cost
# seconds, and the generation's statistics serve.
CORPORA_KEPT = 16
CORPUS_MAX = 20_000


# Called with each generation's snapshot, and the live one it replaces (None at the first
# load), once the new one is loaded and before it is swapped in, on
# the thread that loads it (an admin route's, or a background one: never a search's). The
# layers above make their per-generation values there (answer.sentences), so the first
# request after a publish finds them made instead of making them itself (~0.5 s at a few
# user papers).
LOADED_HOOKS: list[Callable[[Snapshot, Snapshot | None], None]] = []


class LoadedNode(TextNode):
    """A passage node of a loaded generation, which never changes: its hash, which fusion
    takes of every hit (sha256 over text and metadata), is computed once."""

    @cached_property
    def hash(self) -> str:
        return TextNode.hash.fget(self)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Corpus:
    """What a search reads of the passages it may return, as if only they were indexed:
    the whole generation, or the documents a filter keeps. Their own BM25 index, their
    idf (the ranker's word overlap and document coverage), the question's words they hold,
    and their first authors: a search filtered to one paper ranks as a store holding that
    paper alone (dense and late-interaction scores are per passage already)."""

    positions: np.ndarray  # generation positions of its passages, in order
    keyword: KeywordRetriever  # BM25 over them: bm25s document j is positions[j]
    idf: np.ndarray  # by token id of the generation's vocabulary
    present: np.ndarray  # bool by token id: the token occurs in these passages
    documents: frozenset[str]
    first_authors: dict[str, str]


class IndexNotReady(RuntimeError):
    """Nothing has been ingested into this store yet."""


class UnknownFilterValue(ValueError):
    def __init__(self, key: str, value: str, allowed: list[str]):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"filters.{key}: unknown value {value!r}")


class Snapshot:
    """One generation of the index as loaded (passages, BM25, vectors, filter columns,
    ranker, late-interaction views), and search over it: a search runs on one snapshot
    from start to end. Built aside by LiveIndex and not changed once built (its caches
    aside, and `ranked_by`'s ranker); the next generation is a new snapshot."""

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
        # BM25Retriever.from_defaults(nodes, stemmer, language="english"), built directly:
        # the same bm25s index without the per-node JSON corpus it also makes (seconds
        # and hundreds of MB at 100k passages) and that KeywordRetriever does not use.
        stemmer = english_stemmer()
        bm25 = bm25s.BM25()
        # embed_text(p) = node.get_content(MetadataMode.EMBED)
        tokenized = bm25_tokenize([embed_text(p) for p in passages], stemmer)
        bm25.index(tokenized, show_progress=False)
        # The ranker's word overlap: each passage's distinct tokens, and their idf.
        self._vocab = tokenized.vocab
        self._tokens = [np.unique(np.asarray(ids, dtype=np.int64)) for ids in tokenized.ids]
        # Every passage's tokens in order, laid end to end: a document filter's BM25 is
        # indexed from them (Corpus), without tokenizing again.
        self._token_ids = np.concatenate(
            [np.asarray(ids, dtype=np.int32) for ids in tokenized.ids] or [np.zeros(0, np.int32)]
        )
        self._token_starts = np.cumsum([0, *map(len, tokenized.ids)])
        self.ranker: Ranker | None = load_ranker(self.embed_model.token_space)
        self._stemmer = stemmer
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
        self._corpus = self._corpus_of(np.arange(len(passages)), bm25)
        self._corpora: dict[frozenset[str], Corpus] = {}
        self._corpora_lock = threading.Lock()
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
            self._tokens,
            self._vocab,
            stemmer,
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

    # -- search ------------------------------------------------------------
    def encode(self, query: str) -> QueryEncoding:
        """What `search` embeds for `query` (LiveIndex.encode)."""
        return encode(self.embed_model, query)

    def search(
        self,
        query: str,
        top_k: int = 5,
        filters: Filters | None = None,
        encoding: QueryEncoding | None = None,
    ) -> list[ScoredPassage]:
        """The top_k passages for `query` in this generation; `encoding` (from `encode`,
        or a caller's own blend of vectors) replaces the query's embedding, BM25 still
        reads `query`."""
        active = self._validate(filters)
        corpus = self._corpus_for(active.get("document"))
        mask = self._mask(active)
        passage_filter = sentence_filter = None
        if mask is not None:
            where = chroma_where(active)
            passage_filter = DenseFilter(
                where, mask, self._position, self._passage_id, self._dense.passage_of
            )
            sentence_filter = DenseFilter(
                where, mask, self._position, self._sentences_of, self._dense_sentences.passage_of
            )
        # Embedded once here (LRU-cached by the model), not by each dense retriever.
        expanded = expand(query)
        own = self.embed_model.encode_query(expanded)
        # The ranker was fitted on searches by the query's own vector; a caller's blend
        # (a follow-up's own question mixed into its resolved one) keeps fusion's order.
        learned = encoding is None or np.array_equal(encoding.vector, own.vector)
        encoding = encoding or own
        bundle = QueryBundle(expanded, embedding=list(encoding.vector))
        retrievers: list[BaseRetriever] = [
            DenseRetriever(self._dense, self._nodes, CANDIDATES, passage_filter),
            DenseRetriever(self._dense_sentences, self._nodes, CANDIDATES, sentence_filter),
            self._keyword(corpus, mask),
        ]
        named = [n for n in self._programmes.find(expanded) if n[0] in corpus.documents]
        retrievers += self._programme_keyword(corpus, named, mask)
        late = [partial(self._late_ranking, view, encoding.tokens) for view in self._late]
        fusion = self._fusion(retrievers, top_k, late)
        names = ["dense", "sentence", "bm25", *(["programme"] * (len(retrievers) - 3))]
        query_info = Query(
            tokens=self._query_tokens(query, corpus),
            # The expansion spells out shorthand: "refs", "RCTs".
            literature=asks_literature(expanded) or "reference" in active.get("kind", []),
            learned=learned,
            documents=documents_named(query, corpus.first_authors),
            programmes=frozenset(named),
            expanded=self._query_tokens(expanded, corpus),
            quantity=asks_quantity(query),
        )
        fusion.rerank = partial(
            self._rank,
            query,
            query_info,
            corpus,
            mask,
            [*names, "late_text", "late_context"][: len(retrievers) + len(late)],
            encoding.vector,
        )
        hits = fusion.retrieve(bundle)
        return [self._scored(h) for h in hits if h.node.node_id in self.passages]

    def _fusion(
        self,
        retrievers: list[BaseRetriever],
        top_k: int,
        late: Sequence[Callable[[list[TextNode]], list[NodeWithScore]]] = (),
    ) -> HybridFusion:
        """The generation's fusion retriever over this request's retrievers (and late
        rankings), ranking by theme feedback until a search sets its own `rerank`."""
        return self._fusion_template.over(
            retrievers,
            top_k,
            late,
            lambda hits, _rankings, k: self._theme_feedback(hits)[:k],
        )

    def _late_ranking(
        self, view: TokenVectors, query_tokens: np.ndarray, nodes: list[TextNode]
    ) -> list[NodeWithScore]:
        """The best CANDIDATES of `nodes` by late interaction of one view of the passages
        with the query's tokens."""
        scores = view.maxsim(query_tokens, [self._position[n.node_id] for n in nodes])
        best = np.argsort(-scores, kind="stable")[:CANDIDATES].tolist()
        return [NodeWithScore(node=nodes[i], score=float(scores[i])) for i in best]

    def _theme_feedback(self, hits: list[NodeWithScore]) -> list[NodeWithScore]:
        """The fused hits (best first) after THEME_FEEDBACK; their scores are scaled back
        within fusion's 0-1."""
        theme = self._themes.get(hits[0].node.node_id) if hits else None
        if theme is None:
            return hits
        gain = THEME_FEEDBACK * (hits[0].score or 0.0)
        for hit in hits:
            if self._themes.get(hit.node.node_id) == theme:
                hit.score = (hit.score or 0.0) + gain
        best = sorted(hits, key=lambda h: -(h.score or 0.0))  # stable: ties keep order
        for hit in best:
            hit.score = (hit.score or 0.0) / (1 + THEME_FEEDBACK)
        return best

    def _rank(
        self,
        question: str,
        query: Query,
        corpus: Corpus,
        mask: np.ndarray | None,
        names: Sequence[str],
        vector: Sequence[float],
        fused: list[NodeWithScore],
        rankings: list[list[tuple[str, float]]],
        top_k: int,
    ) -> list[NodeWithScore]:
        """Fusion's hits after theme feedback, without reference entries unless the
        question asks about literature; the fitted ranker, when there is one, reorders the
        best max(POOL, top_k) and scores them with its probabilities."""
        theme = self._themes.get(fused[0].node.node_id) if fused else None
        staged = self._theme_feedback(fused)
        if not query.literature:
            # A surname that names an indexed paper ("the Mehta trial") asks about that
            # paper, not about the entries of its reference list it also leads.
            papers = {corpus.first_authors[d] for d in query.documents}
            staged = [
                h for h in staged if _evidence(question, self.passages[h.node.node_id], papers)
            ]
        pool = staged[: max(POOL, top_k)]
        ranker = self.ranker if query.learned else None
        if ranker is not None:
            pool = self._with_records(pool, query.programmes, mask)
        if ranker is None or not pool:
            return pool[:top_k]
        candidates = self.features.candidates(
            pool,
            self.passages,
            self._position,
            self._themes,
            theme,
            vector,
            query.tokens,
            corpus.idf,
        )
        x = features(query, candidates, dict(zip(names, rankings, strict=True)), corpus.idf)
        scores = ranker.predict(x)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [NodeWithScore(node=pool[i].node, score=float(scores[i])) for i in order]

    def _with_records(
        self,
        pool: list[NodeWithScore],
        named: frozenset[tuple[str, str]],
        mask: np.ndarray | None,
    ) -> list[NodeWithScore]:
        """The pool with the table rows of each programme the question names, in place of
        its last candidates when no ranking found them: "F - who mentors who" shares no
        word with F's record ("one-on-one peer support by cancer survivors"), yet the
        record is what it asks for; the ranker weighs it by its features."""
        if not named:
            return pool
        held = {h.node.node_id for h in pool}
        records = [
            self._nodes[self.order[i]]
            for key in sorted(named)
            for i in self._records.get(key, ())
            if self.order[i] not in held and (mask is None or mask[i])
        ]
        if not records:
            return pool
        kept = pool[: max(len(pool) - len(records), 0)] if len(pool) >= POOL else pool
        return kept + [NodeWithScore(node=node, score=0.0) for node in records]

    def _query_tokens(self, query: str, corpus: Corpus | None = None) -> np.ndarray:
        """The query's distinct BM25 tokens that occur in the corpus searched (the whole
        generation by default), as token ids."""
        (ids,) = token_ids([query], self._stemmer, self._vocab)
        return ids[(corpus or self._corpus).present[ids]]

    def _programme_keyword(
        self, corpus: Corpus, named: Sequence[tuple[str, str]], mask: np.ndarray | None
    ) -> list[BaseRetriever]:
        """BM25 over the passages of the programmes a question names, beside the others:
        "programme E" or "the transplant programme" then lifts E's own evidence (its Table 2
        row, its participants' quotes), which neither embedding nor BM25 ties to the name.
        Kept because it raised Recall@5 and MRR@10 on the curated set; dense searches over
        the same passages added nothing there."""
        if not named:
            return []
        documents, letters = self._columns["document"], self._columns["programme"]
        focus = np.zeros(len(self.order), dtype=bool)
        for document, letter in named:
            focus |= documents.mask([document]) & letters.mask([letter])
        return [self._keyword(corpus, focus & mask if mask is not None else focus)]

    def _keyword(self, corpus: Corpus, mask: np.ndarray | None) -> KeywordRetriever:
        """BM25 over the corpus's passages in `mask` (by generation position; all when
        None)."""
        keyword = copy(corpus.keyword)  # shares the in-memory BM25 index; the mask is per request
        kept = mask[corpus.positions] if mask is not None else None
        keyword.mask = None if kept is None or kept.all() else kept.astype(np.float32)
        return keyword

    def _corpus_for(self, documents: Sequence[str] | None) -> Corpus:
        """The corpus a search filtered to `documents` reads: those documents alone, unless
        the filter keeps every document (or none is asked for), or the documents hold more
        than CORPUS_MAX passages (then the generation's statistics, under the filter)."""
        if not documents:
            return self._corpus
        wanted = frozenset(documents)
        if wanted >= self._corpus.documents:
            return self._corpus
        with self._corpora_lock:  # milliseconds to build; evicting must not race a reader
            corpus = self._corpora.get(wanted)
            if corpus is None:
                positions = np.flatnonzero(self._columns["document"].mask(list(wanted)))
                if len(positions) > CORPUS_MAX:
                    return self._corpus
                corpus = self._corpora[wanted] = self._corpus_of(positions)
                while len(self._corpora) > CORPORA_KEPT:
                    del self._corpora[next(iter(self._corpora))]
        return corpus

    def _corpus_of(self, positions: np.ndarray, bm25: bm25s.BM25 | None = None) -> Corpus:
        """The Corpus of the passages at `positions` (by generation position); `bm25`
        when already indexed over exactly them."""
        if bm25 is None:
            bm25 = bm25s.BM25()
            starts = self._token_starts
            ids = [self._token_ids[starts[i] : starts[i + 1]].tolist() for i in positions]
            # The generation's vocabulary: a word these passages lack scores nothing, as a
            # word outside an index of them alone would.
            bm25.index(Tokenized(ids=ids, vocab=self._vocab), show_progress=False)
        keyword = KeywordRetriever(
            existing_bm25=bm25,
            stemmer=self._stemmer,
            token_pattern=TOKEN_PATTERN,
            similarity_top_k=min(CANDIDATES, len(positions)),
        )
        keyword.nodes = [self._nodes[self.order[i]] for i in positions]  # bm25s doc j
        df = np.zeros(len(self._vocab))
        for i in positions:
            df[self._tokens[i]] += 1
        documents = frozenset(self.passages[self.order[i]].document for i in positions)
        return Corpus(
            positions=positions,
            keyword=keyword,
            idf=np.log1p((len(positions) - df + 0.5) / (df + 0.5)),
            present=df > 0,
            documents=documents,
            first_authors={d: a for d, a in self._first_authors.items() if d in documents},
        )

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

    def _scored(self, hit: NodeWithScore) -> ScoredPassage:
        passage = self.passages[hit.node.node_id]
        return ScoredPassage(
            **passage.model_dump(),
            context=passage.context,
            score=round(hit.score or 0.0, 6),
            study=self.study(passage.document),
        )


class LiveIndex:
    """The live generation of a store, for one process: the Snapshot searches read, and
    the next one swapped in (one assignment) when an ingest publishes a new generation.
    Model and store stay; everything of a generation lives in its snapshot."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        embed_model: MiniLMEmbedding | None = None,
    ):
        self.settings = settings or get_settings()
        self.store = store or Store(self.settings)
        self.embed_model = embed_model or load_embedding()
        # numpy's BLAS on one thread: searches multiply small matrices (late interaction),
        # where a second OpenBLAS thread only spins against concurrent requests for the
        # cores; measured 0.55 ms a search on one thread, 1.24 ms on two.
        threadpool_limits(1, user_api="blas")
        self._lock = threading.Lock()
        # The loaded generation: read once by a search, which runs on it to the end.
        self._view: Snapshot | None = None
        self.refresh()

    # -- loading -----------------------------------------------------------
    def refresh(self, wait: bool = True) -> bool:
        """Load the live generation if the pointer moved; True when it did.

        Safe from request threads while other processes publish: the generation is built
        aside and swapped in whole, so a search never mixes two; the pointer is read again
        under the lock, so a thread that read it earlier never loads an older generation;
        and one dropped while it loads (two publishes since) sends it back to the pointer.
        With `wait` False, a thread that finds another loading returns at once and serves
        the loaded generation meanwhile (a request during an upload: the load takes
        seconds); with nothing loaded yet it waits.
        """
        state = self.store.state()
        if state is None or (self.state and state.collection == self.state.collection):
            return False
        if not self._lock.acquire(blocking=wait or self.state is None):
            return False
        try:
            for attempt in range(LOAD_ATTEMPTS):
                state = self.store.state()
                if state is None or (self.state and state.collection == self.state.collection):
                    return False  # another thread loaded it meanwhile
                live = self._view
                try:
                    view = Snapshot(self.settings, self.store, self.embed_model, state, live)
                except ChromaError:
                    if attempt + 1 == LOAD_ATTEMPTS:
                        raise
                    continue
                # The hooks may answer over the new snapshot before it is live.
                for hook in LOADED_HOOKS:
                    hook(view, live)
                self._view = view
                return True
            return False
        finally:
            self._lock.release()

    @property
    def snapshot(self) -> Snapshot | None:
        """The live generation (None before the first ingest)."""
        return self._view

    @property
    def state(self) -> IndexState | None:
        view = self._view
        return view.state if view is not None else None

    @property
    def passages(self) -> dict[str, Passage]:
        return self._loaded().passages

    @property
    def order(self) -> list[str]:
        return self._loaded().order

    @property
    def generation_values(self) -> dict[str, Any] | None:
        """The live generation's values of the layers above (Snapshot); None unloaded."""
        view = self._view
        return view.generation_values if view is not None else None

    @property
    def ready(self) -> bool:
        return self._view is not None

    def require(self) -> None:
        self._loaded()

    def _loaded(self) -> Snapshot:
        """The live snapshot, read once (a swap may follow); IndexNotReady before any."""
        view = self._view
        if view is None:
            raise IndexNotReady("the index is empty: run `peerqa ingest` first")
        return view

    # -- lookups -----------------------------------------------------------
    def vocabulary(self) -> dict[str, list[str]]:
        """Values present for each filterable key (validates filters, fills UI menus)."""
        return self._loaded().vocabulary()

    def select(self, values: dict[str, list[str]], limit: int) -> list[Passage]:
        """Snapshot.select of the live generation."""
        return self._loaded().select(values, limit)

    def neighbours(self, passage_id: str) -> tuple[str | None, str | None]:
        return self._loaded().neighbours(passage_id)

    def study(self, document: str) -> Study | None:
        """The citation metadata of a document in the index (API.md "Citation metadata")."""
        view = self._view
        return view.study(document) if view is not None else None

    @contextmanager
    def ranked_by(self, ranker: Ranker | None) -> Iterator[None]:
        """Search with another fitted ranker for a while (fitting scripts: one not fitted
        on the question asked). Not for serving: it changes the live snapshot."""
        view = self._loaded()
        saved = view.ranker
        view.ranker = ranker
        try:
            yield
        finally:
            view.ranker = saved

    # -- search ------------------------------------------------------------
    def encode(self, query: str) -> QueryEncoding:
        """What `search` embeds for `query` (its expansion), for callers that reuse the
        vector: `search(query, encoding=index.encode(query))` returns what
        `search(query)` does."""
        return encode(self.embed_model, query)

    def search(self, query: str, *args: Any, **kwargs: Any) -> list[ScoredPassage]:
        """Snapshot.search over the live generation: (query, top_k=5, filters=None,
        encoding=None) -> the top_k passages for `query`."""
        view = self._loaded()
        try:
            return view.search(query, *args, **kwargs)
        except ChromaError:
            # Its collections were dropped, maybe mid-query: another process published
            # twice since this one last read the pointer. Serve the live generation.
            self.refresh()
            live = self._view
            if live is None or live is view:
                raise
            return live.search(query, *args, **kwargs)


def encode(embed_model: MiniLMEmbedding, query: str) -> QueryEncoding:
    return embed_model.encode_query(expand(query))


def _evidence(question: str, passage: Passage, papers: Collection[str] = ()) -> bool:
    """Whether a passage may answer a question that does not ask about literature: any
    but a reference entry, unless the question names its first author, and that author
    is not one of `papers` (the first authors of indexed papers the question names)."""
    if passage.kind != "reference":
        return True
    return names_author(question, passage.text) and first_author(passage.text) not in papers
