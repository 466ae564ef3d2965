"""Admin: add, replace and delete user documents, and re-ingest the bundled corpus.

Each write runs in the admin worker process (service/admin_worker.py: parsing and
embedding never compete with requests for this process), which holds the admin lock and
publishes a new index generation (index_documents keeps every other document); the route
then refreshes this process's index so the change is served at once (admin_worker.write).
Plain `def` routes: each waits for the worker on a thread of the pool, never on the event
loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Response, UploadFile

from peerqa.models import DocumentInfo, IngestReport
from peerqa.service import admin_worker
from peerqa.service.auth import Admin
from peerqa.service.deps import AppSettings, Index
from peerqa.service.errors import error_responses

router = APIRouter(
    tags=["admin"],
    dependencies=[Admin],
    responses=error_responses(401, 403, (503, "The ingest worker stopped; index unchanged")),
)


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
    return admin_worker.write(index, admin_worker.upload, settings, file.filename, data)


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
    admin_worker.write(index, admin_worker.delete, settings, document_id)
    return Response(status_code=204)


@router.post(
    "/v1/admin/reindex",
    responses=error_responses((500, "The bundled corpus failed validation; index unchanged")),
)
def reindex(index: Index, settings: AppSettings) -> IngestReport:
    """Re-ingest the bundled corpus, keeping uploaded documents; nothing is re-embedded
    or republished when it is unchanged."""
    return admin_worker.write(index, admin_worker.reindex, settings)
