"""Stage 1, understand: a question and its session -> one `Question` every later stage reads.

The session is resolved once (answer.followup), the question embedded once (the vector
retrieval, the decline check and sentence scoring all use), and what it asks for is
named once: the stances (challenges, how programmes address them), programme facts,
literature, the programmes and other names it mentions, and an honest caveat when it
asks for an outcome the evidence never reports or presupposes a programme the evidence
does not have.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from answer import lexicon
from answer.followup import retrieval_query
from answer.sentences import bank_for, words_of
from peerqa.embedding import QueryEncoding
from peerqa.models import Caveat
from retrieval.hybrid import LiveIndex
from retrieval.programmes import named_letters

STANCE_GROUPS = ("challenge", "mitigation")
_STOPWORDS = frozenset(
    """a about after all also an and any are as at be been being but by can could did do
    does doing for from get got had has have how i if in into is it its just like many me
    more most much my no not of on one or other our out so some such than that the their
    them then there these they this those to too up us very was we were what when where
    which who whom why will with would you your""".split()
)
# "12 programmes", "twelve programmes": a count the question takes for granted.
_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_COUNTED = re.compile(
    r"\b(?:the|all|these|those|its)\s+(\d{1,3}|" + "|".join(_NUMBERS) + r")\s+"
    r"(?:peer[- ]support\s+|peer\s+)?(?:programmes|programs|schemes)\b",
    re.IGNORECASE,
)


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
    documents: tuple[str, ...]  # papers the question names (by first author), if any
    keywords: frozenset[str]  # stemmed content words of the resolved text
    caveat: Caveat | None

    @property
    def grouped(self) -> bool:
        """Asks for challenges and how programmes address them, together."""
        return self.stances == frozenset(STANCE_GROUPS)


def asked_stances(text: str) -> frozenset[str]:
    return frozenset(s for s in STANCE_GROUPS if lexicon.pattern(f"asks_{s}").search(text))


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in words_of(text) if w not in _STOPWORDS and len(w) > 2}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def understand(index: LiveIndex, raw: str, history: Sequence[str] = ()) -> Question:
    """`raw` in its session, read once.

    A follow-up is resolved against the turns it refers to, and its vector is the mean of
    the resolved text's and its own: "what about when the peer lives far away?" after a
    question about matching still searches for distance, not matching again.
    """
    resolved = retrieval_query(raw, history)
    followup = resolved != raw
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
    return Question(
        raw=raw,
        resolved=resolved,
        followup=followup,
        encoding=encoding,
        vector=vector,
        stances=stances,
        asks_facts=bool(letters or lexicon.pattern("asks_facts").search(resolved)),
        asks_literature=bool(lexicon.pattern("asks_literature").search(raw)),
        programmes=letters,
        documents=named_documents(index, raw),
        keywords=frozenset(content_words(resolved)),
        caveat=caveat_for(index, raw, letters),
    )


def named_documents(index: LiveIndex, raw: str) -> tuple[str, ...]:
    """The documents whose first author's surname the question uses ("what did Joo et
    al. find"): an answer about one paper must not borrow another's findings."""
    documents = index.state.documents if index.state else []
    if len(documents) < 2:
        return ()
    asked = set(words_of(raw))
    named = []
    for d in documents:
        # "Joo JH" or "Jin Hui Joo": the surname is the first or the last word.
        words = words_of(d.authors[0]) if d.authors else []
        surnames = {w for w in (words[:1] + words[-1:]) if len(w) >= 3}
        if surnames & asked:
            named.append(d.id)
    return tuple(named)


# -- caveats -----------------------------------------------------------------------------
def caveat_for(index: LiveIndex, raw: str, letters: Sequence[str]) -> Caveat | None:
    """What the answer must say first: a programme or a count the evidence does not
    have (false premise), or an outcome no passage reports (not reported)."""
    studied = _programmes(index)
    if studied:
        unknown = [letter for letter in letters if letter not in studied]
        count = _COUNTED.search(raw)
        said = count and (_NUMBERS.get(count.group(1).lower()) or int(count.group(1)))
        if unknown or (said and said != len(studied)):
            return Caveat(kind="false_premise", text=f"{_study(index)} covers {_span(studied)}.")
    numbered = _unmatched_count(index, raw)
    if numbered:
        return Caveat(kind="false_premise", text=f"{_study(index)} does not report {numbered}.")
    reported = bank_for(index).derived("outcomes reported", _outcomes_reported)
    for name, (asks, _) in lexicon.outcomes().items():
        if asks.search(raw) and name not in reported:
            # "Why did they survive longer?" takes the outcome for granted.
            presumed = lexicon.pattern("presupposes").search(raw)
            return Caveat(
                kind="false_premise" if presumed else "not_reported",
                text=f"{_study(index)} does not report {name}.",
            )
    return None


# "the 200 interviews", "500 pts", "after 6 weeks": a number before a plural noun, not a
# label ("Table 2", "#1").
_COUNT = re.compile(
    r"(?<![#\w])(?<!table )(?<!figure )(?<!fig\. )(\d+(?:\.\d+)?)\s*(%|percent|[a-z]{2,}s)\b",
    re.IGNORECASE,
)


def _unmatched_count(index: LiveIndex, raw: str) -> str | None:
    """A count the question takes for granted ("the 200 interviews", "after 6 weeks")
    that no passage states: the number never stands before that word in the evidence."""
    counts = bank_for(index).derived("counts", _counts)
    for m in _COUNT.finditer(raw):
        number, word = m.group(1), m.group(2).lower()
        if word in _STOPWORDS:
            continue
        if (number, word[:4]) not in counts:
            return f"{number} {word}"
    return None


def _counts(index: LiveIndex) -> frozenset[tuple[str, str]]:
    """(number, first 4 letters of a word up to 3 words after it) across the passages."""
    found = set()
    pattern = re.compile(r"\b(\d+(?:\.\d+)?)((?:\W+\w+){1,3})")
    for p in index.passages.values():
        if p.kind == "reference":
            continue
        for m in pattern.finditer(p.text):
            for word in words_of(m.group(2)):
                found.add((m.group(1), word[:4]))
    return frozenset(found)


def _programmes(index: LiveIndex) -> list[str]:
    state = index.state
    if state is None:
        return []
    return sorted({p.programme for records in state.programmes.values() for p in records})


def _span(letters: Sequence[str]) -> str:
    """ "Programmes A-G" for a run of letters, else "Programmes A, C and F"."""
    if len(letters) == 1:
        return f"Programme {letters[0]}"
    run = [chr(c) for c in range(ord(letters[0]), ord(letters[-1]) + 1)]
    if list(letters) == run:
        return f"Programmes {letters[0]}-{letters[-1]}"
    return f"Programmes {', '.join(letters[:-1])} and {letters[-1]}"


def _study(index: LiveIndex) -> str:
    documents = index.state.documents if index.state else []
    return "The study" if len(documents) <= 1 else "The evidence here"


def _outcomes_reported(index: LiveIndex) -> frozenset[str]:
    """The lexicon's outcomes some passage (not a reference entry) reports."""
    texts = [p.text for p in index.passages.values() if p.kind != "reference"]
    return frozenset(
        name
        for name, (_, reports) in lexicon.outcomes().items()
        if any(reports.search(t) for t in texts)
    )
