"""Error responses as OpenAPI documents them: every error body is `{"detail": ...}`."""

from __future__ import annotations

from typing import Any

from peerqa.service.schemas import ErrorResponse

_DESCRIPTIONS = {
    401: "Admin key missing (`Authorization: Bearer KEY`)",
    403: "Wrong admin key, or admin routes disabled (no PEERQA_API_KEY configured)",
    404: "Unknown id",
    409: "The bundled corpus cannot be changed through the API",
    413: "Request body, upload or PDF page count over the limit",
    429: "Too many requests from this client: wait `Retry-After` seconds",
    503: "Index not loaded: run `peerqa ingest`",
}


def error_responses(*errors: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses`: each error is a status code (with its usual description) or a
    `(code, description)` pair."""
    docs: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        code, description = error if isinstance(error, tuple) else (error, _DESCRIPTIONS[error])
        docs[code] = {"model": ErrorResponse, "description": description}
    return docs


def body_error(message: str, loc: list[str | int] | tuple[str | int, ...] = ()) -> list[dict]:
    """A 422 `detail` (FastAPI's validation-error shape) for a body that could not be
    read at all: not UTF-8, malformed multipart, and the like."""
    return [{"type": "body_invalid", "loc": ["body", *loc], "msg": message, "input": None}]


def openai_error(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's `error` object, which OpenAI clients and chat front ends show to users."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    code = "rate_limit_exceeded" if status == 429 else None
    return {"message": message, "type": kind, "param": param, "code": code}
