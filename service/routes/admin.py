"""Admin: add, replace and delete user documents, and re-ingest the bundled corpus.

Each write holds the admin lock, publishes a new index generation (index_documents keeps
every other document), and refreshes this worker's index so the change is served at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Response, UploadFile

from ingest.pipeline import index_documents, ingest
from ingest.sources import SourceError
from peerqa.models import DocumentInfo, IngestReport
from service.auth import Admin
from service.deps import AppSettings, Index, ready_state
from service.documents import admin_lock, bundled_ids, parse_upload
from service.errors import error_responses

router = APIRouter(tags=["admin"], dependencies=[Admin], responses=error_responses(401, 403))


@router.post(
    "/v1/documents",
    status_code=201,
    responses=error_responses(
        (409, "The file would replace a bundled corpus document"),
        (413, "File over PEERQA_MAX_UPLOAD_BYTES, or PDF over PEERQA_MAX_UPLOAD_PAGES"),
    ),
)
def upload_document(
    file: Annotated[UploadFile, File(description="One .txt, .md, .html or .pdf document")],
    index: Index,
    settings: AppSettings,
) -> DocumentInfo:
    """Add a document (a file of the same name replaces its earlier upload). Its type is
    checked by content; an unusable file is a 422 with the reason."""
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"file over the {settings.max_upload_bytes}-byte upload limit")
    parsed = parse_upload(file.filename, data, settings)
    with admin_lock(settings):
        index.refresh()
        if parsed.info.id in bundled_ids(settings, index.state):
            raise HTTPException(
                409, f"'{parsed.info.id}' is a bundled corpus document: rename the file"
            )
        index_documents(index.store, [parsed])
        index.refresh()
    return next(d for d in ready_state(index).documents if d.id == parsed.info.id)


@router.delete(
    "/v1/documents/{document_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        (404, "Unknown document id"),
        (409, "A bundled corpus document, or the only document left"),
    ),
)
def delete_document(document_id: str, index: Index, settings: AppSettings) -> Response:
    """Remove an uploaded document. The bundled corpus is the core evidence: deleting one
    of its documents is a 409 (as is deleting the last document of the index)."""
    with admin_lock(settings):
        index.refresh()
        if document_id in bundled_ids(settings, index.state):
            raise HTTPException(409, f"'{document_id}' is a bundled corpus document")
        live = {d.id for d in index.state.documents} if index.state else set()
        if document_id not in live:
            raise HTTPException(404, f"no document with id {document_id!r}")
        if live == {document_id}:
            # An index of nothing cannot be loaded (or searched): keep the last document.
            raise HTTPException(409, f"'{document_id}' is the only document in the index")
        index_documents(index.store, [], remove=[document_id])
        index.refresh()
    return Response(status_code=204)


@router.post(
    "/v1/admin/reindex",
    responses=error_responses((500, "The bundled corpus failed validation; index unchanged")),
)
def reindex(index: Index, settings: AppSettings) -> IngestReport:
    """Re-ingest the bundled corpus, keeping uploaded documents; nothing is re-embedded
    or republished when it is unchanged."""
    with admin_lock(settings):
        try:
            report = ingest(settings=settings)
        except SourceError as err:
            raise HTTPException(500, f"bundled corpus: {err} (index unchanged)") from err
        index.refresh()
    return report
