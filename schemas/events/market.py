"""The matcher's internal re-keying (SPEC 2): everything one matching decision needs,
re-published keyed by labour market (destination country + occupation), so each
market's state lives on one partition. Only the matcher reads these topics."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.codes import Id
from schemas.events.agreements import AgreementRecorded
from schemas.events.base import Event
from schemas.events.matches import Decision, WithdrawalReason
from schemas.events.vacancies import VacancyPosted, Verdict
from schemas.events.workers import WorkerProfile

Market = Annotated[str, Field(pattern=r"^[A-Z]{2}-[0-9]{4}$")]


class MarketVacancy(Event):
    """A vacancy's current state in its market: the posting, the verdict, and the
    terms of the agreement it is judged under."""

    type = "circular.market.vacancy"
    key_field = "market"
    market: Market
    vacancy: VacancyPosted
    status: Verdict
    closed_reason: WithdrawalReason | None = None
    agreement: AgreementRecorded | None = None


class WorkerStanding(StrEnum):
    FREE = "free"
    BUSY = "busy"
    ERASED = "erased"
    LEFT = "left"


class MarketWorker(Event):
    """A worker as one market sees it, or ``left`` when the worker no longer belongs
    to the market (changed occupations or preferences). ``markets``, when given, lists
    every market on the partition this record is written to that it applies to
    (``market`` is then the first of them): one record per partition, not per market."""

    type = "circular.market.worker"
    key_field = "market"
    market: Market
    markets: list[Market] = []
    worker_id: Id
    standing: WorkerStanding
    profile: WorkerProfile | None = None
    busy_with: Id | None = None
    reentry_from: date | None = None
    returned_on_time: bool = False
    rehire_employers: list[Id] = []


class AcceptanceRequest(Event):
    """A worker's answer to an offer, after the worker router checked the worker
    holds no other acceptance (``worker_free``)."""

    type = "circular.market.acceptance"
    key_field = "market"
    market: Market
    match_id: Id
    vacancy_id: Id
    worker_id: Id
    decision: Decision
    worker_free: bool
