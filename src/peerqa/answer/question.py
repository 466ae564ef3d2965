"""Stage 1, understand: a question and its session -> one `Question` every later stage reads.

The session is resolved once (answer.followup), the question embedded once (the vector
retrieval, the decline check and sentence scoring all use; its shorthand spelled out and
embedded once more only when it has any, for the intent model), and what it asks for is
named once: its intent (answer.intent), the names the evidence never mentions, the
stances (challenges, how programmes address them), programme facts, literature, the
programmes and papers it names, and an honest caveat when it asks for an outcome the
evidence never reports or presupposes a programme or count the evidence does not have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from peerqa.answer import lexicon
from peerqa.answer.coverage import coverage_of
from peerqa.answer.decline import evidence_of, unknown_names
from peerqa.answer.followup import intent_query, is_followup, retrieval_query
from peerqa.answer.intent import OFF_TOPIC, Intent, intent_text, load_intent_model, phrase_pattern
from peerqa.answer.profiles import Profile, profile_for
from peerqa.answer.scope import Scope, scope_for, without_names
from peerqa.answer.sentences import bank_for
from peerqa.embedding import QueryEncoding
from peerqa.models import Caveat, Filters
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.programmes import named_letters, shorthand_letters
from peerqa.words import FUNCTION_WORDS as _STOPWORDS
from peerqa.words import content_words, words_of
from peerqa.words import light_stem as _stem

STANCE_GROUPS = ("challenge", "mitigation")
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
    documents: tuple[str, ...]  # papers the answer is confined to (answer.scope), if any
    keywords: frozenset[str]  # stemmed content words of the resolved text
    caveat: Caveat | None
    # Read for the decline check (answer.decline); defaults let a later stage's test build
    # a Question without them.
    spelled: str = ""  # resolved with its shorthand spelled out ("NIMH (National Institute…)")
    spelled_vector: np.ndarray | None = None  # its unit vector (`vector` when nothing is spelled)
    intent: Intent | None = None  # what it asks for: evidence, or a class peerqa declines
    unknown: tuple[str, ...] = ()  # names in it the evidence never mentions under any form
    sources: tuple[str, ...] = ()  # of those, the ones naming a source it asks about
    scope: Scope = Scope()  # which papers it is about, and how that was decided
    # The unit vector of the question without the names the evidence mentions, when it
    # names any and reads off-topic (answer.decline: what an off-topic reading yields to).
    topic_vector: np.ndarray | None = None

    @property
    def grouped(self) -> bool:
        """Asks for challenges and how programmes address them, together."""
        return self.stances == frozenset(STANCE_GROUPS)


def asked_stances(text: str) -> frozenset[str]:
    return frozenset(s for s in STANCE_GROUPS if lexicon.pattern(f"asks_{s}").search(text))


def understand(
    index: LiveIndex,
    raw: str,
    history: Sequence[str] = (),
    focus: Sequence[str] | None = None,
    filters: Filters | None = None,
) -> Question:
    """`raw` in its session, read once (`focus`: the papers the session is on, see
    answer.scope).

    A follow-up is resolved against the turns it refers to, and its vector is the mean of
    the resolved text's and its own: "what about when the peer lives far away?" after a
    question about matching still searches for distance, not matching again.
    """
    # The papers an earlier turn names are the scope's to keep (answer.scope): what it
    # asked about is what a follow-up refers to ("What does Joo et al. 2022 report?" asks
    # about nothing in particular, so "how long?" after it is just "how long?").
    turns = [t for h in history if (t := topical(index, h))]
    resolved = retrieval_query(raw, turns)
    # What it asks for is read in the session even when it is searched for on its own
    # words ("what if the mum seems depressed?" after a question on a mothers' programme
    # asks about the programme, not for a diagnosis).
    in_session = intent_query(raw, turns)
    followup = bool(history) and is_followup(raw)
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
    spelled = intent_text(resolved)
    unknown = unknown_names(raw, evidence_of(index))
    spelled_vector = vector
    scope = scope_for(index, raw, history, focus, filters)
    if spelled != resolved:  # "funders other than NIMH" reads better spelled out
        spelled_vector = np.asarray(index.embed_model.get_query_embedding(spelled))
    intent_vector = spelled_vector
    if in_session != resolved:
        intent_vector = np.asarray(index.embed_model.get_query_embedding(intent_text(in_session)))
    intent = load_intent_model().classify(
        in_session, intent_vector, coverage_of(index).features(in_session)
    )
    topic_vector = None
    if OFF_TOPIC in (intent.label, intent.leaning):
        bare = evidence_of(index).without_names(raw)
        if bare != raw and content_words(bare):
            topic_vector = np.asarray(index.embed_model.get_query_embedding(bare))
            topic_vector = topic_vector / (np.linalg.norm(topic_vector) or 1.0)
    return Question(
        raw=raw,
        resolved=resolved,
        followup=followup,
        encoding=encoding,
        vector=vector,
        spelled=spelled,
        spelled_vector=spelled_vector,
        intent=intent,
        topic_vector=topic_vector,
        unknown=unknown,
        # "what did the 2015 trial of Programme B find" is about the held programmes: a
        # false premise to correct (caveat_for), not another source to decline.
        sources=() if letters else unknown_sources(raw, unknown),
        stances=stances,
        asks_facts=bool(letters or lexicon.pattern("asks_facts").search(resolved)),
        asks_literature=bool(lexicon.pattern("asks_literature").search(raw)),
        programmes=letters,
        documents=scope.documents,
        scope=scope,
        keywords=frozenset(content_words(resolved)),
        caveat=caveat_for(index, raw, letters, unknown),
    )


# What a turn asks about when it only names a paper ("what does … report?").
_ABOUT_NOTHING = frozenset(
    "report find found say said show study paper article review trial research author "
    "tell summary summarise summarize overview main key conclusion".split()
)


def topical(index: LiveIndex, turn: str) -> str:
    """An earlier turn without its paper names, or "" when nothing else is asked."""
    rest = without_names(index, turn)
    return rest if content_words(rest) - {_stem(w) for w in _ABOUT_NOTHING} else ""


def unknown_sources(raw: str, unknown: Sequence[str]) -> tuple[str, ...]:
    """The unknown names that name the source the question asks about ("what did the 2019
    Cochrane review say", "findings of the X evaluation in Scotland"): evidence that never
    mentions a source cannot say what it found, however close its sentences are."""
    found: list[str] = []
    for m in lexicon.asks_source().finditer(raw) if unknown else ():
        said = set(words_of(m.group("np") + (m.group("after") or "")))
        found += [n for n in unknown if set(words_of(n)) <= said and n not in found]
    return tuple(found)


# -- caveats -----------------------------------------------------------------------------
CONDITIONS = Path(__file__).with_name("data") / "conditions.json"
_PROGRAMME_WORD = re.compile(r"\b(?:programmes?|programs?|progs?|schemes?)\b", re.IGNORECASE)
# "programmes for (people living with) diabetes"; not "for conditions like dementia".
_PEOPLE_WITH = (
    r"(?:(?:people|persons|patients|pts|those|families|adults|children|kids|parents|carers|"
    r"caregivers|women|men|mothers|mums|moms)\W+(?:with|living with|affected by)\W+)?"
)
# "how did the NHS choose…", "given that…": a past event or a fact taken as given.
_TAKES_FOR_GRANTED = re.compile(
    r"^\s*(?:(?:how|when|where) (?:did|was|were|had)\b|given that\b|since the\b|as the\b)",
    re.IGNORECASE,
)
# "NHS funded this right?", "…, didn't they?": a tag question asserts what it asks to confirm;
# "the interviews were all done in London - are…", "since all the progs were online only,
# how…": a statement before the question takes it as given.
_ASSERTS = re.compile(
    r"\b(?:right|correct|yeah|isn['’]?t (?:it|that|this)|didn['’]?t (?:they|it)|"
    r"wasn['’]?t (?:it|that))\s*\?|"
    r"^\s*(?:the|all|so)\b[^?]{0,80}?\b(?:was|were|is|are|had)\b[^?]{0,80}?(?:\s[-–—:]\s|,)|"
    r"^\s*(?:given|since|as|because)\b[^?]{0,80}?,",
    re.IGNORECASE,
)
# A question that only asks whether ("was there any follow-up at 6 months?") takes nothing
# for granted; one that asks about a thing ("the 200 interviews", "why did…") does.
_ASKS_WHETHER = re.compile(
    r"^\s*(?:was|were|is|are|did|do|does|any|has|have|had|can|could|will|would)\b", re.IGNORECASE
)


def caveat_for(
    index: LiveIndex, raw: str, letters: Sequence[str], unknown: Sequence[str] = ()
) -> Caveat | None:
    """What the answer must say first: a programme, a count, a condition or a name the
    evidence does not have (false premise), or an outcome no passage reports (not
    reported). Each text is checked against the evidence before it is said."""
    study = _study(index)
    presumed = bool(lexicon.pattern("presupposes").search(raw))
    studied = _programmes(index)
    letters = tuple(letters) or shorthand_letters(raw)
    if studied:
        unknown_letters = [letter for letter in letters if letter not in studied]
        count = _COUNTED.search(raw)
        said = count and (_NUMBERS.get(count.group(1).lower()) or int(count.group(1)))
        if unknown_letters or (said and said != len(studied)):
            return Caveat(kind="false_premise", text=f"{study} covers {_span(studied)}.")
        served = _condition_premise(index, raw, letters, studied)
        served = served or _setting_premise(index, raw, letters)
        if served:
            return Caveat(kind="false_premise", text=served)
    roles = _role_premise(index, raw, letters)
    roles = roles or _profile_premise(index, raw) or _format_premise(index, raw, letters)
    if roles:
        return Caveat(kind="false_premise", text=roles)
    # "why did the NHS…", "how did the NHS…", "what did the 2015 trial of Programme B find";
    # not "a widower w COPD - what does the paper say…": a name of the asker's context is
    # taken for granted only when it names the source asked about.
    sourced = unknown_sources(raw, unknown) if lexicon.asks_source().search(raw) else ()
    taken = presumed or _TAKES_FOR_GRANTED.search(raw) or _ASSERTS.search(raw)
    if unknown and (taken or sourced):
        names = " or ".join(f"“{n}”" for n in (unknown if taken else sourced))
        return Caveat(kind="false_premise", text=f"{study} does not mention {names}.")
    thing = _unmentioned(index, raw, "things")
    # "the focus groups", "how many focus groups…" take them for granted; "did they use
    # focus groups?" only asks.
    taken = bool(presumed or _TAKES_FOR_GRANTED.search(raw) or not _ASKS_WHETHER.match(raw))
    # A year only when taken for granted ("why were the interviews done in 2019?"): "did it
    # grow in 2023?" asks about a name the decline check reads (answer.decline).
    thing = thing or (taken and _unmentioned_year(index, raw))
    if thing:
        return Caveat(
            kind="false_premise" if taken else "not_reported",
            text=f"{study} does not mention {thing}.",
        )
    # "$ per participant": a currency sign asks what something costs.
    figure = _unmentioned(index, re.sub(r"[$£€]\s*", "cost ", raw), "figures")
    if figure:  # asked for ("typical wait to get matched?"), taken for granted only by "why…"
        return Caveat(
            kind="false_premise" if presumed else "not_reported",
            text=f"{study} does not report {figure}.",
        )
    reported = bank_for(index).derived("outcomes reported", _outcomes_reported)
    # "which ref links loneliness to mortality?": a cited study may report what the paper
    # itself does not, and that is what is asked.
    if lexicon.pattern("asks_literature").search(raw):
        reported = reported | bank_for(index).derived("outcomes cited", _outcomes_cited)
    outcome = next(
        (
            name
            for name, (asks, _) in lexicon.outcomes().items()
            if asks.search(raw) and name not in reported
        ),
        None,
    )
    numbered = _unmatched_count(index, raw)
    # "attrition at 12 months": the unreported outcome is the news, not its time point.
    if numbered and not (outcome and _TIME_POINT.search(numbered)):
        taken = presumed or not _ASKS_WHETHER.match(raw)
        return Caveat(
            kind="false_premise" if taken else "not_reported",
            text=f"{study} does not mention {numbered}.",
        )
    if outcome:
        # "Why did they survive longer?" takes the outcome for granted.
        return Caveat(
            kind="false_premise" if presumed else "not_reported",
            text=f"{study} does not report {outcome}.",
        )
    return None


_TIME_POINT = re.compile(r"\b(?:days|weeks|months|years|yrs|wks|mos)$", re.IGNORECASE)


@cache
def _conditions() -> dict[str, re.Pattern[str]]:
    data = json.loads(CONDITIONS.read_text(encoding="utf-8"))["conditions"]
    return {name: phrase_pattern(words) for name, words in data.items()}


def _said_of(letter: str) -> str:
    """The opening of what a question says of programme `letter` ("programme G's ",
    "prog C - ")."""
    return rf"\b(?:programme|program|prog|scheme)\s+{letter}\b(?:'s|’s)?\W+"


def _condition_premise(
    index: LiveIndex, raw: str, letters: Sequence[str], studied: Sequence[str]
) -> str | None:
    """A programme asked about as serving a condition no programme of the evidence serves
    ("which diabetes programme…", "programme A's dialysis patients"), read against the
    programmes' own table rows (condition and description). Only when every document held
    has programme rows: another paper may be about that condition."""
    state = index.state
    if state is None or len(state.programmes) < len(state.documents):
        return None
    if not (letters or _PROGRAMME_WORD.search(raw)):
        return None
    asked = {name: m.group() for name, p in _conditions().items() if (m := p.search(raw))}
    if not asked:
        return None
    records = {
        p.programme: f"{p.condition} {p.description}"
        for rs in state.programmes.values()
        for p in rs
    }
    named = [letter for letter in letters if letter in records]
    if named:
        # Only a population said to be the programme's ("programme A's dialysis patients",
        # "programme A for dialysis"), not a topic asked about ("does F help with
        # depression"); "C's mothers with depression" names one population C serves.
        for letter in named:
            own = re.compile(
                _said_of(letter)
                + rf"(?:{_LINKING}\W+){{0,3}}"
                + rf"(?:(?:\w+\W+){{0,3}}?(?:for|serving|(?:limited|restricted|confined) to)\W+)?"
                rf"(?P<said>{_PEOPLE_WITH}\w+(?:\W+\w+)?)",
                re.IGNORECASE,
            ).search(raw)
            # The population's first condition word is its head: "kidney transplants" is
            # about kidneys, "mothers with depression" about mothers.
            found = [
                (m.start(), n)
                for n, p in _conditions().items()
                if own and (m := p.search(own.group("said")))
            ]
            said = [min(found)[1]] if found else []
            if said and not any(_conditions()[n].search(records[letter]) for n in said):
                condition = next(
                    p.condition
                    for rs in state.programmes.values()
                    for p in rs
                    if p.programme == letter
                )
                return f"Programme {letter} is for {condition[:1].lower()}{condition[1:]}."
        return None
    for name, said in asked.items():
        # Only a programme said to be for it ("a diabetes programme", "programmes for
        # people with diabetes"), not one given as an example of something else.
        framed = re.search(
            rf"{re.escape(said)}\W+(?:\w+\W+)?{_PROGRAMME_WORD.pattern}|"
            rf"{_PROGRAMME_WORD.pattern}\W+(?:for|serving)\W+{_PEOPLE_WITH}{re.escape(said)}",
            raw,
            re.IGNORECASE,
        )
        # "I'd like to start a programme for COPD pts": the asker's own or a hypothetical
        # programme takes nothing about the studied ones for granted.
        own = framed and re.search(
            r"\b(?:a|an|my|our|new|own)\s+(?:[\w-]+\s+){0,3}$", raw[: framed.start()], re.IGNORECASE
        )
        if framed and not own and not any(_conditions()[name].search(t) for t in records.values()):
            return f"None of {_span(studied)} is for {name}."
    return None


_ALL_PROGRAMMES = re.compile(
    r"\b(?:all|every|each)\b(?:\s+(?:of\s+)?(?:the|these|those|\d+|seven))*\s+"
    + _PROGRAMME_WORD.pattern,
    re.IGNORECASE,
)


# What may stand between a programme and what it is said to be ("programme A was only
# ever run in…"), and nothing else: "programme A vs hospital-based ones" says nothing of A.
_LINKING = (
    r"(?:is|was|were|are|be|been|being|run|runs|ran|running|operat\w*|only|just|so|always|"
    r"ever|entirely|purely|mainly|mostly|completely|a|an|the|really)"
)


def _setting_premise(index: LiveIndex, raw: str, letters: Sequence[str]) -> str | None:
    """A programme said to run where, or reach as far as, its table row does not say ("why
    was programme A hospital-based?"), or all programmes said to ("why were all 7
    programmes hospital based?"), read against the rows' setting and reach."""
    state = index.state
    # Whose programme A it is is only clear with one paper, the one with the rows.
    if state is None or len(state.documents) != 1 or len(state.programmes) != 1:
        return None
    if _ASKS_WHETHER.match(raw):
        return None
    records = {p.programme: p for rs in state.programmes.values() for p in rs}
    for name, (field, said) in lexicon.settings().items():
        has = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
        for letter in letters:
            # said of it: right after "programme A", linking words apart
            near = _said_of(letter) + rf"(?:{_LINKING}\W+){{0,3}}"
            if letter in records and re.search(near + said.pattern, raw, re.IGNORECASE):
                value = getattr(records[letter], field)
                if not has.search(value):
                    if field == "setting":
                        return f"Programme {letter} is {value}."
                    return f"Programme {letter}'s reach is {value[:1].lower()}{value[1:]}."
        if not letters and _ALL_PROGRAMMES.search(raw) and said.search(raw):
            lacking = sorted(x for x, p in records.items() if not has.search(getattr(p, field)))
            if lacking:
                verb = "is" if len(lacking) == 1 else "are"
                return f"{_span(lacking)} {verb} not {name}."
    return None


# "only peer supporters were interviewed", "interviewed just the leaders", "all 43
# interviewees were patients"
_ONLY_INTERVIEWED = re.compile(
    r"\b(?:only|just|solely)\s+(?P<a>(?:[\w-]+\s+){1,3}?)(?:were\s+|was\s+|got\s+)?interview|"
    r"\binterview\w*\s+(?:only|just|solely)\s+(?P<b>(?:the\s+)?[\w-]+(?:\s+[\w-]+)?)|"
    r"\ball\s+(?:(?:the|\d+|of)\s+)*(?:interviewees|informants|key informants|people interviewed)"
    r"\s+(?:were|was)\s+(?P<c>(?:[\w/-]+\s*){1,3})",
    re.IGNORECASE,
)


def _role_premise(index: LiveIndex, raw: str, letters: Sequence[str]) -> str | None:
    """What a role of a programme said when the study interviewed no one in that role
    there ("programme G's peer mentors"), or that only one role was interviewed when the
    study interviewed several: read against the paper profile's interviewed roles."""
    documents = index.state.documents if index.state else []
    profiles = [p for d in documents if (p := profile_for(d.id, d)).interviewed]
    if len(profiles) != 1 or len(documents) != 1:
        return None  # whose roles they are is only clear with one paper
    profile = profiles[0]
    words = {n: p for n, p in lexicon.named("roles").items() if n in profile.interviewed}
    if lexicon.pattern("says_verbs").search(raw):
        for letter in letters:
            held = profile.interviewed_by_unit.get(letter)
            # the role said to be the programme's: "programme G's peer mentors"
            own = re.search(
                _said_of(letter) + r"(?P<who>(?:[\w-]+\W+){0,2}[\w-]+)",
                raw,
                re.IGNORECASE,
            )
            asked = [n for n, p in words.items() if own and p.search(own["who"])]
            if held and asked and not set(asked) <= set(held):
                return f"For Programme {letter}, the study interviewed {_and(held)} only."
    only = _ONLY_INTERVIEWED.search(raw)
    # A unit named by its own name ("why did weight watchers only have leaders
    # interviewed?") is read like its letter: not a claim about the whole study.
    named = [
        u
        for u, names in profile.unit_names.items()
        if any(re.search(rf"\b{re.escape(n)}\b", raw, re.IGNORECASE) for n in names)
    ]
    # "did they interview only leaders?" asks; the evidence answers it.
    if only and not letters and not named and not _ASKS_WHETHER.match(raw):
        said = only.group("a") or only.group("b") or only.group("c")
        asked = [n for n, p in words.items() if p.search(said)]
        if asked and len(profile.interviewed) > len(asked):
            return f"{_study(index)} interviewed {_and(profile.interviewed)}."
    return None


def _one_profile(index: LiveIndex) -> Profile | None:
    """The profile of the one paper held, when there is one: whose study it is is only
    clear then."""
    documents = index.state.documents if index.state else []
    return profile_for(documents[0].id, documents[0]) if len(documents) == 1 else None


# The study itself as a question says it, before a design word: "why did they go with an
# RCT", "the trial", "their survey"; not "why do RCTs of peer support show…".
_OF_THE_STUDY = r"\b(?:the|this|their|its|they|study|authors|researchers)\W+(?:[\w-]+\W+){0,4}?"
# "why weren't leaders interviewed", "why did they leave out the mentors"
_NOT_INTERVIEWED = re.compile(
    r"\b(?:were(?:n['’]?t| not)|was(?:n['’]?t| not)|never)\s+(?:\w+\s+){0,2}?interview\w*|"
    r"\b(?:did(?:n['’]?t| not)|never|did\s+(?:\w+\s+){1,2}?not)\s+(?:\w+\s+){0,2}?"
    r"(?:interview|talk to|speak to)\b(?:\W+[\w-]+){1,3}|"
    r"\b(?:leave|left|leaving|exclud\w*)\s+(?:out\s+)?(?:(?:the\s+)?[\w-]+(?:\s+[\w-]+)?)",
    re.IGNORECASE,
)


def _profile_premise(index: LiveIndex, raw: str) -> str | None:
    """A design, a delivery mode or a role not interviewed that a question takes for
    granted of the study, read against its paper profile ("why did they go with an RCT
    design", "since all the progs were online only", "why weren't programme leaders
    interviewed?")."""
    profile = _one_profile(index)
    if profile is None or _ASKS_WHETHER.match(raw):
        return None
    taken = bool(
        lexicon.pattern("presupposes").search(raw)
        or _TAKES_FOR_GRANTED.search(raw)
        or _ASSERTS.search(raw)
    )
    study = _study(index)
    if profile.design and taken:
        for name, pattern in lexicon.named("designs").items():
            said = re.search(_OF_THE_STUDY + pattern.pattern, raw, re.IGNORECASE)
            # "what did the RCTs they cite find" asks about the literature; "the randomised
            # trial" alone names a design, not the literature.
            cited = lexicon.pattern("asks_literature").search(pattern.sub("", raw))
            if name != profile.design and said and not cited:
                return f"{study} is {profile.design_said}."
    if profile.delivery and taken:
        for name, pattern in lexicon.named("delivery_modes").items():
            if (
                name not in profile.delivery
                and pattern.search(raw)
                and (_PROGRAMME_WORD.search(raw) or shorthand_letters(raw))
            ):
                return f"The programmes studied {profile.delivery_said}."
    # Only of the interviews: "why do programmes leave out fathers" asks about programmes.
    if profile.interviewed and re.search(r"\binterview|\btalk|\bspeak", raw, re.IGNORECASE):
        m = _NOT_INTERVIEWED.search(raw)
        said = m and raw[: m.end()]
        words = lexicon.named("roles")
        if said and any(words[n].search(said) for n in profile.interviewed if n in words):
            return f"{study} interviewed {_and(profile.interviewed)}."
    return None


def _format_premise(index: LiveIndex, raw: str, letters: Sequence[str]) -> str | None:
    """A lettered programme said to offer a format of support its table row does not
    describe ("how did G's one-to-one phone mentoring work")."""
    state = index.state
    if state is None or len(state.programmes) != 1 or _ASKS_WHETHER.match(raw):
        return None
    records = {p.programme: p for rs in state.programmes.values() for p in rs}
    for letter in letters:
        if letter not in records:
            continue
        own = re.search(
            rf"(?:{_said_of(letter)}|\b{letter}['’]s\W+)(?:{_LINKING}\W+){{0,3}}"
            r"(?P<said>(?:[\w-]+\W+){0,3}[\w-]+)",
            raw,
            re.IGNORECASE,
        )
        description = records[letter].description
        for pattern in lexicon.named("formats").values():
            if own and pattern.search(own["said"]) and not pattern.search(description):
                return f"The study describes Programme {letter} as: “{description.strip()}”"
    return None


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# "the 200 interviews", "500 pts", "after 6 weeks": a number before a plural noun, not a
# label ("Table 2", "#1").
_COUNT = re.compile(
    # not the 3 of a range or ratio ("2-3 bullets", "1:1 chats")
    r"(?<![#\w])(?<!\d[-–:/])(?<!table )(?<!figure )(?<!fig\. )"
    r"(\d+(?:\.\d+)?)\s*(%|percent|[a-z]{2,}s)\b",
    re.IGNORECASE,
)


# "top 3 challenges", "give me 5 bullet points", "in 2 sentences": how many the asker
# wants back, not a count the study is said to have.
_ASKS_LIST = re.compile(
    r"\b(?:top|list|give(?: me)?|name|summari[sz]e(?: \w+)? in|in|into|under|max|maximum|"
    r"first|main|key|biggest|major|pick|choose)\s+$",
    re.IGNORECASE,
)


def _unmatched_count(index: LiveIndex, raw: str) -> str | None:
    """A count the question names ("the 200 interviews", "after 6 weeks") that no passage
    states: the number, in digits or words, never stands before that word in the evidence."""
    counts = bank_for(index).derived("counts", _counts)
    for m in _COUNT.finditer(raw):
        number, word = m.group(1), m.group(2).lower()
        if word in _STOPWORDS or _ASKS_LIST.search(raw[: m.start()]):
            continue
        if _SUPPOSING.search(raw[: m.start()]):
            continue  # "and when they live 2 counties over?": the asker's case, not the study's
        if (number, word[:4]) not in counts:
            return f"{number} {word}"
    return None


# An open clause that supposes a case: a count in it is the asker's.
_SUPPOSING = re.compile(
    r"\b(?:if|when|whenever|suppos\w*|say|imagine)\b[^,.;:?–—-]*$", re.IGNORECASE
)


def _counts(index: LiveIndex) -> frozenset[tuple[str, str]]:
    """(number, first 4 letters of a word up to 3 words after it) across the passages;
    a number written as a word ("six months") counts as its digits."""
    found = set()
    words = "|".join(_NUMBERS)
    pattern = re.compile(rf"\b(\d+(?:\.\d+)?|{words})((?:\W+\w+){{1,3}})", re.IGNORECASE)
    for p in index.passages.values():
        if p.kind == "reference":
            continue
        for m in pattern.finditer(p.text):
            number = str(_NUMBERS.get(m.group(1).lower(), m.group(1)))
            for word in words_of(m.group(2)):
                found.add((number, word[:4]))
    return frozenset(found)


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _unmentioned(index: LiveIndex, raw: str, kind: str) -> str | None:
    """A thing of the lexicon's list `kind` ("focus groups", "COVID-19"; "caseloads") the
    question names that no passage but a reference entry mentions."""
    own = bank_for(index).derived("own text", _own_text)
    for name, pattern in lexicon.named(kind).items():
        if pattern.search(raw) and not pattern.search(own):
            return name
    return None


def _unmentioned_year(index: LiveIndex, raw: str) -> str | None:
    own = bank_for(index).derived("own text", _own_text)
    return next((y for y in _YEAR.findall(raw) if y not in own), None)


def _own_text(index: LiveIndex) -> str:
    """Every passage but the reference entries: what the study itself says."""
    return "\n".join(p.text for p in index.passages.values() if p.kind != "reference")


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
    return _outcomes_in([p.text for p in index.passages.values() if p.kind != "reference"])


def _outcomes_cited(index: LiveIndex) -> frozenset[str]:
    """The lexicon's outcomes some reference entry names."""
    return _outcomes_in([p.text for p in index.passages.values() if p.kind == "reference"])


def _outcomes_in(texts: Sequence[str]) -> frozenset[str]:
    return frozenset(
        name
        for name, (_, reports) in lexicon.outcomes().items()
        if any(reports.search(t) for t in texts)
    )
