"""Admin routes: `Authorization: Bearer KEY` against PEERQA_API_KEY; disabled without one."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from peerqa.service.deps import AppSettings

bearer = HTTPBearer(auto_error=False, description="The admin key, PEERQA_API_KEY")


def require_admin(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    """403 when no key is configured (closed, never open), 401 without a bearer key,
    403 for a wrong one."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    if not key:
        raise HTTPException(403, "admin routes are disabled: PEERQA_API_KEY is not set")
    if credentials is None:
        raise HTTPException(
            401, "admin key required: Authorization: Bearer KEY", {"WWW-Authenticate": "Bearer"}
        )
    # Constant-time, on bytes (compare_digest rejects non-ASCII str), and on digests of equal
    # length, so not even the key's length shows in the timing.
    given = hashlib.sha256(credentials.credentials.encode()).digest()
    if not hmac.compare_digest(given, hashlib.sha256(key.encode()).digest()):
        raise HTTPException(403, "wrong admin key")


Admin = Depends(require_admin)
