"""Follow-up questions: "what about caregivers?" only means something after the last turn."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Openers that continue the previous turn rather than start a new topic.
_CONNECTIVE = re.compile(
    r"^\s*(and|but|so|also|then|or|what about|how about|what of|same for)\b", re.IGNORECASE
)
# Words pointing back at something named earlier.
_BACK_REFERENCE = re.compile(
    r"\b(they|them|their|that|those|these|this|it|its|each one|each|the same)\b", re.IGNORECASE
)
SHORT_WORDS = 4  # "How long?", "Any evidence?": too short to stand alone
BACK_REFERENCE_MAX_WORDS = 10  # longer questions usually name their own subject
MAX_TURNS = 2  # earlier turns folded into the query, at most


def is_followup(question: str) -> bool:
    words = len(question.split())
    return bool(
        _CONNECTIVE.match(question)
        or words <= SHORT_WORDS
        or (words <= BACK_REFERENCE_MAX_WORDS and _BACK_REFERENCE.search(question))
    )


def retrieval_query(question: str, history: Sequence[str] = ()) -> str:
    """The question, prefixed by the turns it depends on when it is a follow-up.

    Walks back while the earlier turn is itself a follow-up ("How many did they
    interview?" -> "Were those face to face?" -> "And how long did each last?").
    """
    if not history or not is_followup(question):
        return question
    turns: list[str] = []
    for turn in reversed(history):
        turns.insert(0, turn)
        if len(turns) >= MAX_TURNS or not is_followup(turn):
            break
    return " ".join([*turns, question])
