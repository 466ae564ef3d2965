"""Server-sent events: framing, cutting an answer into pieces, and OpenAPI for streams."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from peerqa.service.schemas import ChatCompletionChunk, StreamDelta

PIECE_WORDS = 5  # words per streamed piece
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering
_WORD = re.compile(r"\s*\S+|\s+$")  # a word with the space before it; trailing space
# Models that only travel as event data: FastAPI registers only the models of JSON bodies.
STREAMED_MODELS: tuple[type[BaseModel], ...] = (StreamDelta, ChatCompletionChunk)
_REF = "#/components/schemas/{model}"


def sse(data: str, event: str | None = None) -> str:
    """One event; `data` holds no newline when it is JSON, but frame every line anyway."""
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


def pieces(text: str, words: int = PIECE_WORDS) -> list[str]:
    """`text` in runs of `words` words; joined they give back `text` exactly."""
    tokens = _WORD.findall(text)
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def event_stream(events: list[str]) -> StreamingResponse:
    return StreamingResponse(iter(events), media_type="text/event-stream", headers=SSE_HEADERS)


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def stream_doc(
    description: str, data: dict[str, Any], events: Sequence[str] = (), last: str | None = None
) -> dict:
    """A 200 `text/event-stream` response for OpenAPI 3.1: the media type's `schema` is
    that of one event (`data` is JSON of schema `data`, or the literal `last` that ends
    the stream, such as OpenAI's `[DONE]`), as schemathesis and other SSE tooling read it.
    (OpenAPI 3.2 names it `itemSchema`, a keyword 3.1 does not have.)"""
    payload: dict[str, Any] = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": data,
    }
    if last is not None:
        payload = {"anyOf": [payload, {"const": last}]}
    item: dict[str, Any] = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": payload},
    }
    if events:
        item["properties"]["event"] = {"type": "string", "enum": list(events)}
    item["description"] = "One server-sent event"
    return {"description": description, "content": {"text/event-stream": {"schema": item}}}


def document_streamed_models(app: FastAPI) -> None:
    """Add STREAMED_MODELS (and the models they use) to the app's OpenAPI components."""
    _, schema = models_json_schema(
        [(m, "serialization") for m in STREAMED_MODELS], ref_template=_REF
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()  # FastAPI caches it: the additions below are made once
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in schema.get("$defs", {}).items():
            components.setdefault(name, definition)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
