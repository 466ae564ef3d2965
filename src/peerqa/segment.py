"""Offset-preserving sentence and chunk segmentation shared by every parser.

Everything here returns absolute (start, end) offsets into the caller's text, so a
passage is always an exact slice of its source and never a rewritten copy.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from peerqa.words import word_count

# Tokens that end with a period but (almost) never end a sentence. "etc." is left out
# on purpose: it often does end one, and a lowercase continuation already keeps it whole.
# "no" is left out too: "said no. Then" is commoner in interviews than "No. 5".
ABBREVIATIONS = frozenset(
    "e.g i.e al dr mr mrs ms prof vs cf fig figs approx st jr sr vol pp ed eds ref refs".split()
)

CLOSERS = "”’\"')]»"
# A candidate end: terminal punctuation, closing quotes/brackets, then citation digits
# glued to the period ("States.1", "behaviours.5–10", "Anonymous.3,4").
_END = re.compile(
    r"(?P<term>[.!?]+|…|\.\.\.)"
    rf"(?P<close>[{re.escape(CLOSERS)}]*)"
    r"(?P<cite>\d{1,3}(?:[,–-]\d{1,3})*)?"
    r"(?=\s|$)"
    # ...or a full stop glued to the next sentence by a converter that lost the space
    # ("(BP) control.To evaluate"): after a lowercase word, a bracket, a percent or a
    # digit, and before a capitalised word and a space (not "Mobile.Net)", "3.5",
    # "jamanetwork.com"; abbreviations and initials are ruled out in _boundary).
    r"|(?:(?<=[a-z]{2})|(?<=[)\]%\d]))(?P<glued>[.!?])(?=[A-Z][a-z]+\s)"
)
# A short attribution after a quote, e.g. "(B, PL)", "(Programme B, PL)", "(F)".
_ATTRIBUTION = re.compile(r"\s+\([^()\n.!?]{1,40}\)(?=\s|$)")
_OPENERS = "“‘\"'([¿¡…"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_MAX_TOKEN = 12  # longer tokens are never abbreviations; bounds the look-back


def trimmed(text: str, s: int, e: int) -> tuple[int, int] | None:
    """(s, e) shrunk to its non-space content, or None when it is all space."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return (s, e) if s < e else None


def _starts_sentence(ch: str) -> bool:
    return ch.isupper() or ch.isdigit() or ch in _OPENERS


def _is_abbreviation(text: str, period: int) -> bool:
    """Whether the period at `period` closes an abbreviation or an initial ("J.")."""
    i = period
    while i > 0 and period - i < _MAX_TOKEN and (text[i - 1].isalpha() or text[i - 1] == "."):
        i -= 1
    token = text[i:period]
    if token.lower() in ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isupper():
        return True  # an initial
    return "." in token  # "U.S", "e.g" spelled without the list


def _boundary(text: str, m: re.Match[str], limit: int) -> int | None:
    """The end offset of a sentence ending at match `m`, or None if it is no boundary."""
    if m.group("glued"):
        if m.group("glued") == "." and _is_abbreviation(text, m.start()):
            return None
        return m.end()
    term, cite = m.group("term"), m.group("cite")
    if term == "…" or term == "...":
        # Only an ellipsis glued to a word ends a sentence ("plan… I wish"); a spaced
        # one ("powerful … Peer") or one opening a quote ("“… I was") is a pause.
        before = text[m.start() - 1] if m.start() else " "
        if not (before.isalnum() or before in CLOSERS):
            return None
    if term.startswith(".") and len(term) == 1 and _is_abbreviation(text, m.start()):
        return None
    if cite and (m.start() == 0 or text[m.start() - 1].isdigit()):
        return None  # "6.25 million" is a decimal, not a citation
    end = m.end()
    attribution = _ATTRIBUTION.match(text, end, limit)
    if attribution:
        end = attribution.end()
    rest = trimmed(text, end, limit)
    if rest is None or _starts_sentence(text[rest[0]]):
        return end
    return None


def _paragraph_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A blank line separates sentences, whatever punctuation precedes it, except after
    a colon: a lead-in ("…consisted of four phases:") and what it introduces read as one."""
    spans, s = [], start
    for m in _PARAGRAPH_BREAK.finditer(text, start, end):
        if text[s : m.start()].rstrip().endswith(":"):
            continue
        spans.append((s, m.start()))
        s = m.end()
    spans.append((s, end))
    return spans


# A list counter a converter ran into one paragraph ("1. Increasing uptake 2. Filling in
# gaps 3. …"): a number of one or two digits after a space, its full stop, then a space.
_COUNTER = re.compile(r"(?:(?<=\s)|(?<=^))(\d{1,2})\.(?=\s)", re.MULTILINE)


# A number a capitalised word labels ("Table 2.", "Fig. 3.", "Step 4.").
_LABELLED = re.compile(r"\b[A-Z][a-z]+\.?\s+$")


def _counters(text: str, start: int, end: int) -> set[int]:
    """Offsets of the full stops of an inline numbered list's counters: "1.", "2.", … in
    sequence within text[start:end], two or more of them. They end no sentence: the list
    reads as one (its items, each a fragment, are its lead-in's answer), never as items
    each carrying the next one's number ("Filling in gaps 3.")."""
    out: set[int] = set()
    chain: list[int] = []
    for m in _COUNTER.finditer(text, start, end):
        if _LABELLED.search(text, max(start, m.start() - 16), m.start()):
            continue  # "Table 2.", "Fig. 3.": a caption's number, no list's
        n = int(m.group(1))
        if n == 1:
            chain = [m.end() - 1]
        elif chain and n == len(chain) + 1:
            chain.append(m.end() - 1)
        else:
            continue
        if len(chain) >= 2:
            out.update(chain)
    return out


# A superscript citation a converter left bare after a sentence ("control. 28 In phase
# 1, …"): numbers, then a capitalised word (a count goes on in lower case, "28 participants").
_LEADING_CITE = re.compile(r"\d{1,3}(?:\s?[,–-]\s?\d{1,3})*(?=\s+[A-Z])")
_MAX_CITE_RANGE = 50


# A citation printed in brackets: "[12]", "[3-5]", "[11, 12]".
_BRACKETED = re.compile(r"\[(\d{1,3}(?:\s?[,–-]\s?\d{1,3})*)\]")


def _numbers(marker: str) -> list[int] | None:
    """The numbers of `marker` ("28", "29,30", "5–7"); None for an implausible range."""
    numbers: list[int] = []
    for part in re.sub(r"\s", "", marker).split(","):
        low, _, high = part.replace("–", "-").partition("-")
        a, b = int(low), int(high or low)
        if b < a or b - a > _MAX_CITE_RANGE:
            return None
        numbers.extend(range(a, b + 1))
    return numbers


def _cited(marker: str, citations: Collection[int], bracketed: Collection[int] = ()) -> bool:
    """Whether every number of `marker` is a reference number the sentence before it does
    not cite in brackets: "…excluded [12]. 12 Patients…" cites 12 once, and the second 12
    is a count (a superscript would not repeat the citation its sentence just made)."""
    numbers = _numbers(marker)
    if not numbers:
        return False
    return all(n in citations for n in numbers) and not all(n in bracketed for n in numbers)


def _citations_to_previous(
    text: str, spans: list[tuple[int, int]], citations: Collection[int]
) -> list[tuple[int, int]]:
    """A sentence opening with a bare citation of the paper's references: the number
    ends the sentence before it, as a glued "States.1" does."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        m = _LEADING_CITE.match(text, s, e)
        closed = out and text[out[-1][1] - 1] in ".!?" + CLOSERS
        before = _BRACKETED.finditer(text, *out[-1]) if out else ()
        bracketed = {n for b in before for n in _numbers(b[1]) or ()}
        if m and closed and _cited(m.group(), citations, bracketed):
            out[-1] = (out[-1][0], m.end())
            s = trimmed(text, m.end(), e)[0]  # a capital follows: never all space
        out.append((s, e))
    return out


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, citations: Collection[int] = ()
) -> list[tuple[int, int]]:
    """Sentence boundaries in text[start:end], as absolute whitespace-trimmed offsets.

    The spans cover every non-space character of the range, in order. `citations`: the
    reference numbers of the text's paper, so that a bare superscript number opening a
    sentence ("… control. 28 In phase 1") ends the sentence before it instead.
    """
    end = len(text) if end is None else end
    sentences: list[tuple[int, int]] = []
    for p_start, p_end in _paragraph_spans(text, start, end):
        s = p_start
        counters = _counters(text, p_start, p_end)
        for m in _END.finditer(text, p_start, p_end):
            if m.start() < s:
                continue  # inside an attribution already taken by the previous sentence
            if m.start() in counters and m.group("term") == ".":
                continue
            cut = _boundary(text, m, p_end)
            if cut is None:
                continue
            span = trimmed(text, s, cut)
            if span:
                sentences.append(span)
            s = cut
        span = trimmed(text, s, p_end)
        if span:
            sentences.append(span)
    return _citations_to_previous(text, sentences, citations) if citations else sentences


def _balanced_starts(words: list[int], max_words: int) -> list[int]:
    """Start index of each chunk: a linear-time DP over chunk ends minimising
    sum(size²) + max_words² per chunk.

    The per-chunk charge outweighs any gain from splitting (two neighbours that fit
    together always cost less merged), so chunks are as few as the budget allows;
    the squared sizes then even them out, so a paragraph never ends in a tiny tail.
    """
    n = len(words)
    penalty = max_words * max_words
    best = [0] + [-1] * n  # best[i]: cheapest cost of the first i sentences
    back = [0] * (n + 1)  # back[i]: where the last chunk of that cost starts
    for i in range(1, n + 1):
        size = 0
        for s in range(i - 1, -1, -1):
            size += words[s]
            if size > max_words and s < i - 1:
                break  # only a single sentence may exceed the budget
            cost = best[s] + size * size + penalty
            if best[i] < 0 or cost < best[i]:
                best[i], back[i] = cost, s
    starts, i = [], n
    while i > 0:
        i = back[i]
        starts.append(i)
    return starts[::-1]


def chunk_spans(
    text: str, sentences: list[tuple[int, int]], max_words: int = 120
) -> list[tuple[int, int]]:
    """Pack consecutive sentences into chunks of at most ~max_words words.

    A single sentence longer than max_words stays whole as its own chunk; otherwise
    chunks are as few as possible and balanced in size. Chunks span (first start,
    last end).
    """
    if not sentences:
        return []
    words = [word_count(text[s:e]) for s, e in sentences]
    bounds = _balanced_starts(words, max_words) + [len(sentences)]
    return [
        (sentences[a][0], sentences[b - 1][1]) for a, b in zip(bounds, bounds[1:], strict=False)
    ]
