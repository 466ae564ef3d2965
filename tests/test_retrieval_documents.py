"""Several papers in one index: a search filtered to one paper ranks as that paper alone.

A user who picks a paper (filters.document) expects its passages ranked as if nothing
else were loaded; the other papers must not shift its BM25 statistics, the ranker's word
weights or which named documents and programmes the question is read against.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from peerqa.models import Filters
from tests.conftest import make_settings

pytestmark = pytest.mark.model

PAPERS = Path(__file__).parent / "fixtures" / "papers"
PICKED, OTHER = PAPERS / "paper_0635.md", PAPERS / "paper_1759.md"
# Worded as users type, about the picked paper's subject and about neither in particular.
QUESTIONS = [
    "what can community health workers do with mobile phones",
    "how were the studies found",
    "limitations of the evidence",
    "did text messages help mothers",
    "data quality of mhealth tools for CHWs",
    "what did the randomised trials show",
]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory):
    """The picked paper alone, and beside another paper (no bundled paper in either)."""
    from peerqa.index.pipeline import ingest
    from peerqa.retrieval.hybrid import LiveIndex

    root = tmp_path_factory.mktemp("documents")
    empty = root / "corpus"
    empty.mkdir()
    alone_settings = make_settings(root / "alone", corpus_dir=empty)
    both_settings = make_settings(root / "both", corpus_dir=empty)
    ingest([PICKED], alone_settings)
    if not both_settings.chroma_url:  # the picked paper's vectors are reused
        shutil.copytree(alone_settings.data_dir, both_settings.data_dir)
    ingest([PICKED, OTHER], both_settings)
    alone = LiveIndex(alone_settings)
    both = LiveIndex(both_settings, embed_model=alone.embed_model)
    (picked,) = alone.vocabulary()["document"]
    return alone, both, picked


def _ranked(results) -> list[tuple[str, float]]:
    return [(r.id, r.score) for r in results]


def test_a_search_filtered_to_one_paper_equals_that_paper_searched_alone(indexes):
    alone, both, picked = indexes
    assert len(both.vocabulary()["document"]) == 2
    for question in QUESTIONS:
        want = _ranked(alone.search(question, top_k=10))
        got = _ranked(both.search(question, top_k=10, filters=Filters(document=[picked])))
        assert [i for i, _ in got] == [i for i, _ in want], question
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-9), question


def test_other_filters_inside_the_picked_paper_also_rank_as_alone(indexes):
    alone, both, picked = indexes
    kinds = Filters(kind=["paragraph", "table_row"])
    picked_kinds = Filters(kind=["paragraph", "table_row"], document=[picked])
    for question in QUESTIONS[:3]:
        want = [r.id for r in alone.search(question, top_k=10, filters=kinds)]
        assert want
        assert [r.id for r in both.search(question, top_k=10, filters=picked_kinds)] == want


def test_a_filter_keeping_every_paper_is_the_unfiltered_search(indexes):
    _, both, _ = indexes
    every = Filters(document=both.vocabulary()["document"])
    for question in QUESTIONS[:3]:
        assert _ranked(both.search(question, top_k=10, filters=every)) == _ranked(
            both.search(question, top_k=10)
        )
