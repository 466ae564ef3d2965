"""What a word is: one module (peerqa.words) holds every reading the package uses, and the
readings differ only where their docstring says so."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from peerqa import words

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "peerqa"


def test_plain_words_are_lowercase_letter_and_digit_runs():
    assert words.words_of("Peer-led, 12-week CHWs don't") == [
        "peer", "led", "12", "week", "chws", "don", "t",
    ]  # fmt: skip
    assert words.words_of("café") == ["caf"]  # ASCII only


def test_the_readings_that_keep_more_of_a_word():
    text = "What's O’Brien's peer-led Müller 2022"
    # ASCII apostrophes only: "O’Brien's" is "o", "brien's"
    assert words.words_of(text, "apostrophes") == [
        "what's", "o", "brien's", "peer", "led", "m", "ller", "2022",
    ]  # fmt: skip
    assert words.words_of(text, "names") == ["what's", "o’brien's", "peer-led", "müller", "2022"]
    assert words.words_of("COVID-19 café", "letters") == ["covid", "café"]
    assert [m.group() for m in words.WRITTEN_WORD.finditer("LEAN's 2 CHWs x")] == [
        "LEAN's", "CHWs", "x",
    ]  # fmt: skip
    assert words.HYPHENATED.findall("an intention-to-treat, peer-led trial") == [
        "intention-to-treat", "peer-led",
    ]  # fmt: skip
    assert words.word_count(" a  b\nc ") == 3
    assert [m.group() for m in words.SPACED_WORD.finditer("a-b  c.")] == ["a-b", "c."]


def test_content_words_drop_function_words_and_short_words_and_stem_lightly():
    assert words.content_words("How are the peers trained in programmes?") == {
        "peer", "train", "programm",
    }  # fmt: skip
    assert words.light_stem("uses") == "uses"  # keeps four letters
    assert words.light_stem("needs") == "need"


def test_profile_words_are_written_words_in_one_form():
    assert words.profile_words("The LEAN trial's CHWs: texting studies, one key RCT") == [
        "lean", "trial", "chw", "text", "study", "rct",
    ]  # fmt: skip
    assert words.word_form("class") == "class"


def test_bm25_tokens_drop_english_stopwords_and_stem():
    stemmer = words.english_stemmer()
    (tokens,) = words.bm25_tokenize("How were the volunteers trained? A 1-day course", stemmer,
                                    return_ids=False)  # fmt: skip
    # bm25s's short English list: "the" and "a" go, "how" and "were" stay; "1" is too short
    assert tokens == ["how", "were", "volunt", "train", "day", "cours"]
    ids = words.bm25_tokenize(["peer support", "support"], stemmer)
    assert set(ids.vocab) == {"peer", "support"}
    assert [len(d) for d in ids.ids] == [2, 1]


def test_late_interaction_stopwords_add_question_words_to_bm25s():
    assert {"the", "how", "what", "should"} <= words.TOKEN_STOPWORDS
    assert "peer" not in words.TOKEN_STOPWORDS


# Word regexes that are readings of "a word" (a findall/compile over word characters),
# written anywhere but here.
_WORD_PATTERNS = (
    r"[a-z0-9]+",
    r"[a-z0-9']+",
    r"[\w'’-]+",
    r"[A-Za-z][\w'’-]*",
    r"[^\W\d_]+",
    r"(?u)\b\w\w+\b",
    r"\w+(?:-\w+)+",
    r"[\w’'/-]+",
)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_but_words_defines_a_word(path):
    if path == PACKAGE / "words.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not strings & set(_WORD_PATTERNS)
    # a stemmer made, or BM25 tokens with their own stopwords: english_stemmer, bm25_tokenize
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert not [
        n.lineno
        for n in calls
        if isinstance(n.func, ast.Attribute)
        and (
            n.func.attr == "Stemmer"
            or (n.func.attr == "tokenize" and any(k.arg == "stopwords" for k in n.keywords))
        )
    ]
    assert "bm25s.stopwords" not in {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }


# Builds BM25 over the bundled paper's paragraphs and searches it; prints the vocabulary,
# each paragraph's token ids, and the scores' exact bits.
_BUILD_KEYWORD_INDEX = """
import json, sys
import bm25s
from peerqa.config import Settings
from peerqa.words import bm25_tokenize, english_stemmer
text = (Settings().corpus_dir / "joo-2022-peer-support.txt").read_text(encoding="utf-8")
paragraphs = [p for p in text.split("\\n\\n") if p.strip()]
stemmer = english_stemmer()
tokenized = bm25_tokenize(paragraphs, stemmer)
bm25 = bm25s.BM25()
bm25.index(tokenized, show_progress=False)
queries = ["how were peer supporters trained", "what challenges did programmes report"]
scores = [bm25.get_scores(q).tolist() for q in bm25_tokenize(queries, stemmer, return_ids=False)]
json.dump({"vocab": tokenized.vocab, "ids": tokenized.ids,
           "scores": [[s.hex() for s in row] for row in scores]}, sys.stdout)
"""


def test_bm25_token_ids_and_scores_do_not_depend_on_the_hash_seed():
    """The keyword index built in two processes hashing strings differently has the same
    token ids and the same scores, to the bit: fits that read them are reproducible."""

    def build(seed: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        return subprocess.Popen([sys.executable, "-c", _BUILD_KEYWORD_INDEX], env=env,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip

    builds = [build("1"), build("2")]  # side by side
    first, second = (json.loads(b.communicate()[0]) for b in builds)
    assert [b.returncode for b in builds] == [0, 0]
    words_ = [w for w in first["vocab"] if w]  # bm25s.index appends "" (an empty text's)
    assert len(words_) > 500 and words_ == sorted(words_)
    assert first == second
