"""What a fitted decline artefact is keyed to: the embedding model, file digests, the
bundled corpus (answer/intent.py and answer/decline.py refuse an artefact fitted on others)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from peerqa.config import PACKAGE_DIR


def model_name() -> str:
    from peerqa.config import get_settings

    return get_settings().resolved_model_path().name


def sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.read_bytes())
    return digest.hexdigest()[:16]


def corpus_key() -> dict[str, str]:
    key = {}
    for path in sorted((PACKAGE_DIR / "corpus").glob("*.provenance.json")):
        key[path.name.removesuffix(".provenance.json")] = json.loads(path.read_text())["sha256"]
    return key
