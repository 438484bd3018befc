"""Password hashing (argon2id) and signed access tokens (JWT, HS256 pinned,
issuer and audience checked, expiry required)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
ISSUER = "circular-gateway"
AUDIENCE = "circular-api"

_hasher = PasswordHasher()
# compared against when the user does not exist, so timing does not tell
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    """Who is calling: from a verified token."""

    user_id: str
    username: str
    role: str
    employer_id: str | None = None
    worker_id: str | None = None


class TokenError(Exception):
    pass


def issue(principal: Principal, key: str, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": principal.user_id, "name": principal.username, "role": principal.role,
        "employer_id": principal.employer_id, "worker_id": principal.worker_id,
        "iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(token: str, key: str) -> Principal:
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE,
                            issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from None
    try:
        return Principal(user_id=str(claims["sub"]), username=str(claims["name"]),
                         role=str(claims["role"]), employer_id=claims.get("employer_id"),
                         worker_id=claims.get("worker_id"))
    except KeyError as exc:
        raise TokenError(f"missing claim {exc}") from None
