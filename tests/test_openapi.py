"""/openapi.json is a valid OpenAPI document of the version it declares, as a strict
validator (openapi-spec-validator) reads it, and links the contract that ships with the
code."""

from __future__ import annotations

from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV31SpecValidator

from peerqa.config import Settings
from peerqa.service.app import create_app


def served_spec() -> dict:
    """The document as a client downloads it (no lifespan: it needs no store)."""
    r = TestClient(create_app(Settings(access_log=False))).get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_openapi_json_passes_openapi_spec_validator():
    spec = served_spec()
    assert spec["openapi"].startswith("3.1.")
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in OpenAPIV31SpecValidator(spec).iter_errors()
    ]
    assert errors == []


def test_event_streams_are_described_without_openapi_3_2_keywords():
    spec = served_spec()
    for path in ("/v1/ask/stream", "/v1/chat/completions"):
        stream = spec["paths"][path]["post"]["responses"]["200"]["content"]["text/event-stream"]
        assert "itemSchema" not in stream
        data = stream["schema"]["properties"]["data"]  # the schema of one event
        if path == "/v1/chat/completions":  # OpenAI's stream ends with the literal [DONE]
            assert {"const": "[DONE]"} in data["anyOf"]
            data = data["anyOf"][0]
        assert data["contentMediaType"] == "application/json" and data["contentSchema"]
