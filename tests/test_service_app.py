"""The HTTP contract of ../shared/API.md for the routes served so far."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from peerqa.config import Settings
from service.app import create_app
from tests.conftest import CORPUS_TEXT


@pytest.fixture(scope="module")
def client(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings)) as c:
        yield c


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["passages"] > 150


def test_search_returns_passages_with_scores(client):
    r = client.post("/v1/search", json={"query": "what keeps mentors from burning out", "top_k": 4})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "what keeps mentors from burning out"
    assert len(body["results"]) == 4
    first = body["results"][0]
    assert set(first) >= {
        "id",
        "text",
        "document",
        "section",
        "kind",
        "stance",
        "theme",
        "programme",
        "role",
        "ref_numbers",
        "references",
        "char_start",
        "char_end",
        "score",
    }
    assert "context" not in first
    assert CORPUS_TEXT[first["char_start"] : first["char_end"]] == first["text"]


def test_search_with_filters(client):
    r = client.post(
        "/v1/search",
        json={"query": "rural families", "filters": {"stance": ["challenge"], "kind": ["quote"]}},
    )
    assert r.status_code == 200
    assert all(p["stance"] == "challenge" and p["kind"] == "quote" for p in r.json()["results"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "x" * 2001}, "query"),
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": 51}, "top_k"),
        ({"query": "x", "filters": {"colour": ["red"]}}, "colour"),
        ({"query": "x", "filters": {"programme": ["Z"]}}, "programme"),
        ({"query": "x", "filters": {"theme": ["Nope"]}}, "theme"),
    ],
)
def test_invalid_search_is_422_naming_the_field(client, body, field):
    r = client.post("/v1/search", json=body)
    assert r.status_code == 422
    assert field in str(r.json()["detail"])


def test_passage_in_context(client):
    hit = client.post("/v1/search", json={"query": "code of conduct", "top_k": 1}).json()[
        "results"
    ][0]
    r = client.get(f"/v1/passages/{hit['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == hit["text"]
    assert body["previous_id"] and body["next_id"]
    assert client.get(f"/v1/passages/{body['next_id']}").json()["previous_id"] == hit["id"]


def test_unknown_passage_is_404(client):
    assert client.get("/v1/passages/nope:9999").status_code == 404


def test_openapi_describes_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/search", "/v1/passages/{passage_id}", "/healthz", "/readyz"} <= set(paths)


def test_empty_store_is_not_ready(settings: Settings):
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 503
        assert c.post("/v1/search", json={"query": "x"}).status_code == 503
