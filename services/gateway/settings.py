"""Gateway settings, read once at start (prefix ``CIRCULAR_``). No default secrets:
the first admin comes from the environment, and the JWT secret must be set in
production (in development one is generated once and kept under ``var/``)."""

from __future__ import annotations

import math
import os
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from eventbus.settings import ROOT, KafkaSettings

WEAK_SECRETS = {"changethis", "changeme", "secret", "password", "admin", "admin123",
                "password123", "letmein", "circular"}
MIN_PASSWORD = 12
MIN_JWT_SECRET = 32
#: database connections per API process on SQLite when not set: a writer waits for
#: the write lock holding a thread (and its connection), so readers need threads left
SQLITE_POOL_SIZE = 16
#: PostgreSQL, when not set: about two connections per core in all, the usual sizing
#: for a database server on the same machine, split among the API processes, at
#: least this many each
PG_CONNECTIONS_PER_CORE = 2
MIN_PG_POOL_SIZE = 4
#: API processes when not set: one per core, at most this many (see README, "Process
#: model": the relay, projector, matcher, tracker and broker need the rest)
MAX_DEFAULT_API_WORKERS = 2


def cores() -> int:
    """Cores this process may run on (its CPU affinity, as a container's cpuset
    limits it), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class GatewaySettings(KafkaSettings):
    environment: Annotated[Literal["development", "production"], Field(
        description="production refuses to start without an explicit JWT secret")] = "development"
    database_url: Annotated[str, Field(
        description="SQLAlchemy URL; PostgreSQL in production")] = f"sqlite:///{ROOT}/var/circular.db"
    gateway_host: str = "127.0.0.1"
    gateway_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    admin_user: Annotated[str | None, Field(
        description="Username of the first admin, created at start if missing")] = None
    admin_password: Annotated[SecretStr | None, Field(
        description=f"Password of the first admin, at least {MIN_PASSWORD} characters")] = None
    jwt_secret: Annotated[SecretStr | None, Field(
        description="HMAC key for access tokens, at least 32 characters")] = None
    jwt_ttl_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60
    password_hash_memory_kib: Annotated[int, Field(
        ge=1024, description="argon2id memory cost per password hash (KiB)")] = 65536
    password_hash_time_cost: Annotated[int, Field(
        ge=1, description="argon2id iterations per password hash")] = 3
    clock_control: Annotated[bool, Field(
        description="Allow admins to publish clock ticks (test deployments only)")] = False
    outbox_poll_seconds: Annotated[float, Field(gt=0, le=10)] = 0.05
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_000_000
    roster_max_bytes: Annotated[int, Field(
        ge=1024, description="Largest CSV file POST /workers/import takes (the body, "
        "streamed to a temporary file, never held in memory)")] = 20_000_000
    database_pool_size: Annotated[int | None, Field(
        ge=1, le=200, description="Database connections each API process keeps; its "
        "thread pool is no larger, so no request waits for a connection (unset: "
        f"{SQLITE_POOL_SIZE} on SQLite, {PG_CONNECTIONS_PER_CORE} per core split among "
        "the API processes on PostgreSQL)")] = None
    api_workers: Annotated[int | None, Field(
        ge=1, le=64, description="API processes behind the one port (uvicorn workers; "
        f"unset: one per core, at most {MAX_DEFAULT_API_WORKERS})")] = None
    console_secure_cookies: Annotated[bool, Field(
        description="The console runs behind TLS: its session cookie is sent over HTTPS "
        "only")] = False
    console_session_minutes: Annotated[int, Field(
        ge=5, le=24 * 60, description="How long a console sign-in lasts")] = 480
    sign_in_limit_per_account: Annotated[str, Field(
        description="Failed sign-ins allowed per account before further attempts "
        "are refused (limits' notation)")] = "5 per 15 minutes"
    sign_in_limit_per_address: Annotated[str, Field(
        description="Failed sign-ins allowed per client address")] = "30 per 15 minutes"
    auth_cache_seconds: Annotated[float, Field(
        ge=0, le=300, description="How long a checked token is trusted without reading "
        "its account again (0: every request reads it)")] = 5.0
    stream_heartbeat_seconds: Annotated[float, Field(
        gt=0, le=300, description="How often GET /stream sends a comment on an idle "
        "stream, so proxies keep it open")] = 15.0
    stream_max_per_user: Annotated[int, Field(
        ge=1, le=100, description="Streams one user may have open at once (per API "
        "process); one more is 429")] = 5
    stream_poll_seconds: Annotated[float, Field(
        gt=0, le=5, description="How often each API process reads the new changes for "
        "its open streams (about 0.25 ms of a core each read, only while one is open)"
    )] = 0.025
    stream_max_seconds: Annotated[float, Field(
        gt=0, le=24 * 3600, description="A stream ends after this long; the client "
        "reconnects with Last-Event-ID and is authenticated again")] = 900.0

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Self:
        if (self.admin_user is None) != (self.admin_password is None):
            raise ValueError("set both CIRCULAR_ADMIN_USER and CIRCULAR_ADMIN_PASSWORD, or neither")
        if self.admin_password is not None:
            pw = self.admin_password.get_secret_value()
            if pw.lower() in WEAK_SECRETS or len(pw) < MIN_PASSWORD:
                raise ValueError(f"CIRCULAR_ADMIN_PASSWORD is too weak: use {MIN_PASSWORD}+ "
                                 "characters that are not a well-known default")
        if self.jwt_secret is not None:
            key = self.jwt_secret.get_secret_value()
            if key.lower() in WEAK_SECRETS or len(key) < MIN_JWT_SECRET:
                raise ValueError(f"CIRCULAR_JWT_SECRET must be {MIN_JWT_SECRET}+ random characters")
        elif self.environment == "production":
            raise ValueError("CIRCULAR_JWT_SECRET is required in production")
        return self

    def api_processes(self) -> int:
        """How many API processes serve the port: the setting, else one per core up to
        :data:`MAX_DEFAULT_API_WORKERS`."""
        if self.api_workers is not None:
            return self.api_workers
        return min(cores(), MAX_DEFAULT_API_WORKERS)

    def pool_size(self) -> int:
        """Database connections of one API process (and threads of its pool)."""
        if self.database_pool_size is not None:
            return self.database_pool_size
        if self.database_url.startswith("sqlite"):
            return SQLITE_POOL_SIZE
        return max(MIN_PG_POOL_SIZE,
                   math.ceil(PG_CONNECTIONS_PER_CORE * cores() / self.api_processes()))

    def pool_overflow(self) -> int:
        """Connections an API process may open beyond :meth:`pool_size`, closed when
        returned: none on SQLite; on PostgreSQL one per core, for what runs outside the
        thread pool (start-up, a scrape, the event loop's own reads), so that never
        takes a request's connection."""
        return 0 if self.database_url.startswith("sqlite") else cores()

    def signing_key(self) -> str:
        """The JWT key: the configured one, or (development only) one generated once
        and kept in ``var/jwt-secret`` so tokens survive restarts."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = Path(self.var_dir) / "jwt-secret"
        if not path.exists():  # written whole, then linked: API processes starting at
            path.parent.mkdir(parents=True, exist_ok=True)  # once all read the first
            handle, name = tempfile.mkstemp(prefix=".jwt-secret.", dir=path.parent)  # 0600
            draft = Path(name)
            with os.fdopen(handle, "w") as out:
                out.write(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text().strip()
