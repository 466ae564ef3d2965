"""The app: health, evidence routes, OpenAPI, the chat page, limits and error handling.

Tests marked chroma_server report or serve what the store holds: `make test` runs them
again on a Chroma server.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from peerqa.config import Settings
from peerqa.service.app import create_app
from tests.conftest import CORPUS_TEXT


@pytest.fixture(scope="module")
def client(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings)) as c:
        yield c


@pytest.mark.chroma_server
def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["passages"] > 150


@pytest.mark.chroma_server
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


ROUTES = {
    ("get", "/"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/v1/search"),
    ("get", "/v1/passages/{passage_id}"),
    ("post", "/v1/ask"),
    ("post", "/v1/ask/stream"),
    ("get", "/v1/sessions/{session_id}"),
    ("post", "/v1/chat/completions"),
    ("post", "/v1/responses"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{model_id}"),
    ("get", "/v1/themes"),
    ("get", "/v1/challenges"),
    ("get", "/v1/programmes"),
    ("get", "/v1/documents"),
    ("post", "/v1/documents"),
    ("delete", "/v1/documents/{document_id}"),
    ("post", "/v1/admin/reindex"),
}


def test_openapi_describes_every_route_with_models_and_errors(client):
    spec = client.get("/openapi.json").json()
    operations = {(m, path): op for path, ops in spec["paths"].items() for m, op in ops.items()}
    assert set(operations) == ROUTES
    for (method, path), op in operations.items():
        ok = op["responses"].get("200") or op["responses"].get("201") or op["responses"]["204"]
        if path not in ("/", "/v1/documents/{document_id}"):
            assert ok["content"], (method, path)  # a response schema
        if "requestBody" in op or "parameters" in op:
            assert "422" in op["responses"], (method, path)
    schemas = spec["components"]["schemas"]
    for name in ("AskRequest", "AskResponse", "ChatCompletionRequest", "ChatCompletion",
                 "ChatCompletionChunk", "StreamDelta", "ThemeSummary", "Challenge",
                 "Programme", "DocumentInfo", "IngestReport", "ErrorResponse"):  # fmt: skip
        assert name in schemas
    admin = operations[("post", "/v1/documents")]
    assert {"401", "403", "409", "413", "422"} <= set(admin["responses"])
    assert admin["security"] == [{"HTTPBearer": []}]
    assert "multipart/form-data" in admin["requestBody"]["content"]
    assert "404" in operations[("get", "/v1/passages/{passage_id}")]["responses"]
    assert "404" in operations[("get", "/v1/sessions/{session_id}")]["responses"]
    stream = operations[("post", "/v1/ask/stream")]["responses"]["200"]["content"]
    assert "text/event-stream" in stream
    assert client.get("/docs").status_code == 200


def test_chat_page_and_static_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/nope.js").status_code == 404


def test_oversized_json_body_is_413(corpus_settings: Settings):
    with TestClient(
        create_app(corpus_settings.model_copy(update={"max_request_bytes": 2048}))
    ) as c:
        r = c.post("/v1/search", json={"query": "x" * 1000, "filters": {"theme": ["y" * 2000]}})
        assert r.status_code == 413
        assert c.post("/v1/search", json={"query": "peer support"}).status_code == 200


def test_malformed_json_is_4xx(client):
    for body in (b"{not json", b"\xff\xfe", b""):
        r = client.post("/v1/search", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500


def test_unexpected_errors_are_json_500s(corpus_settings: Settings):
    app = create_app(corpus_settings)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/broken")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error"}


@pytest.mark.chroma_server
@pytest.mark.usefixtures("no_model")
def test_empty_store_is_not_ready(settings: Settings):
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 503
        assert c.post("/v1/search", json={"query": "x"}).status_code == 503
