"""Users and roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import Id
from services.gateway.database.core import Base, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    RECRUITER = "recruiter"
    EMPLOYER = "employer"
    WORKER = "worker"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    employer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    #: the console's language for this user (hy, en, ru); None: the browser's
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{3,64}$")]
Password = Annotated[str, StringConstraints(min_length=12, max_length=128)]


class UserCreate(BaseModel):
    """Internal form of a new user (any role)."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    role: Role
    employer_id: Id | None = None
    worker_id: Id | None = None


def _one_schema_per_role(schema: dict[str, Any]) -> None:
    """The document states which ids each role takes (``oneOf``, one schema per role);
    the model keeps one shape, so that a missing or surplus id is refused with its
    own field named (``body.employer_id``) and not as a failed union."""
    no_id = {"type": "null"}
    schema["oneOf"] = [
        {"title": "Admin or recruiter login", "properties": {
            "role": {"enum": [Role.ADMIN.value, Role.RECRUITER.value]},
            "employer_id": no_id, "worker_id": no_id}},
        {"title": "Employer login", "required": ["employer_id"], "properties": {
            "role": {"const": Role.EMPLOYER.value}, "employer_id": {"type": "string"},
            "worker_id": no_id}},
        {"title": "Worker login", "required": ["worker_id"], "properties": {
            "role": {"const": Role.WORKER.value}, "worker_id": {"type": "string"},
            "employer_id": no_id}},
    ]


class NewUser(BaseModel):
    """``POST /users``: a login for a person of one role. An employer's login names its
    employer (``employer_id``, required), a worker's login its worker (``worker_id``,
    required; one login per worker); admins and recruiters name neither."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_schema_per_role)

    username: Username
    password: Password
    role: Role
    employer_id: Annotated[Id | None, Field(description="required for role employer")] = None
    worker_id: Annotated[Id | None, Field(description="required for role worker")] = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    role: Role
    employer_id: str | None
    worker_id: str | None


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="seconds")
