"""Employers abroad. Produced by the gateway; the company name stays in its database."""

from __future__ import annotations

from schemas.codes import CountryCode, Id
from schemas.events.base import Event


class EmployerRegistered(Event):
    """Registered by an admin, not yet verified."""

    type = "circular.employer.registered"
    key_field = "employer_id"
    employer_id: Id
    country: CountryCode


class EmployerVerified(Event):
    type = "circular.employer.verified"
    key_field = "employer_id"
    employer_id: Id


class EmployerSuspended(Event):
    type = "circular.employer.suspended"
    key_field = "employer_id"
    employer_id: Id
