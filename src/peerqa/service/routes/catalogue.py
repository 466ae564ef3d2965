"""What the index holds: themes, challenges with how programmes address them,
programmes, and documents."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from peerqa.ingest.mitigations import challenge_themes, load_mitigations, locate
from peerqa.models import DocumentInfo, Passage, Programme
from peerqa.service.deps import AppSettings, Index, ready_state
from peerqa.service.errors import error_responses
from peerqa.service.schemas import Challenge, Mitigation, ThemeSummary

router = APIRouter(tags=["catalogue"], responses=error_responses(503))


@router.get("/v1/themes")
def themes(index: Index) -> list[ThemeSummary]:
    """Every theme in the index, in document order, with its quote and passage counts."""
    index.require()
    by_theme: dict[str, list[Passage]] = {}
    for pid in index.order:
        passage = index.passages[pid]
        if passage.theme:
            by_theme.setdefault(passage.theme, []).append(passage)
    summaries = []
    for theme, passages in by_theme.items():
        quotes = [p for p in passages if p.kind == "quote"]
        # A theme's stance is its quotes' (Table 3 benefit, Table 4 challenge): the prose
        # under a challenge theme also holds mitigation sentences.
        stance = Counter(p.stance for p in quotes or passages).most_common(1)[0][0]
        summaries.append(
            ThemeSummary(theme=theme, stance=stance, quotes=len(quotes), passages=len(passages))
        )
    return summaries


@router.get("/v1/challenges")
def challenges(index: Index, settings: AppSettings) -> list[Challenge]:
    """Each Table 4 challenge with verbatim spans on how programmes address it (from
    corpus/mitigations.json, each resolved to the passage that contains it) and its quotes."""
    index.require()
    passages = [index.passages[pid] for pid in index.order]
    mitigations = load_mitigations(settings.corpus_dir)
    spans = mitigations.challenges if mitigations else {}
    source = [p for p in passages if mitigations and p.document == mitigations.document]
    result = []
    for theme in challenge_themes(passages):
        resolved = [(span, locate(span, source)) for span in spans.get(theme, [])]
        result.append(
            Challenge(
                challenge=theme,
                mitigations=[Mitigation(text=s, passage_id=p.id) for s, p in resolved if p],
                quotes=[
                    p
                    for p in passages
                    if p.kind == "quote" and p.stance == "challenge" and p.theme == theme
                ],
            )
        )
    return result


@router.get("/v1/programmes")
def programmes(index: Index) -> list[Programme]:
    """The peer support programmes the documents describe (the paper's Table 2)."""
    state = ready_state(index)
    return [p for doc in state.documents for p in state.programmes.get(doc.id, [])]


@router.get("/v1/documents")
def documents(index: Index) -> list[DocumentInfo]:
    """Every indexed document with its citation metadata and passage counts."""
    state = ready_state(index)
    return state.documents
