"""The embedding model's transformer on ONNX Runtime, for queries and for ingest.

A query is one short text, where torch's per-operator overhead dominates: ONNX Runtime
embeds one in ~7 ms on one core against ~15 ms for torch (bench/). It releases the GIL
while it runs, so requests go on meanwhile; queries arriving together run as one batch
(peerqa.embedding.QueryBatcher). Ingest embeds
batches on a second session (every core, or BATCH_THREADS), the texts sorted by
length so each batch pads little. The vectors are torch's to float rounding (max
difference ~1e-6), so vectors written by either meet queries embedded by either.

The model is exported from the packaged weights once per machine (~1-3 s, no download,
but ~20 s with torch's import on a busy machine) to `PEERQA_CACHE_DIR`, under a name
that changes with the weights' content (every virtual environment holding the same
weights shares it), and written atomically so concurrent processes never read half a
file. Ingest links the export into the data dir beside the index
(`OnnxQueryEncoder.keep_in`), where a server with a fresh cache dir finds it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from peerqa.files import prune, used, write_aside

log = logging.getLogger("peerqa.embedding")

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_TOKENS = 256  # the model's max_seq_length, as SentenceTransformer truncates
# Exports kept in cache_dir (90 MB each), the least recently used go. The key is the
# weights' content: clones and virtual environments of one version share an export (keyed
# by the weights' path, five worktrees' exports pushed each other out of the cache).
ONNX_FILES = 3
# Content digests remembered in cache_dir, one per copy of the weights (path, size, mtime).
DIGEST_FILES = 32
# Tokens per forward batch at ingest (texts x the longest of them): 2 texts of the
# model's 256 tokens, 16 sentences of 32. Sorted by length, a batch pads to at most its
# own longest text; a budget in tokens, not texts, bounds the memory a batch of long
# texts takes (attention grows with the square of its length). Small batches keep each
# layer's activations in cache: on the bundled paper and four user papers, 512 took
# ~20-33% less ONNX CPU time than 4096 (1024 and 2048 in between), and every vector
# came out bit-identical (each row is computed alone; padding is masked).
BATCH_TOKENS = 512
# From this many texts a call runs on every core (BATCH_THREADS); fewer, as a server
# embeds an answer's uncached sentences beside other requests, run on the query session.
MANY_TEXTS = 32

# Intra-op threads for batches: None is every core. An ingest beside a server
# (service/admin_worker.py) sets fewer before its first batch, so requests keep a core.
BATCH_THREADS: int | None = None


def weights_digest(model_path: Path, memo: Sequence[Path | None] = ()) -> str:
    """The weights' content digest (sha256 of model.safetensors). Hashing the 90 MB costs
    ~0.4 s, so a digest is remembered in the first folder of `memo` (read from any of
    them) under the file's path, size and mtime, and in this process."""
    weights = model_path / "model.safetensors"
    stat = weights.stat()
    copy = f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    name = f"weights-{hashlib.sha256(copy.encode()).hexdigest()[:16]}.digest"
    folders = [f for f in memo if f is not None]
    for folder in folders:
        with contextlib.suppress(OSError):
            digest = (folder / name).read_text(encoding="ascii").strip()
            if len(digest) == 16:
                return digest
    digest = _content_digest(weights, copy)
    if folders:
        remember_digest(folders[0], name, digest)
    return digest


@functools.lru_cache(maxsize=4)
def _content_digest(weights: Path, copy: str) -> str:
    """`copy` (path, size, mtime) keys the cache: a changed file is hashed again."""
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:16]


def remember_digest(folder: Path, name: str, digest: str) -> None:
    """A memo that cannot be written only costs the next process the hashing."""
    try:
        write_aside(folder / name, lambda aside: aside.write_text(digest, encoding="ascii"))
        prune(folder, "weights-*.digest", DIGEST_FILES)
    except OSError as err:
        log.warning("weights digest not remembered in %s: %s", folder, err)


class ModelTokenizer:
    """The model's tokenizer from its tokenizer.json, on the `tokenizers` library: what
    transformers' fast tokenizer runs, without importing transformers (which imports
    torch: seconds of a server's start). Truncates to MAX_TOKENS, as the model does."""

    def __init__(self, model_path: Path):
        from tokenizers import Tokenizer

        source = model_path / "tokenizer.json"
        self._tokenizer = Tokenizer.from_file(str(source))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        added = json.loads(source.read_text(encoding="utf-8")).get("added_tokens", [])
        self.all_special_tokens = [t["content"] for t in added if t.get("special")]

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    def encode(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's token ids and token type ids."""
        return [
            (np.asarray(e.ids, dtype=np.int64), np.asarray(e.type_ids, dtype=np.int64))
            for e in self._tokenizer.encode_batch(texts)
        ]


def _export(transformer: Any, tokenizer: ModelTokenizer, target: Path) -> None:
    import torch

    class LastHidden(torch.nn.Module):
        """Keyword arguments for the model (its positional order changes across versions)."""

        def __init__(self, model: Any):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ((ids, types),) = tokenizer.encode(["an example query"])
    sample = {
        "input_ids": torch.from_numpy(ids[None]),
        "attention_mask": torch.ones((1, len(ids)), dtype=torch.int64),
        "token_type_ids": torch.from_numpy(types[None]),
    }
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}

    def export(aside: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on operators it rewrites
            torch.onnx.export(
                LastHidden(transformer.eval()),
                tuple(sample[name] for name in _INPUTS),
                str(aside),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed
            )

    write_aside(target, export)


def _session(path: Path, threads: int, spin: bool) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spin:  # idle pool threads sleep instead of spinning on cores a server needs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass
class TextEncoding:
    """One text of a batch: its unit sentence vector, token vectors and token ids."""

    vector: np.ndarray
    hidden: np.ndarray
    ids: np.ndarray


class OnnxQueryEncoder:
    """Mean-pooled, normalised sentence vectors, as the SentenceTransformer makes them."""

    def __init__(
        self,
        model_path: Path,
        transformer: Callable[[], Any],
        tokenizer: ModelTokenizer,
        cache_dir: Path,
        stored: Path | None = None,
    ):
        """`transformer` gives the torch model, called only when the export must be made."""
        name = f"minilm-{weights_digest(model_path, (cache_dir, stored))}.onnx"
        target = cache_dir / name
        if stored and (stored / name).exists():
            target = stored / name  # made by an ingest into this data dir
        elif target.exists():
            used(target)
        else:
            log.info("exporting the embedding model to ONNX at %s", target)
            _export(transformer(), tokenizer, target)
            prune(cache_dir, "minilm-*.onnx", ONNX_FILES)
        self.path = target
        self._model_path = model_path
        # One core per query; concurrent queries share. Spinning keeps a query's latency.
        self._session = _session(target, threads=1, spin=True)
        self._tokenizer = tokenizer
        self._transformer = transformer
        self._batch_session: Any = None  # made by the first batch: a server may never need it

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The unit sentence vector, and the token vectors with their token ids (from the
        same forward pass: late interaction scores with them)."""
        ((ids, types),) = self._tokenizer.encode([text])
        feed = {"input_ids": ids[None], "attention_mask": np.ones_like(ids)[None]}
        (hidden,) = self._session.run(None, feed | {"token_type_ids": types[None]})
        vector = hidden[0].mean(axis=0)  # one text: no padding to mask out of the mean
        return vector / np.linalg.norm(vector), hidden[0], ids

    def keep_in(self, folder: Path) -> None:
        """The export in `folder` too, and no other export there: an ingest keeps the one
        its data dir's generations were made with (and the weights' digest that names
        it). A hard link, else a copy; made again from the weights when the cache's was
        pruned meanwhile."""
        target = folder / self.path.name
        if self.path != target and not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self.path, target)
            except FileExistsError:  # another ingest linked it meanwhile
                pass
            except FileNotFoundError:
                _export(self._transformer(), self._tokenizer, target)
            except OSError:  # another file system, or links not allowed
                write_aside(target, lambda aside: shutil.copyfile(self.path, aside))
        for other in folder.glob("minilm-*.onnx"):
            if other != target:
                other.unlink(missing_ok=True)
        weights_digest(self._model_path, (folder,))  # its name, for a start with a fresh cache

    def encode_batch(self, texts: list[str]) -> list[TextEncoding]:
        """Each text's vector, token vectors and ids, as `encode` gives them, in batches
        of texts of similar length (BATCH_TOKENS each)."""
        session = self._session  # a few texts (a server's answer sentences): one core
        if len(texts) >= MANY_TEXTS:
            if self._batch_session is None:
                threads = BATCH_THREADS or os.cpu_count() or 1
                self._batch_session = _session(self.path, threads=threads, spin=False)
            session = self._batch_session
        encoded = self._tokenizer.encode(texts)
        ids = [i for i, _ in encoded]
        types = [t for _, t in encoded]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out: list[TextEncoding | None] = [None] * len(texts)
        start = 0
        while start < len(order):
            # Ascending lengths: the batch's last (longest) text sets its width.
            end = start + 1
            while end < len(order) and (end - start + 1) * len(ids[order[end]]) <= BATCH_TOKENS:
                end += 1
            chunk, start = order[start:end], end
            width = max(len(ids[i]) for i in chunk)
            arrays = {name: np.zeros((len(chunk), width), dtype=np.int64) for name in _INPUTS}
            for row, i in enumerate(chunk):
                n = len(ids[i])
                arrays["input_ids"][row, :n] = ids[i]
                arrays["attention_mask"][row, :n] = 1
                arrays["token_type_ids"][row, :n] = types[i]
            (hidden,) = session.run(None, arrays)
            for row, i in enumerate(chunk):
                n = len(ids[i])
                vector = hidden[row, :n].mean(axis=0)  # the text's own tokens, no padding
                out[i] = TextEncoding(vector / np.linalg.norm(vector), hidden[row, :n], ids[i])
        return out  # type: ignore[return-value]  # every position was filled


def load_onnx_encoder(
    model_path: Path,
    transformer: Callable[[], Any],
    tokenizer: ModelTokenizer,
    cache_dir: Path,
    stored: Path | None = None,
) -> OnnxQueryEncoder | None:
    """The encoder, or None (torch then embeds queries) when export or loading fails."""
    try:
        return OnnxQueryEncoder(model_path, transformer, tokenizer, cache_dir, stored)
    except Exception as err:  # noqa: BLE001 - any failure here only costs speed
        log.warning("ONNX query encoder unavailable, queries embed with torch: %r", err)
        return None
