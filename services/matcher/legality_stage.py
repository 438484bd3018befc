"""Legality shard, keyed by employer: holds employers, their vacancies and a copy of
every agreement; evaluates a vacancy when it arrives and again whenever its
employer or an agreement of its destination changes (SPEC 3.2), and publishes the
verdict when it changes.

State keys: ``emp:<employer>``, ``vac:<vacancy>``, ``agr:<partition>:<agreement>``
(agreements are copied per partition, so each shard owns its copy).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from eventbus.handlers import Context, HandlerTable, Output, Parsed, SecondaryIndex, StateTx
from schemas.codec import Decoded
from schemas.envelope import derived_event_id
from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import vacancies as va
from schemas.events.market import MarketVacancy
from schemas.events.matches import WithdrawalReason, market_key
from services.matcher.domain.legality import Agreement, EmployerStatus, Evaluation, evaluate

EMP, VAC, AGR = "emp:", "vac:", "agr:"


def _vacancy_employer(record: dict[str, Any]) -> list[str]:
    return [record["posted"]["employer_id"]]


def _vacancy_destination(record: dict[str, Any]) -> list[str]:
    return [f"{record['p']}:{record['posted']['destination_country']}"]


def _agreement_destination(record: dict[str, Any]) -> list[str]:
    return [f"{record['p']}:{record['terms']['destination_country']}"]


class LegalityShard:
    def __init__(self, status_topic: str, market_topic: str) -> None:
        self.status_topic = status_topic
        self.market_topic = market_topic
        self.by_employer = SecondaryIndex(VAC, _vacancy_employer)
        self.vacancies_by_destination = SecondaryIndex(VAC, _vacancy_destination)
        self.agreements_by_destination = SecondaryIndex(AGR, _agreement_destination)
        # every vacancy is evaluated against its destination's agreements: their terms
        # are parsed once (validating them again each time was a tenth of the
        # matcher's time while a national roster's vacancies came in)
        self.terms: Parsed[ag.AgreementRecorded] = Parsed(AGR, _agreement_terms)
        self.handle = HandlerTable({
            ag.AgreementRecorded: self._on_agreement,
            ag.AgreementSuspended: self._on_agreement,
            ag.AgreementResumed: self._on_agreement,
            em.EmployerRegistered: self._on_employer,
            em.EmployerVerified: self._on_employer,
            em.EmployerSuspended: self._on_employer,
            va.VacancyPosted: self._on_posted,
            va.VacancyClosed: self._on_closed,
        })

    @property
    def indexes(self) -> tuple[SecondaryIndex | Parsed[ag.AgreementRecorded], ...]:
        return (self.by_employer, self.vacancies_by_destination, self.agreements_by_destination,
                self.terms)

    def _on_posted(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(va.VacancyPosted, decoded.event)
        key = VAC + event.vacancy_id
        if key not in tx:  # the first posting wins; a repeat changes nothing
            tx.set(key, {"p": ctx.partition, "posted": event.model_dump(mode="json"),
                         "closed": False, "verdict": None, "rev": 0})
        yield from self._evaluate(tx, key, ctx.partition)

    def _on_closed(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(va.VacancyClosed, decoded.event)
        key = VAC + event.vacancy_id
        record = tx.get(key)
        if record is not None and not record["closed"]:
            tx.set(key, {**record, "closed": True})
            yield from self._evaluate(tx, key, ctx.partition)

    def _on_agreement(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(ag.AgreementRecorded | ag.AgreementSuspended | ag.AgreementResumed,
                     decoded.event)
        partition = ctx.partition
        key = f"{AGR}{partition}:{event.agreement_id}"
        record = tx.get(key)
        if isinstance(event, ag.AgreementRecorded):
            active = record["active"] if record else True
            record = {"p": partition, "terms": event.model_dump(mode="json"), "active": active}
        elif record is None:
            return  # a status change for an agreement never recorded: nothing to apply
        else:
            record = {**record, "active": isinstance(event, ag.AgreementResumed)}
        tx.set(key, record)
        destination = record["terms"]["destination_country"]
        for vkey in sorted(self.vacancies_by_destination.keys(f"{partition}:{destination}")):
            yield from self._evaluate(tx, vkey, partition, extra_agreement=(key, record))

    def _on_employer(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(em.EmployerRegistered | em.EmployerVerified | em.EmployerSuspended,
                     decoded.event)
        key = EMP + event.employer_id
        record = dict(tx.get(key) or {})
        if isinstance(event, em.EmployerRegistered):
            record.setdefault("status", EmployerStatus.REGISTERED)
            record["country"] = event.country
        elif isinstance(event, em.EmployerVerified):
            record["status"] = EmployerStatus.VERIFIED
        else:
            record["status"] = EmployerStatus.SUSPENDED
        tx.set(key, record)
        for vkey in sorted(self.by_employer.keys(event.employer_id)):
            vacancy = tx.get(vkey)
            yield from self._evaluate(tx, vkey, vacancy["p"])

    def _agreements(self, tx: StateTx, partition: int, destination: str,
                    extra: tuple[str, dict[str, Any]] | None) -> list[Agreement]:
        """Every agreement of ``destination`` this shard knows (with the one being
        changed right now)."""
        keys = self.agreements_by_destination.keys(f"{partition}:{destination}")
        if extra is not None:
            keys.add(extra[0])
        found = []
        for key in sorted(keys):
            record = tx.get(key)
            if record is not None and record["terms"]["destination_country"] == destination:
                terms = cast(ag.AgreementRecorded, self.terms.of(key, record))  # never None
                found.append(Agreement(terms, active=record["active"]))
        return found

    def _evaluate(self, tx: StateTx, key: str, partition: int,
                  extra_agreement: tuple[str, dict[str, Any]] | None = None) -> Iterator[Output]:
        record = tx.get(key)
        posted = va.VacancyPosted.model_validate(record["posted"])
        employer = tx.get(EMP + posted.employer_id) or {}
        agreements = self._agreements(tx, partition, posted.destination_country,
                                      extra_agreement)
        result: Evaluation = evaluate(posted, agreements, employer.get("status"),
                                      closed=record["closed"])
        verdict = {"status": result.status.value,
                   "violations": [v.value for v in result.violations],
                   "agreement_id": result.agreement_id}
        terms = next((a.terms for a in agreements
                      if a.terms.agreement_id == result.agreement_id), None)
        state = _market_state(posted, result, terms, employer.get("status"))
        signature = state.model_dump(mode="json")
        if verdict == record["verdict"] and signature == record.get("market"):
            return
        rev = record["rev"] + 1
        tx.set(key, {**record, "verdict": verdict, "market": signature, "rev": rev})
        if verdict != record["verdict"]:
            yield Output(
                self.status_topic,
                va.VacancyEvaluated(vacancy_id=posted.vacancy_id,
                                    employer_id=posted.employer_id,
                                    agreement_id=result.agreement_id, status=result.status,
                                    violations=list(result.violations)),
                derived_event_id(posted.vacancy_id, "evaluated", str(rev)),
            )
        yield Output(self.market_topic, state,
                     derived_event_id(posted.vacancy_id, "market-vacancy", str(rev)))


def _market_state(posted: va.VacancyPosted, result: Evaluation,
                  terms: ag.AgreementRecorded | None, employer_status: str | None
                  ) -> MarketVacancy:
    if result.status is va.Verdict.CLOSED:
        reason: WithdrawalReason | None = WithdrawalReason.VACANCY_CLOSED
    elif result.status is va.Verdict.REJECTED:
        reason = (WithdrawalReason.EMPLOYER_SUSPENDED
                  if employer_status == EmployerStatus.SUSPENDED
                  else WithdrawalReason.VACANCY_REJECTED)
    else:
        reason = None
    occupation = terms.occupation(posted.isco_code) if terms is not None else None
    # the market needs only its own occupation's terms of the agreement
    slim = (terms.model_copy(update={"occupations": [occupation]})
            if terms is not None and occupation is not None else None)
    return MarketVacancy(market=market_key(posted.destination_country, posted.isco_code),
                         vacancy=posted, status=result.status, closed_reason=reason,
                         agreement=slim)


def _agreement_terms(record: dict[str, Any]) -> ag.AgreementRecorded:
    return ag.AgreementRecorded.model_validate(record["terms"])
