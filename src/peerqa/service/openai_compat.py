"""What /v1/chat/completions does with each OpenAI parameter, and structured output.

PARAMETERS is the single source of the README's parameter table: every parameter of
OpenAI's chat-completions request is either honoured, accepted with its (lack of) effect
stated, or refused with a 400 naming it. Nothing is dropped silently.

Structured output: the content is the answer as a JSON object (`json_object`), or, for a
`json_schema`, that object cut to the schema's properties, once the schema is shown to
accept every value the service can put there. A schema asking for anything else is a 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from peerqa.models import Answer
from peerqa.service.schemas import ChatCompletionRequest

# --- parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    status: str  # "supported", "accepted" (no effect, and why that is true) or "refused"
    how: str
    refuse: Callable[[Any], str | None] = lambda value: None  # why `value` is a 400


def _only(*allowed: Any, why: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in allowed else why


def _none(why: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in (None, False, [], {}) else why


def refused(why: str, how: str = "any value is a 400") -> Parameter:
    """A parameter whose every value but none/false/empty is a 400 saying `why`."""
    return Parameter("refused", how, _none(why))


TOOLS_WHY = (
    "peerqa answers from its evidence and never calls tools: a tool_choice that requires "
    "a tool call cannot be honoured (use tool_choice 'auto' or 'none', or no tools)"
)


def _no_forced_call(value: Any) -> str | None:
    return None if value in (None, "auto", "none") else TOOLS_WHY


PARAMETERS: dict[str, Parameter] = {
    "model": Parameter("supported", "`peerqa` only; any other model is a 404"),
    "messages": Parameter(
        "supported",
        "the last user message is the question, earlier user messages its history; "
        "system, developer, assistant and tool messages are accepted and not read (the "
        "answer comes from the evidence alone); a non-text part in a user message is a 400",
    ),
    "stream": Parameter("supported", "`chat.completion.chunk` events, then `[DONE]`"),
    "stream_options": Parameter(
        "supported",
        "`include_usage`: a last chunk with `usage` and empty `choices`; "
        "`include_obfuscation` only false; 400 without `stream`",
    ),
    "response_format": Parameter(
        "supported",
        "`text`; `json_object`: the answer as a JSON object; `json_schema`: that object "
        "cut to the schema, when the schema accepts what the service fills, else a 400",
    ),
    "n": Parameter(
        "supported", "1 only: more is a 400", _only(None, 1, why="only one choice (n=1)")
    ),
    "max_tokens": Parameter(
        "supported", "the content is cut after that many words; `finish_reason` `length`"
    ),
    "max_completion_tokens": Parameter("supported", "as `max_tokens`"),
    "stop": Parameter("supported", "the content is cut before the first stop sequence"),
    "tools": Parameter(
        "supported",
        "accepted with `tool_choice` `auto` (the default) or `none`: the reply is text, "
        "no tool is called",
    ),
    "tool_choice": Parameter(
        "refused",
        "`auto` and `none` accepted; `required` or a named tool is a 400",
        _no_forced_call,
    ),
    "parallel_tool_calls": Parameter("accepted", "no effect: no tool is ever called"),
    "functions": Parameter("supported", "deprecated `tools`: as `tools`"),
    "function_call": Parameter(
        "refused", "`auto` and `none` accepted; a named function is a 400", _no_forced_call
    ),
    "temperature": Parameter(
        "accepted",
        "no effect: answers are extracted, not sampled; the same at every temperature",
    ),
    "top_p": Parameter("accepted", "no effect, as `temperature`"),
    "presence_penalty": Parameter("accepted", "no effect: no tokens are sampled"),
    "frequency_penalty": Parameter("accepted", "no effect: no tokens are sampled"),
    "seed": Parameter("accepted", "answers are deterministic: the same for every seed"),
    "user": Parameter("accepted", "not stored or logged"),
    "safety_identifier": Parameter("accepted", "not stored or logged"),
    "metadata": Parameter("accepted", "not stored (completions are not stored)"),
    "prompt_cache_key": Parameter("accepted", "no effect: there is no prompt cache"),
    "prompt_cache_retention": Parameter("accepted", "no effect: there is no prompt cache"),
    "prompt_cache_options": Parameter("accepted", "no effect: there is no prompt cache"),
    "service_tier": Parameter(
        "refused",
        "`auto` and `default` accepted (there is one tier); others are a 400",
        _only(None, "auto", "default", why="there is one service tier: auto or default"),
    ),
    "store": refused("completions are not stored: store must be false", "true is a 400"),
    "logprobs": refused("there are no token log probabilities", "true is a 400"),
    "top_logprobs": refused("there are no token log probabilities"),
    "logit_bias": refused("there are no tokens to bias", "a non-empty map is a 400"),
    "modalities": Parameter(
        "refused",
        '`["text"]` accepted; audio is a 400',
        _only(None, [], ["text"], why="the only output modality is text"),
    ),
    "audio": refused("there is no audio output"),
    "prediction": refused("predicted outputs are not supported"),
    "reasoning_effort": refused("peerqa is not a reasoning model"),
    "verbosity": refused("the answer's length is the evidence's"),
    "web_search_options": refused("answers come from the indexed evidence only"),
    "moderation": refused("moderation is not available"),
}


class Unsupported(ValueError):
    """A parameter value the service cannot honour: a 400 naming `param`."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def check_parameters(body: ChatCompletionRequest) -> None:
    """Raise Unsupported for the first parameter whose value cannot be honoured."""
    for name, parameter in PARAMETERS.items():
        value = getattr(body, name)
        if (why := parameter.refuse(value)) is not None:
            raise Unsupported(name, why)
    options = body.stream_options
    if options is not None:
        if not body.stream:
            raise Unsupported("stream_options", "only allowed with stream: true")
        if options.include_obfuscation:
            raise Unsupported(
                "stream_options.include_obfuscation", "chunks carry no obfuscation padding"
            )
    for i, message in enumerate(body.messages):
        if message.role == "user" and isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if part.type != "text":
                    raise Unsupported(
                        f"messages.{i}.content.{j}.type",
                        f"only text parts are read; a {part.type!r} part cannot be",
                    )
    if body.response_format and body.response_format.type == "json_schema":
        if body.response_format.json_schema is None:
            raise Unsupported("response_format.json_schema", "required for type json_schema")


def parameter_table(parameters: dict[str, Parameter] = PARAMETERS) -> str:
    """A README table (a test keeps the README in step with it)."""
    rows = [f"| `{name}` | {p.status} | {p.how} |" for name, p in parameters.items()]
    return "\n".join(["| parameter | status | what it does here |", "|---|---|---|", *rows])


# --- structured output -------------------------------------------------------------------

# The object the service fills: the answer without the session (a chat completion has
# none). Serialization mode: what model_dump gives, e.g. without excluded fields.
ANSWER_SCHEMA = Answer.model_json_schema(mode="serialization")
ANSWER_SCHEMA["properties"].pop("session_id")
ANSWER_FIELDS = tuple(ANSWER_SCHEMA["properties"])


def answer_object(answer: Answer) -> dict[str, Any]:
    return answer.model_dump(mode="json", exclude={"session_id"})


class Unfillable(ValueError):
    """The requested schema asks for what the service cannot always give."""


def structured_content(answer: Answer, body: ChatCompletionRequest) -> str | None:
    """The JSON content `response_format` asks for, or None for text. Raises Unsupported
    when the schema cannot be filled."""
    fmt = body.response_format
    if fmt is None or fmt.type == "text":
        return None
    value = answer_object(answer)
    if fmt.type == "json_object":
        return json.dumps(value, ensure_ascii=False)
    assert fmt.json_schema is not None  # check_parameters refuses json_schema without it
    schema = fmt.json_schema.schema_ or {"type": "object"}
    param = "response_format.json_schema.schema"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        raise Unsupported(param, f"not a valid JSON Schema: {err.message}") from err
    try:
        fits(schema, ANSWER_SCHEMA, "", _Roots(schema, ANSWER_SCHEMA))
    except Unfillable as err:
        raise Unsupported(param, str(err)) from err
    filled = project(value, schema, schema)
    # Constraints beyond types (lengths, patterns, ranges) hold or not per answer.
    try:
        error = next(iter(Draft202012Validator(schema).iter_errors(filled)), None)
    except Exception as err:  # the client's schema is input: failing to apply it is a 400
        raise Unsupported(param, f"the schema cannot be applied: {err}") from err
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise Unsupported(
            param, f"this answer does not satisfy the schema at {where}: {error.message}"
        )
    return json.dumps(filled, ensure_ascii=False)


@dataclass(frozen=True)
class _Roots:
    theirs: dict[str, Any]
    ours: dict[str, Any]


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s ("#/$defs/X"); a boolean schema `true` is `{}`."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or seen > 32:
            raise Unfillable(f"only local $ref's can be followed, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            if not isinstance(target, dict):
                raise Unfillable(f"$ref {ref!r} does not lead to a schema")
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node, seen = target, seen + 1
    if node is True:
        return {}
    if not isinstance(node, dict):
        raise Unfillable("a schema of false accepts nothing")
    return node


def _alternatives(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    branches = node.get("anyOf") or node.get("oneOf")
    if not branches:
        return [node]
    return [alt for b in branches for alt in _alternatives(_resolve(b, root), root)]


def _types(node: dict[str, Any]) -> set[str] | None:
    """The JSON types `node` allows, None for any."""
    declared = node.get("type")
    if declared is None:
        if "properties" in node or "required" in node:
            return {"object"}
        if "items" in node:
            return {"array"}
        if "enum" in node or "const" in node:
            values = node.get("enum", [node.get("const")])
            return {_json_type(v) for v in values}
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allows_type(theirs: set[str] | None, ours: str) -> bool:
    return theirs is None or ours in theirs or (ours == "integer" and "number" in theirs)


def fits(theirs: Any, ours: Any, path: str, roots: _Roots) -> None:
    """Raise Unfillable unless every value `ours` describes (the service's answer) is
    one `theirs` (the client's schema) accepts, as far as types, enums and properties go."""
    theirs = _resolve(theirs, roots.theirs)
    ours = _resolve(ours, roots.ours)
    options = _alternatives(theirs, roots.theirs)
    for case in _alternatives(ours, roots.ours):
        problems = [_fits_one(option, case, path, roots) for option in options]
        if all(problems):
            raise Unfillable(problems[0])


def _fits_one(theirs: dict, ours: dict, path: str, roots: _Roots) -> str | None:
    where = path or "the root"
    our_types = _types(ours) or {"object"}
    their_types = _types(theirs)
    for our_type in our_types:
        if not _allows_type(their_types, our_type):
            allowed = " or ".join(sorted(their_types or ()))
            return f"{where} is {our_type} in peerqa's answer; the schema allows {allowed}"
    if "enum" in theirs or "const" in theirs:
        ours_values = ours.get("enum", [ours["const"]] if "const" in ours else None)
        theirs_values = theirs.get("enum", [theirs.get("const")])
        if ours_values is None or any(v not in theirs_values for v in ours_values):
            return f"{where} takes values the schema's enum does not list"
    try:
        if "object" in our_types and (theirs.get("properties") or theirs.get("required")):
            their_props = theirs.get("properties", {})
            names = [*their_props, *(n for n in theirs.get("required", []) if n not in their_props)]
            our_props = ours.get("properties", {})
            for name in names:
                if name not in our_props:
                    offered = ", ".join(our_props)
                    return (
                        f"{path + '.' if path else ''}{name} is not something peerqa fills; "
                        f"at {where} it fills: {offered}"
                    )
                fits(their_props.get(name, {}), our_props[name], _join(path, name), roots)
        if "array" in our_types and "items" in theirs:
            fits(theirs["items"], ours.get("items", {}), f"{path}[]", roots)
    except Unfillable as err:
        return str(err)
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def project(value: Any, schema: Any, root: dict[str, Any]) -> Any:
    """`value` cut to what `schema` asks for: only the properties it names (all of them,
    null where the answer has none), recursively."""
    node = _resolve(schema, root)
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        kind = _json_type(value)
        for branch in branches:
            if _allows_type(_types(_resolve(branch, root)), kind):
                return project(value, branch, root)
        return value
    if isinstance(value, dict):
        props = node.get("properties", {})
        names = [*props, *(n for n in node.get("required", []) if n not in props)]
        if not names:
            return value
        return {n: project(value.get(n), props.get(n, {}), root) for n in names}
    if isinstance(value, list):
        return [project(v, node.get("items", {}), root) for v in value]
    return value
