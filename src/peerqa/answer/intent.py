"""What a question asks for: evidence about peer support, or something peerqa must decline.

A multinomial logistic regression over the question's sentence vector (the embedding
model's) and a few lexical features read from word lists in answer/data/. It is fitted
by `python -m peerqa.eval.fit_decline` on eval/train/intent.jsonl, which writes its
coefficients to answer/data/intent.json; here it is only applied (a dot product).

Classes:
- evidence: a question about peer support programmes, their people or the research on them
- medical_advice: advice on a particular person's care ("should I stop my lithium")
- clinical_fact: a clinical fact however impersonally asked (dose, drug choice, prognosis,
  survival, diagnosis, side effects)
- off_topic: not about peer support or health care evidence at all
- other_peer_sense: journal peer review, peer-to-peer networking, code review, peer
  pressure, peer assessment

Lexical features include what is asked (answer/data/asks.json: a price, opening hours,
signing up, a stock, a journal's standing, installing software…) and whether it is asked
of nothing in peer support: a question naming what a paper mentions ("NVivo", "PCORI")
is about the evidence only when its ask is. Three more read the question against the
evidence held (answer/coverage.py): how much of it no passage and no domain word list
uses at all, which generalises where word lists of off-topic asks cannot ("how do I fix a
dripping kitchen tap"); they read 0 for a question that speaks of peer support.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from peerqa.answer import coverage
from peerqa.retrieval.expansion import shorthand, unabbreviate
from peerqa.words import CHAT_WORD

DATA = Path(__file__).with_name("data")
ARTEFACT = DATA / "intent.json"
WORD_LISTS = (
    DATA / "asks.json",
    DATA / "clinical.json",
    DATA / "peer.json",
    DATA / "personal.json",
    DATA / "workplace.json",
)

EVIDENCE = "evidence"
MEDICAL_ADVICE = "medical_advice"
CLINICAL_FACT = "clinical_fact"
OFF_TOPIC = "off_topic"
OTHER_PEER_SENSE = "other_peer_sense"
CLASSES = (EVIDENCE, MEDICAL_ADVICE, CLINICAL_FACT, OFF_TOPIC, OTHER_PEER_SENSE)


def phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    """One pattern for a word list: whole words; "word*" any ending; a lone "*" one or
    two words ("how much * should")."""

    def token(w: str) -> str:
        if w == "*":
            return r"\w+(?:\s+\w+)?"
        return re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w)

    parts = [r"\s+".join(token(w) for w in phrase.split()) for phrase in phrases]
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class WordLists:
    drugs: re.Pattern[str]
    not_clinical: re.Pattern[str]  # prices, payers, buying: about a drug, not clinical
    administration: re.Pattern[str]  # billing, payers, pay, regulation, records systems
    administration_terms: tuple[re.Pattern[str], ...]  # the same, one pattern a term
    aspects: dict[str, re.Pattern[str]]  # what a clinical question asks for -> its words
    peer_support: re.Pattern[str]
    senses: dict[str, re.Pattern[str]]  # another sense of "peer" -> its words
    decisive: re.Pattern[str]  # phrases that fix another sense ("peer review", "peerage")
    speaks_of_support: re.Pattern[str]  # peer support itself, its people and programmes
    person: tuple[re.Pattern[str], ...]
    decision: tuple[re.Pattern[str], ...]
    crisis: tuple[re.Pattern[str], ...]  # someone at risk of harming themselves
    symptoms: re.Pattern[str]  # the body, wounds, symptoms and medicines
    self_care: tuple[re.Pattern[str], ...]  # "is that normal", "ok to stop", "what should we do"
    own: tuple[re.Pattern[str], ...]  # where a person's own body is named ("my", "her", "I've")
    reported: re.Pattern[str]  # what the study's people said or reported
    asks: dict[str, re.Pattern[str]]  # what is asked when not evidence (a price…) -> its words
    never_evidence: tuple[str, ...]  # the kinds of ask no question about the evidence asks


@lru_cache
def word_lists() -> WordLists:
    asks, clinical, peer, personal, workplace = (
        json.loads(p.read_text(encoding="utf-8")) for p in WORD_LISTS
    )
    return WordLists(
        drugs=phrase_pattern(clinical["drugs"]),
        not_clinical=phrase_pattern(clinical["not_clinical"]),
        administration=phrase_pattern(workplace["administration"]),
        administration_terms=tuple(phrase_pattern([w]) for w in workplace["administration"]),
        aspects={k: phrase_pattern(v) for k, v in clinical["aspects"].items()},
        peer_support=phrase_pattern(peer["peer_support"]),
        senses={k: phrase_pattern(v) for k, v in peer["other_senses"].items()},
        decisive=phrase_pattern(peer["decisive_senses"]),
        speaks_of_support=phrase_pattern(peer["speaks_of_support"]),
        person=tuple(re.compile(p, re.IGNORECASE) for p in personal["person"]),
        decision=tuple(re.compile(p, re.IGNORECASE) for p in personal["decision"]),
        crisis=tuple(re.compile(p, re.IGNORECASE) for p in personal["crisis"]),
        symptoms=phrase_pattern(clinical["symptoms"]),
        self_care=tuple(re.compile(p, re.IGNORECASE) for p in personal["self_care"]),
        own=tuple(re.compile(p, re.IGNORECASE) for p in personal["own"]),
        reported=re.compile("|".join(personal["reported"]), re.IGNORECASE),
        asks={k: phrase_pattern(v) for k, v in asks["kinds"].items()},
        never_evidence=tuple(asks["never_evidence"]),
    )


def intent_text(text: str) -> str:
    """The text whose sentence vector the classifier reads: shorthand spelled out, since
    the embedding model knows "National Institute of Mental Health" better than "NIMH"."""
    return unabbreviate(text)


def readable(text: str) -> str:
    """The text with its shorthand's expansions appended, so "dx" reads as diagnosis."""
    return " ".join([text, *(e for s in shorthand(text) for e in s.expansions)])


def lexical_names() -> list[str]:
    lists = word_lists()
    return [
        "drug",
        "not_clinical",
        "administration",
        *(f"aspect:{k}" for k in lists.aspects),
        "person",
        "decision",
        "peer_word",
        "peer_support_words",
        *(f"sense:{k}" for k in lists.senses),
        *(f"ask:{k}" for k in lists.asks),
        "ask_without_support",
        "symptom",
        "self_care",
        "own_symptom",
        *(f"coverage:{k}" for k in coverage.NAMES),
    ]


def lexical_features(text: str, covered: np.ndarray) -> np.ndarray:
    """The word-list features, then `covered` (coverage.Coverage.features of the text)."""
    lists, read = word_lists(), readable(text)
    peer_hits = len(lists.peer_support.findall(read))
    # What the question asks (a price, opening hours, how to install…), and whether it
    # asks it of nothing in peer support: "NVivo licence price" names what the paper
    # mentions, but its ask is not about the evidence; "how was NVivo used" has no such ask.
    asks = [bool(p.search(read)) for p in lists.asks.values()]
    supported = lists.speaks_of_support.search(read) or re.search(r"\bpeers?\b", read, re.I)
    values = [
        bool(lists.drugs.search(read)),
        bool(lists.not_clinical.search(read)),
        bool(lists.administration.search(read)),
        *(bool(p.search(read)) for p in lists.aspects.values()),
        any(p.search(text) for p in lists.person),
        any(p.search(text) for p in lists.decision),
        bool(re.search(r"\bpeers?\b", text, re.IGNORECASE)),
        min(peer_hits, 3) / 3,
        *(bool(p.search(read)) for p in lists.senses.values()),
        *asks,
        any(asks) and not supported,
        bool(lists.symptoms.search(read)),
        any(p.search(text) for p in lists.self_care),
        bool(own_symptom(text)),
        # A question speaking of peer support, its people or programmes is about the domain
        # by its own words, however much else of it the evidence never uses ("hourly rate
        # paid to peer supporters?"): its off-topic asks are read by the asks above, words
        # of administration and names the evidence never mentions.
        *(np.zeros_like(covered) if supported else covered),
    ]
    return np.asarray(values, dtype=np.float64)


# Diagnosis words ("newly diagnosed", "symptoms") are everyday words of peer support
# questions too: alone they mark a clinical question only when asked about a person.
DIAGNOSIS = "a diagnosis"


def in_crisis(text: str) -> bool:
    """A person at risk of harming themselves ("I want to end my life", "my brother is
    talking about killing himself"): whatever else the question asks, a safety refusal
    that points to emergency help. A research question about suicide names no person."""
    lists = word_lists()
    return any(p.search(text) for p in lists.crisis) and any(p.search(text) for p in lists.person)


OWN_WINDOW = 3  # words between "my", "her", "I've" and the symptom or body word they own


def own_symptom(text: str) -> str | None:
    """The symptom, wound or medicine word that is a person's own ("my incision", "my
    husband's drain", "I've been vomiting", "her meds"), or None."""
    lists = word_lists()
    for anchor in (m for p in lists.own for m in p.finditer(text)):
        words = list(CHAT_WORD.finditer(text, anchor.end()))[:OWN_WINDOW]
        for words_of_care in (lists.symptoms, lists.drugs):
            if words and (m := words_of_care.search(text, anchor.end(), words[-1].end())):
                return m.group()
    return None


def symptom_rule(text: str) -> bool:
    """What a person asks about a symptom, a wound or a medicine, however phrased, is
    individual medical advice: a self-care ask ("is it normal for an incision to leak?",
    "ok to stop meds now i feel better") or a person's own symptom ("my husband's drain
    looks red") with no word of peer support or of what the study's people reported
    ("what did patients say about wound care worries?"); a person's own symptom with a
    self-care ask whatever else it says ("my mentee's drain is leaking, what should I do")."""
    lists, read = word_lists(), readable(text)
    if not (lists.symptoms.search(read) or lists.drugs.search(read)):
        return False
    ask = any(p.search(text) for p in lists.self_care)
    own = own_symptom(text) is not None
    if own and ask:
        return True
    about_evidence = (
        lists.peer_support.search(read)
        or lists.speaks_of_support.search(read)
        or lists.reported.search(text)
        or any(p.search(read) for p in lists.senses.values())
    )
    return (own or ask) and not about_evidence


def safety_rule(text: str) -> bool:
    """What word lists do reliably: a drug or a clinical aspect (dose, prognosis…) with no
    word of peer support or of another sense of "peer" is a clinical question, and so is a
    particular person's decision about one ("should my dad … his insulin"), a person's
    symptom, wound or medicine (symptom_rule), and a person in crisis."""
    if in_crisis(text) or symptom_rule(text):
        return True
    lists, read = word_lists(), readable(text)
    aspects = [p for k, p in lists.aspects.items() if k != DIAGNOSIS]
    clinical = lists.drugs.search(read) or any(p.search(read) for p in aspects)
    personal = any(p.search(text) for p in lists.person) and any(
        p.search(text) for p in lists.decision
    )
    if personal and not clinical:
        clinical = lists.aspects[DIAGNOSIS].search(read)  # "do I have", "could it be"
    priced_or_billed = lists.not_clinical.search(read) or lists.administration.search(read)
    if not clinical or (not personal and priced_or_billed):
        return False  # "price of insulin glargine", "CPT code for…": not a clinical fact
    other = lists.peer_support.search(read) or any(p.search(read) for p in lists.senses.values())
    return bool(personal or not other)


def elsewhere_rule(text: str) -> bool:
    """What a word list does reliably for off-topic questions: an ask no question about
    peer support makes (who won an award, the weather, a recipe, a journal's editor:
    asks.json never_evidence), with no word of peer support or of the study, however much
    else it names that the paper mentions ("who won best picture at the 2017 oscars")."""
    lists, read = word_lists(), readable(text)
    if not any(lists.asks[k].search(read) for k in lists.never_evidence):
        return False
    return not (lists.peer_support.search(read) or lists.speaks_of_support.search(read))


def sense_rule(text: str) -> bool:
    """What a word list does reliably for "peer": a phrase whose meaning is fixed ("peer
    review", "house of lords", "peer observation", "P2P lending") is another sense of the
    word, unless the rest of the question speaks of peer support ("peer pressure on
    mentors in recovery"). The embedding reads "peer comparison letters to GPs" as close
    to health care research; the phrase says what it is about."""
    lists, read = word_lists(), readable(text)
    found = [m.span() for m in lists.decisive.finditer(read)]
    if not found:
        return False
    rest = "".join(
        read[start:end]
        for start, end in zip(
            [0] + [e for _, e in found], [s for s, _ in found] + [len(read)], strict=True
        )
    )
    return not lists.speaks_of_support.search(rest)


def features(text: str, vector: np.ndarray, covered: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(vector, dtype=np.float64), lexical_features(text, covered)])


SAFETY = (MEDICAL_ADVICE, CLINICAL_FACT)
ELSEWHERE = (OFF_TOPIC, OTHER_PEER_SENSE)


@dataclass(frozen=True)
class Intent:
    label: str  # one of CLASSES: a decline class only when its group is confidently likely
    leaning: str  # the most probable class, however slightly
    probabilities: dict[str, float]

    @property
    def declines(self) -> bool:
        return self.label != EVIDENCE


@dataclass(frozen=True)
class IntentModel:
    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # [classes, features]
    intercept: np.ndarray
    # P(medical advice) + P(clinical fact) at which the question is a safety refusal, and
    # P(off topic) + P(other sense of "peer") at which it is out of scope: fitted on
    # out-of-fold probabilities so that few evidence questions reach either.
    safety_at: float
    elsewhere_at: float
    embedding_model: str

    def probabilities(self, text: str, vector: np.ndarray, covered: np.ndarray) -> np.ndarray:
        x = (features(text, vector, covered) - self.mean) / self.scale
        logits = self.coef @ x + self.intercept
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def classify(self, text: str, vector: np.ndarray, covered: np.ndarray) -> Intent:
        """`covered`: coverage.Coverage.features of `text` against the evidence held."""
        return self.decide(
            self.probabilities(text, vector, covered),
            safety_rule(text),
            sense_rule(text),
            elsewhere_rule(text),
        )

    def decide(
        self, p: np.ndarray, safety: bool = False, sense: bool = False, elsewhere: bool = False
    ) -> Intent:
        """The label from the probabilities, or from a rule that fired: `safety` (a
        clinical question), `sense` (another sense of "peer") or `elsewhere` (an ask no
        question about the evidence makes)."""
        by_class = dict(zip(self.classes, (float(v) for v in p), strict=True))
        leaning = max(by_class, key=by_class.__getitem__)
        label = EVIDENCE
        for group, at in ((SAFETY, self.safety_at), (ELSEWHERE, self.elsewhere_at)):
            if sum(by_class[k] for k in group) >= at or (safety and group == SAFETY):
                label = max(group, key=by_class.__getitem__)
                break
        if label == EVIDENCE and sense:
            label = OTHER_PEER_SENSE
        elif label == EVIDENCE and elsewhere:
            label = OFF_TOPIC
        return Intent(label, leaning, by_class)

    def to_json(self) -> dict:
        return {
            "classes": list(self.classes),
            "embedding_model": self.embedding_model,
            "lexical": lexical_names(),
            "safety_at": self.safety_at,
            "elsewhere_at": self.elsewhere_at,
            "mean": _rounded(self.mean),
            "scale": _rounded(self.scale),
            "coef": [_rounded(row) for row in self.coef],
            "intercept": _rounded(self.intercept),
        }


def _rounded(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in values]


def from_json(data: dict) -> IntentModel:
    if data["lexical"] != lexical_names():
        raise ValueError(
            "intent.json was fitted on other word lists: python -m peerqa.eval.fit_decline"
        )
    return IntentModel(
        classes=tuple(data["classes"]),
        mean=np.asarray(data["mean"]),
        scale=np.asarray(data["scale"]),
        coef=np.asarray(data["coef"]),
        intercept=np.asarray(data["intercept"]),
        safety_at=float(data["safety_at"]),
        elsewhere_at=float(data["elsewhere_at"]),
        embedding_model=data["embedding_model"],
    )


@lru_cache
def load_intent_model(path: Path = ARTEFACT) -> IntentModel:
    return from_json(json.loads(path.read_text(encoding="utf-8"))["model"])
