"""The OpenAI-compatible endpoint, driven by the official `openai` client over real HTTP."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from openai import NotFoundError, OpenAI, UnprocessableEntityError

from peerqa.config import Settings
from service.app import create_app

QUESTION = "How do programmes keep peer supporters from burning out?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(corpus_settings: Settings):
    """The app under uvicorn on a free loopback port, for as long as the module runs."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(corpus_settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def client(base_url: str):
    # trust_env=False: a proxy from the environment must not see loopback traffic.
    with httpx.Client(trust_env=False, timeout=60) as http:
        yield OpenAI(base_url=base_url, api_key="any-key", http_client=http)


def test_models_lists_peerqa(client):
    assert [m.id for m in client.models.list()] == ["peerqa"]
    assert client.models.retrieve("peerqa").owned_by == "peerqa"
    with pytest.raises(NotFoundError):
        client.models.retrieve("gpt-4o")


def test_completion_has_the_answer_its_sources_and_citations(client):
    completion = client.chat.completions.create(
        model="peerqa",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": QUESTION},
        ],
        temperature=0.2,
        max_tokens=300,
        user="tester",
    )
    assert completion.object == "chat.completion" and completion.model == "peerqa"
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    answer, sources = choice.message.content.split("\n\nSources:\n")
    citations = completion.model_extra["citations"]
    assert citations and len(sources.splitlines()) == len(citations)
    for citation, line in zip(citations, sources.splitlines(), strict=True):
        assert citation["marker"] in answer
        assert line.startswith(f"{citation['marker']} {citation['section']} — ")
        assert line.endswith(f"({citation['id']})")
        if citation["programme"]:
            assert f" — Programme {citation['programme']}" in line
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_streamed_completion_matches_the_normal_one(client):
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="peerqa", messages=messages)
    chunks = list(client.chat.completions.create(model="peerqa", messages=messages, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == whole.choices[0].message.content
    assert chunks[-1].model_extra["citations"] == whole.model_extra["citations"]
    assert len(chunks) > 4  # the answer arrives in pieces


def test_earlier_user_messages_are_history(client):
    follow_up = client.chat.completions.create(
        model="peerqa",
        messages=[
            {"role": "user", "content": "What makes matching peers difficult?"},
            {"role": "assistant", "content": "Rare conditions limit who is available. [1]"},
            {"role": "user", "content": [{"type": "text", "text": "How do programmes fix that?"}]},
        ],
    )
    themes = {c["theme"] for c in follow_up.model_extra["citations"]}
    assert "Matching based on condition and cultural similarity" in themes


def test_medical_advice_abstains_without_sources(client):
    completion = client.chat.completions.create(
        model="peerqa",
        messages=[{"role": "user", "content": "What dose of sertraline should I take?"}],
    )
    assert "Sources:" not in completion.choices[0].message.content
    assert completion.model_extra["citations"] == []


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"model": "peerqa", "messages": []}, "messages"),
        ({"model": "peerqa", "messages": [{"role": "system", "content": "only"}]}, "messages"),
        ({"model": "peerqa", "messages": [{"role": "user", "content": "  "}]}, "messages"),
        ({"model": "peerqa", "messages": [{"role": "user", "content": "x" * 2001}]}, "messages"),
        ({"model": "peerqa", "messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"model": "peerqa", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ],
)
def test_invalid_requests_are_422_naming_the_field(client, request_body, field):
    with pytest.raises(UnprocessableEntityError) as err:
        client.chat.completions.create(**request_body)
    assert field in err.value.param
    assert field in err.value.message  # what a chat front end shows


def test_unknown_model_is_404_with_an_openai_error(client):
    with pytest.raises(NotFoundError, match="unknown model 'gpt-4o'") as err:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert err.value.type == "invalid_request_error"


def test_errors_keep_detail_and_add_the_openai_error_object(base_url: str):
    with httpx.Client(trust_env=False) as http:
        r = http.post(f"{base_url}/chat/completions", json={"messages": []})
    assert r.status_code == 422
    body = r.json()
    assert {e["loc"][-1] for e in body["detail"]} == {"model", "messages"}
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] in ("model", "messages")
    assert "model: Field required" in body["error"]["message"]


def test_stream_ends_with_done_marker(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings)) as c:
        r = c.post(
            "/v1/chat/completions",
            json={
                "model": "peerqa",
                "stream": True,
                "messages": [{"role": "user", "content": QUESTION}],
            },
        )
    assert r.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in r.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_oversized_request_is_413(corpus_settings: Settings):
    small = corpus_settings.model_copy(update={"max_request_bytes": 2048})
    with TestClient(create_app(small)) as c:
        r = c.post(
            "/v1/chat/completions",
            json={"model": "peerqa", "messages": [{"role": "user", "content": "x" * 3000}]},
        )
    assert r.status_code == 413
    assert "2048-byte limit" in r.json()["detail"]  # JSON, also for a declared oversize body
    assert r.json()["error"]["message"] == r.json()["detail"]
