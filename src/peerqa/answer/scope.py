"""Which paper a question is about when several are loaded.

A question names a paper by its first author ("the Braun review", "Thomson et al 2024"),
by a name no other loaded paper uses (a trial, platform or place: "Lifestyle Africa",
"Togetherall", "the LEAN trial"), by its journal ("the BJPsych Open review"), a year
narrowing any of these, or, failing all of them, by its description ("the schizophrenia
texting trial in China", see DESCRIPTION_MIN). A question that names none is about the
paper the conversation is on: its focus, the paper an earlier turn named or the only one
the last answer cited ("how many did they interview?" after a turn on the Joo paper). A
request's `document` filter scopes it too. With none of these, several papers may answer,
and the answer says which paper each sentence comes from (answer.compose).

Names are read from the loaded papers themselves, never from a list: a phrase is a
paper's name when that paper writes it capitalised nearly every time, as a whole name (not
only inside a longer one: "Impression" of "Clinical Global Impression" is no name), and no
other paper writes it at all, so it keeps working for papers nobody here has seen. A name
made only of ordinary English words (the embedding model's whole-word vocabulary: "AUDIT",
"LEAN", "Cape Town") names its paper only when the question writes it as a name
(capitalised, not merely by starting the sentence) or beside a word for a study ("the lean
trial"): "how do programmes audit quality?" is not about an alcohol-use instrument. A first
author's surname that the papers also use as an ordinary word ("Young") needs the same.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from peerqa.answer.sentences import bank_for
from peerqa.models import Answer, AnswerScope, Filters, surname
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.programmes import named_letters
from peerqa.words import WRITTEN_WORD as _WORD
from peerqa.words import profile_words

# How a question names a paper
NAMED = "question"
SESSION = "session"
FILTER = "filter"

_CAPITALISED = re.compile(r"^[A-Z]")
_POSSESSIVE = re.compile(r"['’]s$")
_ACRONYM_PLURAL = re.compile(r"^[A-Z]{2,}s$")
_SENTENCE_END = re.compile(r"[.!?:;•|\n]")
_ABSTRACT = re.compile(r"^(?:abstract|summary|author summary)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
# "the 2013 review", "the BJPsych Open paper": a journal or a year alone names a study
# only beside a word for one.
_STUDY_WORD = re.compile(
    r"\b(?:study|studies|paper|article|(?<!peer )review|meta-?analysis|trial|rct|survey|report|"
    r"evaluation|authors?|researchers?|et al)\b",
    re.IGNORECASE,
)
# "how many did they interview?", "is this an RCT?", "the study's sample": a question
# pointing back at the conversation's study stays on the session's paper.
_REFERS_BACK = re.compile(
    r"\b(?:they|them|their|this|these|those|it|its|(?:the|that|same) (?:study|studies|paper|"
    r"trial|review|authors?|researchers?|article|sample|participants|interviewees|"
    r"intervention|programmes?|programs?|results|findings))\b",
    re.IGNORECASE,
)
# A question stays on the session's paper when one of that paper's passages is among the
# first MOVED_ON_DEPTH of every paper's ranking for it (eval/papers/focus.py).
MOVED_ON_DEPTH = 8
MAX_NAME_WORDS = 3
MIN_NAME_LETTERS = 4
MIN_NAME_USES = 3  # a name the paper uses once may be a passing mention
MIN_NAME_USES_ANYWHERE = 10  # or fewer, in its title or abstract
MIN_CAPITALISED = 0.8  # share of its uses written capitalised: a proper name
MIN_WHOLE = 0.5  # share of its capitalised uses that are the whole name, not part of one
# A paper named by what it is about ("the schizophrenia texting trial in China", "that CHW
# mobile phone review"): a study word with the words describing it, after a determiner (or
# opening the question). Confined only when the description's words, weighted by how rare
# they are among the loaded papers' profiles, are nearly all in one paper's profile (title,
# abstract, journal, its names and key terms) and clearly fewer in any other's; a word no
# profile has ("the Cochrane review", "the Kenyan trial") is another study's. Both
# thresholds are chosen by eval.papers.describe (cross-validated, papers held out).
DESCRIPTION_MIN = 0.6
DESCRIPTION_MARGIN = 0.15
KEY_TERMS = 25  # a paper's own key terms: its words most particular to it (tf-idf)
ABSTRACT_WORDS = 400  # a paper without an abstract: its first words stand in
_KIND = r"study|studies|paper|article|review|meta-?analysis|trial|rct|survey|report|evaluation"
_DESCRIBED = re.compile(
    rf"(?:^|\b(?:the|that|this|those|these)\s+)"
    rf"(?P<before>(?:(?!(?:the|that|this|those|these|a|an)\b)[\w'’-]+\s+){{0,6}}?)"
    rf"(?P<kind>{_KIND})\b(?:['’]s)?"
    rf"(?P<after>\s+(?:of|on|in|about|with|among|for|from|using|at|across|testing)\s+[^?.,;:!()]*)?",
    re.IGNORECASE,
)
_NO_DESIGN = re.compile(r"^(?:study|studies|paper|article|report)$", re.IGNORECASE)
# Where the words after a study word stop describing it ("the trial in China did …").
_DESCRIPTION_END = re.compile(
    r"\b(?:did|does|do|was|were|is|are|has|have|had|find|finds|found|report|reported|say|"
    r"says|said|show|showed|conclude|concluded|what|how|who|which|when|why|where)\b",
    re.IGNORECASE,
)

# A word after an ordinary-word name that makes it one ("the lean trial", "audit tool" not).
_NAME_NOUN = re.compile(
    r"^(?:study|studies|paper|article|review|trial|rct|survey|report|evaluation|programme|"
    r"program|intervention|project|platform|service|app|website|site|community|forum|cohort)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PaperNames:
    """What names each loaded paper (document id -> …)."""

    surnames: dict[str, str]  # first author's surname, lowercased
    journals: dict[str, str]  # journal, lowercased words joined by one space
    years: dict[str, int]
    names: dict[str, str]  # a phrase only that paper uses (lowercased) -> document
    # Of those names and surnames, the ones made of ordinary words: named only when written
    # as a name (see the module's doc).
    ordinary: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scope:
    documents: tuple[str, ...] = ()  # the papers an answer is confined to (none: any)
    by: str | None = None  # NAMED, SESSION or FILTER
    several: bool = False  # several papers are loaded: say which paper each sentence is from


def paper_names(index: LiveIndex) -> PaperNames:
    return bank_for(index).derived("paper names", _paper_names)


def _words(text: str) -> list[str]:
    return _words_and_starts(text)[0]


def _words_and_starts(text: str) -> tuple[list[str], list[bool]]:
    """The words of `text` ("LEAN's" -> "LEAN") and whether each starts a sentence."""
    words, starts, _ = _words_starts_runs(text)
    return words, starts


def _words_starts_runs(text: str) -> tuple[list[str], list[bool], list[bool]]:
    """`_words_and_starts`, and whether each word follows the one before with only a space
    between (a name runs on: "Cape Town"; "Cape Town, South Africa" is two)."""
    words, starts, joined = [], [], []
    previous = 0
    for m in _WORD.finditer(text):
        between = text[previous : m.start()]
        starts.append(not words or bool(_SENTENCE_END.search(between)))
        joined.append(bool(words) and between.isspace())
        word = _POSSESSIVE.sub("", m.group()).rstrip("'’-")
        words.append(word[:-1] if _ACRONYM_PLURAL.match(word) else word)  # "RCTs" is "RCT"
        previous = m.end()
    return words, starts, joined


def _grams_at(words: Sequence[str]) -> Iterator[tuple[str, int, int]]:
    lower = [w.lower() for w in words]  # (_key's, once a word: every paper's words pass here)
    for n in range(1, MAX_NAME_WORDS + 1):
        for i in range(len(words) - n + 1):
            yield " ".join(lower[i : i + n]), i, n


def _grams(words: Sequence[str]) -> Iterator[str]:
    return (key for key, _, _ in _grams_at(words))


def _key(words: Sequence[str]) -> str:
    return " ".join(w.lower() for w in words)


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _paper_names(index: LiveIndex) -> PaperNames:
    from peerqa.answer.evidence import is_front_matter  # evidence reads questions, which read this

    documents = index.state.documents if index.state else []
    surnames, journals, years = {}, {}, {}
    for d in documents:
        name = surname(d.authors[0]).lower() if d.authors else ""
        if len(name) >= 3:
            surnames[d.id] = name
        if d.journal:
            journals[d.id] = _key(_words(d.journal))
        if d.year:
            years[d.id] = d.year
    # Every phrase of 1-3 words, per paper: how often written at all, and capitalised
    # where a sentence does not start; and the phrases of its title and abstract.
    # Counts by phrase, then by paper (plain dicts: every phrase of every paper is counted
    # here at each ingest, and a Counter per phrase costs more than the counting).
    uses: dict[str, dict[str, int]] = defaultdict(dict)
    mid: dict[str, dict[str, int]] = defaultdict(dict)  # not starting a sentence
    capitalised: dict[str, dict[str, int]] = defaultdict(dict)
    whole: dict[str, dict[str, int]] = defaultdict(dict)  # capitalised, not inside a longer name
    lower: set[str] = set()  # words written in lower case where a sentence does not start
    headline: dict[str, set[str]] = {d.id: set(_grams(_words(d.title))) for d in documents}
    for p in index.passages.values():
        # A cited title names the citing paper's sources; an affiliation, its authors.
        if p.kind == "reference" or is_front_matter(p):
            continue
        words, starts, joined = _words_starts_runs(p.text)
        caps = [_CAPITALISED.match(w) is not None for w in words]
        in_abstract = _ABSTRACT.match(p.section) is not None
        doc = p.document
        for key, at, n in _grams_at(words):
            _count(uses[key], doc)
            if in_abstract:
                headline.setdefault(doc, set()).add(key)
            if starts[at]:  # any word starting a sentence is capitalised
                continue
            _count(mid[key], doc)
            if n == 1 and not caps[at]:
                lower.add(words[at].lower())
            if all(caps[at : at + n]):
                _count(capitalised[key], doc)
                before = joined[at] and caps[at - 1] and not starts[at - 1]
                after = at + n < len(words) and joined[at + n] and caps[at + n]
                if not (before or after):
                    _count(whole[key], doc)
    names = {}
    for key, by_document in capitalised.items():
        if len(uses[key]) != 1 or sum(c.isalpha() for c in key) < MIN_NAME_LETTERS:
            continue
        ((document, count),) = by_document.items()
        if (
            count >= MIN_NAME_USES
            and count >= MIN_CAPITALISED * mid[key][document]
            and whole[key].get(document, 0) >= MIN_WHOLE * count
            and (key in headline.get(document, ()) or count >= MIN_NAME_USES_ANYWHERE)
        ):
            names[key] = document
    vocabulary = english_words(index)
    ordinary = {k for k in names if all(w in vocabulary for w in re.split(r"[\s-]+", k))}
    ordinary |= {s for s in surnames.values() if s in lower}
    return PaperNames(surnames, journals, years, names, frozenset(ordinary))


def paper_profiles(index: LiveIndex) -> dict[str, frozenset[str]]:
    """Each paper's profile words (see DESCRIPTION_MIN)."""
    known = paper_names(index)
    return bank_for(index).derived("paper profiles", lambda i: _paper_profiles(i, known))


def _paper_profiles(index: LiveIndex, known: PaperNames) -> dict[str, frozenset[str]]:
    from peerqa.answer.evidence import is_front_matter

    documents = index.state.documents if index.state else []
    text: dict[str, list[str]] = defaultdict(list)
    abstract: dict[str, list[str]] = defaultdict(list)
    for p in index.passages.values():
        if p.kind == "reference" or is_front_matter(p):
            continue
        words = profile_words(p.text)
        text[p.document] += words
        if _ABSTRACT.match(p.section):
            abstract[p.document] += words
    counts = {d: Counter(ws) for d, ws in text.items()}
    df = Counter(w for c in counts.values() for w in c)
    n = len(documents)
    names: dict[str, list[str]] = defaultdict(list)
    for key, d in known.names.items():
        names[d] += profile_words(key)
    profiles = {}
    for d in documents:
        own = counts.get(d.id, Counter())
        key_terms = sorted(own, key=lambda w: -own[w] * math.log(1 + n / df[w]))[:KEY_TERMS]
        opening = abstract.get(d.id) or text.get(d.id, [])[:ABSTRACT_WORDS]
        words = [*profile_words(d.title), *profile_words(d.journal or ""), *opening, *key_terms]
        profiles[d.id] = frozenset([*words, *names.get(d.id, [])])
    # Every word any paper writes: a description word none does describes another study.
    profiles[""] = frozenset(df)
    return profiles


def description(raw: str) -> list[str]:
    """The words describing a study the question asks about ("the schizophrenia texting
    trial in China" -> schizophrenia, text, trial, china), [] when it describes none."""
    for m in _DESCRIBED.finditer(raw):
        if re.search(r"\bpeer\s+$", m.group("before")) and m.group("kind").lower() == "review":
            continue  # "open peer review": the other sense of "peer"
        after = m.group("after") or ""
        end = _DESCRIPTION_END.search(after)
        after = after[: end.start()] if end else after
        said = profile_words(m.group("before") + " " + after)
        if said:  # "paper", "study" say nothing of which; "trial", "review" do
            kind = m.group("kind")
            return [*([] if _NO_DESIGN.match(kind) else profile_words(kind)), *said]
    return []


def description_scores(index: LiveIndex, raw: str) -> dict[str, float]:
    """Each loaded paper's share of the question's description (words weighted by their
    rarity among the profiles); {} when the question describes no study."""
    said = list(dict.fromkeys(description(raw)))
    profiles = dict(paper_profiles(index))
    written = profiles.pop("", frozenset())
    if not said or len(profiles) < 2:
        return {}
    if any(w not in written for w in said):  # "the Kenyan trial": not a loaded paper
        return dict.fromkeys(profiles, 0.0)
    n = len(profiles)
    weight = {w: math.log(1 + n / (1 + sum(w in p for p in profiles.values()))) for w in said}
    total = sum(weight.values())
    return {d: sum(weight[w] for w in said if w in p) / total for d, p in profiles.items()}


def described_documents(
    index: LiveIndex, raw: str, least: float | None = None, margin: float | None = None
) -> tuple[str, ...]:
    """The one paper the question describes, if any (see DESCRIPTION_MIN)."""
    least = DESCRIPTION_MIN if least is None else least
    margin = DESCRIPTION_MARGIN if margin is None else margin
    scores = sorted(description_scores(index, raw).items(), key=lambda kv: -kv[1])
    if not scores or scores[0][1] < least:
        return ()
    runner_up = scores[1][1] if len(scores) > 1 else 0.0
    return (scores[0][0],) if scores[0][1] - runner_up >= margin else ()


def english_words(index: LiveIndex) -> frozenset[str]:
    """Ordinary English words: the embedding model's whole-word vocabulary (lower case)."""
    try:
        return _vocabulary(index.settings.resolved_model_path())
    except (OSError, ValueError):  # a model without a tokenizer file: every word is rare
        return frozenset()


@cache
def _vocabulary(model_path: Path) -> frozenset[str]:
    from peerqa.onnx_encoder import ModelTokenizer

    vocabulary = ModelTokenizer(model_path).get_vocab()
    return frozenset(t for t in vocabulary if t.isalpha() and t.islower())


def _written_as_name(words: Sequence[str], starts: Sequence[bool], at: int, n: int) -> bool:
    """The question writes words[at:at+n] as a name: each word capitalised, and more than a
    sentence's first capital ("Audit of…" is not "AUDIT"); or a word for a study follows."""
    if at + n < len(words) and _NAME_NOUN.match(words[at + n]):
        return True
    said = words[at : at + n]
    if not all(_CAPITALISED.match(w) for w in said):
        return False
    return not starts[at] or n > 1 or any(c.isupper() for c in said[0][1:])


def named_documents(index: LiveIndex, raw: str, describe: bool = True) -> tuple[str, ...]:
    """The loaded papers the question names (none when fewer than two are loaded: the
    one paper needs no naming); by its description too, unless `describe` is False."""
    documents = [d.id for d in index.state.documents] if index.state else []
    if len(documents) < 2:
        return ()
    known = paper_names(index)
    words, starts = _words_and_starts(raw)
    asked = " " + _key(words) + " "
    named_at = {
        key: (at, n)
        for key, at, n in _grams_at(words)
        if key not in known.ordinary or _written_as_name(words, starts, at, n)
    }
    found = {
        d
        for d, name in known.surnames.items()
        if f" {name} " in asked
        and (name not in known.ordinary or name in named_at or f" {name} et al " in asked)
    }
    # "Programme E": the papers whose programmes have that letter.
    letters = set(named_letters(raw))
    programmes = index.state.programmes if letters else {}
    found |= {d for d, rs in programmes.items() if letters & {r.programme for r in rs}}
    found |= {known.names[key] for key in named_at if key in known.names}
    study_word = bool(_STUDY_WORD.search(raw))
    if not found and study_word:
        found = {d for d, j in known.journals.items() if j and f" {j} " in asked}
    said = {int(y) for y in _YEAR.findall(raw)}
    if said:
        dated = {d for d, y in known.years.items() if y in said}
        if found & dated:  # a year narrows; alone ("the 2019 Cochrane review") it names none
            found &= dated
    if not found and describe:
        found = set(described_documents(index, raw))
    return tuple(d for d in documents if d in found)


def without_names(index: LiveIndex, text: str) -> str:
    """`text` without what names a paper and nothing else (first authors, "et al.",
    journals, years): what it asks about, once its paper is the scope's. A name only one
    paper uses stays: "Togetherall", "Programme B" are what a follow-up is about too."""
    known = paper_names(index)
    names = {*known.surnames.values(), *known.journals.values()}
    names = {n for n in names if n}
    if not names:
        return text
    spelled = "|".join(
        re.escape(n).replace("\\ ", " ").replace(" ", r"\W+") for n in sorted(names, key=len)[::-1]
    )
    text = re.sub(rf"(?<![\w'’-])(?:{spelled})(?:['’]s)?(?![\w'’-])", " ", text, flags=re.I)
    text = re.sub(r"\bet\s+al\b\.?|\b(?:19[5-9]\d|20\d\d)\b", " ", text, flags=re.I)
    return re.sub(r"\s+", " ", text).strip()


def history_focus(index: LiveIndex, history: Sequence[str]) -> tuple[str, ...]:
    """The papers the latest earlier question naming any named (a conversation without a
    session store, such as chat completions, knows its questions only)."""
    for turn in reversed(history):
        named = named_documents(index, turn)
        if named:
            return named
    return ()


def scope_for(
    index: LiveIndex,
    raw: str,
    history: Sequence[str] = (),
    focus: Sequence[str] | None = None,
    filters: Filters | None = None,
) -> Scope:
    """The question's scope: the request's document filter, else the papers it names,
    else the session's focus (`focus`: the papers the session's last turn was about;
    None when there is no session record, then the papers its history names)."""
    loaded = [d.id for d in index.state.documents] if index.state else []
    several = len(loaded) > 1
    if filters and filters.document:  # what the request asks for wins
        return Scope(tuple(filters.document), FILTER, several)
    named = named_documents(index, raw)
    if named:
        return Scope(named, NAMED, several)
    if focus is None:
        focus = history_focus(index, history)
    kept = tuple(d for d in focus if d in loaded)
    if kept and several:
        return Scope(kept, SESSION, several)
    return Scope((), None, several)


def scoped_filters(scope: Scope, filters: Filters | None) -> Filters | None:
    """The request's filters, confined to the scope's papers (a filter the request sets
    on documents is kept as it is)."""
    if not scope.documents or (filters and filters.document):
        return filters
    return (filters or Filters()).model_copy(update={"document": list(scope.documents)})


def about(answer: Answer) -> tuple[str, ...]:
    """What a turn was about, for the next turn's focus: its scope, else the one paper
    its answer cited (several cited papers leave no focus)."""
    if answer.scope:
        return tuple(answer.scope.documents)
    cited = tuple(dict.fromkeys(c.document for c in answer.citations))
    return cited if len(cited) == 1 else ()


def answer_scope(scope: Scope) -> AnswerScope | None:
    """What an answer reports of its scope (API: `scope`)."""
    if not scope.documents or scope.by is None:
        return None
    return AnswerScope(documents=list(scope.documents), by=scope.by)


def refers_back(question: str) -> bool:
    """The question points back at the conversation's study ("did they…", "this paper")."""
    return bool(_REFERS_BACK.search(question))
