"""Hybrid search over one loaded generation (`Snapshot`, snapshot.py): dense passages and
sentences (dense.py) and BM25 (keyword.py), with late interaction over what they found,
fused by relative score (fusion.py); then the passages of the top hit's theme rise with it
(THEME_FEEDBACK), reference entries leave unless the question asks about literature (or
names their first author, when that is no indexed paper's), and the fitted ranker
(ranker.py) reorders the best ranker.POOL by features of every ranking."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from peerqa.embedding import MiniLMEmbedding, QueryEncoding
from peerqa.models import Filters, Passage, ScoredPassage
from peerqa.retrieval.dense import DenseCollection, DenseFilter, DenseRetriever
from peerqa.retrieval.expansion import expand
from peerqa.retrieval.features import PassageFeatures
from peerqa.retrieval.filters import Column, chroma_where
from peerqa.retrieval.fusion import HybridFusion
from peerqa.retrieval.keyword import Corpus, KeywordIndex
from peerqa.retrieval.late import TokenVectors
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
    names_author,
)

CANDIDATES = 30  # per retriever, before fusion
# The top hit's theme (one of the paper's Results themes: its paragraphs and the quotes
# of Tables 3-4 that illustrate them) is taken as the question's topic, and every hit of
# that theme gains THEME_FEEDBACK times the top hit's score: the quote behind a claim
# joins the claim. The top hit gains most and stays first. Chosen on the calibrate split
# over 0.1-0.8 (Recall@5 and nDCG@10 rose, MRR@10 held).
THEME_FEEDBACK = 0.3


class Search:
    """The search half of a Snapshot: what it reads of the generation the Snapshot loaded,
    and the Snapshot's look-ups it calls (`_validate`, `_mask`, `_passage_id`,
    `_sentences_of`, `study`)."""

    embed_model: MiniLMEmbedding
    passages: dict[str, Passage]
    order: list[str]
    ranker: Ranker | None
    features: PassageFeatures
    _nodes: dict[str, TextNode]
    _position: dict[str, int]
    _columns: dict[str, Column]
    _records: dict[tuple[str, str], list[int]]
    _themes: dict[str, tuple[str, Any]]
    _keywords: KeywordIndex
    _programmes: ProgrammeFinder
    _dense: DenseCollection
    _dense_sentences: DenseCollection
    _late: Sequence[TokenVectors]
    _fusion_template: HybridFusion

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
        corpus = self._keywords.corpus_for(active.get("document"))
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
            self._keywords.retriever(corpus, mask),
        ]
        named = [n for n in self._programmes.find(expanded) if n[0] in corpus.documents]
        retrievers += self._programme_keyword(corpus, named, mask)
        late = [partial(self._late_ranking, view, encoding.tokens) for view in self._late]
        fusion = self._fusion(retrievers, top_k, late)
        names = ["dense", "sentence", "bm25", *(["programme"] * (len(retrievers) - 3))]
        query_info = Query(
            tokens=self._keywords.query_tokens(query, corpus),
            # The expansion spells out shorthand: "refs", "RCTs".
            literature=asks_literature(expanded) or "reference" in active.get("kind", []),
            learned=learned,
            documents=documents_named(query, corpus.first_authors),
            programmes=frozenset(named),
            expanded=self._keywords.query_tokens(expanded, corpus),
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
        return [self._keywords.retriever(corpus, focus & mask if mask is not None else focus)]

    def _scored(self, hit: NodeWithScore) -> ScoredPassage:
        passage = self.passages[hit.node.node_id]
        return ScoredPassage(
            **passage.model_dump(),
            context=passage.context,
            score=round(hit.score or 0.0, 6),
            study=self.study(passage.document),
        )


def encode(embed_model: MiniLMEmbedding, query: str) -> QueryEncoding:
    return embed_model.encode_query(expand(query))


def _evidence(question: str, passage: Passage, papers: Collection[str] = ()) -> bool:
    """Whether a passage may answer a question that does not ask about literature: any
    but a reference entry, unless the question names its first author, and that author
    is not one of `papers` (the first authors of indexed papers the question names)."""
    if passage.kind != "reference":
        return True
    return names_author(question, passage.text) and first_author(passage.text) not in papers
