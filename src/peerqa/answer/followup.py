"""Follow-up questions: "what about caregivers?" only means something after the last turn."""

from __future__ import annotations

import re
from collections.abc import Sequence

from peerqa.retrieval.programmes import named_letters
from peerqa.words import words_of

# Openers that continue the previous turn rather than start a new topic, and elliptical
# phrases that only complete it ("for how many weeks?", "any example?").
_CONNECTIVE = re.compile(
    r"^\s*(?:and|but|so|also|then|or|what about|how about|what of|same for|"
    r"for how|for what|for which|for whom|any (?:worked )?example|example)\b",
    re.IGNORECASE,
)
# Openers that carry on from the last answer with a question of its own: "ok and if…",
# "f/u: what happened when…", "what if the peer lives far away?". Read in the session for
# what it asks (its intent), but searched for on its own words: its new angle is the
# point, and the last turn's words would pull the last answer back.
_CARRIES_ON = re.compile(
    r"^\s*(?:ok(?:ay)?|right|f/u|follow[- ]?up|what if|if|even if)\b", re.IGNORECASE
)
# Words pointing back at something named earlier ("there", "in the first place", "the G
# one", "themselves": what the last turn was about).
_BACK_REFERENCE = re.compile(
    r"\b(they|them|their|themselves|that|those|these|this|it|its|each one|each|the same|"
    r"he|she|him|his|her|there|in the first place|which one|(?:the|that|this) \w+ one|"
    r"one (?:cost|costs|is|was|does|did))\b(?!-)",
    re.IGNORECASE,
)
SHORT_WORDS = 4  # "How long?", "Any evidence?": too short to stand alone
BACK_REFERENCE_MAX_WORDS = 10  # longer questions usually name their own subject
MAX_TURNS = 2  # earlier turns folded into the query, at most


def is_followup(question: str) -> bool:
    """Depends on the last turn for what it is about: searched for with it."""
    words = len(question.split())
    return bool(
        _CONNECTIVE.match(question)
        or words <= SHORT_WORDS
        or (words <= BACK_REFERENCE_MAX_WORDS and _BACK_REFERENCE.search(question))
    )


def carries_on(question: str) -> bool:
    """Continues the session, whether or not it depends on the last turn for its subject:
    what it asks for (its intent) is read with the turns before it."""
    return is_followup(question) or bool(_CARRIES_ON.match(question))


# "and for breast ca pts?", "and the kids' one?", "what about programme D?": the same
# question asked of another thing.
_SUBSTITUTE = re.compile(
    r"^\s*(?:and|or|what about|how about|same for|anything for|any for)\b", re.IGNORECASE
)
SUBSTITUTE_MAX_WORDS = 6
# What a turn that only names its thing is made of besides the thing ("what did the
# cancer programme do?", "anything for new mums?").
_NAMING = frozenset(
    """a about and any anything are be did do does doing else for how is it of on one ones or
    programme programmes program programs scheme schemes the them they this those what
    which who with""".split()
)


# A question of its own after the opener ("and how do they fix that?").
_ASKS_OWN = re.compile(
    r"\b(?:how|why|when|where|who|which|do|does|did|is|are|was|were|can|could|should|will)\b",
    re.IGNORECASE,
)
# What names a thing in a turn that only names it.
_NAMES = re.compile(r"\b(?:programmes?|programs?|schemes?|for|about|with)\b", re.IGNORECASE)


def substitutes(question: str) -> bool:
    """Asks the previous question again, of another thing."""
    opener = _SUBSTITUTE.match(question)
    return bool(
        opener
        and len(question.split()) <= SUBSTITUTE_MAX_WORDS
        and not _ASKS_OWN.search(question, opener.end())
    )


def _names_only(turn: str) -> bool:
    """A turn that names a thing and asks nothing else of it (at most 2 other words)."""
    words = words_of(turn, "apostrophes")
    return bool(_NAMES.search(turn)) and len([w for w in words if w not in _NAMING]) <= 2


def _with_programme_of(question: str, turn: str) -> str:
    """The turn asked of the one programme the question names instead of the one it
    named: "what's programme F?" before "and programme B?" reads "what's programme B?"."""
    new, old = named_letters(question), named_letters(turn)
    if len(new) != 1 or len(old) != 1 or new == old:
        return turn
    return re.sub(rf"(\b(?i:program(?:me)?s?)\s+){old[0]}\b", rf"\g<1>{new[0]}", turn)


def retrieval_query(question: str, history: Sequence[str] = ()) -> str:
    """The question, prefixed by the turns it depends on when it is a follow-up.

    Walks back while the earlier turn is itself a follow-up ("How many did they
    interview?" -> "Were those face to face?" -> "And how long did each last?"). A
    follow-up asking the same of another thing replaces the turns that only named the
    thing before it: "and for breast ca pts?" after "what practical help do peers
    give?" -> "anything for new mums?" asks the practical help of breast cancer, not of
    new mums.
    """
    return _in_session(question, history, is_followup(question))


def intent_query(question: str, history: Sequence[str] = ()) -> str:
    """The question as its intent is read: with the turns it carries on from ("ok and if
    nobody nearby has the same dx?" after a question on matching asks about matching)."""
    return _in_session(question, history, carries_on(question))


def _in_session(question: str, history: Sequence[str], followup: bool) -> str:
    if not history or not followup:
        return question
    turns: list[str] = []
    replaced = substitutes(question)
    for i, turn in enumerate(reversed(history)):
        earlier = i + 1 < len(history)
        if replaced and earlier and (substitutes(turn) or _names_only(turn)):
            continue  # the thing it named is the one this question replaces
        turns.insert(0, _with_programme_of(question, turn) if replaced else turn)
        if len(turns) >= MAX_TURNS or not is_followup(turn):
            break
    return " ".join([*turns, question])
