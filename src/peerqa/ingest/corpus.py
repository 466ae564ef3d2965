"""The bundled corpus: each source in corpus/ with its NAME.provenance.json beside it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from peerqa.ingest.paper import parse_paper
from peerqa.ingest.prose import parse_user_document
from peerqa.ingest.sources import SourceError
from peerqa.models import DocumentInfo, ParsedDocument


def provenance_files(corpus_dir: Path) -> list[Path]:
    return sorted(corpus_dir.glob("*.provenance.json"))


def load_corpus(corpus_dir: Path, max_words: int) -> list[ParsedDocument]:
    """Parse every bundled source, refusing any whose bytes differ from its provenance."""
    return [load_bundled(path, max_words) for path in provenance_files(corpus_dir)]


def load_bundled(provenance_path: Path, max_words: int) -> ParsedDocument:
    prov = json.loads(provenance_path.read_text(encoding="utf-8"))
    source = provenance_path.parent / prov["file"]
    if not source.is_file():
        raise SourceError(source, "listed in its provenance file but missing")
    raw = source.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if sha != prov["sha256"]:
        raise SourceError(
            source, f"sha256 {sha[:12]}… does not match its provenance ({prov['sha256'][:12]}…)"
        )
    if prov.get("parser") != "paper":
        return parse_user_document(source, max_words)
    info = DocumentInfo(
        id=prov["id"],
        title=prov["title"],
        source=prov["file"],
        media_type="text/plain",
        sha256=sha,
        authors=prov.get("authors", []),
        journal=prov.get("journal"),
        year=prov.get("year"),
        identifier=prov.get("identifier"),
        licence=prov.get("licence"),
    )
    return parse_paper(raw.decode("utf-8"), info, max_words)
