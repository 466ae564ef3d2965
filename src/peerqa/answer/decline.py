"""Whether to decline a question, and a true sentence saying why.

Two kinds of decline (`peerqa.models.Answer.reason_code`):
- medical_advice, a safety refusal: individual advice, or a clinical fact (dose, drug
  choice, prognosis, survival, diagnosis, side effects) however impersonally asked;
- out_of_scope: the evidence held does not cover the question (off-topic, another sense
  of "peer", or nothing retrieved is about it).

Signals, in order:
1. intent: a classifier fitted on a training set of questions (answer/intent.py) says
   what the question asks for; an off-topic label yields only to evidence closer than
   its own fitted threshold;
2. support: the best cosine between the question and a sentence of the retrieved
   passages; below a threshold fitted on the curated set's non-test questions
   (answer/data/support.json, by `python -m peerqa.eval.fit_decline`, its wrongly-declined
   budget chosen out of fold) nothing retrieved is about the question, and below a
   higher one a question the intent model leans against is declined;
3. unknown names: the question names something (an organisation, a place, a year, an
   acronym) that occurs nowhere in the evidence under any of its forms (case, plural,
   retrieval/shorthand.json's expansions, initials), and support is below a second fitted
   threshold, so nothing retrieved can be about *it*; or the name is the source the
   question asks about ("what did the 2019 Cochrane review say"), whatever the support:
   evidence that never mentions a source cannot say what it found.

A question about the study that carries a caveat (a false premise, an outcome no passage
reports) is answered with it, not declined on support or names: what it asks for is
absent, so little close evidence is what it should find.

The question's intent, names and sources are read once, by answer.question.understand;
this module only adds what retrieval returned (support) and decides.

Every reason is checked before it is said: a name is only reported missing when the
check every claim of absence passes (answer.caveats.Mentions) finds it nowhere in the
whole text, under any of its forms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from peerqa.answer import lexicon
from peerqa.answer.caveats import Mentions
from peerqa.answer.intent import (
    CLINICAL_FACT,
    DIAGNOSIS,
    EVIDENCE,
    MEDICAL_ADVICE,
    OFF_TOPIC,
    OTHER_PEER_SENSE,
    Intent,
    elsewhere_rule,
    in_crisis,
    safety_rule,
    symptom_rule,
    word_lists,
)
from peerqa.answer.sentences import bank_for
from peerqa.models import ScoredPassage
from peerqa.retrieval.expansion import shorthand
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.segment import sentence_spans

if TYPE_CHECKING:  # answer.question reads this module's names check
    from peerqa.answer.question import Question

SUPPORT_ARTEFACT = Path(__file__).with_name("data") / "support.json"
OUT_OF_SCOPE = "out_of_scope"

_SCOPE = "peerqa summarises research on peer support programmes"
_ASK = "please ask a clinician or pharmacist"


@dataclass(frozen=True)
class Decline:
    reason_code: str  # "medical_advice" (a safety refusal) or "out_of_scope"
    reason: str  # a plain sentence, true of the question and the evidence held
    why: str  # what decided it: an intent class, "no_results", "support", "unknown_names"


@dataclass(frozen=True)
class Thresholds:
    support_below: float  # decline when the best sentence cosine is below this,
    leaning_support_below: float  # …or the intent model leans to declining and it is below this,
    unknown_name_support_below: float  # …or a name is unknown and it is below this
    # A question the intent model labels off-topic yields to evidence at least this close
    # (a user's own paper may cover what the intent model never saw); None: the leaning
    # threshold. Fitted apart from it: workplace questions a clinician sends (rotas, EHRs,
    # billing) sit as close to health care research as terse in-scope questions do.
    off_topic_support_below: float | None = None

    @property
    def off_topic_yields_at(self) -> float:
        if self.off_topic_support_below is None:
            return self.leaning_support_below
        return max(self.off_topic_support_below, self.leaning_support_below)


@lru_cache
def load_thresholds(path: Path = SUPPORT_ARTEFACT) -> Thresholds:
    fitted = json.loads(path.read_text(encoding="utf-8"))["thresholds"]
    return Thresholds(**fitted)


@dataclass(frozen=True)
class Signals:
    """What the decision is made from (the fitting script reads them too)."""

    intent: Intent
    support: float | None  # None: retrieval returned nothing
    unknown: tuple[str, ...]
    sources: tuple[str, ...] = ()  # unknown names of the source the question asks about
    caveat: str | None = None  # the kind of the question's caveat (false premise, not reported)
    # How close the best sentence is to the question without the names the evidence
    # mentions ("how many staff does johns hopkins employ" without "johns hopkins"); None
    # when it names none or reads as evidence. What an off-topic reading yields to.
    topic_support: float | None = None

    @property
    def off_topic_support(self) -> float | None:
        return self.support if self.topic_support is None else self.topic_support


def signals(q: Question, results: Sequence[ScoredPassage], index: LiveIndex) -> Signals:
    """The question's intent and unknown names as `understand` read them, and how close
    the best retrieved sentence is to it (or to its shorthand spelled out)."""
    if q.intent is None:
        raise ValueError("decline reads a Question from answer.question.understand")
    vectors = [q.vector]
    if q.spelled_vector is not None and q.spelled_vector is not q.vector:
        vectors.append(q.spelled_vector)
    support = topic = None
    if results:
        splits = [s for s in bank_for(index).split(results) if len(s.sentences)]
        support = max((float((s.vectors @ v).max()) for s in splits for v in vectors), default=0.0)
        if q.topic_vector is not None:
            topic = max((float((s.vectors @ q.topic_vector).max()) for s in splits), default=0.0)
    caveat = q.caveat.kind if q.caveat else None
    return Signals(q.intent, support, q.unknown, q.sources, caveat, topic)


def decide(q: Question, results: Sequence[ScoredPassage], index: LiveIndex) -> Decline | None:
    """Why peerqa must not answer the understood question `q`, or None when it may;
    `results` is what retrieval returned for it."""
    return verdict(q.raw, signals(q, results, index), index)


def verdict(
    question: str, s: Signals, index: LiveIndex, thresholds: Thresholds | None = None
) -> Decline | None:
    t = thresholds or load_thresholds()
    label = s.intent.label
    held = evidence_of(index).description
    # A source the evidence never mentions comes first: whatever the question asks of it
    # (a clinical finding included), the evidence cannot say what it found.
    if s.sources:
        return _unmentioned(
            held,
            s.sources,
            "the source this question asks about, so it cannot say what it found",
            "unknown_source",
        )
    # A clinical outcome asked of the study's own programmes or peers ("how much did HbA1c
    # fall in Programme G's pts?") is a question about the study, owed its caveat (not
    # reported, a false premise) below rather than a safety refusal. Only the model's
    # reading yields: what the safety rule reads (a drug, a person's care) stays refused.
    # Which of the programmes serves a condition ("cystic fibrosis - is one of the 7 for
    # that?", "which programme takes newly diagnosed pts?") asks about the programmes,
    # whatever condition or diagnosis it names; not with a drug or another clinical aspect
    # ("max dose of sertraline in one of the 7 programmes").
    lists = word_lists()
    programmes_asked = (
        lexicon.pattern("asks_programmes").search(question)
        and not lists.drugs.search(question)
        and not any(p.search(question) for k, p in lists.aspects.items() if k != DIAGNOSIS)
    )
    about_study = (
        (s.caveat and asks_of_peer_support(question)) or programmes_asked
    ) and not safety_rule(question)
    if label in (MEDICAL_ADVICE, CLINICAL_FACT) and not about_study:
        # What a drug costs, who pays for it or how care is billed or coded reads clinical
        # but is no clinical fact: the true reason is that the evidence does not cover it
        # (unless a person's care or a clinical aspect is asked).
        asks_clinical = any(p.search(question) for p in lists.aspects.values())
        priced = lists.not_clinical.search(question)
        billed = lists.administration.search(question)
        if asks_clinical or not (priced or billed) or safety_rule(question):
            return Decline(MEDICAL_ADVICE, _safety_reason(label, question), label)
        asks = (
            "what a treatment costs or who pays for it"
            if priced
            else f"“{billed.group()}”, the administration of care"
        )
        return Decline(
            OUT_OF_SCOPE,
            f"The evidence held ({held}) does not cover this question: it asks about {asks}, "
            "not about peer support.",
            label,
        )
    if label == OTHER_PEER_SENSE:
        sense = _first_match(word_lists().senses, question)
        about = f"about {sense}, another meaning" if sense else "about another meaning"
        return Decline(
            OUT_OF_SCOPE,
            f"This question is {about} of “peer”; the evidence held ({held}) is research "
            "on peer support in health care and does not cover it.",
            label,
        )
    # An off-topic reading yields to evidence as close as its fitted threshold asks: a
    # user's own paper may answer what the intent model never saw ("What is Kooth?"). Not
    # when it names what the evidence never mentions ("best EHR for a 3-GP practice",
    # "medicare billing code for a peer support visit"): close sentences about peer
    # support are then not about *it*.
    # (Looked up only for an off-topic label: it reads the whole evidence.)
    # A question the model only leans off-topic is declined for administration words too
    # ("CPT code for a psychotherapy session" sits close to sentences about therapy).
    off_topic = OFF_TOPIC in (label, s.intent.leaning)
    unused = unmentioned_administration(question, evidence_of(index)) if off_topic else ()
    # Evidence close only through a name it mentions ("how many staff does johns hopkins
    # employ" and the IRB sentence) is not about what is asked: an off-topic reading
    # yields to the question's support without those names.
    topical = s.off_topic_support
    # Nor when what it asks is something no question about the evidence asks ("how do I
    # install NVivo on a mac", "who won best picture at the 2017 oscars"): sentences close
    # through "NVivo" or a year are not about installing it or an award.
    never = label == OFF_TOPIC and elsewhere_rule(question)
    if (
        label == OFF_TOPIC
        and (never or topical is None or topical < t.off_topic_yields_at or s.unknown)
    ) or (off_topic and unused and not s.caveat):
        return Decline(
            OUT_OF_SCOPE,
            _off_topic_reason(held, question, s.unknown, unused, topical, t.off_topic_yields_at),
            label,
        )
    if s.support is None:
        return Decline(
            OUT_OF_SCOPE,
            f"No passage of the evidence held ({held}) matches this question and its filters.",
            "no_results",
        )
    # A question about the study that takes for granted what it does not have, or asks
    # for what no passage reports, is owed that honest partial answer (its caveat), not a
    # decline: little close evidence is what such a question is expected to find.
    if s.caveat and (s.intent.leaning == EVIDENCE or word_lists().peer_support.search(question)):
        return None
    # Leaning first: a question that leans to a safety class and is far from the evidence
    # is declined for safety, not only as not covered.
    leaning = topical if s.intent.leaning == OFF_TOPIC else s.support
    if s.intent.leaning != EVIDENCE and (leaning or 0.0) < t.leaning_support_below:
        # What a drug costs or who pays for it leans clinical but is no clinical fact.
        priced = word_lists().not_clinical.search(question)
        if s.intent.leaning in (MEDICAL_ADVICE, CLINICAL_FACT) and not priced:
            return Decline(MEDICAL_ADVICE, _safety_reason(s.intent.leaning, question), "leaning")
        return Decline(
            OUT_OF_SCOPE,
            f"The evidence held ({held}) does not cover this question: it does not read as a "
            f"question about peer support, and no sentence retrieved is close to "
            f"{_WHAT_IS_ASKED if s.topic_support is not None else 'it'} (best "
            f"similarity {leaning or 0.0:.2f}, below the {t.leaning_support_below:.2f} fitted for "
            "such questions).",
            "leaning",
        )
    if s.support < t.support_below:
        return Decline(
            OUT_OF_SCOPE,
            f"The evidence held ({held}) does not cover this question: no sentence retrieved "
            f"is close to it (best similarity {s.support:.2f}, below the "
            f"{t.support_below:.2f} the fitted threshold asks for).",
            "support",
        )
    if s.unknown and s.support < t.unknown_name_support_below:
        return _unmentioned(held, s.unknown, "so it cannot answer this question", "unknown_names")
    return None


# Said when support was read without the names the evidence mentions (Signals.topic_support).
_WHAT_IS_ASKED = "what it asks beyond the names the evidence mentions"


def _off_topic_reason(
    held: str,
    question: str,
    unknown: Sequence[str],
    unused: Sequence[str],
    support: float | None,
    yields_at: float,
) -> str:
    """Why an off-topic question is not covered, true of it: what it names that the
    evidence never mentions, when it names any; "not about peer support" only when it
    does not speak of peer support ("medicare billing code for a peer support visit"
    does, and is declined for the billing)."""
    found = [*unknown, *(w for w in unused if w not in unknown)]
    # "501" inside "501(c)(3)" is one thing missing, said once.
    names = [n for n in found if not any(n != o and n in o for o in found)]
    # What it asks, when its words say so ("NVivo licence price": a price or a purchase)
    # and it asks it of nothing in peer support.
    asked = _first_match(word_lists().asks, question)
    if asked and asks_of_peer_support(question):
        asked = None
    if names:
        listed = _listed([f"“{n}”" for n in names])
        # "who won best picture at the 2017 oscars": what it asks first, then the name.
        what = f"it asks about {asked}, not about peer support, and " if asked else "it "
        return (
            f"The evidence held ({held}) does not cover this question: {what}never mentions "
            f"{listed}, which the question asks about."
        )
    if asked:
        return (
            f"The evidence held ({held}) does not cover this question: it asks about {asked}, "
            "not about peer support or the research on it."
        )
    if asks_of_peer_support(question) and support is not None:
        return (
            f"The evidence held ({held}) does not cover this question: it mentions peer "
            "support but asks about something else, and no sentence retrieved is close to it "
            f"(best similarity {support:.2f}, below the {yields_at:.2f} fitted for such "
            "questions)."
        )
    return (
        f"The evidence held ({held}) does not cover this question: it is not about peer "
        "support or the care it complements."
    )


@lru_cache(maxsize=4096)  # the fit asks it of each question once per candidate cut-off
def unmentioned_administration(question: str, evidence: Evidence) -> tuple[str, ...]:
    """The question's words of health care administration (billing, payers, pay, records
    systems: answer/data/workplace.json) that the evidence never mentions."""
    found = []
    for i, term in enumerate(word_lists().administration_terms):
        # A term is looked up in every form its entry allows ("reimburs*": reimbursement).
        if (m := term.search(question)) and not evidence.has_term(i, term):
            found.append((m.start(), m.group()))
    return tuple(dict.fromkeys(w for _, w in sorted(found)))  # as the question says them


def asks_of_peer_support(question: str) -> bool:
    """The question speaks of peer support, its people or programmes ("peer trials",
    "Programme G's pts"), not only of research in general."""
    return bool(
        word_lists().speaks_of_support.search(question)
        or re.search(r"\bpeers?\b", question, re.IGNORECASE)
    )


def _unmentioned(held: str, names: Sequence[str], so: str, why: str) -> Decline:
    listed = _listed([f"“{n}”" for n in names])
    return Decline(
        OUT_OF_SCOPE, f"The evidence held ({held}) does not mention {listed}, {so}.", why
    )


def _safety_reason(label: str, question: str) -> str:
    if in_crisis(question):
        return (
            "This reads as someone at risk of harming themselves. If you or someone else may "
            "be in danger now, contact emergency services or a local crisis line straight "
            f"away. {_SCOPE} and cannot help in a crisis or advise on anyone's care."
        )
    if symptom_rule(question):
        # A symptom, a wound or a medicine of a person's own: who can look at it, not a
        # summary of research, and what to do if it is getting worse.
        return (
            "This asks for individual medical advice about a symptom, a wound or a medicine; "
            f"{_SCOPE} and cannot say whether something is normal for you or anyone else, "
            "or what to do about it. Please ask a clinician: the care team looking after you "
            "(or them), a GP, nurse or pharmacist; if it is getting worse quickly, or with fever, "
            "heavy bleeding or trouble breathing, contact emergency services."
        )
    aspects = word_lists().aspects
    # A diagnosis word is often only context ("newly dx T1D teen - how many carbs per unit
    # of insulin?"): it names what is asked only when nothing else does.
    aspect = _first_match({k: p for k, p in aspects.items() if k != DIAGNOSIS}, question)
    aspect = aspect or _first_match({DIAGNOSIS: aspects[DIAGNOSIS]}, question)
    if label == MEDICAL_ADVICE:
        asks = "individual medical advice" + (f" ({aspect})" if aspect else "")
        tail = "cannot advise on anyone's care"
    else:
        asks = f"a clinical fact ({aspect or 'about a drug, a disease or its treatment'})"
        tail = "cannot answer clinical questions"
    return (
        f"This asks for {asks}; {_SCOPE} and {tail}. "
        f"For this, {_ASK}; if it is urgent, contact emergency services."
    )


def _first_match(patterns: dict, text: str) -> str | None:
    """The list (of aspects or senses) whose words occur earliest in the text, the longer
    phrase first where two start together ("P2P lending" is lending, not networking)."""
    hits = [
        (m.start(), -len(m.group()), name) for name, p in patterns.items() for m in p.finditer(text)
    ]
    return min(hits)[2] if hits else None


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# -- the evidence held and the names it mentions ----------------------------------------
class Evidence:
    """The index's passages as one searchable text, per generation."""

    def __init__(self, index: LiveIndex):
        passages = list(index.passages.values())
        self.text = "\n".join(p.text for p in passages)
        documents = len({p.document for p in passages})
        self.description = f"{documents} document{'s' if documents != 1 else ''}"
        self._name_pairs = _name_pairs(self.text)
        self._terms: dict[int, bool] = {}

    def without_names(self, question: str) -> str:
        """The question without the names of two words or more the evidence mentions,
        however the question cases them ("johns hopkins", "weight watchers")."""
        words = list(re.finditer(r"[\w’'&-]+", question))
        named = set()
        for a, b in zip(words, words[1:], strict=False):
            pair = (a.group().lower(), re.sub(r"['’]s$", "", b.group().lower()))
            if pair in self._name_pairs:
                named |= {a.start(), b.start()}
        kept = [w.group() for w in words if w.start() not in named]
        return " ".join(kept) if named else question

    def has_term(self, key: int, term: re.Pattern[str]) -> bool:
        """Whether a word list's term occurs (searched once per evidence)."""
        if key not in self._terms:
            self._terms[key] = bool(term.search(self.text))
        return self._terms[key]


_SMALL = frozenset("a an the of on for and to in i we it".split())


def _name_pairs(text: str) -> frozenset[tuple[str, str]]:
    """Adjacent capitalised words of the evidence ("Johns Hopkins", "Weight Watchers"),
    lowercased, that it never writes in lower case ("Peer Support" in a title is no name:
    "peer support" is its subject): the parts of its names."""
    found = set()
    for m in re.finditer(r"[A-Z][\w’'&-]*(?:\s+[A-Z][\w’'&-]*)+", text):
        caps = [w.lower() for w in m.group().split()]
        found |= {p for p in zip(caps, caps[1:], strict=False) if not set(p) & _SMALL}
    return frozenset(p for p in found if not _written(p, text))


def _written(pair: tuple[str, str], text: str) -> bool:
    """`text` holds the two words as written, whitespace between them, each a whole word:
    the search for the first word's literal, its start's word boundary checked by hand (a
    pattern starting at a word boundary scans the whole text at every character: seconds
    for a few papers' names)."""
    if pair[0] not in text or pair[1] not in text:
        return False
    pattern = re.compile(rf"{re.escape(pair[0])}\s+{re.escape(pair[1])}\b")
    m = pattern.search(text)
    while m is not None:
        # Its first letter is a word character: \b before it is no word character before.
        if m.start() == 0 or not _WORD_CHAR.match(text, m.start() - 1):
            return True
        m = pattern.search(text, m.start() + 1)
    return False


_WORD_CHAR = re.compile(r"\w")


def evidence_of(index: LiveIndex) -> Evidence:
    """The generation's Evidence, made once with it (answer.sentences.warm)."""
    return bank_for(index).derived("evidence", Evidence)


_NAME = re.compile(r"\b(?:[A-Z][\w’'&-]*[A-Za-z0-9]|\d{3,})")


def unknown_names(question: str, mentions: Mentions) -> tuple[str, ...]:
    """The names in `question` the evidence never mentions (`Mentions.where`: nowhere in
    any document's whole text, under any form): capitalised words (not sentence-initial),
    acronyms, long numbers and shorthand names (NIMH, nami, CF). Everyday shorthand (GP,
    pts, dx) is understood, never a name."""
    short = {s.start: s for s in shorthand(question)}
    names: list[str] = []
    for s in short.values():
        if s.name and mentions.where(s.form) is None:
            names.append(s.form)
    for start, end in sentence_spans(question):
        for m in _NAME.finditer(question, start, end):
            if m.start() in short or any(a.start <= m.start() < a.end for a in short.values()):
                continue
            if m.start() == start and not re.search(r"[A-Z]", m.group()[1:]):
                continue  # a sentence's first word is capitalised anyway ("SystmOne" is a name)
            if re.fullmatch(r"I['’](?:m|ve|d|ll)", m.group()):
                continue  # "I'm a GP": the asker, not a name
            word = re.sub(r"(?:'s|’s)$", "", m.group())
            # "NAMI-style", "AA-type": the name is the part before a lowercase suffix.
            word = re.sub(r"(?<=[A-Za-z0-9])-[a-z]+$", "", word)
            if len(word) >= 2 and word not in names and mentions.where(word) is None:
                names.append(word)
    return tuple(names)
