"""Fusion overrides llama-index's private QueryFusionRetriever methods and attributes
(retrieval/fusion.py), so the release they were written for is pinned exactly."""

from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

from llama_index.core.retrievers import QueryFusionRetriever

from peerqa.retrieval.fusion import LLAMA_INDEX_CORE, HybridFusion

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_installed_llama_index_core_is_the_one_fusion_was_written_for():
    assert version("llama-index-core") == LLAMA_INDEX_CORE


def test_pyproject_pins_that_release_exactly():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    assert f"llama-index-core=={LLAMA_INDEX_CORE}" in dependencies


def test_the_overridden_private_methods_keep_their_signatures():
    for name in ("_run_sync_queries", "_relative_score_fusion"):
        ours = inspect.signature(getattr(HybridFusion, name)).parameters
        theirs = inspect.signature(getattr(QueryFusionRetriever, name)).parameters
        assert list(ours) == list(theirs), name
    made = QueryFusionRetriever.__init__.__code__.co_names
    assert {"_retrievers", "_retriever_weights"} <= set(made)
