"""CORS: off unless PEERQA_CORS_ORIGINS names the browser origins allowed to call the API;
then preflights are answered and responses (errors included) carry the headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from peerqa.config import Settings
from peerqa.service.app import create_app

CHAT_UI = "https://chat.example.org"
PREFLIGHT = {
    "Origin": CHAT_UI,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, authorization",
}


@pytest.fixture(scope="module")
def allowed(corpus_settings: Settings):
    origins = corpus_settings.model_copy(
        update={"cors_origins": [CHAT_UI, "http://localhost:3000"], "rate_limit_per_minute": 0}
    )
    with TestClient(create_app(origins)) as client:
        yield client


def test_origins_are_read_comma_separated_from_the_environment(monkeypatch):
    monkeypatch.setenv("PEERQA_CORS_ORIGINS", f" {CHAT_UI}/ , http://localhost:3000")
    assert Settings().cors_origins == [CHAT_UI, "http://localhost:3000"]
    monkeypatch.setenv("PEERQA_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/search", "/mcp"])
def test_a_preflight_from_an_allowed_origin_is_answered(allowed: TestClient, path: str):
    r = allowed.options(path, headers=PREFLIGHT)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == CHAT_UI
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


def test_a_preflight_from_another_origin_is_refused(allowed: TestClient):
    r = allowed.options("/v1/search", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


def test_responses_and_errors_carry_the_headers(allowed: TestClient):
    r = allowed.post("/v1/search", json={"query": "burnout"}, headers={"Origin": CHAT_UI})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == CHAT_UI
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    bad = allowed.post("/v1/search", json={"query": ""}, headers={"Origin": CHAT_UI})
    assert bad.status_code == 422 and bad.headers["access-control-allow-origin"] == CHAT_UI


def test_an_edge_refusal_reaches_the_browser_with_the_headers(corpus_settings: Settings):
    limited = corpus_settings.model_copy(
        update={"cors_origins": [CHAT_UI], "rate_limit_per_minute": 1}
    )
    with TestClient(create_app(limited)) as client:
        client.get("/v1/themes", headers={"Origin": CHAT_UI})
        r = client.get("/v1/themes", headers={"Origin": CHAT_UI})
    assert r.status_code == 429
    assert r.headers["access-control-allow-origin"] == CHAT_UI
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()


def test_cors_is_off_by_default(corpus_settings: Settings):
    assert Settings().cors_origins == []
    with TestClient(create_app(corpus_settings)) as client:
        preflight = client.options("/v1/search", headers=PREFLIGHT)
        r = client.post("/v1/search", json={"query": "burnout"}, headers={"Origin": CHAT_UI})
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in r.headers
