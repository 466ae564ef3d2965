"""Caveats: what a question presupposes or asks for that the evidence lacks, and the
sentence the answer opens with ("The study does not report survival.", "The study covers
Programmes A-G.").

Two kinds (`peerqa.models.Caveat`): a false premise (a programme, a count, a condition, a
design, a setting, a role or a name the question takes for granted that the evidence
contradicts or never mentions) and not reported (an outcome or figure the question asks
for that no passage gives). answer.question.understand asks `caveat_for` once per
question; the answer selector and the decline check read the `Caveat` it returns.

Every claim of absence is checked before it is said (`Mentions`): the thing named is
looked for in the whole text of every document held (reference lists, table cells,
captions, numbers and years included), read as the keyword index reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from peerqa.answer import lexicon
from peerqa.answer.intent import phrase_pattern
from peerqa.answer.profiles import Profile, profile_for
from peerqa.answer.sentences import bank_for
from peerqa.models import Caveat
from peerqa.retrieval.expansion import expand, shorthand, unabbreviate
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.programmes import shorthand_letters
from peerqa.words import FUNCTION_WORDS as _STOPWORDS
from peerqa.words import term_words, words_of


def _numbered(words: str) -> dict[str, int]:
    """Each word of `words` -> its place, from 0."""
    return {w: i for i, w in enumerate(words.split())}


# "12 programmes", "twelve programmes": a count the question takes for granted.
_NUMBERS = _numbered(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_COUNTED = re.compile(
    r"\b(?:the|all|these|those|its)\s+(\d{1,3}|" + "|".join(_NUMBERS) + r")\s+"
    r"(?:peer[- ]support\s+|peer\s+)?(?:programmes|programs|progs|schemes)\b",
    re.IGNORECASE,
)
# "the 8th programme", "an eighth scheme", "programme #9", "programme 8": a programme by its
# place in a count, which a count of the programmes held bounds.
_ORDINALS = _numbered(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
)
_NTH = re.compile(
    r"\b(\d{1,2}(?:st|nd|rd|th)|" + "|".join(_ORDINALS) + r")\s+(?:peer[- ]support\s+|peer\s+)?"
    r"(?:programme|program|prog|scheme)\b|"
    r"\b(?:programme|program|prog|scheme)\s+#?(\d{1,2})\b",
    re.IGNORECASE,
)


# "D runs face-to-face groups - …", "since E only does kidney tx, …": a held programme's
# letter as the subject of a statement, a capital on its own before its verb.
_SUBJECT_LETTER = re.compile(
    r"(?:^|[.?!;,:]\s+|\b(?:since|as|given|because|why (?:was|is|did|does))\s+)"
    r"([A-Z])\s+(?:only|just|runs?|ran|is|was|does|did|has|had|serves?|served|offers?|"
    r"offered|uses?|used|works?|worked)\b"
)


def _subject_letters(raw: str, studied: Sequence[str]) -> tuple[str, ...]:
    """The held programme letters a question makes the subject of a statement."""
    return tuple(sorted({x for x in _SUBJECT_LETTER.findall(raw) if x in studied}))


def _ordinal(said: str | None) -> int:
    """The place an ordinal or a number says ("8th", "eighth", "8"); 0 for none."""
    if not said:
        return 0
    said = said.lower()
    return _ORDINALS.get(said) or int(re.sub(r"\D", "", said) or 0)


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
    r"^\s*(?:given|since|as|because)\b[^?]{0,80}?,|"
    # "so the MRC funded this one?": a "so" question confirms what it says.
    r"^\s*so\s+(?:the|they|this|it|their|its)\b[^?]{0,80}\?|"
    # "study was done in Toronto - does that limit it?", "D runs groups - how often?": a
    # statement (its subject, then its verb) before the question; not the asker's own
    # ("my pts are in Toronto - …").
    r"^\s*(?!(?:what|how|why|when|where|who|which|whose|whom|is|are|was|were|do|does|did|"
    r"can|could|should|would|will|has|have|had|any|and|or|but|if|in|for|on|at|to|with|"
    r"about|re|so|the|all|my|our|i|i['’]m|im|we)\b)(?:[\w'’-]+\s+){1,3}?(?:was|were|is|are|had|has|got|gave|ran|"
    r"runs|run|used|uses|only)\b[^?]{0,60}?\s[-–—:]\s",
    re.IGNORECASE,
)
# A question that only asks whether ("was there any follow-up at 6 months?") takes nothing
# for granted; one that asks about a thing ("the 200 interviews", "why did…") does.
_ASKS_WHETHER = re.compile(
    r"^\s*(?:was|were|is|are|did|do|does|any|has|have|had|can|could|will|would)\b", re.IGNORECASE
)


def caveat_for(
    index: LiveIndex,
    raw: str,
    letters: Sequence[str],
    unknown: Sequence[str] = (),
    sources: Sequence[str] = (),
) -> Caveat | None:
    """What the answer must say first: a programme, a count, a condition or a name the
    evidence does not have (false premise), or an outcome no passage reports (not
    reported). `unknown`: the names of `raw` the evidence never mentions; `sources`: of
    those, the ones naming a source it asks about (answer.question.unknown_sources). Each
    text is checked against the evidence before it is said."""
    study = _study(index)
    presumed = bool(lexicon.pattern("presupposes").search(raw))
    studied = _programmes(index)
    letters = tuple(letters) or shorthand_letters(raw)
    # What a programme named by its letter alone is said to offer or be for ("D runs groups
    # - …"); read for its format and whom it serves only.
    subjects = letters or _subject_letters(raw, studied)
    if studied:
        unknown_letters = [letter for letter in letters if letter not in studied]
        count = _COUNTED.search(raw)
        said = count and (_NUMBERS.get(count.group(1).lower()) or int(count.group(1)))
        nth = _NTH.search(raw)
        beyond = nth and _ordinal(nth.group(1) or nth.group(2)) > len(studied)
        if unknown_letters or (said and said != len(studied)) or beyond:
            return Caveat(kind="false_premise", text=f"{study} covers {_span(studied)}.")
        served = _condition_premise(index, raw, letters, studied)
        served = served or _setting_premise(index, raw, letters)
        if served:
            return Caveat(kind="false_premise", text=served)
    roles = _role_premise(index, raw, letters)
    roles = roles or _profile_premise(index, raw) or _format_premise(index, raw, subjects)
    roles = roles or _population_premise(index, raw, subjects)
    if roles:
        return Caveat(kind="false_premise", text=roles)
    # "why did the NHS…", "how did the NHS…", "what did the 2015 trial of Programme B find";
    # not "a widower w COPD - what does the paper say…": a name of the asker's context is
    # taken for granted only when it names the source asked about.
    sourced = tuple(sources)
    taken = presumed or _TAKES_FOR_GRANTED.search(raw) or _ASSERTS.search(raw)
    if unknown and (taken or sourced):
        # Each name as the question writes it whole ("Gates Foundation", not "Gates"): a
        # name nowhere in the text is nowhere as the start of a longer one either.
        names = list(dict.fromkeys(_whole_name(raw, n) for n in (unknown if taken else sourced)))
        names = [n for n in names if not any(n != o and n in o for o in names)]
        if names:
            said = " or ".join(f"“{n}”" for n in names)
            return Caveat(kind="false_premise", text=f"{study} does not mention {said}.")
    # "the focus groups", "how many focus groups…" take them for granted; "did they use
    # focus groups?" only asks.
    taken = bool(presumed or _TAKES_FOR_GRANTED.search(raw) or not _ASKS_WHETHER.match(raw))
    thing = _unmentioned(index, raw, "things")
    # A year only when taken for granted ("why were the interviews done in 2019?"): "did it
    # grow in 2023?" asks about a name the decline check reads (answer.decline).
    thing = thing or (_unmentioned_year(index, raw) if taken else None)
    if thing:
        return Caveat(
            kind="false_premise" if taken else "not_reported",
            text=_absence(study, *thing),
        )
    # "$ per participant": a currency sign asks what something costs.
    figure = _unmentioned(index, re.sub(r"[$£€]\s*", "cost ", raw), "figures")
    if figure:  # asked for ("typical wait to get matched?"), taken for granted only by "why…"
        # Not reported by the study itself, wherever a cited work's title names it.
        return Caveat(
            kind="false_premise" if presumed else "not_reported",
            text=f"{study} does not report {figure[0]}.",
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
    if numbered and not (outcome and _TIME_POINT.search(numbered[0])):
        taken = presumed or not _ASKS_WHETHER.match(raw)
        return Caveat(
            kind="false_premise" if taken else "not_reported",
            text=_absence(study, *numbered),
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
# The study called by its design: "the RCT", "their survey", "this trial's"; not "the
# RCTs" (cited studies) nor "a survey".
_THE_STUDY_AS = r"\b(?:the|this|their|its)\W+(?:own\W+|main\W+)?"
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
    if profile.design:
        for name, pattern in lexicon.named("designs").items():
            said = re.search(_OF_THE_STUDY + pattern.pattern, raw, re.IGNORECASE)
            # "in the RCT, how many…": the study named by its design takes that design for
            # granted as much as "why did they…" does.
            named = re.search(_THE_STUDY_AS + f"({pattern.pattern})", raw, re.IGNORECASE)
            named = named and not named.group(1).lower().endswith("s")
            # "what did the RCTs they cite find" asks about the literature; "the randomised
            # trial" alone names a design, not the literature.
            cited = lexicon.pattern("asks_literature").search(pattern.sub("", raw))
            if name != profile.design and (said and taken or named) and not cited:
                return f"{study} is {profile.design_said}."
    if profile.delivery and taken:
        # "why did they exclude telephone-based programmes?": a mode they held said left out;
        # "why did they exclude online-only ones?" says what the study did.
        left_out = re.search(r"\b(?:exclud\w*|left out|leave out|drop\w*|without)\b", raw, re.I)
        for name, pattern in lexicon.named("delivery_modes").items():
            if (
                name not in profile.delivery
                and not (left_out and pattern.search(raw, left_out.end()))
                and pattern.search(raw)
                and (_PROGRAMME_WORD.search(raw) or shorthand_letters(raw))
            ):
                return f"The programmes studied {profile.delivery_said}."
        for name, pattern in lexicon.named("delivery_modes").items():
            if name in profile.delivery and left_out and pattern.search(raw, left_out.end()):
                return f"The programmes studied {profile.delivery_said}."
    # Only of the interviews: "why do programmes leave out fathers" asks about programmes.
    if profile.interviewed and re.search(r"\binterview|\btalk|\bspeak", raw, re.IGNORECASE):
        m = _NOT_INTERVIEWED.search(raw)
        said = m and raw[: m.end()]
        words = lexicon.named("roles")
        if said and any(words[n].search(said) for n in profile.interviewed if n in words):
            return f"{study} interviewed {_and(profile.interviewed)}."
    return None


# "D runs groups": what a programme, named by its letter alone, is said to offer.
_OFFERS = r"(?:runs?|ran|offers?|offered|does|did|has|had|uses?|used|provides?|provided)\W+"


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
            rf"(?:{_said_of(letter)}|\b{letter}['’]s\W+|(?-i:(?<![\w'’-]){letter})\s+{_OFFERS})"
            rf"(?:{_LINKING}\W+){{0,3}}"
            r"(?P<said>(?:[\w-]+\W+){0,3}[\w-]+)",
            raw,
            re.IGNORECASE,
        )
        description = records[letter].description
        for pattern in lexicon.named("formats").values():
            if own and pattern.search(own["said"]) and not pattern.search(description):
                return f"The study describes Programme {letter} as: “{description.strip()}”"
    return None


# "programme D only serves teens", "why was C limited to fathers": whom a programme is
# said to be for, and only for.
_ONLY_FOR = (
    r"(?:[\w'’-]+\W+){0,3}?(?:(?:only|just|solely|exclusively)\W+(?:serve[sd]?|serving|"
    r"for|open to|treat\w*|help\w*|took|takes?|work\w* with)\W+|"
    r"(?:limited|restricted|confined)\W+to\W+)(?P<who>[\w-]+(?:\W+[\w-]+)?)"
)


def _population_premise(index: LiveIndex, raw: str, letters: Sequence[str]) -> str | None:
    """A lettered programme said to be only for people its table row never names ("why
    did programme D only serve teens?"): the row's own description, which says whom it
    serves. Whom the question names is read with the thesaurus ("mums": new mothers)."""
    state = index.state
    if state is None or len(state.programmes) != 1:
        return None
    records = {p.programme: p for rs in state.programmes.values() for p in rs}
    for letter in (x for x in letters if x in records):
        named = rf"(?:\b(?:programme|program|prog|scheme)\W+{letter}|(?-i:(?<![\w'’-]){letter}))"
        m = re.search(rf"{named}\b(?:['’]s)?\W+" + _ONLY_FOR, raw, re.IGNORECASE)
        if m is None:
            continue
        who = set(term_words(expand(m["who"]))) - set(term_words(" ".join(_STOPWORDS)))
        row = records[letter]
        held = set(term_words(f"{row.condition} {row.setting} {row.description}"))
        if who and not who & held:
            return f"The study describes Programme {letter} as: “{row.description.strip()}”"
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


def _unmatched_count(index: LiveIndex, raw: str) -> tuple[str, str | None] | None:
    """A count the question names ("the 200 interviews", "after 6 weeks") that no passage
    states: the number, in digits or words, never stands before that word in the evidence
    (and the phrase is nowhere in its text), with where the phrase is (`Mentions.where`)."""
    counts = bank_for(index).derived("counts", _counts)
    for m in _COUNT.finditer(raw):
        number, word = m.group(1), m.group(2).lower()
        if word in _STOPWORDS or _ASKS_LIST.search(raw[: m.start()]):
            continue
        if _SUPPOSING.search(raw[: m.start()]):
            continue  # "and when they live 2 counties over?": the asker's case, not the study's
        if (number, word[:4]) in counts or _not_a_count(raw, m):
            continue
        said = f"{number} {word}"
        where = mentions_of(index).where(said)
        if where != TEXT:
            return said, where
    return None


def _not_a_count(raw: str, m: re.Match[str]) -> bool:
    """The number of a name, not a count: it follows a word that numbers things ("type 2
    diabetes", "stage-4 pts", "COVID 19 lockdowns"); or the plural after it is a verb,
    followed by its object ("which of the 7 serves mothers")."""
    before = re.search(r"([A-Za-z]+)[\s-]+$", raw[: m.start()])
    label = before and lexicon.pattern("number_labels").fullmatch(before.group(1))
    after = re.match(r"\s+([A-Za-z]+)", raw[m.end() :])
    verb = bool(after) and after.group(1).endswith("s") and after.group(1) not in _STOPWORDS
    return bool(label) or verb


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


def _unmentioned(index: LiveIndex, raw: str, kind: str) -> tuple[str, str | None] | None:
    """A thing of the lexicon's list `kind` ("focus groups", "COVID-19"; "caseloads") the
    question names that no passage but a reference entry mentions, with where it is
    (`Mentions.where`: nowhere, or only in a reference list)."""
    mentions = mentions_of(index)
    for name, pattern in lexicon.named(kind).items():
        if m := pattern.search(raw):
            where = mentions.where_pattern(pattern, name, m.group())
            if where != TEXT:
                return name, where
    return None


def _unmentioned_year(index: LiveIndex, raw: str) -> tuple[str, str | None] | None:
    """A year of the question the study's own text never gives; one a reference entry
    gives is no premise when the question names that entry ("the 2009 BMJ trial by
    Dennis")."""
    mentions = mentions_of(index)
    for year in _YEAR.findall(raw):
        where = mentions.where(year)
        if where == TEXT:
            continue
        # The names the question gives (capitalised after its first word: "BMJ", "Dennis").
        named = {w for n in _CAPITALISED.findall(raw, 1) for w in words_of(n)}
        if where == REFERENCES and any(
            year in entry and named & set(words_of(entry)) for entry in mentions.references
        ):
            continue
        return year, where
    return None


_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z][\w’'&-]*")
# Where a term is (`Mentions.where`): in the documents' own text, or only in a reference list.
TEXT, REFERENCES = "text", "references"


class Mentions:
    """Every document's whole text, searched before anything is said to be absent: its
    title and every passage (prose, table rows with their column names, captions,
    reference entries), read as `words.term_words` reads words (case, hyphens, plurals
    and inflections, British spellings), with each shorthand of retrieval/shorthand.json
    followed by what it stands for ("RCT" is also "randomized controlled trial"); the
    numbers and years in it are words too. A term of four letters or more may start a
    longer word ("America" in "American"), and an acronym may be the initials of a
    capitalised phrase ("IRB": "Institutional Review Board"). The one absence check: the
    names a question is declined for (answer.decline.unknown_names) and every caveat's
    claim of absence."""

    def __init__(self, index: LiveIndex):
        own, references = [], []
        documents = index.state.documents if index.state else []
        own += [d.title for d in documents]
        for p in index.passages.values():
            (references if p.kind == "reference" else own).append(p)
        self.references = [p.text for p in references]
        self._own = [p if isinstance(p, str) else f"{p.header or ''} {p.text}" for p in own]
        self._read = {TEXT: _read(self._own), REFERENCES: _read(self.references)}
        self._initials = {
            TEXT: _initialisms(self._own),
            REFERENCES: _initialisms(self.references),
        }

    def where(self, term: str) -> str | None:
        """TEXT when `term` (or a form of its shorthand spelled out) is in the documents'
        own text, REFERENCES when only in a reference list, None when nowhere."""
        forms = {" ".join(term_words(f)) for f in _spelled_forms(term)} - {""}
        # A term whose last word is longer may end in a longer word ("America" in
        # "American"); a short one is whole ("Programme H" is not "Programme health").
        ends = {f: " " if len(f.rsplit(" ", 1)[-1]) < 4 else "" for f in forms}
        # An acronym is looked for as written: "WHO" is not the word "who", nor "NICE" "nice".
        acronym = re.fullmatch(r"([A-Z][A-Z0-9&]+)(?:s|['’]s)?", term)
        if acronym:
            forms.discard(" ".join(term_words(term)))
            written = re.compile(rf"(?<![\w-]){re.escape(acronym[1])}s?(?![\w-])")
        texts = {TEXT: self._own, REFERENCES: self.references}
        for place in (TEXT, REFERENCES):
            if any(f" {f}{ends[f]}" in self._read[place] for f in forms):
                return place
            if acronym and (
                acronym[1] in self._initials[place] or any(written.search(t) for t in texts[place])
            ):
                return place
        return None

    def where_pattern(self, pattern: re.Pattern[str], *terms: str) -> str | None:
        """TEXT when a word list's pattern is in the documents' own text (it may name the
        thing otherwise: "pandemic" for COVID-19), else where the first of `terms` found
        is (as `where`): the claim names them."""
        if any(pattern.search(t) for t in self._own):
            return TEXT
        places = [self.where(t) for t in terms]
        return TEXT if TEXT in places else REFERENCES if REFERENCES in places else None


def mentions_of(index: LiveIndex) -> Mentions:
    """The generation's Mentions, made once with it."""
    return bank_for(index).derived("mentions", Mentions)


def _read(texts: Sequence[str]) -> str:
    """The texts as one string of term words, each text's shorthand spelled out beside it."""
    return " " + " | ".join(" ".join(term_words(unabbreviate(t))) for t in texts) + " "


def _initialisms(texts: Sequence[str]) -> frozenset[str]:
    """Initials of the texts' capitalised phrases ("National Alliance on Mental Illness" ->
    NAMI, "Institutional Review Board" -> IRB), small linking words skipped."""
    found = set()
    phrase = r"[A-Z][\w’'-]*(?:\s+(?:of|on|for|and|the|to|in|&)?\s*[A-Z][\w’'-]*)+"
    for text in texts:
        for m in re.finditer(phrase, text):
            caps = [w for w in m.group().split() if w[0].isupper()]
            for i in range(len(caps)):
                for j in range(i + 2, len(caps) + 1):
                    found.add("".join(w[0] for w in caps[i:j]))
    return frozenset(found)


def _spelled_forms(term: str) -> list[str]:
    """`term` and, for each shorthand in it, `term` with the shorthand spelled out."""
    forms = [term]
    for s in shorthand(term):
        forms += [term[: s.start] + e + term[s.end :] for e in s.expansions]
    return forms


def _absence(study: str, thing: str, where: str | None) -> str:
    """The sentence saying `thing` is absent, true of where it is."""
    if where == REFERENCES:
        return f"{study} mentions {thing} only in its reference list."
    return f"{study} does not mention {thing}."


# The capitalised words a name runs on with ("the Gates Foundation paid", "Institute of
# Medicine").
_NAME_RUN = re.compile(r"(?:\s+(?:(?:of|for|on|and|&)\s+)?[A-Z0-9][\w’'&-]*)*")


def _whole_name(raw: str, name: str) -> str:
    """`name` as the whole name the question writes it in, not a fragment of one."""
    m = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", raw)
    return name + _NAME_RUN.match(raw, m.end()).group() if m else name


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
