"""Schemathesis against the app's own /openapi.json: every operation, its examples and
MAX_EXAMPLES generated cases per generation mode (positive and negative) with a fixed seed,
each response checked for no 5xx, a documented status code and a body matching its schema.

Admin operations run twice: without a key (401) and with one, against a small store of
their own (uploads, deletes and reindexes must not touch the shared corpus store). `make
soak` runs the schemathesis CLI (all phases, over the network) for a larger run.
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from peerqa.config import Settings
from peerqa.service.app import create_app
from tests.conftest import make_settings, one_memo_corpus

pytestmark = pytest.mark.model

KEY = "fuzz-admin-key"
SEED = 20261124
MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Conformance, not speed (speed is `make bench`'s): an admin write starts its worker cold, and
# on a loaded machine that outlasts schemathesis' 10 s default read timeout.
REQUEST_TIMEOUT = 120
MEMO = "# Ward memo\n\nThe stroke ward pilots telephone peer support from March.\n"


def _operations() -> list:
    """(method, path, with key) for every operation, read from the schema at collection
    time (building the app reads no store)."""
    spec = create_app(Settings(access_log=False)).openapi()
    params = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            keys = (False, True) if "admin" in operation.get("tags", []) else (False,)
            for with_key in keys:
                label = f"{method.upper()} {path}" + (" with key" if with_key else "")
                params.append(pytest.param(method.upper(), path, with_key, id=label))
    return params


def _schema(settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    overrides = {"api_key": SecretStr(KEY), "rate_limit_per_minute": 0, "access_log": False}
    app = create_app(settings.model_copy(update=overrides))
    with TestClient(app):  # runs the lifespan: the index and sessions load
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def reader_schema(corpus_settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    """The shared corpus store, read only: admin calls reach it only without the key."""
    yield from _schema(corpus_settings)


@pytest.fixture(scope="module")
def admin_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    """A store of its own whose bundled corpus is one short memo, so reindex is quick."""
    from peerqa.index.pipeline import ingest

    root = tmp_path_factory.mktemp("fuzz-admin")
    corpus = one_memo_corpus(root / "corpus", "ward-memo.md", MEMO, "Ward memo")
    settings = make_settings(root / "data", corpus_dir=corpus)
    ingest([], settings)
    yield from _schema(settings)


def _run(strategy: st.SearchStrategy, max_examples: int, headers: dict | None) -> None:
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # no replay of earlier runs: the same cases every time
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.seed(SEED)
    @hypothesis.given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT)

    check()


def fuzz(operation: APIOperation, headers: dict | None) -> None:
    for example in operation.get_strategies_from_examples():
        _run(example, 1, headers)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            _run(operation.as_strategy(generation_mode=mode), MAX_EXAMPLES, headers)
        except Unsatisfiable:
            # Nothing to generate in this mode: no parameters or body (GET /healthz), or
            # none that can be made invalid (any string is a passage id).
            continue


@pytest.mark.parametrize(("method", "path", "with_key"), _operations())
def test_operation_conforms_to_its_schema(
    request: pytest.FixtureRequest, method: str, path: str, with_key: bool
):
    schema = request.getfixturevalue("admin_schema" if with_key else "reader_schema")
    headers = {"Authorization": f"Bearer {KEY}"} if with_key else None
    fuzz(schema[path][method], headers)
