"""The console's navigation: one table of sections, each shown to the roles that may
use it. A later feature adds its pages by adding a row here (and its router in
``app.py``); the menu, the home page's shortcuts and the browser tests' page list all
read this table."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.auth.models import Role


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Section:
    key: str
    label: str  # an English msgid, translated when shown
    path: str
    roles: frozenset[str]


def _roles(*roles: Role) -> frozenset[str]:
    return frozenset(r.value for r in roles)


ADMIN = _roles(Role.ADMIN)
STAFF = _roles(Role.ADMIN, Role.RECRUITER)
RECRUITER = _roles(Role.RECRUITER)
EMPLOYER = _roles(Role.EMPLOYER)
WORKER = _roles(Role.WORKER)

SECTIONS: tuple[Section, ...] = (
    # admin: the programme's frame
    Section("agreements", N_("Agreements"), "/console/agreements", STAFF),
    Section("employers", N_("Employers"), "/console/employers", ADMIN),
    Section("users", N_("Users"), "/console/users", ADMIN),
    Section("stats", N_("Statistics"), "/console/stats", ADMIN),
    # recruiter / officer: the daily work
    Section("review", N_("Review queue"), "/console/review", RECRUITER),
    Section("workers", N_("Workers"), "/console/workers", STAFF),
    Section("departures", N_("Departures"), "/console/departures", STAFF),
    Section("triggers", N_("Follow-up"), "/console/triggers", STAFF),
    # employer abroad
    Section("vacancies", N_("Vacancies"), "/console/vacancies", _roles(Role.EMPLOYER,
                                                                      Role.ADMIN)),
    # worker / returnee
    Section("profile", N_("My profile"), "/console/me", WORKER),
    Section("offers", N_("My offers"), "/console/offers", WORKER),
    Section("return", N_("Register my return"), "/console/return", WORKER),
    Section("timeline", N_("My timeline"), "/console/me/timeline", WORKER),
)


def sections_for(role: str | None) -> list[Section]:
    return [s for s in SECTIONS if role in s.roles]
