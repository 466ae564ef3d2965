"""The OpenAI-compatible endpoint, driven by the official `openai` client over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from langchain_openai import ChatOpenAI
from openai import (
    AsyncOpenAI,
    BadRequestError,
    NotFoundError,
    OpenAI,
    UnprocessableEntityError,
)
from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from pydantic import BaseModel

from peerqa.config import REPO_ROOT, Settings
from peerqa.models import Answer
from peerqa.service.app import create_app
from peerqa.service.openai_compat import PARAMETERS, parameter_table
from peerqa.service.schemas import ChatCompletionRequest
from tests.conftest import CORPUS_TEXT
from tests.workers import serving_in_thread

QUESTION = "How do programmes keep peer supporters from burning out?"


@pytest.fixture(scope="module")
def base_url(corpus_settings: Settings):
    """The app under uvicorn on a free loopback port, for as long as the module runs."""
    with serving_in_thread(create_app(corpus_settings)) as url:
        yield f"{url}/v1"


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
        ({"model": "peerqa", "messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
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


# --- structured output: response_format ---------------------------------------------------


class CitedPassage(BaseModel):
    id: str
    marker: str
    text: str
    document: str
    char_start: int
    char_end: int


class CitedAnswer(BaseModel):
    answer: str
    abstained: bool
    citations: list[CitedPassage]


class WithSentiment(BaseModel):
    answer: str
    sentiment: str


class AbstainedAsText(BaseModel):
    answer: str
    abstained: str


ASK = [{"role": "user", "content": QUESTION}]


def assert_cites_verbatim(answer: CitedAnswer) -> None:
    assert not answer.abstained and answer.citations
    for cited in answer.citations:
        assert cited.marker in answer.answer
        assert CORPUS_TEXT[cited.char_start : cited.char_end] == cited.text


def test_json_object_is_the_answer_with_its_citations(client):
    completion = client.chat.completions.create(
        model="peerqa", messages=ASK, response_format={"type": "json_object"}
    )
    content = json.loads(completion.choices[0].message.content)
    assert set(content) == set(Answer.model_fields) - {"session_id"}
    assert content["question"] == QUESTION and "Sources:" not in content["answer"]
    assert content["citations"] == completion.model_extra["citations"]


def test_parse_fills_a_pydantic_schema_of_answer_and_citations(client):
    completion = client.chat.completions.parse(
        model="peerqa", messages=ASK, response_format=CitedAnswer
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, CitedAnswer)
    assert_cites_verbatim(parsed)
    assert [c.id for c in parsed.citations] == [
        c["id"] for c in completion.model_extra["citations"]
    ]
    # Only what the schema asks for: no extra keys in the content.
    assert set(json.loads(completion.choices[0].message.content)) == {
        "answer",
        "abstained",
        "citations",
    }


async def _parse_async(base_url: str) -> CitedAnswer:
    async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
        client = AsyncOpenAI(base_url=base_url, api_key="any-key", http_client=http)
        completion = await client.chat.completions.parse(
            model="peerqa", messages=ASK, response_format=CitedAnswer
        )
        return completion.choices[0].message.parsed


def test_async_parse(base_url: str):
    import anyio

    assert_cites_verbatim(anyio.run(_parse_async, base_url))


def test_streamed_parse(client):
    with client.chat.completions.stream(
        model="peerqa", messages=ASK, response_format=CitedAnswer
    ) as stream:
        final = stream.get_final_completion()
    assert_cites_verbatim(final.choices[0].message.parsed)


def test_an_abstention_fills_the_schema_too(client):
    completion = client.chat.completions.parse(
        model="peerqa",
        messages=[{"role": "user", "content": "What dose of sertraline should I take?"}],
        response_format=CitedAnswer,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed.abstained and parsed.citations == [] and parsed.answer


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (WithSentiment, "sentiment is not something peerqa fills"),
        (AbstainedAsText, "abstained is boolean in peerqa's answer; the schema allows string"),
    ],
)
def test_a_schema_the_service_cannot_fill_is_a_400(client, schema, message):
    with pytest.raises(BadRequestError, match=message) as err:
        client.chat.completions.parse(model="peerqa", messages=ASK, response_format=schema)
    assert err.value.param == "response_format.json_schema.schema"
    assert err.value.type == "invalid_request_error"


def test_a_nullable_field_needs_a_nullable_schema(client):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "reason": {"type": "string"}},
    }
    with pytest.raises(BadRequestError, match="reason is null in peerqa's answer"):
        client.chat.completions.create(
            model="peerqa",
            messages=ASK,
            response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        )


# --- tools, n, usage, length ----------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    "tool_choice", ["required", {"type": "function", "function": {"name": "weather"}}]
)
def test_a_required_tool_call_is_a_400(client, tool_choice):
    with pytest.raises(BadRequestError, match="never calls tools") as err:
        client.chat.completions.create(
            model="peerqa", messages=ASK, tools=[WEATHER_TOOL], tool_choice=tool_choice
        )
    assert err.value.param == "tool_choice"


@pytest.mark.parametrize("tool_choice", ["auto", "none", None])
def test_tools_with_auto_or_none_are_answered_in_text(client, tool_choice):
    extra = {"tool_choice": tool_choice} if tool_choice else {}
    completion = client.chat.completions.create(
        model="peerqa", messages=ASK, tools=[WEATHER_TOOL], **extra
    )
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert "Sources:" in choice.message.content


def test_more_than_one_choice_is_a_400(client):
    with pytest.raises(BadRequestError, match="only one choice") as err:
        client.chat.completions.create(model="peerqa", messages=ASK, n=2)
    assert err.value.param == "n"


def test_streamed_usage_when_asked(client):
    whole = client.chat.completions.create(model="peerqa", messages=ASK)
    chunks = list(
        client.chat.completions.create(
            model="peerqa", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    *answer, last = chunks
    assert last.choices == [] and last.usage == whole.usage
    assert all(c.usage is None for c in answer)
    assert answer[-1].choices[0].finish_reason == "stop"


def test_stream_options_without_stream_is_a_400(client):
    with pytest.raises(BadRequestError) as err:
        client.chat.completions.create(
            model="peerqa", messages=ASK, stream_options={"include_usage": True}
        )
    assert err.value.param == "stream_options"


def test_max_tokens_cuts_the_content_with_finish_reason_length(client):
    completion = client.chat.completions.create(model="peerqa", messages=ASK, max_tokens=7)
    (choice,) = completion.choices
    assert choice.finish_reason == "length"
    assert len(choice.message.content.split()) == 7 == completion.usage.completion_tokens
    whole = client.chat.completions.create(model="peerqa", messages=ASK)
    assert whole.choices[0].message.content.startswith(choice.message.content)


def test_stop_cuts_before_the_first_stop_sequence(client):
    completion = client.chat.completions.create(model="peerqa", messages=ASK, stop=["Sources:"])
    content = completion.choices[0].message.content
    assert "Sources:" not in content and content.strip()
    assert completion.choices[0].finish_reason == "stop"


def test_image_parts_are_a_400_naming_them(client):
    with pytest.raises(BadRequestError) as err:
        client.chat.completions.create(
            model="peerqa",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": QUESTION},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                    ],
                }
            ],
        )
    assert err.value.param == "messages.0.content.1.type"


# --- every parameter: honoured, accepted with its effect stated, or a 400 naming it --------

# A value each refused parameter cannot take.
REFUSED_VALUES = {
    "tool_choice": "required",
    "function_call": {"name": "weather"},
    "service_tier": "priority",
    "store": True,
    "logprobs": True,
    "top_logprobs": 3,
    "logit_bias": {"1234": 5},
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "mp3"},
    "prediction": {"type": "content", "content": "x"},
    "reasoning_effort": "high",
    "verbosity": "low",
    "web_search_options": {},
    "moderation": {"model": "omni-moderation-latest"},
    "n": 3,
}


def test_every_openai_parameter_is_in_the_table():
    sdk = set(CompletionCreateParamsBase.__annotations__) | {"stream"}
    assert sdk <= set(PARAMETERS), sdk - set(PARAMETERS)
    assert set(PARAMETERS) == set(ChatCompletionRequest.model_fields)
    refused = {name for name, p in PARAMETERS.items() if p.status == "refused"}
    assert refused <= set(REFUSED_VALUES)


def test_the_readme_shows_the_tables():
    from peerqa.service.routes.responses import RESPONSES_PARAMETERS

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert parameter_table() in readme
    assert parameter_table(RESPONSES_PARAMETERS) in readme


@pytest.mark.parametrize(("name", "value"), sorted(REFUSED_VALUES.items()))
def test_a_value_that_cannot_be_honoured_is_a_400_naming_it(base_url, name, value):
    body = {"model": "peerqa", "messages": ASK, name: value}
    if name == "web_search_options":
        body[name] = {"search_context_size": "low"}
    with httpx.Client(trust_env=False) as http:
        r = http.post(f"{base_url}/chat/completions", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == name
    assert r.json()["error"]["message"].startswith(f"{name}: ")


def test_an_unknown_parameter_is_a_422_naming_it(base_url):
    with httpx.Client(trust_env=False) as http:
        r = http.post(
            f"{base_url}/chat/completions",
            json={"model": "peerqa", "messages": ASK, "temprature": 0.2},
        )
    assert r.status_code == 422
    assert r.json()["error"]["param"] == "temprature"


# --- LangChain's ChatOpenAI as a client --------------------------------------------------------


@pytest.fixture(scope="module")
def chat(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(
        model="peerqa",
        base_url=base_url,
        api_key="any-key",
        stream_usage=True,  # off by default for a custom base_url
        http_client=httpx.Client(trust_env=False, timeout=60),
        http_async_client=httpx.AsyncClient(trust_env=False, timeout=60),
    )


def test_langchain_chat(chat: ChatOpenAI):
    reply = chat.invoke(QUESTION)
    assert "Sources:" in reply.content
    assert reply.usage_metadata["total_tokens"] > 0


def test_langchain_streams_with_usage(chat: ChatOpenAI):
    chunks = list(chat.stream(QUESTION))
    text = "".join(c.content for c in chunks)
    assert "Sources:" in text
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] == len(text.split())


def test_langchain_structured_output_keeps_the_citations(chat: ChatOpenAI):
    assert_cites_verbatim(chat.with_structured_output(CitedAnswer).invoke(QUESTION))


def test_langchain_json_mode(chat: ChatOpenAI):
    result = chat.with_structured_output(None, method="json_mode").invoke(QUESTION)
    assert result["citations"] and result["citations"][0]["text"] in CORPUS_TEXT


def test_langchain_function_calling_is_a_clear_error_not_none(chat: ChatOpenAI):
    structured = chat.with_structured_output(CitedAnswer, method="function_calling")
    with pytest.raises(BadRequestError, match="never calls tools"):
        structured.invoke(QUESTION)


# --- the Responses API -------------------------------------------------------------------------


def test_responses_answer_with_citations(client):
    response = client.responses.create(model="peerqa", input=QUESTION)
    assert response.status == "completed"
    assert "Sources:" in response.output_text
    citations = response.model_extra["citations"]
    assert citations and all(c["marker"] in response.output_text for c in citations)
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_responses_parse_fills_a_schema(client):
    response = client.responses.parse(model="peerqa", input=QUESTION, text_format=CitedAnswer)
    assert_cites_verbatim(response.output_parsed)


def test_responses_stream_events(client):
    with client.responses.stream(model="peerqa", input=QUESTION) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 4 and "".join(deltas) == final.output_text
    assert final.status == "completed"


def test_responses_follow_up_with_message_history(client):
    response = client.responses.create(
        model="peerqa",
        input=[
            {"role": "user", "content": "What makes matching peers difficult?"},
            {"role": "assistant", "content": "Rare conditions limit who is available. [1]"},
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "How do programmes fix that?"}],
            },
        ],
    )
    themes = {c["theme"] for c in response.model_extra["citations"]}
    assert "Matching based on condition and cultural similarity" in themes


def test_responses_max_output_tokens_is_incomplete(client):
    response = client.responses.create(model="peerqa", input=QUESTION, max_output_tokens=5)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert len(response.output_text.split()) == 5


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"store": True}, "store"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
        (
            {
                "tools": [{"type": "function", "name": "w", "parameters": {}}],
                "tool_choice": "required",
            },
            "tool_choice",
        ),
        (
            {
                "text": {
                    "format": {
                        "type": "json_schema",
                        "name": "s",
                        "schema": WithSentiment.model_json_schema(),
                    }
                }
            },
            "response_format.json_schema.schema",
        ),
    ],
)
def test_responses_refuse_what_they_cannot_honour(client, arguments, param):
    with pytest.raises(BadRequestError) as err:
        client.responses.create(model="peerqa", input=QUESTION, **arguments)
    assert err.value.param == param


def test_every_responses_parameter_is_accounted_for():
    from openai.types.responses.response_create_params import ResponseCreateParamsBase

    from peerqa.service.routes.responses import RESPONSES_PARAMETERS, SHARED, ResponsesRequest

    sdk = set(ResponseCreateParamsBase.__annotations__) | {"stream"}
    assert sdk <= set(ResponsesRequest.model_fields), sdk - set(ResponsesRequest.model_fields)
    assert set(ResponsesRequest.model_fields) == {*RESPONSES_PARAMETERS, *SHARED, "model"}
    assert set(SHARED) <= set(PARAMETERS)


def test_responses_without_a_question_are_a_422_naming_input(base_url):
    with httpx.Client(trust_env=False) as http:
        r = http.post(
            f"{base_url}/responses",
            json={"model": "peerqa", "input": [{"role": "system", "content": "only"}]},
        )
    assert r.status_code == 422
    assert r.json()["error"]["param"].startswith("input")
    assert "last user message" in r.json()["error"]["message"]
