"""The learned ranking: fusion's best POOL passages reordered by boosted trees (fitted by
eval/fit_ranker.py with LightGBM's lambdarank or scikit-learn's classifier, whichever
cross-validates better; walked here in numpy, so serving imports neither) over cheap,
corpus-independent features of each candidate (every ranking's normalised score and
reciprocal rank, the fused score, the passage's and its best sentence's cosine to the
question beside the pool's best and beside its own paper's best, the share of the
question one of its sentences holds, the passage's kind and section class and how common
each is at the head of the pool, its part of its paper and place in it, its length, its
word overlap with the question, agreement with the top hit's theme and document, its
document's standing in the pool, how much of the question its document speaks of
anywhere, and whether the question names that document's first author).

`python -m peerqa.eval.fit_ranker` fits it on the non-test questions (eval/questions.jsonl and
the dev papers of eval/papers) and writes retrieval/models/ranker.json, keyed to the
embedding model's weights (its token space): another model's scores mean something else,
so its artefact is not used and search keeps fusion's order.

Reference-list entries are not candidates unless the question asks about literature
(`asks_literature` over the expanded question, with the word list answer/lexicon.json
keeps for the answer layer, read as data), names the entry's first author
(`names_author`), or a filter asks for them.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from peerqa.models import Passage, Study, surname
from peerqa.words import words_of

ARTEFACT = Path(__file__).with_name("models") / "ranker.json"
SCHEMA = 1
POOL = 40  # fused candidates the model reorders
VOTES = 5  # each ranking's first hits, for the documents they agree on
# The answer layer's word lists; the literature cue is shared, not copied.
LEXICON = Path(__file__).resolve().parents[1] / "answer" / "lexicon.json"

# The rankings read as features. A named programme's own BM25 ranking still joins fusion
# (retrieval.search) but is not read apart: under cross-validation it added nothing.
RANKINGS = ("dense", "sentence", "bm25", "late_text", "late_context")
KINDS = ("paragraph", "quote", "table_row", "list_item", "reference")
# Section classes by the words of a section path, first match wins (tables before the
# section they sit in, back matter before "results" in "availability of results").
SECTION_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("table", r"^\s*table\b|>\s*table\b"),
        (
            "back_matter",
            r"acknowledg|funding|declaration|competing|conflicts? of|contribution|"
            r"availability|abbreviation|supplementary|references|bibliograph|ethics approval",
        ),
        ("abstract", r"abstract|summary"),
        ("methods", r"method|design|setting|participant|procedure|recruit|sampl|analys"),
        ("results", r"result|finding|theme"),
        ("discussion", r"discussion|conclusion|implication|limitation|strength"),
        ("introduction", r"introduction|background"),
    )
)
# How the candidate's document fares in the pool as a whole, so a passage is judged
# beside its own paper's other hits rather than only against every paper's.
DOCUMENT_FEATURES = ("document_best", "document_rr", "rank_in_document", "document_named")
# Every candidate's cosine to the question, as a passage and as its best sentence: the
# rankings' scores are blank past their first CANDIDATES, these never are. Read as gaps to
# the pool's best (the question's own scale), and its document's best sentence gap.
SIMILARITY_FEATURES = (
    "dense_gap",
    "sentence_gap",
    "sentence_document_gap",
)
# Which section class and kind the head of fusion's order favours: a methods question's
# hits gather in methods sections, a findings question's in results; a candidate of the
# head's section class gains without a word list saying which question wants which.
SHARE_FEATURES = ("section_share", "kind_share")
# Where a passage sits in its paper, read the same way in any paper: its part (the class
# of its section, or of the nearest classified section before it: "Peer mentoring" after
# "Results" is results), how far into the paper it is, and whether it opens its section.
PARTS = ("abstract", "introduction", "methods", "results", "discussion")
PLACE_FEATURES = (*(f"part_{name}" for name in PARTS), "place", "opens_section")
# How much of the question its document speaks of anywhere (idf-weighted share of the
# question's words in the document), and that beside the pool's best document: a question
# about one paper's subject names words another paper never uses.
COVERAGE_FEATURES = ("document_coverage", "document_coverage_gap")
# The same in meaning: the cosine of the question to its document's mean passage vector,
# beside the pool's best document's.
TOPIC_FEATURES = ("document_topic_gap",)
# The programmes the question names (by letter, shorthand or a word only one programme's
# record uses, retrieval/programmes.py): a passage of a named programme (its record, its
# people's quotes), or of another programme while one is named.
PROGRAMME_FEATURES = ("programme_named", "programme_other")
# How much of the candidate's word overlap one question word makes: a passage sharing a
# single rare word ("volunteer", "heart") with questions on every topic scores near 1.
# And how much of the question, its shorthand and everyday words spelled out
# (retrieval/expansion.py), the passage's section heading names ("who paid for this
# study" -> funding -> "Funding"; "limitations", "data analysis").
OVERLAP_FEATURES = ("overlap_peak", "section_overlap")
# How much of the question one sentence of the passage holds (idf-weighted share of the
# question's words): a passage that answers says it in one sentence, one that shares the
# topic spreads the words over many.
SENTENCE_FEATURES = ("sentence_overlap",)
# The candidate beside its own paper's other candidates: its passage and best-sentence
# cosines to the question less the best of its document's in the pool. A paper's
# abstract, introduction and discussion restate its findings in the same words; which of
# them answers is read within the paper.
WITHIN_FEATURES = ("within_dense_gap", "within_sentence_gap")
# A question asking for a quantity ("how many", "when", "what proportion", "sample size";
# retrieval/quantity.json) paired with the share of the passage's sentences stating one
# (a number, share, date or duration; not a citation or a table's label): the passage
# that answers states the number, the ones that restate the topic do not. 0 for other
# questions.
QUANTITY_FEATURES = ("quantity_asked",)
FEATURES: tuple[str, ...] = (
    *(f"{r}_score" for r in RANKINGS),
    *(f"{r}_rr" for r in RANKINGS),
    "fused_score",
    "fused_rr",
    "theme_of_top",
    "document_of_top",
    "document_share",
    "document_votes",
    *DOCUMENT_FEATURES,
    *(f"kind_{k}" for k in KINDS),
    "reference_asked",
    *(f"section_{name}" for name, _ in SECTION_CLASSES),
    "log_words",
    "overlap",
    "overlap_idf",
    *SIMILARITY_FEATURES,
    *SHARE_FEATURES,
    *PLACE_FEATURES,
    *COVERAGE_FEATURES,
    *TOPIC_FEATURES,
    *PROGRAMME_FEATURES,
    *OVERLAP_FEATURES,
    *SENTENCE_FEATURES,
    *WITHIN_FEATURES,
    *QUANTITY_FEATURES,
)

log = logging.getLogger("peerqa.retrieval")


@cache
def _literature() -> re.Pattern[str]:
    words = json.loads(LEXICON.read_text(encoding="utf-8"))["asks_literature"]
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


def asks_literature(question: str) -> bool:
    """The question asks about cited studies: reference entries may answer it."""
    return bool(_literature().search(question))


# A reference entry's first author: "Repper J, Carter T. A review..." or "12. Reif S, ...".
_FIRST_AUTHOR = re.compile(r"^\s*(?:\[?\d+[.\]]\s*)?(?P<name>[^\W\d_][\w'’-]+)\s+[A-Z]{1,3}\b")


def first_author(reference: str) -> str | None:
    m = _FIRST_AUTHOR.match(reference)
    return m["name"].lower() if m else None


def names_author(question: str, reference: str) -> bool:
    """The question names the first author of a reference entry ("the repper & carter
    review"): that entry may answer it though no literature word is used."""
    author = first_author(reference)
    return author is not None and author in words_of(question, "names")


def first_authors(studies: Mapping[str, Study | None]) -> dict[str, str]:
    """Each document's first author's surname, lowercased ("Joo JH" -> "joo"), where its
    citation metadata names one of at least three letters."""
    names = {}
    for document, study in studies.items():
        name = surname(study.authors[0]).lower() if study and study.authors else ""
        if len(name) >= 3:
            names[document] = name
    return names


def documents_named(question: str, authors: Mapping[str, str]) -> frozenset[str]:
    """The documents whose first author the question names ("in the Braun et al. review")."""
    asked = " ".join(words_of(question, "names"))
    return frozenset(
        d for d, name in authors.items() if re.search(rf"(?<![\w'’-]){re.escape(name)}\b", asked)
    )


@lru_cache(maxsize=4096)
def section_class(section: str) -> str | None:
    return next((name for name, pattern in SECTION_CLASSES if pattern.search(section)), None)


@dataclass(frozen=True)
class Place:
    """Where a passage sits in its document (PLACE_FEATURES)."""

    part: str | None = None  # one of PARTS
    place: float = 0.0  # 0 at the document's first passage, 1 at its last
    opens_section: bool = False


def places(passages: Sequence[Passage]) -> list[Place]:
    """Each passage's Place; `passages` in document order (by document, then offset).
    A section of no class (or a table's, a back matter's) takes the part of the nearest
    classified section before it in its document; a table or back matter has none."""
    by_document: dict[str, list[int]] = {}
    for i, p in enumerate(passages):
        by_document.setdefault(p.document, []).append(i)
    at = {}
    for rows in by_document.values():
        part, section = None, None
        for n, i in enumerate(rows):
            p = passages[i]
            own = section_class(p.section)
            if own in PARTS:
                part = own
            elif own is not None:
                part = None  # a table or back matter: no part, and none inherited after it
            at[i] = Place(
                part=part if own in PARTS or own is None else None,
                place=n / (len(rows) - 1) if len(rows) > 1 else 0.0,
                opens_section=p.section != section,
            )
            section = p.section
    return [at[i] for i in range(len(passages))]


@dataclass(frozen=True)
class Query:
    """What features read of a question."""

    tokens: np.ndarray  # its distinct BM25 token ids (stemmed, no stopwords) in the corpus
    literature: bool
    learned: bool = True  # searched by its own vector: the fitted ranker applies
    documents: frozenset[str] = frozenset()  # whose first author the question names
    programmes: frozenset[tuple[str, str]] = frozenset()  # (document, letter) it names
    expanded: np.ndarray | None = None  # token ids of the expanded question (else tokens)
    quantity: bool = False  # it asks for a number, a date or a duration


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    tokens: np.ndarray  # distinct BM25 token ids of the passage's indexed text
    fused: float  # fusion's score (after theme feedback), 0-1
    fused_rank: int  # 1-based
    theme_of_top: bool
    dense: float = 0.0  # cosine of the passage's vector to the question's
    sentence: float = 0.0  # the best cosine of its sentences' vectors
    place: Place = Place()
    section: np.ndarray | None = None  # distinct BM25 token ids of its section heading
    coverage: float = 0.0  # idf-weighted share of the question's tokens its document holds
    topic: float = 0.0  # cosine of its document's mean passage vector to the question
    sentences: Sequence[np.ndarray] = ()  # each sentence's distinct BM25 token ids
    quantity: float = 0.0  # the share of its sentences stating a quantity


def document_features(documents: Sequence[str], fused: np.ndarray, named: frozenset[str]):
    """DOCUMENT_FEATURES of candidates (in fusion's order) from their documents and fused
    scores: the best fused score of the candidate's document over the pool's best, the
    reciprocal rank of its document by that best, its own reciprocal rank among its
    document's candidates, and whether the question names its document's first author."""
    x = np.zeros((len(documents), len(DOCUMENT_FEATURES)))
    if not len(documents):
        return x
    best: dict[str, float] = {}
    within: dict[str, int] = {}
    for row, (document, score) in enumerate(zip(documents, fused, strict=True)):
        best[document] = max(best.get(document, -math.inf), float(score))
        within[document] = within.get(document, 0) + 1
        x[row, 2] = 1.0 / within[document]
    top = max(best.values())
    rank = {d: r for r, d in enumerate(sorted(best, key=lambda d: -best[d]), 1)}
    for row, document in enumerate(documents):
        x[row, 0] = best[document] / top if top > 0 else 1.0
        x[row, 1] = 1.0 / rank[document]
        x[row, 3] = document in named
    return x


def features(
    query: Query,
    candidates: Sequence[Candidate],
    rankings: Mapping[str, Sequence[tuple[str, float]]],
    idf: np.ndarray,
) -> np.ndarray:
    """One row of FEATURES per candidate. `rankings`: each ranking's (passage id, raw
    score) best first, as fusion received them."""
    x = np.zeros((len(candidates), len(FEATURES)))
    column = {name: i for i, name in enumerate(FEATURES)}
    for name, ranked in rankings.items():
        if not ranked or name not in RANKINGS:
            continue
        scores = [s for _, s in ranked]
        low, high = min(scores), max(scores)
        at = {pid: (rank, s) for rank, (pid, s) in enumerate(ranked, 1)}
        for row, c in enumerate(candidates):
            if c.passage.id in at:
                rank, s = at[c.passage.id]
                # Min-max as relative-score fusion normalises (one hit: 1).
                x[row, column[f"{name}_score"]] = (s - low) / (high - low) if high > low else 1.0
                x[row, column[f"{name}_rr"]] = 1.0 / rank
    top_document = candidates[0].passage.document if candidates else None
    head = [c.passage.document for c in candidates[:10]]
    # Which documents every ranking's first VOTES hits come from.
    document_of = {c.passage.id: c.passage.document for c in candidates}
    votes = [document_of.get(pid) for ranked in rankings.values() for pid, _ in ranked[:VOTES]]
    # Word overlap of every candidate at once: one isin over their tokens laid end to end.
    lengths = [len(c.tokens) for c in candidates]
    tokens = np.concatenate([c.tokens for c in candidates]) if candidates else np.zeros(0, int)
    owner = np.repeat(np.arange(len(candidates)), lengths)
    shared = np.isin(tokens, query.tokens)
    overlap = np.bincount(owner[shared], minlength=len(candidates))
    overlap_idf = np.bincount(owner[shared], idf[tokens[shared]], minlength=len(candidates))
    peak = np.zeros(len(candidates))
    np.maximum.at(peak, owner[shared], idf[tokens[shared]])
    named_documents = {d for d, _ in query.programmes}
    query_weight = float(idf[query.tokens].sum())
    expanded = query.tokens if query.expanded is None else query.expanded
    expanded_weight = float(idf[expanded].sum())
    for row, c in enumerate(candidates):
        p = c.passage
        x[row, column["fused_score"]] = c.fused
        x[row, column["fused_rr"]] = 1.0 / c.fused_rank
        x[row, column["theme_of_top"]] = c.theme_of_top
        x[row, column["document_of_top"]] = p.document == top_document
        x[row, column["document_share"]] = head.count(p.document) / len(head)
        x[row, column["document_votes"]] = votes.count(p.document) / len(votes) if votes else 0.0
        x[row, column[f"kind_{p.kind}"]] = 1.0
        x[row, column["reference_asked"]] = p.kind == "reference" and query.literature
        section = section_class(p.section)
        if section:
            x[row, column[f"section_{section}"]] = 1.0
        x[row, column["log_words"]] = math.log1p(len(p.text.split()))
        if c.place.part:
            x[row, column[f"part_{c.place.part}"]] = 1.0
        x[row, column["place"]] = c.place.place
        x[row, column["opens_section"]] = c.place.opens_section
        x[row, column["document_coverage"]] = c.coverage
        x[row, column["quantity_asked"]] = c.quantity if query.quantity else 0.0
        if p.programme and p.document in named_documents:
            named = (p.document, p.programme) in query.programmes
            x[row, column["programme_named"]] = named
            x[row, column["programme_other"]] = not named
        if overlap_idf[row] > 0:
            x[row, column["overlap_peak"]] = peak[row] / overlap_idf[row]
        if c.section is not None and expanded_weight:
            heading = idf[expanded[np.isin(expanded, c.section)]].sum()
            x[row, column["section_overlap"]] = heading / expanded_weight
        if len(query.tokens):
            x[row, column["overlap"]] = overlap[row] / len(query.tokens)
            x[row, column["overlap_idf"]] = overlap_idf[row] / query_weight if query_weight else 0.0
    if query_weight:
        x[:, column["sentence_overlap"]] = _sentence_overlap(query, candidates, idf) / query_weight
    if candidates:
        coverage = x[:, column["document_coverage"]]
        x[:, column["document_coverage_gap"]] = coverage - coverage.max()
        topic = np.asarray([c.topic for c in candidates])
        x[:, column["document_topic_gap"]] = topic - topic.max()
        _similarity_features(x, column, candidates)
        _share_features(x, column, candidates)
    first = column[DOCUMENT_FEATURES[0]]
    x[:, first : first + len(DOCUMENT_FEATURES)] = document_features(
        [c.passage.document for c in candidates],
        np.asarray([c.fused for c in candidates]),
        query.documents,
    )
    return x


def _sentence_overlap(query: Query, candidates: Sequence[Candidate], idf: np.ndarray) -> np.ndarray:
    """Each candidate's best sentence's idf-weighted count of the question's tokens (0
    without sentences). The question's tokens as a lookup over the vocabulary, not an
    isin per sentence (most of the features' time); both token lists are sorted, so the
    same idfs are summed in the same order as an isin of the question's would."""
    asked = np.zeros(len(idf), dtype=bool)
    asked[query.tokens] = True
    return np.asarray(
        [max((float(idf[t[asked[t]]].sum()) for t in c.sentences), default=0.0) for c in candidates]
    )


def _similarity_features(x: np.ndarray, column: dict, candidates: Sequence[Candidate]) -> None:
    dense = np.asarray([c.dense for c in candidates])
    sentence = np.asarray([c.sentence for c in candidates])
    x[:, column["dense_gap"]] = dense - dense.max()
    x[:, column["sentence_gap"]] = sentence - sentence.max()
    best: dict[str, float] = {}
    for c, s in zip(candidates, sentence, strict=True):
        best[c.passage.document] = max(best.get(c.passage.document, -math.inf), float(s))
    x[:, column["sentence_document_gap"]] = [
        best[c.passage.document] - sentence.max() for c in candidates
    ]
    documents = np.asarray([c.passage.document for c in candidates])
    for document in set(documents.tolist()):
        own = documents == document
        x[own, column["within_dense_gap"]] = dense[own] - dense[own].max()
        x[own, column["within_sentence_gap"]] = sentence[own] - sentence[own].max()


def _share_features(x: np.ndarray, column: dict, candidates: Sequence[Candidate]) -> None:
    head = candidates[:10]
    sections = [section_class(c.passage.section) for c in head]
    kinds = [c.passage.kind for c in head]
    for row, c in enumerate(candidates):
        x[row, column["section_share"]] = sections.count(section_class(c.passage.section)) / len(
            head
        )
        x[row, column["kind_share"]] = kinds.count(c.passage.kind) / len(head)


@dataclass(frozen=True)
class Ranker:
    """P(candidate holds the answer) from its FEATURES: gradient-boosted trees, each
    stored complete to `depth` (a leaf above it repeats down its left side), so all trees
    are walked at once in `depth` numpy steps."""

    depth: int
    feature: np.ndarray  # int, (trees, 2**depth - 1): each split's feature
    threshold: np.ndarray  # (trees, 2**depth - 1): go right when the feature exceeds it
    leaf: np.ndarray  # (trees, 2**depth): each leaf's raw score
    baseline: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        trees = np.arange(self.feature.shape[0])
        node = np.zeros((len(x), len(trees)), dtype=np.int64)
        for _ in range(self.depth):
            value = np.take_along_axis(x, self.feature[trees, node], axis=1)
            node = 2 * node + 1 + (value > self.threshold[trees, node])
        inside = node - (2**self.depth - 1)
        z = self.baseline + self.leaf[trees, inside].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-z))


def from_dict(data: dict) -> Ranker:
    trees = {name: np.asarray(data[name]) for name in ("feature", "threshold", "leaf")}
    return Ranker(depth=int(data["depth"]), baseline=float(data["baseline"]), **trees)


@cache
def load_ranker(model: str, path: Path = ARTEFACT) -> Ranker | None:
    """The fitted ranker for the embedding model `model` (its token space); None, and
    fusion's order, when the artefact is missing or belongs to another model or other
    features."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.warning(
            "no fitted ranker at %s: fusion's order (run `python -m peerqa.eval.fit_ranker`)", path
        )
        return None
    if data.get("schema") != SCHEMA or tuple(data["features"]) != FEATURES:
        log.warning("%s: fitted for other features; fusion's order (refit it)", path)
        return None
    if data["key"]["model"] != model:
        log.warning(
            "ranker fitted for embedding model %s, not %s: fusion's order "
            "(refit with `python -m peerqa.eval.fit_ranker`)",
            data["key"]["model"],
            model,
        )
        return None
    return from_dict(data)
