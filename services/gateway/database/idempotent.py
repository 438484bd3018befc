"""Creates with client-supplied ids: the same id and body again is a no-op, the
same id with another body is a conflict (SPEC 4)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Protocol

from pydantic import BaseModel

from services.gateway.errors import Conflict


class HasRequestHash(Protocol):
    request_hash: str


def request_hash(body: BaseModel, *, exclude: set[str] | None = None) -> str:
    data = body.model_dump(mode="json", exclude=exclude)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_repeat(existing: HasRequestHash | None, digest: str, what: str) -> bool:
    """True when ``existing`` is the same create again; raises 409 when it differs."""
    if existing is None:
        return False
    if existing.request_hash != digest:
        raise Conflict(f"{what} exists with a different body")
    return True


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"
