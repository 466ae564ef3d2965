"""The learned ranking over fusion's pool, and reference entries only when literature is asked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from peerqa.models import Filters, Passage, Study
from peerqa.retrieval import hybrid, ranker, search
from peerqa.retrieval.ranker import (
    FEATURES,
    Candidate,
    Place,
    Query,
    asks_literature,
    documents_named,
    features,
    first_authors,
    load_ranker,
    places,
)

# Questions about the findings, none about literature: the bundled paper's reference
# entries (39 of its passages) rank among fusion's top 10 for each of them.
TOPICAL = ["what is known about peer support for depression", "diabetes peer support"]


def test_literature_cues_are_the_answer_layers_word_list():
    lexicon = json.loads(ranker.LEXICON.read_text(encoding="utf-8"))
    assert "literature" in lexicon["asks_literature"]
    assert asks_literature("Which studies did the authors cite on peer mentoring?")
    assert asks_literature("what other research has looked at this")
    assert not asks_literature("main headaches in running one of these schemes")
    # Chat shorthand for a reference, never the verb "refer" or a referral.
    assert asks_literature("HARP program ref?") and asks_literature("any refs on belonging")
    assert not asks_literature("how do GPs refer pts") and not asks_literature("referral routes")


@pytest.mark.parametrize("question", TOPICAL)
def test_reference_entries_stay_out_unless_literature_is_asked(corpus_index, monkeypatch, question):
    assert all(p.kind != "reference" for p in corpus_index.search(question, 10))
    monkeypatch.setattr(search, "asks_literature", lambda _q: True)
    assert any(p.kind == "reference" for p in corpus_index.search(question, 10))


def test_literature_questions_and_reference_filters_still_reach_references(corpus_index):
    cited = corpus_index.search("which studies does the paper cite about peer support?", 10)
    assert any(p.kind == "reference" for p in cited)
    only = corpus_index.search(TOPICAL[0], 5, filters=Filters(kind=["reference"]))
    assert only and all(p.kind == "reference" for p in only)


def test_a_named_author_reaches_their_entry_unless_the_name_is_an_indexed_papers():
    """A question naming "the Repper & Carter review" may be answered by that entry; "the Mehta
    trial", when Mehta leads an indexed paper, asks about that paper, so the paper's own
    entries for Mehta's earlier trials stay out of a question not about literature."""
    entry = passage(
        "r", "Mehta SJ, Volpp KG, Troxel AB, et al. Electronic pill bottles.", kind="reference"
    )
    asked = "how many texts a week in the Mehta hypertension trial"
    assert hybrid._evidence(asked, entry)
    assert not hybrid._evidence(asked, entry, papers={"mehta"})
    assert hybrid._evidence(asked, passage("p", "Patients received 3 texts."), papers={"mehta"})
    assert not hybrid._evidence("texts a week in the trial", entry)


def passage(pid: str, text: str, **fields) -> Passage:
    base = dict(document="d", section="Results", kind="paragraph", char_start=0)
    base |= fields
    return Passage(id=pid, text=text, char_end=len(text), **base)


def test_features_read_every_ranking_and_the_question():
    a = passage("a", "peer mentors matched by diagnosis", programme="E")
    b = passage("b", "Smith J. Peer support. 2019.", kind="reference", section="References")
    c = passage("c", "an unrelated table cell", section="Table 2", kind="table_row", document="e")
    idf = np.array([1.0, 3.0, 0.5])  # token ids 0 peer, 1 mentor, 2 cell
    candidates = [
        Candidate(a, np.array([0, 1]), 0.9, 1, theme_of_top=True, dense=0.5, sentence=0.6),
        Candidate(b, np.array([0]), 0.5, 2, theme_of_top=False, dense=0.7, sentence=0.4),
        Candidate(c, np.array([2]), 0.1, 3, theme_of_top=False, dense=0.2, sentence=0.9),
    ]
    rankings = {"dense": [("b", 0.8), ("a", 0.6), ("z", 0.4)], "bm25": [("a", 7.0)]}
    query = Query(
        tokens=np.array([0, 1]),
        literature=True,
        documents=frozenset({"e"}),
    )
    x = features(query, candidates, rankings, idf)
    row = {name: x[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert row["dense_score"] == pytest.approx([0.5, 1.0, 0.0])  # min-max over the ranking
    assert row["dense_rr"] == pytest.approx([0.5, 1.0, 0.0])  # absent: 0
    assert row["bm25_score"] == [1.0, 0.0, 0.0] and row["sentence_score"] == [0.0, 0.0, 0.0]
    assert row["fused_rr"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert row["overlap"] == pytest.approx([1.0, 0.5, 0.0])
    assert row["overlap_idf"] == pytest.approx([1.0, 0.25, 0.0])
    assert row["reference_asked"] == [0.0, 1.0, 0.0]
    assert row["section_results"] == [1.0, 0.0, 0.0]
    assert row["section_back_matter"] == [0.0, 1.0, 0.0]
    assert row["section_table"] == [0.0, 0.0, 1.0]
    assert row["document_of_top"] == [1.0, 1.0, 0.0]
    assert row["document_share"] == pytest.approx([2 / 3, 2 / 3, 1 / 3])
    assert row["theme_of_top"] == [1.0, 0.0, 0.0]
    # Each candidate beside its own document: the document's best fused score over the
    # pool's, the document's rank by it, the candidate's rank within its document.
    assert row["document_best"] == pytest.approx([1.0, 1.0, 0.1 / 0.9])
    assert row["document_rr"] == [1.0, 1.0, 0.5]
    assert row["rank_in_document"] == [1.0, 0.5, 1.0]
    assert row["document_named"] == [0.0, 0.0, 1.0]
    # Cosines to the question for every candidate, as gaps to the pool's best; the
    # document's best sentence beside the pool's.
    assert row["dense_gap"] == pytest.approx([-0.2, 0.0, -0.5])
    assert row["sentence_gap"] == pytest.approx([-0.3, -0.5, 0.0])
    assert row["sentence_document_gap"] == pytest.approx([-0.3, -0.3, 0.0])
    # Shares of the head's section classes and kinds (three distinct of three here).
    assert row["section_share"] == pytest.approx([1 / 3] * 3)
    assert row["kind_share"] == pytest.approx([1 / 3] * 3)


def test_a_passage_takes_the_part_of_the_paper_it_sits_in():
    """A section of no class (a flat Markdown heading after "Results") takes the part of
    the classified section before it; a table or back matter has none and passes none on."""
    sections = ["Abstract", "Introduction", "Peer mentoring", "Methods", "Results"]
    sections += ["Peer mentoring", "Peer mentoring", "Table 2", "Peer mentoring", "Discussion"]
    paper = [passage(f"a{i}", "text", section=s, char_start=i) for i, s in enumerate(sections)]
    other = passage("b0", "text", document="e", section="Peer mentoring")
    got = places([*paper, other])
    assert [p.part for p in got] == [
        "abstract", "introduction", "introduction", "methods", "results",
        "results", "results", None, None, "discussion", None,
    ]  # fmt: skip
    assert [p.opens_section for p in got[4:8]] == [True, True, False, True]
    assert got[0].place == 0.0 and got[9].place == 1.0 and got[10].place == 0.0
    assert got[1].place == pytest.approx(1 / 9)


def test_features_read_the_passages_place_and_its_documents_coverage():
    a = passage("a", "28 unique studies were included", section="Scope of Research")
    b = passage("b", "peers shared their stories", document="e")
    candidates = [
        Candidate(
            a, np.array([0]), 0.9, 1, False, place=Place("methods", 0.25, True), coverage=0.5
        ),
        Candidate(b, np.array([1]), 0.5, 2, False, place=Place(None, 0.5, False), coverage=0.75),
    ]
    query = Query(tokens=np.array([0]), literature=False)
    x = features(query, candidates, {}, np.ones(2))
    row = {name: x[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert row["part_methods"] == [1.0, 0.0] and row["part_results"] == [0.0, 0.0]
    assert row["place"] == [0.25, 0.5] and row["opens_section"] == [1.0, 0.0]
    assert row["document_coverage"] == [0.5, 0.75]
    assert row["document_coverage_gap"] == [-0.25, 0.0]
    assert row["document_topic_gap"] == [0.0, 0.0]  # no centroid cosine given: equal


def test_each_document_is_read_by_its_centroids_cosine_to_the_question(corpus_index):
    """One document: its centroid is the mean of its passage vectors, and every candidate
    stands equal beside the pool's best document."""
    view = corpus_index._view
    (document,) = view.features.centroids
    assert np.linalg.norm(view.features.centroids[document]) == pytest.approx(1.0, abs=1e-5)
    vector = view.features.centroids[document]
    assert view.features.topic(vector, {document}) == {document: pytest.approx(1.0, abs=1e-5)}


def test_features_read_the_named_programme_one_words_pull_and_the_heading():
    """A passage of the programme the question names, or of another of its document's
    programmes; how much of its overlap its one best word makes; how much of the expanded
    question its section heading names."""
    named = passage("a", "Offers support by telephone", programme="F", kind="table_row")
    other = passage("b", "a hard nut to crack", programme="E", kind="quote")
    plain = passage("c", "This work was supported by a grant", section="Funding")
    idf = np.array([1.0, 3.0, 2.0])  # token ids 0 support, 1 volunteer, 2 funding
    candidates = [
        Candidate(named, np.array([0]), 0.9, 1, False),
        Candidate(other, np.array([0, 1]), 0.5, 2, False),
        Candidate(plain, np.array([0]), 0.3, 3, False, section=np.array([2])),
    ]
    query = Query(
        tokens=np.array([0, 1]),
        literature=False,
        programmes=frozenset({("d", "F")}),
        expanded=np.array([0, 1, 2]),
    )
    x = features(query, candidates, {}, idf)
    row = {name: x[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert row["programme_named"] == [1.0, 0.0, 0.0]
    assert row["programme_other"] == [0.0, 1.0, 0.0]  # a programme's, not the named one's
    assert row["overlap_peak"] == pytest.approx([1.0, 0.75, 1.0])
    assert row["section_overlap"] == pytest.approx([0.0, 0.0, 2 / 6])


def test_features_read_the_best_sentence_and_the_candidate_within_its_document():
    """How much of the question one sentence holds, not the passage spread over several;
    and each candidate's cosines beside its own document's best in the pool."""
    idf = np.array([1.0, 3.0, 2.0])  # token ids 0 peer, 1 mentor, 2 match
    one = passage("a", "Mentors were matched. Peers helped.")
    spread = passage("b", "Mentors helped. Peers were matched.")
    other = passage("c", "Peer mentors were matched by diagnosis.", document="e")
    candidates = [
        Candidate(one, np.array([0, 1, 2]), 0.9, 1, False, dense=0.6, sentence=0.7,
                  sentences=(np.array([1, 2]), np.array([0]))),
        Candidate(spread, np.array([0, 1, 2]), 0.5, 2, False, dense=0.5, sentence=0.8,
                  sentences=(np.array([1]), np.array([0, 2]))),
        Candidate(other, np.array([0, 1, 2]), 0.4, 3, False, dense=0.9, sentence=0.5,
                  sentences=(np.array([0, 1, 2]),)),
    ]  # fmt: skip
    x = features(Query(tokens=np.array([0, 1, 2]), literature=False), candidates, {}, idf)
    row = {name: x[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert row["overlap_idf"] == pytest.approx([1.0, 1.0, 1.0])
    assert row["sentence_overlap"] == pytest.approx([5 / 6, 3 / 6, 1.0])
    assert row["within_dense_gap"] == pytest.approx([0.0, -0.1, 0.0])
    assert row["within_sentence_gap"] == pytest.approx([-0.1, 0.0, 0.0])


def test_a_named_programmes_record_joins_the_pool_though_no_ranking_found_it(
    corpus_index, monkeypatch
):
    """The question "F - who mentors who" shares no word with Programme F's Table 2 row;
    the ranker still sees that row among its candidates."""
    view = corpus_index._view
    seen = []
    recorder = type("Recorder", (), {"predict": lambda self, x: np.linspace(1, 0, len(x))})
    monkeypatch.setattr(view, "ranker", recorder())
    monkeypatch.setattr(view, "_rank", _spy(view._rank, seen))
    corpus_index.search("F - who mentors who, and how", ranker.POOL)
    (pool,) = seen
    rows = [view.passages[h.node.node_id] for h in pool]
    assert len(rows) == ranker.POOL
    assert any(p.kind == "table_row" and p.programme == "F" and "cancer" in p.text for p in rows)


def _spy(rank, seen):
    def spied(*args, **kwargs):
        got = rank(*args, **kwargs)
        seen.append(got)
        return got

    return spied


def test_search_reads_each_documents_coverage_of_the_question(corpus_index):
    """Coverage is over the whole document, not only its pooled passages: a word the
    question shares with any passage of the paper counts."""
    view = corpus_index._view
    tokens = view._keywords.query_tokens("peer mentors transplant zebra")
    (document,) = view.features.document_tokens
    idf = view._corpus.idf
    assert view.features.coverage(tokens, {document}, idf)[document] == pytest.approx(1.0)
    none = view._keywords.query_tokens("peer")[:0]
    assert view.features.coverage(none, {document}, idf)[document] == 0.0


def test_a_question_names_a_document_by_its_first_authors_surname():
    studies = {
        "joo": Study(authors=["Joo JH", "Bone L"]),
        "braun": Study(authors=["Rebecca Braun", "Caricia Catalani"]),
        "untitled": None,
        "short": Study(authors=["Li X"]),  # too short to tell from a word
    }
    authors = first_authors(studies)
    assert authors == {"joo": "joo", "braun": "braun"}
    assert documents_named("In the Braun et al. review, which years?", authors) == {"braun"}
    assert documents_named("what did Joo's paper find", authors) == {"joo"}
    assert documents_named("braunschweig hospital peers", authors) == frozenset()


def test_the_artefact_serves_only_its_embedding_model(corpus_index, tmp_path):
    model = corpus_index.embed_model.token_space
    assert load_ranker(model) is not None  # committed, fitted for the bundled model
    data = json.loads(ranker.ARTEFACT.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURES) and data["key"]["model"] == model
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data | {"key": {"model": "another"}}), encoding="utf-8")
    assert load_ranker(model, other) is None
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(data | {"features": ["x"]}), encoding="utf-8")
    assert load_ranker(model, renamed) is None


def test_search_returns_the_rankers_order_of_fusions_pool(corpus_index, monkeypatch):
    """The ranker reorders fusion's pool; scores are its probabilities, best first."""
    view = corpus_index._view
    question = "How did programmes convince sceptical physicians?"
    monkeypatch.setattr(view, "ranker", None)
    pool = corpus_index.search(question, ranker.POOL)
    monkeypatch.undo()
    got = corpus_index.search(question, 10)
    assert {p.id for p in got} <= {p.id for p in pool}
    assert [p.score for p in got] == sorted((p.score for p in got), reverse=True)
    assert all(0.0 <= p.score <= 1.0 for p in got)
    reversed_order = type("Reverse", (), {"predict": lambda self, x: np.linspace(0, 1, len(x))})
    monkeypatch.setattr(view, "ranker", reversed_order())
    assert [p.id for p in corpus_index.search(question, 3)] == [p.id for p in pool[::-1][:3]]


def test_a_candidate_never_falls_as_its_evidence_of_relevance_rises(corpus_index):
    """The served ranker is fitted with monotone constraints: raising a candidate's dense
    (or any ranking's) score, its word overlap or its document's standing never lowers
    its probability, whatever its other features."""
    from peerqa.eval.fit_ranker import INCREASING

    model = load_ranker(corpus_index.embed_model.token_space)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(400, len(FEATURES)))
    base = model.predict(x)
    for name in ("dense_score", "sentence_rr", "overlap_idf", "document_best", "fused_score"):
        assert name in INCREASING
        raised = x.copy()
        column = FEATURES.index(name)
        raised[:, column] = np.minimum(1.0, raised[:, column] + 0.3)
        assert np.all(model.predict(raised) >= base - 1e-12), name


def test_trees_are_walked_to_their_leaves_and_summed():
    """Two trees of depth 2 over two features; the second is a stump (its left leaf repeats
    below a split that always goes left)."""
    trees = ranker.Ranker(
        depth=2,
        feature=np.array([[0, 1, 1], [1, 0, 0]]),
        threshold=np.array([[0.5, 0.2, 0.7], [0.4, 1e300, 1e300]]),
        leaf=np.array([[-2.0, -1.0, 1.0, 2.0], [-0.5, -0.5, 0.5, 0.5]]),
        baseline=0.25,
    )
    x = np.array([[0.1, 0.1], [0.1, 0.3], [0.9, 0.3], [0.9, 0.9]])
    z = 0.25 + np.array([-2.0 - 0.5, -1.0 - 0.5, 1.0 - 0.5, 2.0 + 0.5])
    assert trees.predict(x) == pytest.approx(1 / (1 + np.exp(-z)))


def test_a_callers_blended_vector_keeps_fusions_order(corpus_index, monkeypatch):
    """The ranker was fitted on searches by the query's own vector: `encode`'s result
    is ranked by it, a blend of vectors (a follow-up's) is ranked as fusion ranks it."""
    from peerqa.embedding import QueryEncoding

    view = corpus_index._view
    question = "How did programmes convince sceptical physicians?"
    own = corpus_index.encode(question)
    other = corpus_index.encode("what about rural areas?")
    blend = np.asarray(own.vector) + np.asarray(other.vector)
    blended = QueryEncoding(tuple((blend / np.linalg.norm(blend)).tolist()), own.tokens)
    learned = corpus_index.search(question, 5, encoding=own)
    assert [p.id for p in learned] == [p.id for p in corpus_index.search(question, 5)]
    got = corpus_index.search(question, 5, encoding=blended)
    monkeypatch.setattr(view, "ranker", None)
    assert [p.id for p in got] == [p.id for p in corpus_index.search(question, 5, encoding=blended)]


def test_fitters_downstream_retrieve_each_question_with_a_ranker_not_fitted_on_it(
    corpus_index,
):
    """eval.fit_answer and eval.fit_decline fit on retrieval: by the served ranker and
    query adapter, their own fitting questions would be ranked in-sample."""
    from peerqa.eval.fit_ranker import out_of_fold
    from peerqa.eval.questions import fitting_questions, load_split

    model = corpus_index.embed_model.token_space
    models = out_of_fold(model)
    fitted = {q.id for q in fitting_questions() if q.in_scope and q.gold and not q.expect}
    assert fitted <= models.keys()
    assert not models.keys() & {q.id for q in load_split("test")}
    assert len({id(r) for r, _ in models.values()}) == 5
    assert len({id(a) for _, a in models.values()}) == 5  # each fold's adapter too
    served = corpus_index.search(TOPICAL[0], top_k=10)
    with corpus_index.ranked_by(*models[sorted(fitted)[0]]):
        left_out = corpus_index.search(TOPICAL[0], top_k=10)
    with corpus_index.ranked_by(None, None):
        fusion = corpus_index.search(TOPICAL[0], top_k=10)
    assert corpus_index.search(TOPICAL[0], top_k=10) == served  # restored
    assert [p.score for p in left_out] != [p.score for p in served]  # another fit
    assert [p.score for p in fusion] != [p.score for p in served]  # fusion's own scores


def test_a_ranking_objectives_trees_are_served_as_the_classifiers_are():
    """fit_ranker's lambdarank fit (LightGBM, fit time only) is exported into the trees
    retrieval.ranker walks, its raw score mapped to a probability (Platt): the served
    ranker orders each question's pool as the booster does, the candidate holding the
    answer first, and the same rows fit the same trees again."""
    from peerqa.eval.fit_ranker import Group, fit

    rng = np.random.default_rng(0)
    dense = FEATURES.index("dense_score")
    groups = []
    for n in range(60):
        x = rng.uniform(0, 1, size=(12, len(FEATURES)))
        y = np.zeros(12, dtype=int)
        y[int(np.argmax(x[:, dense]))] = 1  # the answer is the pool's closest in meaning
        groups.append(Group(f"q{n}", "bundled", n % 5, x, y, [], [], None))
    settings = {
        "objective": "lambdarank",
        "max_iter": 30,
        "learning_rate": 0.1,
        "min_samples_leaf": 5,
        "monotone": True,
    }
    served, trees = fit(groups, settings)
    again, trees_again = fit(groups, settings)
    assert json.dumps(trees) == json.dumps(trees_again)
    held = rng.uniform(0, 1, size=(12, len(FEATURES)))
    p = served.predict(held)
    assert np.all((p > 0) & (p < 1))
    assert int(np.argmax(p)) == int(np.argmax(held[:, dense]))
