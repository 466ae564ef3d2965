"""/v1/ask and /v1/ask/stream: cited answers, chat sessions, server-sent events."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from peerqa.answer.compose import compose
from peerqa.config import Settings
from peerqa.models import Answer
from peerqa.service.app import create_app
from peerqa.service.routes import answers
from peerqa.service.streaming import pieces
from tests.conftest import CORPUS_TEXT

MATCHING = "Matching based on condition and cultural similarity"
FIRST = "What makes matching peers difficult?"
FOLLOW_UP = "How do programmes fix that?"


@pytest.fixture(scope="module")
def client(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings)) as c:
        yield c


def ask(client: TestClient, question: str, **extra) -> dict:
    r = client.post("/v1/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def events(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body."""
    parsed = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        parsed.append((fields["event"], fields["data"]))
    return parsed


def test_answer_cites_verbatim_passages(client):
    body = ask(client, "How do programmes keep peer supporters from burning out?")
    assert set(body) == set(Answer.model_fields)  # every field, session_id included
    assert body["abstained"] is False and body["citations"]
    for c in body["citations"]:
        assert c["marker"] in body["answer"]
        assert CORPUS_TEXT[c["char_start"] : c["char_end"]] == c["text"]
        assert {"score", "marker"} <= set(c) and "context" not in c


def test_medical_advice_abstains_with_a_session(client):
    body = ask(client, "Should I stop taking my insulin?")
    assert body["abstained"] is True and body["reason"]
    assert body["citations"] == [] and body["session_id"]


def test_follow_up_is_resolved_against_the_session(client, monkeypatch):
    histories = []

    def spy(index, question, **kwargs):
        histories.append(list(kwargs["history"]))
        return compose(index, question, **kwargs)

    monkeypatch.setattr(answers, "compose", spy)
    first = ask(client, FIRST)
    follow = ask(client, FOLLOW_UP, session_id=first["session_id"])
    alone = ask(client, FOLLOW_UP)  # the same words without the conversation
    assert histories == [[], [FIRST], []]
    assert follow["session_id"] == first["session_id"] != alone["session_id"]
    assert any(c["theme"] == MATCHING for c in follow["citations"])


def test_sessions_survive_a_restart(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings)) as before:
        sid = ask(before, FIRST)["session_id"]
    with TestClient(create_app(corpus_settings)) as after:  # a new worker, same data dir
        follow = ask(after, FOLLOW_UP, session_id=sid)
        assert follow["session_id"] == sid
        assert any(c["theme"] == MATCHING for c in follow["citations"])
        assert after.app.state.sessions.resume(sid).history == [FIRST, FOLLOW_UP]


def test_session_turns_are_read_back(client):
    first = ask(client, FIRST)
    sid = first["session_id"]
    follow = ask(client, FOLLOW_UP, session_id=sid)
    r = client.get(f"/v1/sessions/{sid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["session_id"] == sid
    assert [(t["question"], t["answer"]) for t in body["turns"]] == [
        (FIRST, first["answer"]),
        (FOLLOW_UP, follow["answer"]),
    ]
    asked = [datetime.fromisoformat(t["asked_at"]) for t in body["turns"]]
    assert asked == sorted(asked) and datetime.fromisoformat(body["expires_at"]) > asked[-1]


def test_session_turns_of_an_unknown_or_expired_session_are_404(client):
    assert client.get("/v1/sessions/no-such-session").status_code == 404
    sid = ask(client, FIRST)["session_id"]
    sessions = client.app.state.sessions
    sessions.clock = lambda: time.time() + sessions.ttl + 1
    try:
        r = client.get(f"/v1/sessions/{sid}")
    finally:
        sessions.clock = time.time
    assert r.status_code == 404 and r.json() == {"detail": "unknown or expired session"}
    assert client.get(f"/v1/sessions/{'s' * 129}").status_code == 422


def test_unknown_or_expired_session_starts_a_new_one(client):
    assert ask(client, FIRST, session_id="no-such-session")["session_id"] != "no-such-session"
    sid = ask(client, FIRST)["session_id"]
    sessions = client.app.state.sessions
    sessions.clock = lambda: time.time() + sessions.ttl + 1
    try:
        renewed = ask(client, FOLLOW_UP, session_id=sid)
    finally:
        sessions.clock = time.time
    assert renewed["session_id"] != sid
    assert sessions.resume(renewed["session_id"]).history == [FOLLOW_UP]


def test_history_is_bounded(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings.model_copy(update={"session_max_turns": 2}))) as c:
        sid = ask(c, "What is peer support?")["session_id"]
        for question in ("Who benefits?", "What about caregivers?"):
            ask(c, question, session_id=sid)
        assert c.app.state.sessions.resume(sid).history == [
            "Who benefits?",
            "What about caregivers?",
        ]


def test_filters_and_top_k_reach_the_composer(client):
    body = ask(client, "what makes matching hard", top_k=3, filters={"stance": ["challenge"]})
    assert 0 < len(body["citations"]) <= 3
    assert all(c["stance"] == "challenge" for c in body["citations"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   \n"}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "x", "top_k": 0}, "top_k"),
        ({"question": "x", "top_k": 51}, "top_k"),
        ({"question": "x", "session_id": "s" * 129}, "session_id"),
        ({"question": "x", "filters": {"stance": ["neutral"]}}, "stance"),
        ({"question": "x", "filters": {"theme": ["No such theme"]}}, "theme"),
        ({"question": "x", "colour": "red"}, "colour"),
        ({"question": 42}, "question"),
    ],
)
@pytest.mark.parametrize("route", ["/v1/ask", "/v1/ask/stream"])
def test_invalid_ask_is_422_naming_the_field(client, route, body, field):
    r = client.post(route, json=body)
    assert r.status_code == 422
    assert field in json.dumps(r.json()["detail"])


@pytest.mark.parametrize(
    "question",
    ["🙂", "[1] [2] [3]", "?", "a" * 2000, "\u0000 nul", "<script>alert(1)</script>", "....."],
)
def test_odd_questions_never_fail(client, question):
    assert client.post("/v1/ask", json={"question": question}).status_code == 200


def test_stream_events_in_order_and_done_equals_the_ask_body(client):
    question = "What challenges do programmes face with funding?"
    r = client.post("/v1/ask/stream", json={"question": question})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    stream = events(r.text)
    names = [name for name, _ in stream]
    assert names[0] == "citations" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"} and len(names) > 3
    done = json.loads(stream[-1][1])
    assert json.loads(stream[0][1]) == done["citations"]
    assert "".join(json.loads(data)["text"] for _, data in stream[1:-1]) == done["answer"]
    plain = ask(client, question)
    assert {**done, "session_id": None} == {**plain, "session_id": None}


def test_stream_keeps_the_session(client):
    sid = ask(client, FIRST)["session_id"]
    r = client.post("/v1/ask/stream", json={"question": FOLLOW_UP, "session_id": sid})
    done = json.loads(events(r.text)[-1][1])
    assert done["session_id"] == sid
    assert any(c["theme"] == MATCHING for c in done["citations"])


@pytest.mark.parametrize(
    "text", ["", "One.", "Two words [1].\n\nHeading:\nLine — x [2]", "  lead and trail  "]
)
def test_pieces_join_back_to_the_text(text):
    assert "".join(pieces(text, words=2)) == text


@pytest.mark.usefixtures("no_model")
def test_empty_store_is_503(settings: Settings):
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/ask", json={"question": "x"}).status_code == 503
        assert c.post("/v1/ask/stream", json={"question": "x"}).status_code == 503
