"""How programmes address each challenge: a curated map checked against the paper.

`corpus/mitigations.json` maps every Table 4 challenge theme to verbatim spans of the
paper that describe how programmes respond to it. Ingest refuses a map whose keys are
not exactly the Table 4 themes or whose spans are not verbatim inside one passage, so
what GET /v1/challenges serves always resolves to citable passages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from peerqa.ingest.paper import QUOTE_TABLE_STANCE
from peerqa.ingest.sources import SourceError
from peerqa.models import ParsedDocument, Passage

MITIGATIONS_FILE = "mitigations.json"
CHALLENGE_TABLE = next(t for t, stance in QUOTE_TABLE_STANCE.items() if stance == "challenge")


class MitigationMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str = ""
    document: str
    challenges: dict[str, list[str]]


def load_mitigations(corpus_dir: Path) -> MitigationMap | None:
    """The corpus's map, or None when it has none; SourceError when it is malformed."""
    path = corpus_dir / MITIGATIONS_FILE
    if not path.is_file():
        return None
    try:
        return MitigationMap.model_validate_json(path.read_bytes())
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise SourceError(path, f"{where}: {first['msg']}") from err


def challenge_themes(passages: Iterable[Passage]) -> list[str]:
    """The challenge themes of the quote table, in table order."""
    themes = (p.theme for p in passages if p.kind == "quote" and p.stance == "challenge")
    return list(dict.fromkeys(t for t in themes if t))


def locate(span: str, passages: Iterable[Passage]) -> Passage | None:
    """The first passage whose text contains `span` verbatim."""
    return next((p for p in passages if span in p.text), None)


def check_mitigations(corpus_dir: Path, documents: Sequence[ParsedDocument]) -> None:
    """Validate the corpus's map against the parsed documents; raise SourceError naming
    the first problem."""
    mitigations = load_mitigations(corpus_dir)
    if mitigations is None:
        return
    path = corpus_dir / MITIGATIONS_FILE
    paper = next((d for d in documents if d.info.id == mitigations.document), None)
    if paper is None:
        raise SourceError(path, f"document '{mitigations.document}' is not in the corpus")
    themes = challenge_themes(paper.passages)
    unknown = [t for t in mitigations.challenges if t not in themes]
    if unknown:
        raise SourceError(
            path, f"'{unknown[0]}' is not a {CHALLENGE_TABLE} challenge theme ({'; '.join(themes)})"
        )
    missing = [t for t in themes if not mitigations.challenges.get(t)]
    if missing:
        raise SourceError(path, f"no mitigations listed for {CHALLENGE_TABLE} theme '{missing[0]}'")
    for theme, spans in mitigations.challenges.items():
        for span in spans:
            if not span.strip() or span not in paper.text:
                raise SourceError(path, f"'{theme}': span is not verbatim in the paper: {span!r}")
            if locate(span, paper.passages) is None:
                raise SourceError(
                    path, f"'{theme}': span crosses a passage boundary, cite less: {span!r}"
                )
