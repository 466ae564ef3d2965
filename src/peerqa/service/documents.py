"""Admin writes to the document set: untrusted uploads made safe, the bundled documents
that must stay, and one writer at a time."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import NoReturn

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pypdf import PdfReader

from peerqa.config import Settings
from peerqa.ingest.corpus import provenance_files
from peerqa.ingest.prose import parse_user_document
from peerqa.ingest.sources import SourceError
from peerqa.models import ParsedDocument
from peerqa.store import IndexState

MAX_NAME_CHARS = 120
MAX_SUFFIX_CHARS = 16
FALLBACK_STEM = "upload"
_PATH_SEPARATORS = re.compile(r"[\\/]")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str | None) -> str:
    """A client's file name reduced to a harmless one: the last path component (either
    separator), ASCII letters, digits and `._ -` only, no leading or trailing dots, at most
    MAX_NAME_CHARS keeping the extension; FALLBACK_STEM when no stem is left."""
    base = _PATH_SEPARATORS.split(name or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, suffix = _UNSAFE.sub("_", base).rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    suffix = suffix.strip()[:MAX_SUFFIX_CHARS]
    suffix = f".{suffix}" if suffix else ""
    return (stem.strip(" .")[: MAX_NAME_CHARS - len(suffix)] or FALLBACK_STEM) + suffix


def parse_upload(filename: str | None, data: bytes, settings: Settings) -> ParsedDocument:
    """Parse an uploaded file as `peerqa ingest` would; 422 naming the field `file` when it
    is unusable, 413 when a PDF has too many pages."""
    name = safe_filename(filename)
    if name.lower().endswith(".pdf"):
        pages = _pdf_pages(data)
        if pages and pages > settings.max_upload_pages:
            raise HTTPException(
                413, f"{name}: PDF has {pages} pages; the limit is {settings.max_upload_pages}"
            )
    with TemporaryDirectory(prefix="peerqa-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return parse_user_document(path, settings.max_passage_words)
        except SourceError as err:
            _reject(name, f"{name}: {err.reason}")  # the reason, never the server's temp path
        except Exception as err:  # parsers of untrusted bytes can fail in unforeseen ways
            _reject(name, f"{name}: could not be parsed ({type(err).__name__})")


def _reject(name: str, reason: str) -> NoReturn:
    raise RequestValidationError(
        [{"loc": ("body", "file"), "msg": reason, "type": "value_error", "input": name}]
    )


def _pdf_pages(data: bytes) -> int | None:
    """Page count from the PDF's page tree, before extracting any text; None when that
    fails (the parser then reports why)."""
    try:
        return len(PdfReader(io.BytesIO(data)).pages)
    except Exception:
        return None


def bundled_ids(settings: Settings, state: IndexState | None) -> set[str]:
    """Live documents read from the bundled corpus: the core evidence, not deletable or
    replaceable through the API (re-ingest the corpus instead)."""
    files = {
        json.loads(p.read_text(encoding="utf-8"))["file"]
        for p in provenance_files(settings.corpus_dir)
    }
    return {d.id for d in state.documents if d.source in files} if state else set()
