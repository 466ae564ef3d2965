"""The embedding model's transformer on ONNX Runtime, for queries.

A query is one short text, where torch's per-operator overhead dominates: ONNX Runtime
embeds one in ~7 ms on one core against ~15 ms for torch (bench/). It releases the GIL
while it runs, so concurrent requests embed on both cores side by side. The vectors are
torch's to float rounding (max difference 1.5e-7), so queries still meet the passage
vectors torch wrote at ingest.

The model is exported from the packaged weights once per machine (~1 s, no download) to
`PEERQA_CACHE_DIR`, under a name that changes with the weights, and written atomically
so concurrent processes never read half a file.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from peerqa.files import prune, used, write_aside

log = logging.getLogger("peerqa.embedding")

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_TOKENS = 256  # the model's max_seq_length, as SentenceTransformer truncates
# Exports kept in cache_dir (90 MB each), the least recently used go. The key follows the
# weights' path, so each virtual environment (each CI clone) makes its own export.
ONNX_FILES = 3


def weights_digest(model_path: Path) -> str:
    weights = model_path / "model.safetensors"
    stat = weights.stat()
    key = f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _export(transformer: Any, tokenizer: Any, target: Path) -> None:
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

    sample = tokenizer(["an example query"], return_tensors="pt")
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


class OnnxQueryEncoder:
    """Mean-pooled, normalised sentence vectors, as the SentenceTransformer makes them."""

    def __init__(self, model_path: Path, transformer: Any, tokenizer: Any, cache_dir: Path):
        import onnxruntime as ort

        target = cache_dir / f"minilm-{weights_digest(model_path)}.onnx"
        if target.exists():
            used(target)
        else:
            log.info("exporting the embedding model to ONNX at %s", target)
            _export(transformer, tokenizer, target)
            prune(cache_dir, "minilm-*.onnx", ONNX_FILES)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one core per query; concurrent queries share
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(target), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = tokenizer

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The unit sentence vector, and the token vectors with their token ids (from the
        same forward pass: late interaction scores with them)."""
        feed = self._tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        (hidden,) = self._session.run(None, {k: feed[k].astype(np.int64) for k in _INPUTS})
        vector = hidden[0].mean(axis=0)  # one text: no padding to mask out of the mean
        return vector / np.linalg.norm(vector), hidden[0], feed["input_ids"][0]


def load_onnx_encoder(
    model_path: Path, transformer: Any, tokenizer: Any, cache_dir: Path
) -> OnnxQueryEncoder | None:
    """The encoder, or None (torch then embeds queries) when export or loading fails."""
    try:
        return OnnxQueryEncoder(model_path, transformer, tokenizer, cache_dir)
    except Exception as err:  # noqa: BLE001 - any failure here only costs speed
        log.warning("ONNX query encoder unavailable, queries embed with torch: %r", err)
        return None
