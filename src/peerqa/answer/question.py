"""Stage 1, understand: a question and its session -> one `Question` every later stage reads.

The session is resolved once (answer.followup), the question embedded once (the vector
retrieval, the decline check and sentence scoring all use; its shorthand spelled out and
embedded once more only when it has any, for the intent model), and what it asks for is
named once: its intent (answer.intent), the names the evidence never mentions, the
stances (challenges, how programmes address them), programme facts, literature, the
programmes and papers it names, and an honest caveat when it asks for an outcome the
evidence never reports or presupposes a programme or count the evidence does not have
(answer.caveats).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from peerqa.answer import lexicon
from peerqa.answer.caveats import caveat_for, mentions_of
from peerqa.answer.coverage import coverage_of
from peerqa.answer.decline import evidence_of, unknown_names
from peerqa.answer.followup import intent_query, is_followup, retrieval_query
from peerqa.answer.intent import OFF_TOPIC, Intent, intent_text, load_intent_model
from peerqa.answer.scope import Scope, scope_for, without_names
from peerqa.embedding import QueryEncoding
from peerqa.models import Caveat, Filters
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.programmes import named_letters
from peerqa.words import content_words, words_of
from peerqa.words import light_stem as _stem

STANCE_GROUPS = ("challenge", "mitigation")


@dataclass(frozen=True)
class Question:
    raw: str  # as asked
    resolved: str  # the text retrieval reads: a follow-up joined to the turns it refers to
    followup: bool
    encoding: QueryEncoding  # what retrieval searches with (sentence and token vectors)
    vector: np.ndarray  # unit vector sentences are scored against (= encoding.vector)
    stances: frozenset[str]  # asked: "challenge", "mitigation"
    asks_facts: bool  # programme facts, the study's own numbers: table rows may answer
    asks_literature: bool  # cited studies: reference entries may answer
    programmes: tuple[str, ...]  # letters named ("Programme H" included)
    documents: tuple[str, ...]  # papers the answer is confined to (answer.scope), if any
    keywords: frozenset[str]  # stemmed content words of the resolved text
    caveat: Caveat | None
    # Read for the decline check (answer.decline); defaults let a later stage's test build
    # a Question without them.
    spelled: str = ""  # resolved with its shorthand spelled out ("NIMH (National Institute…)")
    spelled_vector: np.ndarray | None = None  # its unit vector (`vector` when nothing is spelled)
    intent: Intent | None = None  # what it asks for: evidence, or a class peerqa declines
    unknown: tuple[str, ...] = ()  # names in it the evidence never mentions under any form
    sources: tuple[str, ...] = ()  # of those, the ones naming a source it asks about
    scope: Scope = Scope()  # which papers it is about, and how that was decided
    # The unit vector of the question without the names the evidence mentions, when it
    # names any and reads off-topic (answer.decline: what an off-topic reading yields to).
    topic_vector: np.ndarray | None = None

    @property
    def grouped(self) -> bool:
        """Asks for challenges and how programmes address them, together."""
        return self.stances == frozenset(STANCE_GROUPS)


def asked_stances(text: str) -> frozenset[str]:
    return frozenset(s for s in STANCE_GROUPS if lexicon.pattern(f"asks_{s}").search(text))


def understand(
    index: LiveIndex,
    raw: str,
    history: Sequence[str] = (),
    focus: Sequence[str] | None = None,
    filters: Filters | None = None,
) -> Question:
    """`raw` in its session, read once (`focus`: the papers the session is on, see
    answer.scope).

    A follow-up is resolved against the turns it refers to, and its vector is the mean of
    the resolved text's and its own: "what about when the peer lives far away?" after a
    question about matching still searches for distance, not matching again.
    """
    # The papers an earlier turn names are the scope's to keep (answer.scope): what it
    # asked about is what a follow-up refers to ("What does Joo et al. 2022 report?" asks
    # about nothing in particular, so "how long?" after it is just "how long?").
    turns = [t for h in history if (t := topical(index, h))]
    resolved = retrieval_query(raw, turns)
    # What it asks for is read in the session even when it is searched for on its own
    # words ("what if the mum seems depressed?" after a question on a mothers' programme
    # asks about the programme, not for a diagnosis).
    in_session = intent_query(raw, turns)
    followup = bool(history) and is_followup(raw)
    encoding = index.encode(resolved)
    vector = np.asarray(encoding.vector)
    if followup:
        own = np.asarray(index.encode(raw).vector)
        blended = vector + own
        vector = blended / (np.linalg.norm(blended) or 1.0)
        encoding = QueryEncoding(tuple(vector.tolist()), encoding.tokens)
    # A follow-up's own stance is its new angle ("and how do they fix that?" after a
    # question about problems asks for fixes only); without one it keeps the session's.
    stances = asked_stances(raw) or asked_stances(resolved)
    letters = named_letters(resolved)
    spelled = intent_text(resolved)
    unknown = unknown_names(raw, mentions_of(index))
    spelled_vector = vector
    scope = scope_for(index, raw, history, focus, filters)
    if spelled != resolved:  # "funders other than NIMH" reads better spelled out
        spelled_vector = np.asarray(index.embed_model.get_query_embedding(spelled))
    intent_vector = spelled_vector
    if in_session != resolved:
        intent_vector = np.asarray(index.embed_model.get_query_embedding(intent_text(in_session)))
    intent = load_intent_model().classify(
        in_session, intent_vector, coverage_of(index).features(in_session)
    )
    topic_vector = None
    if OFF_TOPIC in (intent.label, intent.leaning):
        bare = evidence_of(index).without_names(raw)
        if bare != raw and content_words(bare):
            topic_vector = np.asarray(index.embed_model.get_query_embedding(bare))
            topic_vector = topic_vector / (np.linalg.norm(topic_vector) or 1.0)
    return Question(
        raw=raw,
        resolved=resolved,
        followup=followup,
        encoding=encoding,
        vector=vector,
        spelled=spelled,
        spelled_vector=spelled_vector,
        intent=intent,
        topic_vector=topic_vector,
        unknown=unknown,
        # "what did the 2015 trial of Programme B find" is about the held programmes: a
        # false premise to correct (caveat_for), not another source to decline.
        sources=() if letters else unknown_sources(raw, unknown),
        stances=stances,
        asks_facts=bool(letters or lexicon.pattern("asks_facts").search(resolved)),
        asks_literature=bool(lexicon.pattern("asks_literature").search(raw)),
        programmes=letters,
        documents=scope.documents,
        scope=scope,
        keywords=frozenset(content_words(resolved)),
        caveat=caveat_for(index, raw, letters, unknown, unknown_sources(raw, unknown)),
    )


# What a turn asks about when it only names a paper ("what does … report?").
_ABOUT_NOTHING = frozenset(
    "report find found say said show study paper article review trial research author "
    "tell summary summarise summarize overview main key conclusion".split()
)


def topical(index: LiveIndex, turn: str) -> str:
    """An earlier turn without its paper names, or "" when nothing else is asked."""
    rest = without_names(index, turn)
    return rest if content_words(rest) - {_stem(w) for w in _ABOUT_NOTHING} else ""


def unknown_sources(raw: str, unknown: Sequence[str]) -> tuple[str, ...]:
    """The unknown names that name the source the question asks about ("what did the 2019
    Cochrane review say", "findings of the X evaluation in Scotland"): evidence that never
    mentions a source cannot say what it found, however close its sentences are."""
    found: list[str] = []
    for m in lexicon.asks_source().finditer(raw) if unknown else ():
        said = set(words_of(m.group("np") + (m.group("after") or "")))
        found += [n for n in unknown if set(words_of(n)) <= said and n not in found]
    return tuple(found)
