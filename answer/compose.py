"""Ranked passages -> a cited, extractive Answer (no LLM).

The answer is made only of verbatim sentences of the retrieved passages, each followed by
the marker of the passage it comes from. Layout (what clients and eval parse):

    <lead sentences, one paragraph: "Sentence. [1] Sentence. [2] …">
  or, when the question asks about challenges *and* how programmes handle them:
    Challenges:
    <sentences [n] …>

    How programmes address them:
    <sentences [n] …>
  then at most two participant quotes, one per line, after a heading:
    In participants’ words:
    <quote sentence(s)> [n] — programme leader, Programme F

Headings and attributions carry no marker and state no evidence; every other piece of
text is "verbatim sentence [n]", where passage n's text contains the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from answer.abstain import MEDICAL_ADVICE, OUT_OF_SCOPE, abstain_reason
from answer.followup import retrieval_query
from answer.sentences import (
    WHOLE_KINDS,
    Sentence,
    SentenceBank,
    bank_for,
    split_passage,
    words_of,
)
from peerqa.models import Answer, Citation, Filters, Passage, ScoredPassage
from peerqa.segment import word_count
from retrieval.hybrid import LiveIndex

DEFAULT_TOP_K = 8
MIN_SENTENCES, MAX_SENTENCES = 3, 6
MIN_PER_STANCE, MAX_PER_STANCE = 2, 3  # grouped answers: sentences of each stance
THEME_BONUS = 0.1  # a mitigation of the theme of a chosen challenge
MAX_QUOTES = 2
MAX_PER_PASSAGE = 2
MIN_WORDS = 5  # shorter "sentences" are fragments ("Table 4.", "It’s not just a surgery.")
MMR_LAMBDA = 0.7  # relevance vs. novelty in selection
REDUNDANT = 0.85  # cosine above which two sentences say the same thing
RANK_WEIGHT = 0.08  # prior for the passage's retrieval rank (fusion sees BM25 too)
FACTS_TOP_RANKS = 2  # a table row or reference this high means the question is factual
LEXICAL_WEIGHT = 0.2  # share of the question's content words in the sentence
STANCE_BONUS = 0.05  # a sentence of the stance the question asks about
RELATIVE_FLOOR = 0.12  # past MIN_SENTENCES, stop below best relevance minus this
QUOTE_LEAD = 0.03  # a quote beats the answer's best sentence by this much…
QUOTE_ON_TOPIC = 0.5  # …or is this close to the question (0.6 -> 0.5: cites gold .700 -> .718)
QUOTE_SPREAD = 0.05  # a second quote is about as relevant as the first
QUOTE_WHOLE_WORDS = 45  # a quote this short is given whole, opening to closing mark
QUOTE_MIN_WORDS = 12  # a longer one is cut to sentences, at least this many words

STANCE_GROUPS = ("challenge", "mitigation")
MAX_PARTNERS = 6  # theme partners per result (the paper has at most 3 a theme)
CHALLENGES_HEADING = "Challenges:"
MITIGATIONS_HEADING = "How programmes address them:"
QUOTES_HEADING = "In participants’ words:"

ROLE_WORDS = {
    "programme_leader": "programme leader",
    "peer_supporter": "peer supporter",
    "peer_recipient": "peer support recipient",
}

# What the question asks about.
_ASKS_CHALLENGE = re.compile(
    r"\b(challeng\w*|problems?|difficult\w*|hard|harder|barriers?|struggl\w*|go(?:es)? wrong|"
    r"went wrong|obstacles?|issues?|headaches?|push(?:es|ing)? back|resist\w*|sceptic\w*|"
    r"skeptic\w*|downsides?|risks?|burdens?|drawbacks?|fail\w*|drift\w*)\b",
    re.IGNORECASE,
)
_ASKS_MITIGATION = re.compile(
    r"\b(address\w*|handl\w*|fix\w*|solv\w*|deal(?:s|t)? with|overcom\w*|prevent\w*|"
    r"protect\w*|avoid\w*|ensur\w*|make sure|win over|won over|on board|mitigat\w*|"
    r"tackl\w*|respond\w*|stop\w*|cope with|get round|get around)\b",
    re.IGNORECASE,
)
# Programme facts (Table 2) and cited literature: when table rows and references help.
_ASKS_FACTS = re.compile(
    r"\b(programmes? [A-G]\b|(?:which|what) (?:programmes?|programs?|schemes?)|"
    r"the [\w-]+ (?:programme|program|scheme)|(?:programme|program|scheme)s? (?:for|that)|"
    r"how many|how long|setting|reach|offer\w*|cover\w*|"
    r"national|local|regional|hospital-based|community-based|interview\w*|participants|"
    r"studies|study|trials?|evidence|research|references?|cite[ds]?|citation|literature|"
    r"paper|review|published|reports?|found|find(?:ings)?)\b",
    re.IGNORECASE,
)
# How a sentence of an unlabelled passage reads: describing a difficulty or a response.
_SAYS_MITIGATION = re.compile(
    r"\b(addressed|address|to ensure|ensure|put processes in place|training|trained|"
    r"supervision|oversight|we offer|offered|we try|we do try|checked up|follow up|manuals?|"
    r"code of conduct|encourag\w+|selection)\b",
    re.IGNORECASE,
)
_SAYS_CHALLENGE = re.compile(
    r"\b(challeng\w*|difficult\w*|barriers?|problems?|struggl\w*|hard|limited|vulnerab\w*|"
    r"stress|sceptic\w*|territorial|expensive)\b",
    re.IGNORECASE,
)
# Would read as one of our markers: a sentence holding one cannot be cited unambiguously.
_MARKER_LIKE = re.compile(r"\[\d+\]")
_STOPWORDS = frozenset(
    """a about after all also an and any are as at be been being but by can could did do
    does doing for from get got had has have how i if in into is it its just like many me
    more most much my no not of on one or other our out so some such than that the their
    them then there these they this those to too up us very was we were what when where
    which who whom why will with would you your""".split()
)


@dataclass
class Candidate:
    sentence: Sentence
    passage: ScoredPassage
    vector: np.ndarray
    cosine: float  # to the question, before priors
    relevance: float
    stance: str | None


def compose(
    index: LiveIndex,
    question: str,
    top_k: int = DEFAULT_TOP_K,
    filters: Filters | None = None,
    history: Sequence[str] = (),
) -> Answer:
    """Answer `question` from the index, or abstain (see answer.abstain)."""
    index.require()
    query = retrieval_query(question, history)
    results = index.search(query, top_k=top_k, filters=filters)
    reason = abstain_reason(question, results, index, history)
    if reason:
        return abstention(question, reason)

    asked = asked_stances(query)
    if asked:
        results = with_theme_partners(index, results, filters)
    candidates = score_candidates(bank_for(index), query, question, results, asked)
    prose = [c for c in candidates if c.passage.kind != "quote"]

    blocks = grouped_blocks(prose) if asked == set(STANCE_GROUPS) else []
    if not all(chosen for _, chosen in blocks) or not blocks:  # one side without evidence
        blocks = [(None, select(prose, MAX_SENTENCES, minimum=MIN_SENTENCES))]
    chosen = [c for _, block in blocks for c in block]
    quotes = select_quotes([c for c in candidates if c.passage.kind == "quote"], chosen)
    if not chosen and not quotes:
        return abstention(question, f"{OUT_OF_SCOPE}: no retrieved sentence can be quoted")
    return render(question, blocks, quotes)


def abstention(question: str, reason: str) -> Answer:
    return Answer(question=question, answer=abstention_text(reason), abstained=True, reason=reason)


# -- scoring -----------------------------------------------------------------------------
def with_theme_partners(
    index: LiveIndex, results: Sequence[ScoredPassage], filters: Filters | None
) -> list[ScoredPassage]:
    """The results, each challenge or mitigation passage followed by the challenge and
    mitigation paragraphs of its theme in its document (the first MAX_PARTNERS).

    The paper links a difficulty to how programmes handle it through the theme, and
    wording alone often misses the partner: "pair people" retrieves a quote about
    matching but neither the matching challenge nor "offered other matches".
    A partner is not a retrieval hit, so its score is 0. Looked up by the index's
    filter columns, so a large index costs no scan (and a theme shared by thousands of
    passages no thousands of sentences to embed).
    """
    active = filters.active() if filters else {}
    seen = {p.id for p in results}
    expanded: list[ScoredPassage] = []
    for passage in results:
        expanded.append(passage)
        if passage.stance not in STANCE_GROUPS or not passage.theme:
            continue
        partner = {
            "document": [passage.document],
            "theme": [passage.theme],
            "kind": ["paragraph"],
            "stance": list(STANCE_GROUPS),
        }
        for key, allowed in active.items():  # and the request's own filters
            partner[key] = [v for v in partner.get(key, allowed) if v in allowed]
        partners = index.select(partner, limit=MAX_PARTNERS)
        for partner in partners:
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


def asked_stances(query: str) -> set[str]:
    asked = set()
    if _ASKS_CHALLENGE.search(query):
        asked.add("challenge")
    if _ASKS_MITIGATION.search(query):
        asked.add("mitigation")
    return asked


def sentence_stance(sentence: Sentence, passage: Passage) -> str | None:
    """The passage's challenge/mitigation label, else what the sentence itself says."""
    if passage.stance in STANCE_GROUPS:
        return passage.stance
    mitigation = bool(_SAYS_MITIGATION.search(sentence.text))
    challenge = bool(_SAYS_CHALLENGE.search(sentence.text))
    if mitigation != challenge:
        return "mitigation" if mitigation else "challenge"
    return passage.stance


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in words_of(text) if w not in _STOPWORDS and len(w) > 2}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def score_candidates(
    bank: SentenceBank,
    query: str,
    question: str,
    results: Sequence[ScoredPassage],
    asked: set[str],
) -> list[Candidate]:
    """Every usable sentence of the results with its relevance to the question.

    Relevance = cosine to the query (for a follow-up, the mean of the resolved query's and
    the bare question's, so "how do they fix that?" still pulls towards fixes) + a prior
    for the passage's rank + lexical overlap + a bonus when its stance is the one asked.
    """
    vector = bank.query_vector(query)
    if query != question:
        vector = (vector + bank.query_vector(question)) / 2
    keywords = content_words(query)
    facts = wants_facts(query, results)
    candidates = []
    for rank, (passage, split) in enumerate(zip(results, bank.split(results), strict=True)):
        if passage.kind in WHOLE_KINDS and not facts:
            continue
        prior = RANK_WEIGHT * (1 - rank / len(results))  # retrieval also saw BM25 and context
        for sentence, sentence_vector in zip(split.sentences, split.vectors, strict=True):
            if not _citable(sentence, passage):
                continue
            stance = sentence_stance(sentence, passage)
            overlap = len(keywords & content_words(sentence.text)) / max(len(keywords), 1)
            cosine = float(sentence_vector @ vector)
            relevance = (
                cosine
                + prior
                + LEXICAL_WEIGHT * overlap
                + (STANCE_BONUS if stance in asked else 0.0)
            )
            candidates.append(
                Candidate(sentence, passage, sentence_vector, cosine, relevance, stance)
            )
    return candidates


def wants_facts(query: str, results: Sequence[ScoredPassage]) -> bool:
    """Whether table rows and references may be cited: the question asks about programme
    facts or literature, or retrieval itself put a row or a reference on top."""
    top = results[:FACTS_TOP_RANKS]
    return bool(_ASKS_FACTS.search(query)) or any(p.kind in WHOLE_KINDS for p in top)


def _citable(sentence: Sentence, passage: Passage) -> bool:
    """Whole, single-line sentences that cannot be mistaken for a marker."""
    if "\n" in sentence.text or _MARKER_LIKE.search(sentence.text):
        return False
    return passage.kind in WHOLE_KINDS or sentence.words >= MIN_WORDS


# -- selection ---------------------------------------------------------------------------
def grouped_blocks(prose: Sequence[Candidate]) -> list[tuple[str, list[Candidate]]]:
    """Challenges, then how programmes address *those* challenges: mitigations sharing a
    theme with a chosen challenge get THEME_BONUS."""
    challenges = select(
        [c for c in prose if c.stance == "challenge"], MAX_PER_STANCE, minimum=MIN_PER_STANCE
    )
    themes = {c.passage.theme for c in challenges if c.passage.theme}
    mitigations = [
        replace(c, relevance=c.relevance + THEME_BONUS) if c.passage.theme in themes else c
        for c in prose
        if c.stance == "mitigation"
    ]
    return [
        (CHALLENGES_HEADING, challenges),
        (MITIGATIONS_HEADING, select(mitigations, MAX_PER_STANCE, minimum=MIN_PER_STANCE)),
    ]


def select(pool: Sequence[Candidate], limit: int, minimum: int) -> list[Candidate]:
    """Maximal marginal relevance: relevant, and not saying what is already chosen.

    At most MAX_PER_PASSAGE sentences of one passage, so the answer spreads over the
    evidence; after `minimum` picks, stops at the first candidate well below the best.
    """
    remaining = sorted(pool, key=lambda c: c.relevance, reverse=True)
    chosen: list[Candidate] = []
    while remaining and len(chosen) < limit:
        best = max(remaining, key=lambda c: _mmr(c, chosen))
        if len(chosen) >= minimum and best.relevance < chosen[0].relevance - RELATIVE_FLOOR:
            break
        remaining.remove(best)
        same_passage = sum(c.passage.id == best.passage.id for c in chosen)
        if same_passage < MAX_PER_PASSAGE and not _redundant(best, chosen):
            chosen.append(best)
    return chosen


def _mmr(candidate: Candidate, chosen: Sequence[Candidate]) -> float:
    novelty = max((float(candidate.vector @ c.vector) for c in chosen), default=0.0)
    return MMR_LAMBDA * candidate.relevance - (1 - MMR_LAMBDA) * novelty


def _redundant(candidate: Candidate, chosen: Sequence[Candidate]) -> bool:
    text = candidate.sentence.text
    return any(
        float(candidate.vector @ c.vector) > REDUNDANT
        or text in c.sentence.text
        or c.sentence.text in text
        for c in chosen
    )


def select_quotes(quotes: Sequence[Candidate], chosen: Sequence[Candidate]) -> list[Candidate]:
    """Up to MAX_QUOTES quotes, one per passage, each either more relevant than the best
    sentence of the answer or close to the question in its own right; a quote that only
    keeps up with the prose is usually colour on a neighbouring topic. A second quote must
    be about as relevant as the first, and none may repeat a chosen sentence (paragraphs
    often quote a table quote)."""
    bar = (chosen[0].relevance if chosen else 0.0) + QUOTE_LEAD
    picked: list[Candidate] = []
    for quote in sorted(quotes, key=lambda c: c.relevance, reverse=True):
        if len(picked) == MAX_QUOTES or (
            picked and quote.relevance < picked[0].relevance - QUOTE_SPREAD
        ):
            break
        if quote.relevance < bar and quote.cosine < QUOTE_ON_TOPIC:
            continue
        if any(q.passage.id == quote.passage.id for q in picked):
            continue
        unit = _quote_unit(quote)
        if not _redundant(unit, [*chosen, *picked]):
            picked.append(unit)
    return picked


def _quote_unit(quote: Candidate) -> Candidate:
    """What of a quote to show: all of it when short (with its own quotation marks),
    else its best sentence, run on into the next ones until it says something whole
    ("“The retreats are very expensive." alone does not)."""
    text = quote.passage.text
    if word_count(text) <= QUOTE_WHOLE_WORDS:
        start, end = 0, len(text)
    else:
        sentences = split_passage(quote.passage)
        first = last = quote.sentence.position
        while word_count(
            text[sentences[first].start : sentences[last].end]
        ) < QUOTE_MIN_WORDS and last + 1 < len(sentences):
            last += 1
        start, end = sentences[first].start, sentences[last].end
    unit = Sentence(quote.passage.id, start, end, text[start:end], quote.sentence.position)
    return replace(quote, sentence=unit) if _citable(unit, quote.passage) else quote


# -- rendering ---------------------------------------------------------------------------
def render(
    question: str,
    blocks: Sequence[tuple[str | None, Sequence[Candidate]]],
    quotes: Sequence[Candidate],
) -> Answer:
    markers: dict[str, Citation] = {}

    def cite(c: Candidate) -> str:
        if c.passage.id not in markers:
            marker = f"[{len(markers) + 1}]"
            markers[c.passage.id] = Citation(
                **c.passage.model_dump(), context=c.passage.context, marker=marker
            )
        return f"{c.sentence.text} {markers[c.passage.id].marker}"

    parts = []
    for heading, chosen in blocks:
        if not chosen:
            continue
        paragraph = " ".join(cite(c) for c in reading_order(chosen))
        parts.append(f"{heading}\n{paragraph}" if heading else paragraph)
    if quotes:
        lines = [f"{cite(q)} — {attribution(q.passage)}" for q in quotes]
        parts.append("\n".join([QUOTES_HEADING, *lines]))
    return Answer(
        question=question,
        answer="\n\n".join(parts),
        abstained=False,
        citations=list(markers.values()),
    )


def reading_order(chosen: Sequence[Candidate]) -> list[Candidate]:
    """Sentences of one passage together and in their original order; passages in the
    order of their most relevant sentence."""
    lead: dict[str, float] = {}
    for c in chosen:
        lead[c.passage.id] = max(lead.get(c.passage.id, c.relevance), c.relevance)
    return sorted(chosen, key=lambda c: (-lead[c.passage.id], c.sentence.start))


def attribution(passage: Passage) -> str:
    who = ROLE_WORDS.get(passage.role or "", "participant")
    return f"{who}, Programme {passage.programme}" if passage.programme else who


def abstention_text(reason: str) -> str:
    scope = (
        "I summarise published evidence about peer support programmes — their benefits, "
        "their challenges and how programmes address them, and the programmes and studies "
        "the evidence describes"
    )
    if reason.startswith(MEDICAL_ADVICE):
        return (
            "I can't answer that: it asks for individual medical advice. "
            f"{scope}; I can't advise anyone on a diagnosis, a medication or a dose. "
            "Please ask your clinician."
        )
    return (
        f"I can't answer that from the evidence I hold. {scope}, and I can't give "
        "individual medical advice."
    )
