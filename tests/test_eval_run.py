"""One real evaluation run (eval/run.py, report.py, render.py): every metric reported,
beside the llama-index baselines."""

from __future__ import annotations

import json

from peerqa.eval.questions import (
    CATEGORIES,
    load_questions,
)
from peerqa.models import Answer, Citation


# -- the real thing ------------------------------------------------------------------
def test_run_eval_reports_every_metric_and_beats_the_1024_baselines(
    eval_report, eval_dir, corpus_settings
):
    report = eval_report

    assert [s.name for s in report.systems] == [
        "peerqa",
        "dense-1024",
        "bm25-1024",
        "dense-256",
        "bm25-256",
    ]
    questions = load_questions()
    with_gold = [q for q in questions if q.in_scope and not q.expect]
    for system in report.systems:
        assert system.overall.n == report.in_scope == len(with_gold)
        assert set(system.by_category) == {q.category for q in with_gold}
        for scores in [system.overall, *system.by_category.values()]:
            for value in (scores.recall_at_5, scores.mrr_at_10, scores.ndcg_at_10):
                assert 0.0 <= value <= 1.0
    answers = report.answers.overall
    assert answers.n == report.questions == len(questions)
    for split in ("calibrate", "test"):
        ours, top = report.answer_groups("ours", split), report.answer_groups("baseline", split)
        assert set(ours.by_category) == set(top.by_category) == set(CATEGORIES)
        assert ours.overall.n == top.overall.n == sum(q.split == split for q in questions)
        for a in (ours.overall, top.overall):
            assert a.text_holds_gold is not None and a.first_holds_gold is not None
    by_id = {q.id: q for q in questions}
    for c in report.answers.baseline_questions:
        assert c.expect == by_id[c.id].expect and not c.abstained
    assert None not in (
        answers.evidence_rate,
        answers.verbatim_rate,
        answers.out_of_scope_abstained,
        answers.in_scope_wrongly_abstained,
    )
    assert set(report.headline()) >= {"recall_at_5", "mrr_at_10", "ndcg_at_10"}
    assert report.corpus["joo-2022-peer-support"].startswith("70b12584")

    for baseline in report.systems[1:]:
        if baseline.name.endswith("-1024"):
            assert report.ours.overall.recall_at_5 > baseline.overall.recall_at_5, baseline.name

    lines = (eval_dir / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [q.id for q in questions]
    for name in ("report.md", "report.json", "report.png", "answers.jsonl"):
        assert (eval_dir / name).stat().st_size > 0
    assert "Recall@5" in (eval_dir / "report.md").read_text(encoding="utf-8")
    _assert_baseline_collections_dropped(corpus_settings)


def _assert_baseline_collections_dropped(settings) -> None:
    from peerqa.store import make_client

    names = [c if isinstance(c, str) else c.name for c in make_client(settings).list_collections()]
    assert not [n for n in names if "evalbaseline" in n]


def test_a_fold_is_scored_with_the_baseline_beside(corpus_index, corpus_settings):
    """The cross-validation entry points: any answer function, the top passage beside."""
    from peerqa.eval.run import check_answers, check_top_passages, corpus_sources

    questions = [q for q in load_questions() if q.id in {"q002", "q112", "q133"}]
    sources = corpus_sources(corpus_settings)
    first_passage_only = []

    def top_sentence(index, q):
        (top,) = index.search(q.question, top_k=1)
        first_passage_only.append(q.id)
        citation = Citation(**top.model_dump(), marker="[1]")
        return Answer(
            question=q.question, answer=f"{top.text} [1]", abstained=False, citations=[citation]
        )

    ours = check_answers(corpus_index, questions, sources, answer=top_sentence)
    top = check_top_passages(corpus_index, questions, sources)
    assert first_passage_only == [q.id for q in questions]
    assert [c.id for c in ours] == [c.id for c in top] == [q.id for q in questions]
    assert all(c.verbatim == c.sentences == 1 and c.invented == 0 for c in ours)
    assert not any(c.abstained for c in top)
    assert [c.expect_reason for c in top] == [q.expect_reason for q in questions]


def test_ours_is_scored_on_the_ranking_the_composer_answers_from(corpus_index, corpus_settings):
    """A follow-up is retrieved as answer.compose retrieves it (understand: resolved text
    and the follow-up's blended vector), for the retrieval figures and the top-passage
    baseline alike; the llama-index baselines read the same resolved text."""
    from peerqa.answer.compose import DEFAULT_TOP_K, retrieve
    from peerqa.answer.question import understand
    from peerqa.eval.run import RETRIEVE_K, Hybrid, check_top_passages, corpus_sources

    (q,) = [q for q in load_questions() if q.id == "q102"]  # "And how do they fix that?"
    assert q.history
    ours = Hybrid(corpus_index)
    understood = understand(corpus_index, q.question, q.history)
    product = retrieve(corpus_index, understood, DEFAULT_TOP_K)
    assert [p.id for p in ours.ranking(q)] == [
        p.id for p in retrieve(corpus_index, understood, RETRIEVE_K)
    ]
    (top,) = check_top_passages(ours, [q], corpus_sources(corpus_settings))
    assert (top.pieces[0].document, top.pieces[0].char_start) == (
        product[0].document,
        product[0].char_start,
    )
