"""Keyword search: llama-index's BM25 retriever over a generation's passages (or the
documents a filter keeps), with a per-request filter mask; and the `Corpus` a search
reads, built from the generation's passages tokenized once (`KeywordIndex`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from peerqa.retrieval.features import token_ids
from peerqa.retrieval.filters import Column
from peerqa.words import TOKEN_PATTERN, bm25_tokenize, english_stemmer

# A document filter's own Corpus (BM25, idf) is built at its first search and kept, for
# up to CORPORA_KEPT document sets; above CORPUS_MAX passages building one would cost
# seconds, and the generation's statistics serve.
CORPORA_KEPT = 16
CORPUS_MAX = 20_000


class KeywordRetriever(BM25Retriever):
    """llama-index's BM25 (bm25s over the nodes' embedded content), queried as its
    `_retrieve` does, except that:
    - hits resolve to the in-memory nodes by position; the library rebuilds each hit from
      its JSON dict (~1.5 ms a query) and keeps that dict corpus in memory;
    - the filter mask stays a numpy array (the library's is a Python list, converted per
      query: milliseconds at 100k passages);
    - zero-score hits are dropped: bm25s returns k results even when a filter mask or the
      query leaves fewer real matches, and those must not reach fusion.
    """

    nodes: list[TextNode]
    mask: np.ndarray | None = None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        tokens = bm25s.tokenize(
            query_bundle.query_str,
            stemmer=self.stemmer if not self.skip_stemming else None,
            token_pattern=self.token_pattern,
            show_progress=False,
        )
        indexes, scores = self.bm25.retrieve(
            tokens, k=self.similarity_top_k, show_progress=False, weight_mask=self.mask
        )
        return [
            NodeWithScore(node=self.nodes[int(i)], score=float(score))
            for i, score in zip(indexes[0], scores[0], strict=True)
            if score > 0.0
        ]


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


class KeywordIndex:
    """A generation's passages tokenized once: the whole generation's Corpus, and each
    document filter's own, built from the same tokens at its first search and kept."""

    def __init__(
        self,
        texts: Sequence[str],
        nodes: Sequence[TextNode],
        documents: Column,
        first_authors: dict[str, str],
        top_k: int,
    ):
        """`texts` (what is embedded of each passage), `nodes` and `documents` by
        generation position; `top_k` hits a keyword search returns."""
        # BM25Retriever.from_defaults(nodes, stemmer, language="english"), built directly:
        # the same bm25s index without the per-node JSON corpus it also makes (seconds
        # and hundreds of MB at 100k passages) and that KeywordRetriever does not use.
        stemmer = english_stemmer()
        bm25 = bm25s.BM25()
        tokenized = bm25_tokenize(list(texts), stemmer)
        bm25.index(tokenized, show_progress=False)
        # The ranker's word overlap: each passage's distinct tokens, and their idf.
        self.vocab = tokenized.vocab
        self.tokens = [np.unique(np.asarray(ids, dtype=np.int64)) for ids in tokenized.ids]
        # Every passage's tokens in order, laid end to end: a document filter's BM25 is
        # indexed from them (Corpus), without tokenizing again.
        self._token_ids = np.concatenate(
            [np.asarray(ids, dtype=np.int32) for ids in tokenized.ids] or [np.zeros(0, np.int32)]
        )
        self._token_starts = np.cumsum([0, *map(len, tokenized.ids)])
        self.stemmer = stemmer
        self._nodes, self._documents = list(nodes), documents
        self._first_authors, self._top_k = first_authors, top_k
        self.all = self._corpus_of(np.arange(len(self._nodes)), bm25)
        self._corpora: dict[frozenset[str], Corpus] = {}
        self._corpora_lock = threading.Lock()

    def query_tokens(self, query: str, corpus: Corpus | None = None) -> np.ndarray:
        """The query's distinct BM25 tokens that occur in the corpus searched (the whole
        generation by default), as token ids."""
        (ids,) = token_ids([query], self.stemmer, self.vocab)
        return ids[(corpus or self.all).present[ids]]

    def corpus_for(self, documents: Sequence[str] | None) -> Corpus:
        """The corpus a search filtered to `documents` reads: those documents alone, unless
        the filter keeps every document (or none is asked for), or the documents hold more
        than CORPUS_MAX passages (then the generation's statistics, under the filter)."""
        if not documents:
            return self.all
        wanted = frozenset(documents)
        if wanted >= self.all.documents:
            return self.all
        with self._corpora_lock:  # milliseconds to build; evicting must not race a reader
            corpus = self._corpora.get(wanted)
            if corpus is None:
                positions = np.flatnonzero(self._documents.mask(list(wanted)))
                if len(positions) > CORPUS_MAX:
                    return self.all
                corpus = self._corpora[wanted] = self._corpus_of(positions)
                while len(self._corpora) > CORPORA_KEPT:
                    del self._corpora[next(iter(self._corpora))]
        return corpus

    @staticmethod
    def retriever(corpus: Corpus, mask: np.ndarray | None) -> KeywordRetriever:
        """BM25 over the corpus's passages in `mask` (by generation position; all when
        None)."""
        keyword = copy(corpus.keyword)  # shares the in-memory BM25 index; the mask is per request
        kept = mask[corpus.positions] if mask is not None else None
        keyword.mask = None if kept is None or kept.all() else kept.astype(np.float32)
        return keyword

    def _corpus_of(self, positions: np.ndarray, bm25: bm25s.BM25 | None = None) -> Corpus:
        """The Corpus of the passages at `positions` (by generation position); `bm25`
        when already indexed over exactly them."""
        if bm25 is None:
            bm25 = bm25s.BM25()
            starts = self._token_starts
            ids = [self._token_ids[starts[i] : starts[i + 1]].tolist() for i in positions]
            # The generation's vocabulary: a word these passages lack scores nothing, as a
            # word outside an index of them alone would.
            bm25.index(Tokenized(ids=ids, vocab=self.vocab), show_progress=False)
        keyword = KeywordRetriever(
            existing_bm25=bm25,
            stemmer=self.stemmer,
            token_pattern=TOKEN_PATTERN,
            similarity_top_k=min(self._top_k, len(positions)),
        )
        keyword.nodes = [self._nodes[i] for i in positions]  # bm25s doc j
        df = np.zeros(len(self.vocab))
        for i in positions:
            df[self.tokens[i]] += 1
        codes, values = self._documents.codes, self._documents.values
        documents = frozenset(str(values[codes[i]]) for i in positions)
        return Corpus(
            positions=positions,
            keyword=keyword,
            idf=np.log1p((len(positions) - df + 0.5) / (df + 0.5)),
            present=df > 0,
            documents=documents,
            first_authors={d: a for d, a in self._first_authors.items() if d in documents},
        )
