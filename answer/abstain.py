"""When not to answer: requests for individual medical advice, and questions the corpus
does not answer.

Out of scope is decided by three signals, cheapest to explain first:
- support: the dense cosine between the (follow-up resolved) question and the best
  sentence of the retrieved passages; below SUPPORT_THRESHOLD nothing retrieved is about
  the question. The threshold is calibrated by `answer.calibrate` on the calibrate split.
- unknown names: the question names something (a drug, a place, an acronym, a year)
  that occurs nowhere in the corpus, so nothing retrieved can be about *it*.
- other senses of "peer": journal peer review, peer-to-peer networking, code review
  match "peer support" lexically; when the question sits closer to one of those senses
  than to any retrieved sentence it is about that sense.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from answer.followup import retrieval_query
from answer.sentences import SentenceBank, bank_for, words_of
from peerqa.models import ScoredPassage
from peerqa.segment import sentence_spans
from retrieval.hybrid import LiveIndex

# Fitted by `python -m answer.calibrate` on the calibrate split of eval/questions.jsonl
# (all-MiniLM-L6-v2, joo-2022 corpus, hybrid retrieval with expansion, top_k=8): the middle
# of the threshold interval with the best operating point, between the highest
# out-of-scope support no other rule catches (0.196, a weather question) and the lowest
# in-scope support (0.235, "main headaches in running one of these schemes").
# Operating point of the whole abstention decision at 0.215:
#   calibrate: in-scope wrongly abstained 0.0% (0/57), out-of-scope + advice abstained 100% (12/12)
#   test:      in-scope wrongly abstained 0.0% (0/53), out-of-scope + advice abstained 100% (10/10)
# The threshold alone abstains on 2/12 and 3/10 of those; with the advice rules, 8/12 and
# 7/10: unknown names and other senses of "peer" catch the rest.
SUPPORT_THRESHOLD = 0.215
# A question naming an unknown thing is still answered when the evidence is this close
# (the median in-scope support is ~0.55): the name is then incidental, not the topic.
UNKNOWN_NAME_OVERRIDE = 0.6
# "Peer" in the senses the corpus is not about; a question must also be this close to
# one of them, so vague in-scope questions with weak support are not swept in.
OTHER_PEER_SENSES = (
    "peer review of a manuscript submitted to an academic journal",
    "peer-to-peer computer networking",
    "code review by peers in a software engineering team",
)
OTHER_SENSE_MIN = 0.5

MEDICAL_ADVICE = "medical_advice"
OUT_OF_SCOPE = "out_of_scope"


# -- individual medical advice ---------------------------------------------------------
# Someone who could be treated: the asker, a relative, a patient. Not "my team", "my
# programme": programme designers asking about their own work are intended users.
_SUBJECT = (
    r"(?:i|he|she|my (?!own|team|staff|colleagues|service|programme|program|practice|"
    r"clinic|group|volunteers|mentors)\w+(?: \w+)?)"
)
# Any first-person or third-person-singular reference: advice is about a particular person.
_PERSONAL = re.compile(r"\b(?:i|i'm|i've|i'd|me|my|we|our|us|he|she|his|her|him)\b", re.IGNORECASE)
_MED_OBJECT = (
    r"(?:medications?|medicines?|meds|drugs?|pills?|tablets?|capsules?|doses?|dosage|"
    r"insulin|antidepressants?|antipsychotics?|chemo\w*|injections?|inhalers?|steroids?|"
    r"prescriptions?|treatments?|therapy|supplements?|painkillers?|antibiotics?|statins?)"
)
_TREATMENT_VERB = (
    r"(?:stop|stopping|quit|skip|start|take|taking|come off|go off|get off|switch|change|"
    r"reduce|lower|cut down|increase|raise|double|halve|inject|taper|wean off|keep taking|"
    r"try|use|mix)"
)
# Asking whether a particular person may or should do something: "should I", "I can",
# "is it safe for me to".
_DECISION = (
    rf"(?:(?:should|can|could|may|must|shall|ought to)\s+{_SUBJECT}"
    rf"|{_SUBJECT}\s+(?:should|can|could|may|must)"
    rf"|is it (?:ok|okay|safe|fine|alright) (?:for (?:me|him|her|{_SUBJECT}) )?to)"
)
_ADVICE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (why, re.compile(pattern, re.IGNORECASE))
    for why, pattern in (
        (
            "asks for a dose",
            r"\b(?:what|which|how much|how many)\b[^.?!]{0,40}"
            r"\b(?:dose|doses|dosage|dosing|mg|milligrams?|ml|millilit(?:er|re)s?|units?|"
            r"pills|tablets|capsules)\b"
            r"|\b(?:right|correct|safe|max(?:imum)?|starting|usual)\s+(?:dose|dosage)\b"
            rf"|\bhow (?:much|many)\s+{_MED_OBJECT}",
        ),
        (
            "asks whether to start, stop or change a treatment",
            rf"\b{_DECISION}\s+(?:\w+\s+){{0,2}}{_TREATMENT_VERB}\b[^.?!]{{0,30}}?"
            rf"\b{_MED_OBJECT}\b",
        ),
        (
            "asks which treatment to take",
            rf"\b(?:what|which)\s+(?:\w+\s+)?{_MED_OBJECT}\s+(?:should|can|could|would|must)\s+"
            rf"(?:{_SUBJECT}|we)\b",
        ),
        (
            "asks for a diagnosis",
            rf"\b(?:do|does|did|could|might|would)\s+{_SUBJECT}\s+have\b(?!\s+to\b)"
            r"|\bam i\s+(?:depressed|sick|ill|dying|having|pregnant|bipolar|diabetic)\b"
            r"|\b(?:is|could|might|would)\s+(?:this|it|that)\s+(?:just\s+|be\s+)*"
            r"(?:a |an )?(?:cancer|tumou?r|heart attack|stroke|infection|depression|serious|"
            r"dangerous|cyst|side effect|relapse|rejection)\b",
        ),
    )
)
# "Can I skip my tacrolimus on weekends": a treatment verb aimed at a particular person,
# and the few words after it.
_TREATED = re.compile(
    rf"\b{_DECISION}\s+(?:\w+\s+){{0,2}}{_TREATMENT_VERB}\b((?:\s+[\w’'-]+){{1,4}})",
    re.IGNORECASE,
)


def medical_advice_reason(question: str, vocabulary: frozenset[str] = frozenset()) -> str | None:
    """Why `question` asks for individual medical advice, or None.

    With the corpus vocabulary, "can I skip my tacrolimus" counts although the drug is in
    no list: a treatment verb for a particular person followed by a word the corpus never
    uses names a drug far more often than anything about peer support.
    """
    if not _PERSONAL.search(question):
        return None
    for why, pattern in _ADVICE_PATTERNS:
        if pattern.search(question):
            return why
    if vocabulary:
        for m in _TREATED.finditer(question):
            if any(len(w) > 3 and not _known(w, vocabulary) for w in words_of(m.group(1))):
                return "asks whether to start, stop or change a treatment"
    return None


# -- out of scope ----------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """The signals the out-of-scope decision is made from (calibration reads them too)."""

    support: float  # best sentence cosine among retrieved passages
    other_sense: float  # closest other sense of "peer"
    unknown_names: tuple[str, ...]


_NAME = re.compile(r"\b(?:[A-Z][\w’'-]*[A-Za-z0-9]|\d{3,})")


def unknown_names(question: str, vocabulary: frozenset[str]) -> tuple[str, ...]:
    """Capitalised words (not sentence-initial), acronyms and long numbers of `question`
    that occur nowhere in the corpus."""
    names = []
    for start, end in sentence_spans(question):
        for m in _NAME.finditer(question, start, end):
            if m.start() == start and not m.group().isupper():
                continue  # a sentence's first word is capitalised anyway
            parts = words_of(m.group().removesuffix("'s").removesuffix("’s"))
            if parts and not all(_known(w, vocabulary) for w in parts):
                names.append(m.group())
    return tuple(names)


def _known(word: str, vocabulary: frozenset[str]) -> bool:
    """In the corpus as is, singular, or as the stem of a longer word ("America")."""
    if len(word) < 2 or word in vocabulary or word.removesuffix("s") in vocabulary:
        return True
    return len(word) >= 4 and any(v.startswith(word) for v in vocabulary)


def assess_scope(
    bank: SentenceBank, query: str, question: str, results: Sequence[ScoredPassage]
) -> Scope:
    vector = bank.query_vector(query)
    support = max(
        (float((split.vectors @ vector).max()) for split in bank.split(results)),
        default=0.0,
    )
    senses = bank.text_vectors(OTHER_PEER_SENSES)
    return Scope(
        support=support,
        other_sense=float((senses @ vector).max()),
        unknown_names=unknown_names(question, bank.vocabulary()),
    )


def out_of_scope_reason(scope: Scope, threshold: float = SUPPORT_THRESHOLD) -> str | None:
    if scope.support < threshold:
        return f"no passage is close to the question (best match {scope.support:.2f})"
    if scope.unknown_names and scope.support < UNKNOWN_NAME_OVERRIDE:
        return f"the corpus never mentions {', '.join(scope.unknown_names)}"
    if scope.other_sense >= OTHER_SENSE_MIN and scope.other_sense > scope.support:
        return "it is about another meaning of “peer” (review, networking), not peer support"
    return None


def abstain_reason(
    question: str,
    results: Sequence[ScoredPassage],
    index: LiveIndex,
    history: Sequence[str] = (),
) -> str | None:
    """Why the assistant must not answer, as "medical_advice: …" or "out_of_scope: …";
    None when it may.

    `results` are what retrieval returned for the (follow-up resolved) question; the index
    supplies the embedding model and the corpus vocabulary.
    """
    bank = bank_for(index)
    why = medical_advice_reason(question, bank.vocabulary())
    if why:
        return f"{MEDICAL_ADVICE}: {why}"
    if not results:
        return f"{OUT_OF_SCOPE}: no passage matches the question and filters"
    scope = assess_scope(bank, retrieval_query(question, history), question, results)
    why = out_of_scope_reason(scope)
    return f"{OUT_OF_SCOPE}: {why}" if why else None
