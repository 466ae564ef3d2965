"""Stage 2, select evidence: retrieved passages -> the units that answer, best first.

A unit is what an answer can cite whole: a sentence of a paragraph (run on to the end of
a quotation it opens, so a quote is never cut), a participant quote from its opening to
its closing mark, a table row, or a reference entry (only when the question asks about
literature). Front matter (author addresses, affiliations) is never a unit.

Each unit is described by features (its cosine to the question, its passage's retrieval
rank and score, lexical overlap, kind, stance, position, theme…) and scored by the
fitted selector (answer.selector) twice: P(it holds the answer), which decides what is
included, and a lead score (a conditional logit over the question's units), which
decides what goes first. The answer leads with the best lead, takes further units only
while they are likely enough, and never does worse than the top passage: the top
passage's best unit leads unless another leads clearly better, and is in the answer
whatever leads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from peerqa.answer import lexicon
from peerqa.answer.profiles import profile_for
from peerqa.answer.question import STANCE_GROUPS, Question
from peerqa.answer.selector import Policy, Selector
from peerqa.answer.sentences import WHOLE_KINDS, SentenceBank, Split
from peerqa.models import Filters, Passage, ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.ranker import names_author, section_class
from peerqa.segment import word_count
from peerqa.words import content_words, words_of

MIN_WORDS = 5  # shorter "sentences" are fragments ("Table 4.", "It’s not just a surgery.")
MAX_QUOTE_SENTENCES = 6  # a quotation run on further than this is not quoted at all
MAX_PER_PASSAGE = 2
REDUNDANT = 0.85  # cosine above which two units say the same thing
MAX_PARTNERS = 6  # theme partners per result (the Joo paper has at most 3 a theme)

_OPEN, _CLOSE = "“", "”"
# A quote passage ends with who said it: "(D, PL)", "(E, PS) |".
_TRAILING_ATTRIBUTION = re.compile(r"\s*\([^()\n]{1,40}\)[\s|]*$")
_MARKER_LIKE = re.compile(r"\[\d+\]")
# A numeric in-text citation closing a sentence ("… and malaria [2]."): the unit ends
# before it, so the answer's own [n] marker is not confused with the paper's.
_CITATION = r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]"  # "[3]", "[3, 5]", "[3-5]"
# A run of bracketed citations inside a sentence, however a converter ran them together
# ("[60][61][62]", "[9,[22][23]27,31]").
_CITATIONS = r"\[\d[\d\s,\u2013\[\]-]*\]"
_TRAILING_CITATION = re.compile(rf"\s*{_CITATIONS}\W*$")
# A question asking for a count, a share or a duration ("how many", "what proportion",
# "sample size", "hrs") is answered by a sentence stating a number, whatever it shares in
# words with the question: the one question-type / sentence-type agreement that held up
# under cross-validation (others tried: when/date, why/cause, who/name, limitation).
_ASKS_COUNT = re.compile(
    r"\bhow (?:many|much|long|often|old|large|big)\b|\bnumber of\b|\bproportion|\bpercent"
    r"|\brates?\b|\btotal\b|\bsample size\b|\bwhat (?:age|size)\b|\bhrs\b|\bhours\b",
    re.IGNORECASE,
)
# A count spelled out ("Thirty-five studies were included", "seven of the twelve"): a
# figure as much as "35" is.
_NUMBER_WORD = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million|half|third|quarter|dozen)"
    r"(?:ths?|s)?\b",
    re.IGNORECASE,
)
_BRACKETED_CITATION = re.compile(_CITATION)
_INNER_CITATION = re.compile(rf"\s*{_CITATIONS}")
KINDS = ("paragraph", "quote", "table_row", "reference", "list_item")
_PROSE = ("paragraph", "list_item")  # kinds a citation may be cut out of
# Section classes (retrieval.ranker.section_class) a unit's passage may sit in.
SECTIONS = ("results", "discussion", "methods", "introduction", "abstract", "table")
SUPPORT_RANKS = 5

FEATURES = (
    "cosine",
    "cosine_gap",  # below the best unit's cosine
    "cosine_rank",  # 1 / (1 + rank among units by cosine)
    "passage_rank",  # 1 / (1 + retrieval rank)
    "passage_score",  # retrieval score / the top passage's
    "top_passage",
    "best_of_passage",  # the best cosine of its passage
    "best_of_top_passage",
    "cosine_passage_gap",  # below the best cosine of its own passage
    "passage_cosine",  # the best cosine of its passage: how on-topic the passage is
    "lexical",  # share of the question's content words in the unit
    "lexical_idf",  # the same, each word weighted by its rarity in the corpus
    "lexical_all",  # every content word of the question is in the unit
    *(f"kind_{k}" for k in KINDS),
    "in_paragraph_quote",
    "stance_match",
    "stance_other",  # the passage argues the stance not asked
    "asked_stance",
    "first_sentence",
    "position",  # 1 / (1 + position in the passage)
    "log_words",
    "programme_match",
    "same_theme_as_top",
    "abstract",
    "facts_row",  # a table row for a question about programme facts
    "followup",
    "lexical_own",  # share of the asked text's own content words (a follow-up's new angle)
    "bm25",  # the unit's BM25 against the question's content words, over their idf sum
    "neighbour_cosine",  # the best cosine of the sentences either side in its passage
    "cosine_z",  # its cosine standardised over the question's units
    # Agreement: how close it is to what the other leading passages say (the best
    # similarity to each of the first SUPPORT_RANKS passages' units, mean and max).
    "support_mean",
    "support_max",
    "lexical_rank",  # 1 / (1 + rank among units by lexical_idf)
    "bm25_rank",  # 1 / (1 + rank among units by bm25)
    "similar_to_top_best",  # its similarity to the top passage's closest unit
    "passage_units",  # how many units its passage has
    "relative_position",  # position / passage_units: opening, middle or closing sentence
    *(f"section_{s}" for s in SECTIONS),  # finding, discussion, method, background…
    "count_stated",  # the question asks for a count and the unit states a number
    # Its paper has no profile of its own (a user's paper, cut generically): what leads
    # and what is likely differ between a profiled and a generic paper's units.
    "generic_paper",
)
BM25_K1, BM25_B = 1.2, 0.75


@dataclass(eq=False)  # units are compared by identity
class Unit:
    passage: ScoredPassage
    rank: int  # of the passage in retrieval
    start: int  # offsets into passage.text
    end: int
    position: int  # of its first sentence in the passage
    cosine: float
    vector: np.ndarray
    stance: str | None
    in_quote: bool = False  # a quotation inside a paragraph, run on whole
    # In-text citations inside it ("… as shown before [12], peers …"), offsets into
    # passage.text: left out of what the answer shows, which reads as the verbatim pieces
    # either side, each with the answer's own marker (a paper's "[12]" would read as one).
    cuts: tuple[tuple[int, int], ...] = ()
    features: np.ndarray = field(default_factory=lambda: np.zeros(0))
    score: float = 0.0  # P(it holds the answer): whether it is included
    lead: float | None = None  # how strongly it should go first (None: by score)

    @property
    def lead_score(self) -> float:
        return self.score if self.lead is None else self.lead

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    @property
    def pieces(self) -> list[tuple[int, int]]:
        """Its verbatim pieces (offsets into passage.text): the whole unit, or the parts
        either side of its cuts, without the spaces around them."""
        text, out, at = self.passage.text, [], self.start
        for cut_start, cut_end in (*self.cuts, (self.end, self.end)):
            start, end = at, cut_start
            while start < end and text[start].isspace():
                start += 1
            out.append((start, end))
            at = cut_end
        return out

    @property
    def is_quote(self) -> bool:
        return self.passage.kind == "quote"

    @cached_property  # read for every unit by each policy fit_answer tries
    def wordless(self) -> bool:
        """A table row's cells past its label hold no word ("Programme C | 5 (12)"): a
        figure that answers only beside the row or question that says what it counts."""
        if self.passage.kind != "table_row":
            return False
        body = self.text.split("|", 1)[1] if "|" in self.text else self.text
        return not re.search(r"[^\W\d_]{2,}", body)

    @property
    def span(self) -> tuple[str, int, int]:
        """(document, start, end) in the source."""
        base = self.passage.char_start
        return self.passage.document, base + self.start, base + self.end


# -- units -------------------------------------------------------------------------------
def is_front_matter(passage: Passage) -> bool:
    """Author blocks, addresses and affiliations: about the paper, never evidence."""
    section = passage.section.split(" > ")[0].strip()
    if lexicon.front_matter_sections().match(section):
        return True
    hits = {m.group().lower() for m in lexicon.front_matter_text().finditer(passage.text)}
    return passage.kind != "reference" and len(hits) >= 3


def wanted(question: Question, passage: Passage) -> bool:
    """Reference entries only for questions about literature or naming the entry's first
    author ("the repper & carter review"); a question naming programmes does not want
    another programme's table row, nor one naming a paper another paper's findings."""
    if question.documents and passage.document not in question.documents:
        return False
    if passage.kind == "reference":
        return question.asks_literature or names_author(question.resolved, passage.text)
    if passage.kind == "table_row" and question.programmes and passage.programme:
        return passage.programme in question.programmes
    return True


def quotation_bounds(text: str) -> tuple[int, int] | None:
    """A quote passage's quotation: opening to closing mark, without who said it."""
    end = len(text)
    attribution = _TRAILING_ATTRIBUTION.search(text)
    if attribution:
        end = attribution.start()
    close = text.rfind(_CLOSE, 0, end)
    if text.lstrip().startswith(_OPEN) and close != -1:
        end = close + 1
    start = len(text) - len(text.lstrip())
    return (start, end) if end > start else None


def build_units(
    question: Question, results: Sequence[ScoredPassage], bank: SentenceBank
) -> list[Unit]:
    """Every citable unit of the results, with its features filled in."""
    kept = [(rank, p) for rank, p in enumerate(results) if not is_front_matter(p)]
    kept = [(rank, p) for rank, p in kept if wanted(question, p)]
    splits = bank.split([p for _, p in kept])
    units: list[Unit] = []
    for (rank, passage), split in zip(kept, splits, strict=True):
        units += _passage_units(question, passage, rank, split)
    describe(question, results, units, bank)
    return units


def _passage_units(
    question: Question, passage: ScoredPassage, rank: int, split: Split
) -> list[Unit]:
    cosines = split.vectors @ question.vector
    if passage.kind in WHOLE_KINDS:  # one unit each: a reference entry, a table row
        return [
            Unit(passage, rank, s.start, s.end, s.position, float(c), v, passage.stance)
            for s, c, v in zip(split.sentences, cosines, split.vectors, strict=True)
        ]
    if passage.kind == "quote":
        bounds = quotation_bounds(passage.text)
        if bounds is None or "\n" in passage.text[bounds[0] : bounds[1]]:
            return []
        return [_joined(question, passage, rank, split, cosines, *bounds, in_quote=False)]
    units = []
    sentences = split.sentences
    i = 0
    while i < len(sentences):
        s = sentences[i]
        opens, closes = s.text.count(_OPEN), s.text.count(_CLOSE)
        if opens > closes:  # a quotation opens here: take it to its closing mark, or skip it
            j, depth = i, opens - closes
            while depth > 0 and j + 1 < len(sentences) and j - i < MAX_QUOTE_SENTENCES:
                j += 1
                depth += sentences[j].text.count(_OPEN) - sentences[j].text.count(_CLOSE)
            if depth == 0:
                units.append(
                    _joined(
                        question,
                        passage,
                        rank,
                        split,
                        cosines,
                        s.start,
                        sentences[j].end,
                        in_quote=True,
                    )
                )
            i = j + 1
            continue
        if closes > opens:  # the tail of a quotation whose opening was skipped
            i += 1
            continue
        if s.words >= MIN_WORDS:
            units.append(
                Unit(
                    passage,
                    rank,
                    s.start,
                    without_trailing_citation(passage.text, s.start, s.end),
                    s.position,
                    float(cosines[i]),
                    split.vectors[i],
                    sentence_stance(s.text, passage),
                )
            )
        i += 1
    for u in units:
        u.cuts = citation_cuts(u)
    return [u for u in units if _citable(u)]


def _joined(
    question: Question,
    passage: ScoredPassage,
    rank: int,
    split: Split,
    cosines: np.ndarray,
    start: int,
    end: int,
    in_quote: bool,
) -> Unit:
    """A unit of several sentences: as close to the question as its closest sentence."""
    inside = [i for i, s in enumerate(split.sentences) if s.start < end and s.end > start]
    best = max(inside, key=lambda i: cosines[i]) if inside else 0
    first = split.sentences[inside[0]].position if inside else 0
    return Unit(
        passage,
        rank,
        start,
        end,
        first,
        float(cosines[best]),
        split.vectors[best],
        sentence_stance(passage.text[start:end], passage),
        in_quote=in_quote,
    )


def without_trailing_citation(text: str, start: int, end: int) -> int:
    """Where the sentence text[start:end] ends without a numeric citation closing it
    (and the full stop after it): a paper citing its sources in brackets would otherwise
    give no sentence an answer can cite beside its own markers."""
    m = _TRAILING_CITATION.search(text, start, end)
    return m.start() if m and m.start() > start else end


def citation_cuts(unit: Unit) -> tuple[tuple[int, int], ...]:
    """Where a prose sentence cites a source in a way a reader would take for one of the
    answer's markers ("… before [12], peers …"): each in-text citation inside it (offsets
    into passage.text), to be left out of what the answer shows (Unit.cuts). None for
    anything else: a quotation is never cut, nor a table row or reference entry."""
    if "\n" in unit.text or not _MARKER_LIKE.search(unit.text):
        return ()
    if unit.passage.kind not in _PROSE or unit.in_quote:
        return ()
    return tuple(
        (unit.start + m.start(), unit.start + m.end()) for m in _INNER_CITATION.finditer(unit.text)
    )


def _citable(unit: Unit) -> bool:
    """Single-line, and shown (as cut: Unit.cuts, from `citation_cuts`) without anything
    an answer's reader would take for one of its markers: each piece left must say
    something."""
    if "\n" in unit.text:
        return False
    if not _MARKER_LIKE.search(unit.text):
        return True
    if unit.passage.kind not in _PROSE or unit.in_quote:
        return False
    text = unit.passage.text
    return all(
        re.search(r"[^\W\d_]{2,}", text[a:b]) and not _MARKER_LIKE.search(text[a:b])
        for a, b in unit.pieces
    )


def sentence_stance(text: str, passage: Passage) -> str | None:
    """The passage's challenge/mitigation label, else what the text itself says."""
    if passage.stance in STANCE_GROUPS:
        return passage.stance
    mitigation = bool(lexicon.pattern("says_mitigation").search(text))
    challenge = bool(lexicon.pattern("says_challenge").search(text))
    if mitigation != challenge:
        return "mitigation" if mitigation else "challenge"
    return passage.stance


# -- features ----------------------------------------------------------------------------
def _idf(index: LiveIndex):
    """Inverse passage frequency of a stemmed content word (unseen words: the rarest)."""
    frequency: dict[str, int] = {}
    for p in index.passages.values():
        for w in content_words(p.text):
            frequency[w] = frequency.get(w, 0) + 1
    n = max(len(index.passages), 1)
    return lambda w: math.log((n + 1) / (frequency.get(w, 0) + 1))


def describe(
    question: Question, results: Sequence[ScoredPassage], units: list[Unit], bank: SentenceBank
) -> None:
    """Fill each unit's feature vector (FEATURES order)."""
    if not units:
        return
    best = max(u.cosine for u in units)
    order = sorted(range(len(units)), key=lambda i: -units[i].cosine)
    cosine_rank = {i: r for r, i in enumerate(order)}
    passage_best: dict[str, float] = {}
    for u in units:
        passage_best[u.passage.id] = max(passage_best.get(u.passage.id, -1.0), u.cosine)
    top_score = results[0].score if results and results[0].score > 0 else 1.0
    top_theme = results[0].theme if results else None
    keywords = question.keywords
    own = content_words(question.raw)
    idf = bank.derived("idf", _idf)
    # fsum: exact whatever the order, and a set's order changes with PYTHONHASHSEED.
    weight = math.fsum(idf(w) for w in keywords) or 1.0
    texts = [u.text for u in units]
    bm25 = _bm25(keywords, texts, idf, weight)
    neighbours = _neighbour_cosines(units)
    lexical_idf = [math.fsum(idf(w) for w in keywords & content_words(t)) / weight for t in texts]
    relative = _relative_features(units, lexical_idf, bm25)
    asks_count = bool(_ASKS_COUNT.search(question.raw))
    generic = {d: profile_for(d).generic for d in {u.passage.document for u in units}}
    for i, u in enumerate(units):
        words = content_words(u.text)
        section = section_class(u.passage.section)
        overlap = len(keywords & words) / max(len(keywords), 1)
        values = {
            "cosine": u.cosine,
            "cosine_gap": best - u.cosine,
            "cosine_rank": 1 / (1 + cosine_rank[i]),
            "passage_rank": 1 / (1 + u.rank),
            "passage_score": u.passage.score / top_score,
            "top_passage": float(u.rank == 0),
            "best_of_passage": float(u.cosine >= passage_best[u.passage.id]),
            "best_of_top_passage": float(u.rank == 0 and u.cosine >= passage_best[u.passage.id]),
            "cosine_passage_gap": passage_best[u.passage.id] - u.cosine,
            "passage_cosine": passage_best[u.passage.id],
            "lexical": overlap,
            "lexical_idf": lexical_idf[i],
            "lexical_all": float(bool(keywords) and keywords <= words),
            **{f"kind_{k}": float(u.passage.kind == k) for k in KINDS},
            "in_paragraph_quote": float(u.in_quote),
            "stance_match": float(u.stance in question.stances),
            "stance_other": float(
                bool(question.stances)
                and u.stance in STANCE_GROUPS
                and u.stance not in question.stances
            ),
            "asked_stance": float(bool(question.stances)),
            "first_sentence": float(u.position == 0),
            "position": 1 / (1 + u.position),
            "log_words": math.log1p(word_count(u.text)),
            "programme_match": float(u.passage.programme in question.programmes),
            "same_theme_as_top": float(bool(top_theme) and u.passage.theme == top_theme),
            "abstract": float(u.passage.section.startswith("Abstract")),
            "facts_row": float(question.asks_facts and u.passage.kind == "table_row"),
            "followup": float(question.followup),
            "lexical_own": len(own & words) / max(len(own), 1),
            "bm25": bm25[i],
            "neighbour_cosine": neighbours[i],
            **relative[i],
            **{f"section_{s}": float(section == s) for s in SECTIONS},
            "count_stated": float(asks_count and states_number(u.text)),
            "generic_paper": float(generic[u.passage.document]),
        }
        u.features = np.asarray([values[f] for f in FEATURES], dtype=np.float64)


def states_number(text: str) -> bool:
    """A figure in the text, in digits (not counting its bracketed citation numbers) or in
    words."""
    return any(c.isdigit() for c in _BRACKETED_CITATION.sub("", text)) or bool(
        _NUMBER_WORD.search(text)
    )


def _relative_features(
    units: list[Unit], lexical_idf: list[float], bm25: list[float]
) -> list[dict[str, float]]:
    """Features comparing a unit with the question's other units: its cosine against
    theirs, its agreement with the other leading passages, its lexical ranks, its place
    in its passage. Relative rather than absolute, so they carry to new phrasings."""
    vectors = np.stack([u.vector for u in units])
    similar = vectors @ vectors.T
    cos = np.asarray([u.cosine for u in units])
    spread = cos.std() + 1e-6
    members: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        members.setdefault(u.passage.id, []).append(i)
    leading = [p for p, m in members.items() if units[m[0]].rank < SUPPORT_RANKS]
    lexical_rank = np.argsort(np.argsort(-np.asarray(lexical_idf), kind="stable"), kind="stable")
    bm25_rank = np.argsort(np.argsort(-np.asarray(bm25), kind="stable"), kind="stable")
    top = [i for i, u in enumerate(units) if u.rank == 0]
    top_best = max(top, key=lambda i: cos[i]) if top else None
    out = []
    for i, u in enumerate(units):
        own = members[u.passage.id]
        support = [similar[i, members[p]].max() for p in leading if p != u.passage.id]
        out.append(
            {
                "cosine_z": (cos[i] - cos.mean()) / spread,
                "support_mean": float(np.mean(support)) if support else 0.0,
                "support_max": float(np.max(support)) if support else 0.0,
                "lexical_rank": 1 / (1 + lexical_rank[i]),
                "bm25_rank": 1 / (1 + bm25_rank[i]),
                "similar_to_top_best": float(similar[i, top_best]) if top_best is not None else 0.0,
                "passage_units": float(len(own)),
                "relative_position": u.position / len(own),
            }
        )
    return out


def _bm25(keywords: frozenset[str], texts: list[str], idf, weight: float) -> list[float]:
    """Each text's BM25 against the question's content words (length-normalised against
    these units' mean), over the words' idf sum: 0 to about BM25_K1 + 1."""
    lengths = [len(words_of(t)) for t in texts]
    mean = sum(lengths) / max(len(lengths), 1) or 1.0
    scores = []
    for text, length in zip(texts, lengths, strict=True):
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / mean)
        # A word counts once (content_words is a set): sentences rarely repeat one.
        matched = keywords & content_words(text)
        scores.append(math.fsum(idf(w) * (BM25_K1 + 1) / (1 + norm) for w in matched) / weight)
    return scores


def _neighbour_cosines(units: list[Unit]) -> list[float]:
    """The best cosine among the units just before and after each, in its passage."""
    by_passage: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_passage.setdefault(u.passage.id, []).append(i)
    out = [0.0] * len(units)
    for members in by_passage.values():
        members = sorted(members, key=lambda i: units[i].start)
        for j, i in enumerate(members):
            around = [units[members[k]].cosine for k in (j - 1, j + 1) if 0 <= k < len(members)]
            out[i] = max(around, default=0.0)
    return out


# -- theme partners ----------------------------------------------------------------------
def with_theme_partners(
    index: LiveIndex, results: Sequence[ScoredPassage], filters: Filters | None
) -> list[ScoredPassage]:
    """The results, each challenge or mitigation passage followed by the challenge and
    mitigation paragraphs of its theme in its document (the first MAX_PARTNERS).

    A paper may link a difficulty to how programmes handle it through a theme, and
    wording alone often misses the partner ("pair people" retrieves a quote about
    matching but not "offered other matches"). A partner is not a retrieval hit: its
    score is 0. Looked up by the index's filter columns, so a large index costs no scan.
    """
    active = filters.active() if filters else {}
    seen = {p.id for p in results}
    expanded: list[ScoredPassage] = []
    for passage in results:
        expanded.append(passage)
        if passage.stance not in STANCE_GROUPS or not passage.theme:
            continue
        wanted = {
            "document": [passage.document],
            "theme": [passage.theme],
            "kind": ["paragraph"],
            "stance": list(STANCE_GROUPS),
        }
        for key, allowed in active.items():  # and the request's own filters
            wanted[key] = [v for v in wanted.get(key, allowed) if v in allowed]
        for partner in index.select(wanted, limit=MAX_PARTNERS):
            if partner.id not in seen:
                seen.add(partner.id)
                expanded.append(
                    ScoredPassage(
                        **partner.model_dump(),
                        context=partner.context,
                        score=0.0,
                        study=index.study(partner.document),
                    )
                )
    return expanded


# -- selection ---------------------------------------------------------------------------
def score_units(units: list[Unit], selector: Selector) -> None:
    if units:
        x = np.stack([u.features for u in units])
        for u, s, lead in zip(units, selector.predict(x), selector.predict_lead(x), strict=True):
            u.score, u.lead = float(s), float(lead)


def select(units: Sequence[Unit], policy: Policy, limit: int | None = None) -> list[Unit]:
    """The units that answer, lead first.

    The lead is the unit of the best lead score, except that a bare figure (a table row
    with no word past its label) leads only when it beats every unit in words by
    policy.margin, and the top passage's best unit (by score) keeps the lead unless
    another's lead score beats it by policy.margin and the other says something in
    words (a bare figure does not take the lead, nor keep it). The top passage's best
    policy.top_units units (by score) follow the lead, so the answer holds what they hold
    whichever unit leads. A lead scoring policy.alone or more, or holding policy.alone_share of the
    lead model's softmax over the units, ends the answer there. Further units follow
    while they score at least policy.ratio of the lead and above policy.floor, at most
    policy.max_units (or `limit`), never two saying the same thing and at most
    MAX_PER_PASSAGE of one passage. A chosen unit of at most policy.continuation words
    is followed by the next unit of its passage (`continued`).
    """
    if not units:
        return []
    ranked = sorted(units, key=lambda u: -u.score)
    lead = max(units, key=lambda u: u.lead_score)
    worded = [u for u in units if not u.wordless] if lead.wordless else []
    if worded:
        said = max(worded, key=lambda u: u.lead_score)
        if lead.lead_score < said.lead_score + policy.margin:
            lead = said
    top = [u for u in ranked if u.rank == 0]
    if top and lead.rank != 0:
        holds = not top[0].wordless and lead.lead_score < top[0].lead_score + policy.margin
        if lead.wordless or holds:
            lead = top[0]
    most = limit or policy.max_units
    chosen = [lead]
    for u in top[: policy.top_units]:
        if u is not lead and len(chosen) < most and not _redundant(u, chosen):
            chosen.append(u)
    # (a share of 1.0 is a lone unit's, which nothing follows anyway)
    if lead.score >= policy.alone or (
        policy.alone_share < 1.0 and lead_share(lead, units) >= policy.alone_share
    ):
        # the lead answers: say it (and the top passage's best) and stop
        return continued(chosen, units, policy.continuation)
    bar = max(policy.floor, policy.ratio * lead.score)
    for u in ranked:
        if len(chosen) >= most or u.score < bar:
            break
        if u in chosen or _redundant(u, chosen):
            continue
        if sum(c.passage.id == u.passage.id for c in chosen) >= MAX_PER_PASSAGE:
            continue
        chosen.append(u)
    return continued(chosen, units, policy.continuation)


def continued(chosen: list[Unit], units: Sequence[Unit], words: int) -> list[Unit]:
    """Each chosen unit of at most `words` words followed by the next unit of its passage
    (when not chosen already): a short framing sentence ("Programme leaders described 1
    common challenge.") says only that its passage goes on to the content."""
    if words <= 0:
        return chosen
    out: list[Unit] = []
    for u in chosen:
        out.append(u)
        if u.is_quote or u.passage.kind in WHOLE_KINDS or word_count(u.text) > words:
            continue
        after = [v for v in units if v.passage.id == u.passage.id and v.start >= u.end]
        nxt = min(after, key=lambda v: v.start, default=None)
        if nxt is not None and nxt not in chosen and nxt not in out:
            out.append(nxt)
    return out


def lead_share(lead: Unit, units: Sequence[Unit]) -> float:
    """The lead's probability under the lead model (a softmax over the question's units):
    near 1 when it alone stands out, whatever the other units' level."""
    scores = np.asarray([u.lead_score for u in units])
    return float(1 / np.exp(scores - lead.lead_score).sum())


def _redundant(unit: Unit, chosen: Sequence[Unit]) -> bool:
    doc, start, end = unit.span
    for c in chosen:
        c_doc, c_start, c_end = c.span
        if doc == c_doc and start < c_end and c_start < end:
            return True  # the same words (a paragraph often quotes a table quote)
        if float(unit.vector @ c.vector) > REDUNDANT or unit.text in c.text or c.text in unit.text:
            return True
    return False


def grouped(units: Sequence[Unit], policy: Policy) -> list[tuple[str, list[Unit]]]:
    """Challenges, then how programmes address them (mitigations of a chosen challenge's
    theme first), each chosen as `select` chooses."""
    challenges = select([u for u in units if u.stance == "challenge"], policy, policy.per_group)
    themes = {u.passage.theme for u in challenges if u.passage.theme}
    mitigations = [
        replace(u, score=min(1.0, u.score + policy.theme_bonus)) if u.passage.theme in themes else u
        for u in units
        if u.stance == "mitigation"
    ]
    return [
        ("challenge", challenges),
        ("mitigation", select(mitigations, policy, policy.per_group)),
    ]
