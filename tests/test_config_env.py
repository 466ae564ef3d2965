"""Importing peerqa sets none of its offline flags (a library importing it keeps its own
environment); the entry points and the model loader turn them on, unless the operator set
them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from peerqa.config import OFFLINE_ENV


def environ_after(code: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, os; print(json.dumps(dict(os.environ)))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_importing_the_library_sets_no_offline_flag():
    after = environ_after("import peerqa, peerqa.config, peerqa.models")
    assert not set(after) & set(OFFLINE_ENV)


def test_the_cli_entry_point_turns_the_offline_flags_on():
    after = environ_after("import peerqa.cli")
    assert {k: after.get(k) for k in OFFLINE_ENV} == OFFLINE_ENV


def test_an_operators_own_setting_wins(monkeypatch):
    from peerqa.config import go_offline

    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    for name in set(OFFLINE_ENV) - {"TOKENIZERS_PARALLELISM"}:
        monkeypatch.delenv(name, raising=False)
    go_offline()
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
