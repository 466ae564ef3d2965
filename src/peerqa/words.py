"""What "a word" is, wherever peerqa splits, counts, stems or compares words.

The readings differ on purpose (what each caller needs a word to be); each is one named
function or constant here, so changing one changes it for every caller:

- `word_count` and SPACED_WORD: whitespace-separated, as a reader counts them
  (passage budgets, how many words a reader gets to).
- `words_of`: lowercase runs of ASCII letters and digits ("peer-led" -> peer, led;
  "don't" -> don, t). Vocabularies, sentence lengths, the evaluation's label check.
  Its other readings:
  - "apostrophes": the same, apostrophes kept ("what's" is one word): how many words a
    follow-up turn says besides a name;
  - "names": any script's word characters, apostrophes and hyphens ("o'brien",
    "peer-led", "müller"): a surname or name as a question writes it;
  - "letters": letters of any script, no digits ("covid-19" -> covid): the words a PDF
    prints whole.
- `WRITTEN_WORD`: a word as written, case kept, starting with an ASCII letter ("LEAN's",
  "CHWs"): the names that say which paper a question is about.
- `HYPHENATED`: a compound as printed, runs of word characters joined by hyphens
  ("intention-to-treat"): the compounds a PDF prints with their hyphens.
- `content_words`: `words_of` without FUNCTION_WORDS and words of one or two letters,
  each `light_stem`med: what a question and a sentence share.
- `profile_words`: `WRITTEN_WORD`s cut at apostrophes and hyphens, without
  PROFILE_STOPWORDS, each reduced to one `word_form`: what describes a paper.
- `term_words`: `words_of` stemmed as BM25's tokens are, stopwords and digits kept,
  British spellings read as American ("randomised" as "randomized"): the words of a
  term a claim of absence looks for, matched as a phrase.
- BM25's tokens (`bm25_tokenize`): runs of two or more word characters (TOKEN_PATTERN,
  llama-index's BM25Retriever default), bm25s's English stopwords dropped, Snowball
  stemmed (`english_stemmer`): keyword search and the ranker's word overlap.
- TOKEN_STOPWORDS: the embedding model's vocabulary entries that are never content tokens
  of late interaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from bm25s.tokenization import Tokenized

SPACED_WORD = re.compile(r"\S+")
WRITTEN_WORD = re.compile(r"[A-Za-z][\w'’-]*")
HYPHENATED = re.compile(r"\w+(?:-\w+)+")
CHAT_WORD = re.compile(r"[\w’'/-]+")  # a word as chat writes it, one with its slash: "w/o"


def word_count(text: str) -> int:
    return len(text.split())


# How `words_of` reads a word (the module's doc says who needs which).
Reading = Literal["plain", "apostrophes", "names", "letters"]
_READINGS: dict[str, re.Pattern[str]] = {
    "plain": re.compile(r"[a-z0-9]+"),
    "apostrophes": re.compile(r"[a-z0-9']+"),
    "names": re.compile(r"[\w'’-]+"),
    "letters": re.compile(r"[^\W\d_]+"),
}


def words_of(text: str, reading: Reading = "plain") -> list[str]:
    """The lowercase words of `text`, as `reading` reads a word."""
    return _READINGS[reading].findall(text.lower())


# -- content words: what a question and a sentence share ----------------------------------
FUNCTION_WORDS = frozenset(
    """a about after all also an and any are as at be been being but by can could did do
    does doing for from get got had has have how i if in into is it its just like many me
    more most much my no not of on one or other our out so some such than that the their
    them then there these they this those to too up us very was we were what when where
    which who whom why will with would you your""".split()
)


def content_words(text: str) -> set[str]:
    return {light_stem(w) for w in words_of(text) if w not in FUNCTION_WORDS and len(w) > 2}


def light_stem(word: str) -> str:
    """One common ending off, keeping at least four letters ("needs" -> "need",
    "trained" -> "train"; "uses" stays)."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


# -- profile words: what describes a paper ------------------------------------------------
PROFILE_STOPWORDS = frozenset(
    """a about after all also an and any are as at be by can did do does for from had has
    have how i in into is it its my of on or our so than that the their them these they
    this those to was we were what when where which who why will with would you your
    one two main key new same other""".split()
)


def word_form(word: str) -> str:
    """One form for a word's inflections: "trials" "trial", "texting" "text", "CHWs" "chw"."""
    word = word.lower().strip("'’-")
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def profile_words(text: str) -> list[str]:
    return [
        word_form(w)
        for part in WRITTEN_WORD.findall(text)
        for w in re.split(r"[-'’]", part)
        if len(w) > 1 and w.lower() not in PROFILE_STOPWORDS
    ]


# -- BM25's tokens -------------------------------------------------------------------------
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # BM25Retriever's default


def english_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def bm25_tokenize(
    texts: str | Sequence[str], stemmer: Stemmer.Stemmer, *, return_ids: bool = True
) -> Tokenized | list[list[str]]:
    """BM25's tokens of each text: token ids and their vocabulary (`return_ids`), or the
    stemmed tokens.

    The ids number the vocabulary in sorted order. bm25s numbers it by iterating a Python
    set, so its ids (and the order in which sums over them add floats) would change with
    PYTHONHASHSEED from one process to the next, and fits with them."""
    tokenized = bm25s.tokenize(
        texts,
        stopwords="english",
        stemmer=stemmer,
        token_pattern=TOKEN_PATTERN,
        return_ids=return_ids,
        show_progress=False,
    )
    if not return_ids:
        return tokenized
    vocab = {stem: i for i, stem in enumerate(sorted(tokenized.vocab))}
    renumber = [0] * len(vocab)
    for stem, i in tokenized.vocab.items():
        renumber[i] = vocab[stem]
    return Tokenized(ids=[[renumber[i] for i in ids] for ids in tokenized.ids], vocab=vocab)


# "randomise", "organisation", "behaviour", "programme": one spelling for a claim of absence.
_BRITISH = (
    (re.compile(r"(?<=[a-z]{3})is(?=(?:e|ed|es|ing|ation|ations)$)"), "iz"),
    (re.compile(r"(?<=[a-z]{3})our$"), "or"),
    (re.compile(r"^programme"), "program"),
)


def term_words(text: str) -> list[str]:
    """The words of `text` as a claim of absence matches them (the module's doc)."""
    plain = []
    for word in words_of(text):
        for pattern, american in _BRITISH:
            word = pattern.sub(american, word)
        plain.append(word)
    return english_stemmer().stemWords(plain)


# -- late interaction's content tokens -----------------------------------------------------
# Late interaction (retrieval/late.py) matches a query's content words against a
# passage's, token vector by token vector. Content tokens are whole-word vocabulary
# entries that are not stopwords: BM25's English list plus the question words clinicians
# lead with, which would otherwise match every passage's "how" and "what".
QUESTION_WORDS = frozenset(
    "about any can could did do does from how its should them those were what which who why"
    " would".split()
)
TOKEN_STOPWORDS = frozenset(STOPWORDS_EN) | QUESTION_WORDS
