"""A question -> a cited, extractive Answer (no LLM), in three replaceable stages:

1. understand (answer.question): the question in its session, read and embedded once;
2. select evidence (answer.evidence): retrieval with that vector, then the units that
   answer, scored by the fitted selector (answer.selector), lead first;
3. render (answer.render): verbatim text with [n] markers and the citations.

Declining happens between retrieval and selection, through one seam (`decline`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from peerqa.answer.decline import OUT_OF_SCOPE, Decline, decide
from peerqa.answer.evidence import (
    Unit,
    build_units,
    grouped,
    score_units,
    select,
    with_theme_partners,
)
from peerqa.answer.profiles import Profile, profile_for
from peerqa.answer.question import Question, understand
from peerqa.answer.render import Block, render
from peerqa.answer.scope import (
    MOVED_ON_DEPTH,
    SESSION,
    Scope,
    answer_scope,
    refers_back,
    scoped_filters,
)
from peerqa.answer.selector import Policy, Selector, corpus_key, load_selector, model_key
from peerqa.answer.sentences import SentenceBank, bank_for
from peerqa.ingest.citations import find_citations
from peerqa.models import Answer, Filters, ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex

DEFAULT_TOP_K = 8


def compose(
    index: LiveIndex,
    question: str,
    top_k: int = DEFAULT_TOP_K,
    filters: Filters | None = None,
    history: Sequence[str] = (),
    selector: Selector | None = None,
    focus: Sequence[str] | None = None,
) -> Answer:
    """Answer `question` from the index, or decline (see `decline`); `focus`: the papers
    the session is on (answer.scope)."""
    index.require()
    q = understand(index, question, history, focus, filters)
    q, results, declined = retrieve_in_scope(index, q, top_k, filters)
    if declined:
        answer = declination(question, declined)
    else:
        answer = answer_from(index, q, results, filters, selector or selector_for(index))
    return answer.model_copy(update={"scope": answer_scope(q.scope)})


def retrieve(
    index: LiveIndex, q: Question, top_k: int = DEFAULT_TOP_K, filters: Filters | None = None
) -> list[ScoredPassage]:
    """What an answer is made from: the question's resolved text searched with its own
    encoding (a follow-up's vector blends its own angle). eval scores this same call."""
    filters = scoped_filters(q.scope, filters)
    return index.search(q.resolved, top_k=top_k, filters=filters, encoding=q.encoding)


def retrieve_in_scope(
    index: LiveIndex, q: Question, top_k: int = DEFAULT_TOP_K, filters: Filters | None = None
) -> tuple[Question, list[ScoredPassage], Decline | None]:
    """`retrieve` and `decline` within the question's scope. A question that names no paper
    and does not point back at the conversation ("did they…") has moved on from the
    session's paper when none of that paper's passages is among the first MOVED_ON_DEPTH
    of every paper's ranking for it; any has when that paper does not cover it. It is
    then asked of every paper (and returned so scoped)."""
    if q.scope.by == SESSION and not (q.followup or refers_back(q.raw)):
        anywhere = dataclasses.replace(q, documents=(), scope=Scope(several=q.scope.several))
        found = retrieve(index, anywhere, max(top_k, MOVED_ON_DEPTH), filters)
        if not any(r.document in q.scope.documents for r in found[:MOVED_ON_DEPTH]):
            return anywhere, found[:top_k], decline(index, anywhere, found[:top_k])
    results = retrieve(index, q, top_k, filters)
    declined = decline(index, q, results)
    if declined and declined.reason_code == OUT_OF_SCOPE and q.scope.by == SESSION:
        q = dataclasses.replace(q, documents=(), scope=Scope(several=q.scope.several))
        results = retrieve(index, q, top_k, filters)
        declined = decline(index, q, results)
    return q, results, declined


def answer_from(
    index: LiveIndex,
    q: Question,
    results: Sequence[ScoredPassage],
    filters: Filters | None,
    selector: Selector,
) -> Answer:
    """Stages 2 and 3 over retrieved results."""
    units = candidates(index, q, results, filters)
    score_units(units, selector)
    return answer_units(index, q, units, selector.policy)


def candidates(
    index: LiveIndex, q: Question, results: Sequence[ScoredPassage], filters: Filters | None
) -> list[Unit]:
    """Every citable unit of the results (and of their theme partners), features filled in."""
    if q.stances:
        results = with_theme_partners(index, results, scoped_filters(q.scope, filters))
    return build_units(q, results, bank_for(index))


def answer_units(index: LiveIndex, q: Question, units: list[Unit], policy: Policy) -> Answer:
    """The answer from scored units: chosen by `policy`, then rendered (eval.fit_answer
    calls this with each fold's out-of-fold scores, so CV scores the product's answers)."""
    bank = bank_for(index)
    profiles = _profiles(index, {u.passage.document for u in units})
    blocks = choose(q, units, policy, profiles)
    blocks = [
        Block(b.heading, with_citing_sentences(index, bank, q, b.units, units)) for b in blocks
    ]
    if not any(b.units for b in blocks):
        return declination(
            q.raw,
            Decline(
                OUT_OF_SCOPE,
                "No retrieved passage has a sentence that can be quoted.",
                "nothing_quotable",
            ),
        )
    return render(q, blocks, profiles, caveat_first=q.caveat is not None)


def choose(
    q: Question, units: list[Unit], policy: Policy, profiles: dict[str, Profile]
) -> list[Block]:
    """The blocks of the answer: one, or one per heading of the lead paper's grouped
    layout, or one per paper when several papers speak."""
    if not units:
        return []
    policy = for_top_paper(policy, units, profiles)
    if q.grouped:  # (the lead is looked for only then: fit_answer chooses per policy)
        lead = select(units, policy, limit=1)[0]
        profile = profiles[lead.passage.document]
        if profile.grouped_layout:
            same = [u for u in units if u.passage.document == lead.passage.document]
            layout = profile.grouped_layout
            blocks = [Block(layout[s], chosen) for s, chosen in grouped(same, policy)]
            if all(b.units for b in blocks):
                return blocks
    chosen = select(units, policy)
    documents = list(dict.fromkeys(u.passage.document for u in chosen))
    if len(documents) == 1 and not q.scope.several:
        return [Block(None, chosen)]
    # Several papers loaded: each paper's sentences together under its name, lead paper
    # first, so no sentence's paper is left to guess (one paper speaking is named too).
    return [
        Block(f"{profiles[d].label}:", [u for u in chosen if u.passage.document == d])
        for d in documents
    ]


def for_top_paper(policy: Policy, units: list[Unit], profiles: dict[str, Profile]) -> Policy:
    """The policy for the paper of the top passage: a generic paper's holds
    policy.generic_top_units of its best units (when set), a profiled paper's top_units."""
    top = next((u for u in units if u.rank == 0), None)
    if top is None or not policy.generic_top_units or not profiles[top.passage.document].generic:
        return policy
    return dataclasses.replace(policy, top_units=policy.generic_top_units)


def with_citing_sentences(
    index: LiveIndex, bank: SentenceBank, q: Question, chosen: list[Unit], units: list[Unit]
) -> list[Unit]:
    """Each reference entry right after the paper's sentence that cites it (taken from
    the other units, else from the citing passage); a reference nobody cites is dropped."""
    out: list[Unit] = []
    for u in chosen:
        if u.passage.kind != "reference":
            if u not in out:
                out.append(u)
            continue
        n = u.passage.ref_numbers[0] if u.passage.ref_numbers else None
        citing = [c for c in out if _cites(c, n)] or [
            c for c in sorted(units, key=lambda c: -c.score) if _cites(c, n)
        ]
        if not citing and n is not None:
            citing = _citing_units(index, bank, q, u.passage.document, n)
        if not citing:
            continue
        if citing[0] not in out:
            out.append(citing[0])
        out.insert(out.index(citing[0]) + 1, u)
    return out


def _cites(unit: Unit, n: int | None) -> bool:
    if n is None or unit.passage.kind == "reference" or n not in unit.passage.ref_numbers:
        return False
    refs = max(unit.passage.ref_numbers)
    return any(n in m.numbers for m in find_citations(unit.text, max(refs, n)))


def _citing_units(
    index: LiveIndex, bank: SentenceBank, q: Question, document: str, n: int
) -> list[Unit]:
    by_reference = bank.derived("citing passages", _citing_passages)
    passages = [
        ScoredPassage(**p.model_dump(), context=p.context, score=0.0)
        for p in by_reference.get((document, n), [])[:1]
    ]
    found = build_units(q, passages, bank)
    return [u for u in found if _cites(u, n)]


def _citing_passages(index: LiveIndex) -> dict[tuple[str, int], list]:
    cited: dict[tuple[str, int], list] = {}
    for p in index.passages.values():
        if p.kind != "reference":
            for n in p.ref_numbers:
                cited.setdefault((p.document, n), []).append(p)
    return cited


def _profiles(index: LiveIndex, documents: set[str]) -> dict[str, Profile]:
    infos = {d.id: d for d in index.state.documents} if index.state else {}
    return {d: profile_for(d, infos.get(d)) for d in documents}


def selector_for(index: LiveIndex) -> Selector:
    documents = index.state.documents if index.state else []
    return load_selector(
        model_key(index.settings.model_path), corpus_key([d.sha256 for d in documents])
    )


# -- declining (answer.decline; one seam) ------------------------------------------------
def decline(index: LiveIndex, q: Question, results: Sequence[ScoredPassage]) -> Decline | None:
    """Whether to decline, and the true reason: answer.decline fed the Question's text,
    resolved text and vector (not resolved or embedded again)."""
    return decide(q, results, index)


def declination(question: str, declined: Decline) -> Answer:
    return Answer(
        question=question,
        answer=declination_text(declined),
        abstained=True,
        reason=declined.reason,
        reason_code=declined.reason_code,
    )


def declination_text(declined: Decline) -> str:
    """A safety refusal is the reason itself (what was asked, who to ask instead); not
    covered says what peerqa can answer after it."""
    if declined.reason_code != OUT_OF_SCOPE:
        return f"I can't answer that. {declined.reason}"
    return (
        f"I can't answer that from the evidence I hold. {declined.reason} I summarise "
        "published evidence about peer support programmes — their benefits, their "
        "challenges and how programmes address them, and the programmes and studies the "
        "evidence describes."
    )
