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



class Passwords:
    """argon2id hashing with the deployment's cost (memory in KiB, iterations)."""

    def __init__(self, memory_kib: int = 65536, time_cost: int = 3) -> None:
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)
        # compared against when the user does not exist, so timing does not tell
        self._dummy = self._hasher.hash("not-a-real-password-0000")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            matched = self._hasher.verify(password_hash or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None


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
    return verify_with_expiry(token, key)[0]


def verify_with_expiry(token: str, key: str) -> tuple[Principal, float]:
    """The caller a token names and when the token expires (seconds since the epoch)."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE,
                            issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from None
    try:
        return Principal(user_id=str(claims["sub"]), username=str(claims["name"]),
                         role=str(claims["role"]), employer_id=claims.get("employer_id"),
                         worker_id=claims.get("worker_id")), float(claims["exp"])
    except KeyError as exc:
        raise TokenError(f"missing claim {exc}") from None
