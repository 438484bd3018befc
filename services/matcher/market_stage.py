"""Market shard, keyed by labour market (destination + occupation): the open vacancies,
the workers, the matches and the quota of one market live together, so every
matching decision is local. It proposes the best eligible workers, refills and
displaces, withdraws what is no longer possible, re-scores a live proposal when its
worker changes, and answers reviews and acceptances as the authority on quota and
positions (SPEC 3.3-3.5).

State keys: ``vac:<vacancy>``, ``wrk:<partition>:<worker>`` (the worker as its
markets on the partition know it, one record for all of them: a MarketWorker as JSON
text whose ``markets`` are those it belongs to), ``m:<match>`` (a match not
withdrawn), ``mw:<match>`` (a withdrawn one, moved there so a restart, which reads
only the keys its indexes follow, does not read them: they grow with every round of
churn, and only a re-proposal or a late review or answer reads one, by id),
``quota:<agreement>:<isco>:<year>``. Counts (positions taken, quota used) are always
recomputed from the matches, never incremented, so handling an event twice
converges on the same state. A repeat of a review or a response already decided
(the same decision on the same match) changes nothing and publishes nothing.

A quota unit is shared by every vacancy of its agreement, occupation and start year
(all in this market). Whenever the units used change, every open vacancy of that
quota is brought up to date: when the quota is used up, their unreviewed proposals
are withdrawn (SPEC 3.3 rule 8: the pairs are no longer eligible); when a unit is
released again (a decline, a withdrawal of an approved match), they refill.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from eventbus.handlers import (
    Context,
    Handler,
    HandlerTable,
    Output,
    Parsed,
    SecondaryIndex,
    StateTx,
)
from schemas.codec import Decoded
from schemas.envelope import derived_event_id
from schemas.events import matches as mv
from schemas.events import vacancies as va
from schemas.events.market import AcceptanceRequest, MarketVacancy, MarketWorker, WorkerStanding
from schemas.events.matches import (
    MatchStatus,
    RefusalReason,
    WithdrawalReason,
    market_key,
    split_market,
)
from services.matcher.domain import quota
from services.matcher.domain.candidates import MarketIndex
from services.matcher.domain.eligibility import Ineligible, failures
from services.matcher.domain.proposals import capacity, plan
from services.matcher.domain.scoring import Scored, score, score_value
from services.matcher.domain.views import SharedValues, VacancyView, WorkerView
from services.matcher.offer_board import OfferBoard

VAC, WRK, MATCH, WITHDRAWN, QUOTA = "vac:", "wrk:", "m:", "mw:", "quota:"
_MATCH_FIELDS = ("match_id", "vacancy_id", "worker_id", "employer_id", "agreement_id",
                 "destination_country", "isco_code")
SETTLED: dict[MatchStatus, type[mv.MatchState]] = {
    MatchStatus.WITHDRAWN: mv.MatchWithdrawn, MatchStatus.APPROVED: mv.MatchApproved,
    MatchStatus.REJECTED: mv.MatchRejected, MatchStatus.ACCEPTED: mv.MatchAccepted,
    MatchStatus.DECLINED: mv.MatchDeclined,
}
LIVE = (MatchStatus.PROPOSED, MatchStatus.APPROVED)
#: why unreviewed proposals go when their quota is used up
QUOTA_USED_UP = WithdrawalReason.QUOTA_EXHAUSTED


class Workers:
    """Index: a :class:`MarketIndex` of matchable (free) workers per market, following
    the ``wrk:`` records (one per worker and partition, listing its markets there)."""

    prefixes = (WRK,)

    def __init__(self) -> None:
        self.markets: dict[str, MarketIndex] = {}
        #: the last record parsed, with its markets and view: one parse serves both
        self._last: tuple[str, list[str], WorkerView | None] | None = None
        #: each worker's view, shared by every partition holding an equal one (a
        #: worker's markets spread over ~4 partitions; a view is ~1.7 kB). Held
        #: weakly, it goes with the last market that holds it
        self._shared: weakref.WeakValueDictionary[str, WorkerView] = \
            weakref.WeakValueDictionary()
        #: and the field values views have in common (skills, dates, destinations)
        self._values = SharedValues()

    def clear(self) -> None:
        self.markets.clear()
        self._last = None
        self._shared.clear()
        self._values = SharedValues()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if not key.startswith(WRK):
            return
        worker_id = key[len(WRK):].split(":", 1)[1]
        kept, view = self._parse(new) if new is not None else ((), None)
        for market in set(member_markets(old)).difference(kept):
            self.of(market).remove(worker_id)
        for market in kept:
            index = self.of(market)
            if view is None or view.busy:
                index.remove(worker_id)
            elif index.get(worker_id) is not view:
                index.upsert(view)

    def _parse(self, text: str) -> tuple[list[str], WorkerView | None]:
        """A record's markets and its view (parsed once for both)."""
        if self._last is None or self._last[0] != text:
            data = orjson.loads(text)
            self._values.generation = max(SharedValues.MIN_GENERATION, 2 * len(self._shared))
            view = WorkerView.from_record(data, self._values)
            if view is not None:
                shared = self._shared.get(view.worker_id)
                if shared is not None and shared == view:
                    view = shared
                else:
                    self._shared[view.worker_id] = view
            self._last = (text, data["markets"], view)
        return self._last[1], self._last[2]

    def of(self, market: str) -> MarketIndex:
        index = self.markets.get(market)
        if index is None:
            index = self.markets[market] = MarketIndex(market)
        return index


def member_markets(text: str | None) -> list[str]:
    """The markets a ``wrk:`` record (None: no record) says its worker belongs to."""
    return [] if text is None else cast(list[str], orjson.loads(text)["markets"])


def worker_record(old: str | None, event: MarketWorker) -> str | None:
    """The ``wrk:`` record of the worker on its partition after ``event``: its markets
    there, updated, and what they know of it, or None when it belongs to none. The
    router sends a worker to all its markets of a partition that it changed for, so
    the ones not named in ``event`` know the worker as the record has it."""
    held = set(member_markets(old))
    named = set(event.markets or [event.market])
    if event.standing in (WorkerStanding.LEFT, WorkerStanding.ERASED):
        remaining = sorted(held - named)
        if not remaining or old is None:
            return None
        data = orjson.loads(old)
        data["markets"] = remaining
        return orjson.dumps(data).decode()
    return event.model_copy(update={"markets": sorted(held | named)}).model_dump_json(
        exclude={"market"})


class HeldCounter:
    """Index: how many matches hold a place (approved or accepted) per term, e.g. per
    vacancy or per quota key, following the ``m:`` records."""

    prefixes = (MATCH,)

    def __init__(self, term: Any) -> None:
        self.term = term
        self.counts: dict[str, int] = {}

    def clear(self) -> None:
        self.counts.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if not key.startswith(MATCH):
            return
        for record, step in ((old, -1), (new, 1)):
            if record is not None and quota.holds_place(record["status"]):
                term = self.term(record)
                self.counts[term] = self.counts.get(term, 0) + step

    def get(self, term: str) -> int:
        return self.counts.get(term, 0)


# A withdrawn match is never looked up through these indexes (it holds no place and
# does not keep its worker from being proposed again), so it leaves memory: withdrawals
# come with every close, fill, displacement and profile change, and would otherwise
# grow the indexes with churn. Its record moves to ``mw:``, on disk; one still under
# ``m:`` (written before the move) is passed over here.

def _match_vacancy(record: dict[str, Any]) -> list[str]:
    return [] if record["status"] == MatchStatus.WITHDRAWN else [record["vacancy_id"]]


def _match_worker(record: dict[str, Any]) -> list[str]:
    if record["status"] == MatchStatus.WITHDRAWN:
        return []
    return [f"{record['market']}|{record['worker_id']}"]


def _quota_term(key: Any) -> str:
    return "|".join(map(str, key))


def _open_terms(record: dict[str, Any]) -> dict[str, Any] | None:
    """The stored market state of a vacancy if it is open under an agreement."""
    state = record.get("state")
    if state is None or state["status"] != "open" or state.get("agreement") is None:
        return None
    return state


def _open_vacancy_market(record: dict[str, Any]) -> list[str]:
    """Open vacancies with a position left, by market: where a worker may be offered."""
    state = _open_terms(record)
    if state is None or record["taken"] >= state["vacancy"]["positions"]:
        return []
    return [record["market"]]


def _open_vacancy_quota(record: dict[str, Any]) -> list[str]:
    """Open vacancies by the quota they draw on (agreement, occupation, start year)."""
    state = _open_terms(record)
    if state is None:
        return []
    vacancy = state["vacancy"]
    return [_quota_term((state["agreement"]["agreement_id"], vacancy["isco_code"],
                         int(vacancy["start_date"][:4])))]


@dataclass
class _Turn:
    """What the handling of one record keeps while it runs (never beyond it): the
    quotas whose units used changed, and the vacancies reconciled since the last such
    change (up to date already)."""

    quota_moved: set[str] = field(default_factory=set)
    current: set[str] = field(default_factory=set)


_TurnHandler = Callable[[StateTx, Decoded, Context, _Turn], Iterator[Output]]


class MarketShard:
    def __init__(self, matches_topic: str, status_topic: str, quota_topic: str) -> None:
        self.matches_topic = matches_topic
        self.status_topic = status_topic
        self.quota_topic = quota_topic
        self.workers = Workers()
        self.by_vacancy = SecondaryIndex(MATCH, _match_vacancy)
        self.by_worker = SecondaryIndex(MATCH, _match_worker)
        self.by_quota = SecondaryIndex(VAC, _open_vacancy_quota)
        self.vacancies = SecondaryIndex(VAC, _open_vacancy_market)
        self.taken = HeldCounter(lambda r: r["vacancy_id"])
        #: the open vacancies asked for, their terms parsed once
        self.views: Parsed[VacancyView] = Parsed(VAC, _vacancy_view)
        self.board = OfferBoard(self.taken, _open_vacancy_market)
        self.used = HeldCounter(lambda r: _quota_term(r["quota"]))
        #: the stage's handlers; the event types it accepts are this table's
        self.handle = HandlerTable({kind: self._following_quota(handler) for kind, handler in (
            (MarketVacancy, self._on_vacancy), (MarketWorker, self._on_worker),
            (mv.MatchReviewed, self._on_review), (AcceptanceRequest, self._on_acceptance))})

    @property
    def indexes(self) -> tuple[Any, ...]:
        return (self.workers, self.by_vacancy, self.by_worker, self.by_quota, self.vacancies,
                self.taken, self.used, self.board, self.views)

    def _following_quota(self, handler: _TurnHandler) -> Handler:
        """``handler`` with a fresh :class:`_Turn`, then every open vacancy of a quota
        whose usage it changed is brought up to date (:meth:`_follow_quota`)."""
        def handle(tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
            turn = _Turn()
            yield from handler(tx, decoded, ctx, turn)
            yield from self._follow_quota(tx, turn)
        return handle

    def _follow_quota(self, tx: StateTx, turn: _Turn) -> Iterator[Output]:
        """Every open vacancy of a quota whose usage changed: withdraw what it can no
        longer take, refill what it can take again. Once: what these reconciliations
        change is not followed again (they change proposals, not units used)."""
        moved, turn.quota_moved = sorted(turn.quota_moved), set()
        for term in moved:
            for vkey in sorted(self.by_quota.keys(term)):
                view = self._view(tx, vkey[len(VAC):])
                if view is not None and view.vacancy_id not in turn.current:
                    yield from self._reconcile(tx, view, turn)

    # --- vacancies -------------------------------------------------------------------

    def _on_vacancy(self, tx: StateTx, decoded: Decoded, ctx: Context, turn: _Turn
                    ) -> Iterator[Output]:
        event, partition = cast(MarketVacancy, decoded.event), ctx.partition
        key = VAC + event.vacancy.vacancy_id
        record = dict(tx.get(key) or {"p": partition, "market": event.market, "taken": 0,
                                      "taken_rev": 0, "state_rev": 0})
        state = event.model_dump(mode="json")
        if record.get("state") != state:
            record["state"], record["state_rev"] = state, record["state_rev"] + 1
        tx.set(key, record)
        view = VacancyView.from_market(event)
        if view is None:
            reason = event.closed_reason or WithdrawalReason.VACANCY_REJECTED
            for mkey, match in self._matches_of(tx, event.vacancy.vacancy_id):
                if match["status"] in LIVE:
                    yield from self._settle(tx, mkey, MatchStatus.WITHDRAWN, reason=reason)
            if event.agreement is not None:  # places it held are free again
                yield from self._sync_counts(
                    tx, VacancyView.of(event.vacancy, event.agreement), turn)
            return
        yield from self._reconcile(tx, view, turn)

    def _view(self, tx: StateTx, vacancy_id: str) -> VacancyView | None:
        return self.views.get(tx, VAC + vacancy_id)

    def _matches_of(self, tx: StateTx, vacancy_id: str) -> list[tuple[str, dict[str, Any]]]:
        found = [(k, tx.get(k)) for k in sorted(self.by_vacancy.keys(vacancy_id))]
        return [(k, m) for k, m in found if m is not None]

    def _quota_used(self, view: VacancyView) -> int:
        return self.used.get(_quota_term(view.quota_key))

    def _reconcile(self, tx: StateTx, view: VacancyView, turn: _Turn) -> Iterator[Output]:
        """Bring the vacancy's proposals to what the rules want now."""
        yield from self._sync_counts(tx, view, turn)
        turn.current.add(view.vacancy_id)
        matches = self._matches_of(tx, view.vacancy_id)
        taken = self.taken.get(view.vacancy_id)
        proposed = {m["worker_id"]: (k, m) for k, m in matches
                    if m["status"] == MatchStatus.PROPOSED}
        if taken >= view.positions:
            full: WithdrawalReason | None = WithdrawalReason.VACANCY_FILLED
        elif not quota.has_room(view, self._quota_used(view)):
            full = QUOTA_USED_UP
        else:
            full = None
        if full is not None:
            for mkey, _ in proposed.values():
                yield from self._settle(tx, mkey, MatchStatus.WITHDRAWN, reason=full)
            return
        index = self.workers.of(market_key(view.destination_country, view.isco_code))
        live: dict[str, float] = {}
        for worker_id, (mkey, match) in proposed.items():
            worker = index.get(worker_id)
            if worker is None or failures(worker, view):
                yield from self._settle(tx, mkey, MatchStatus.WITHDRAWN,
                                        reason=WithdrawalReason.WORKER_NO_LONGER_ELIGIBLE)
            else:
                live[worker_id] = match["score"]
        limit = capacity(view.positions, taken)
        excluded = {m["worker_id"] for _, m in matches if m["status"] != MatchStatus.WITHDRAWN}
        candidates = index.best(view, limit, excluded, positions_taken=taken)
        yield from self._apply_plan(tx, view, live, candidates, limit)

    def _apply_plan(self, tx: StateTx, view: VacancyView, live: dict[str, float],
                    candidates: list[Scored], limit: int) -> Iterator[Output]:
        decided = plan(live, candidates, limit)
        for worker_id in decided.withdraw:
            yield from self._settle(tx, MATCH + mv.match_id(worker_id, view.vacancy_id),
                                    MatchStatus.WITHDRAWN, reason=WithdrawalReason.DISPLACED)
        for scored in decided.propose:
            yield from self._propose(tx, view, scored)

    def _propose(self, tx: StateTx, view: VacancyView, scored: Scored) -> Iterator[Output]:
        mid = mv.match_id(scored.worker_id, view.vacancy_id)
        previous = tx.get(MATCH + mid)
        if previous is None:  # proposed again after a withdrawal: its revision goes on
            previous = tx.get(WITHDRAWN + mid)
            if previous is not None:
                tx.delete(WITHDRAWN + mid)
        record = {
            "match_id": mid, "market": market_key(view.destination_country, view.isco_code),
            "vacancy_id": view.vacancy_id, "worker_id": scored.worker_id,
            "employer_id": view.employer_id, "agreement_id": view.agreement_id,
            "destination_country": view.destination_country, "isco_code": view.isco_code,
            "quota": list(view.quota_key), "status": MatchStatus.PROPOSED.value,
            "score": scored.score, "rev": (previous["rev"] if previous else 0) + 1,
            "reasons": _reasons(scored),
        }
        tx.set(MATCH + mid, record)
        yield self._out(record, mv.MatchProposed, score=scored.score,
                        reasons=record["reasons"])

    def _sync_counts(self, tx: StateTx, view: VacancyView, turn: _Turn) -> Iterator[Output]:
        key = VAC + view.vacancy_id
        record = tx.get(key)
        taken = self.taken.get(view.vacancy_id)
        if record is not None and record["taken"] != taken:
            rev = record["taken_rev"] + 1
            tx.set(key, {**record, "taken": taken, "taken_rev": rev})
            yield Output(self.status_topic, va.VacancyPositionsChanged(
                vacancy_id=view.vacancy_id, positions=view.positions, positions_filled=taken),
                derived_event_id(view.vacancy_id, "positions", str(rev)))
        qkey = QUOTA + ":".join(map(str, view.quota_key))
        used = self._quota_used(view)
        current = tx.get(qkey) or {"used": 0, "rev": 0, "annual": None}
        if (current["used"], current["annual"]) != (used, view.annual_quota):
            turn.quota_moved.add(_quota_term(view.quota_key))
            turn.current.clear()  # whatever was decided before saw the old usage
            rev = current["rev"] + 1
            tx.set(qkey, {"used": used, "rev": rev, "annual": view.annual_quota})
            agreement, isco, year = view.quota_key
            yield Output(self.quota_topic, mv.QuotaUsageChanged(
                agreement_id=agreement, isco_code=isco, year=year,
                annual_quota=view.annual_quota, used=used),
                derived_event_id(qkey, str(rev)))

    # --- matches ---------------------------------------------------------------------

    def _out(self, record: dict[str, Any], cls: type[mv.MatchState], **extra: Any) -> Output:
        event = cls(**{k: record[k] for k in _MATCH_FIELDS}, **extra)
        return Output(self.matches_topic, event,
                      derived_event_id(record["match_id"], event.type, str(record["rev"])))

    def _settle(self, tx: StateTx, mkey: str, status: MatchStatus,
                review: mv.Decision | None = None, response: mv.Decision | None = None,
                **extra: Any) -> Iterator[Output]:
        """Move a match to ``status`` and publish it; ``review`` and ``response`` are
        the decisions that moved it, kept so a repeat of them is recognised. A
        withdrawn match moves to ``mw:``."""
        record = {**tx.get(mkey), "status": status.value}
        if review is not None:
            record["review"] = review.value
        if response is not None:
            record["response"] = response.value
        record["rev"] += 1
        if status is MatchStatus.WITHDRAWN:
            tx.delete(mkey)
            mkey = WITHDRAWN + record["match_id"]
        tx.set(mkey, record)
        yield self._out(record, SETTLED[status], **extra)

    def _refuse(self, match: dict[str, Any],
                cls: type[mv.MatchApprovalRefused | mv.MatchAcceptanceRefused],
                reason: RefusalReason, cause: str) -> Iterator[Output]:
        """Refuse a command; the match stays as it is. The id follows from the command,
        so the same command refused again is the same event."""
        event = cls(**{k: match[k] for k in _MATCH_FIELDS}, reason=reason)
        yield Output(self.matches_topic, event,
                     derived_event_id(match["match_id"], event.type, cause))

    def _on_review(self, tx: StateTx, decoded: Decoded, ctx: Context, turn: _Turn
                   ) -> Iterator[Output]:
        event, cause = cast(mv.MatchReviewed, decoded.event), decoded.envelope.id
        mkey, match = _match(tx, event.match_id)
        if match is None or match.get("review") == event.decision.value:
            return  # unknown, or a repeat of the review already made: nothing to do
        view = self._view(tx, match["vacancy_id"])
        if match["status"] != MatchStatus.PROPOSED:
            reason = RefusalReason.NOT_PENDING
            if (event.decision is mv.Decision.APPROVE and view is not None
                    and match["status"] == MatchStatus.WITHDRAWN):  # withdrawn for want of room?
                reason = self._approval_refusal(view) or reason
            yield from self._refuse(match, mv.MatchApprovalRefused, reason, cause)
            return
        if event.decision is mv.Decision.REJECT:
            yield from self._settle(tx, mkey, MatchStatus.REJECTED, reason=event.reason,
                                    reviewed_by=event.reviewed_by, review=event.decision)
        elif view is None:
            yield from self._refuse(match, mv.MatchApprovalRefused,
                                    RefusalReason.VACANCY_NOT_OPEN, cause)
            return
        else:
            refusal = self._approval_refusal(view)
            if refusal is not None:
                yield from self._refuse(match, mv.MatchApprovalRefused, refusal, cause)
                return
            yield from self._settle(tx, mkey, MatchStatus.APPROVED,
                                    reviewed_by=event.reviewed_by, review=event.decision)
        if view is not None:
            yield from self._reconcile(tx, view, turn)

    def _approval_refusal(self, view: VacancyView) -> RefusalReason | None:
        return quota.approval_refusal(view, quota_used=self._quota_used(view),
                                      positions_taken=self.taken.get(view.vacancy_id))

    def _on_acceptance(self, tx: StateTx, decoded: Decoded, ctx: Context, turn: _Turn
                       ) -> Iterator[Output]:
        event, cause = cast(AcceptanceRequest, decoded.event), decoded.envelope.id
        mkey, match = _match(tx, event.match_id)
        if match is None or match.get("response") == event.decision.value:
            return  # unknown, or a repeat of the answer already given: nothing to do
        if match["status"] != MatchStatus.APPROVED:
            yield from self._refuse(match, mv.MatchAcceptanceRefused,
                                    RefusalReason.NOT_PENDING, cause)
            return
        view = self._view(tx, match["vacancy_id"])
        if event.decision is mv.Decision.DECLINE:
            yield from self._settle(tx, mkey, MatchStatus.DECLINED, response=event.decision)
            if view is not None:
                yield from self._reconcile(tx, view, turn)
            return
        if not event.worker_free:
            yield from self._refuse(match, mv.MatchAcceptanceRefused,
                                    RefusalReason.ALREADY_ACCEPTED_OTHER, cause)
            return
        terms = MarketVacancy.model_validate(tx.get(VAC + match["vacancy_id"])["state"])
        agreement = terms.agreement
        yield from self._settle(
            tx, mkey, MatchStatus.ACCEPTED, response=event.decision,
            contract_months=terms.vacancy.contract_months,
            return_grace_days=agreement.return_grace_days if agreement else 0,
            reentry_cooldown_months=agreement.reentry_cooldown_months if agreement else 0)

    # --- workers ---------------------------------------------------------------------

    def _on_worker(self, tx: StateTx, decoded: Decoded, ctx: Context, turn: _Turn
                   ) -> Iterator[Output]:
        event = cast(MarketWorker, decoded.event)
        # one record per partition for all the worker's markets there, kept as
        # compact JSON text (a fraction of the memory of nested dicts)
        key = f"{WRK}{ctx.partition}:{event.worker_id}"
        text = worker_record(tx.get(key), event)
        if text is None:
            tx.delete(key)
        else:
            tx.set(key, text)
        worker = WorkerView.from_market(event)
        for market in event.markets or [event.market]:
            yield from self._on_worker_in(tx, event, market, worker, turn)

    def _on_worker_in(self, tx: StateTx, event: MarketWorker, market: str,
                      worker: WorkerView | None, turn: _Turn) -> Iterator[Output]:
        dirty: dict[str, VacancyView] = {}
        held: set[str] = set()  # vacancies where the worker has a match not withdrawn
        for mkey in sorted(self.by_worker.keys(f"{market}|{event.worker_id}")):
            match = tx.get(mkey)
            if match is None or match["status"] == MatchStatus.WITHDRAWN:
                continue
            held.add(match["vacancy_id"])
            if match["status"] not in LIVE:
                continue
            view = self._view(tx, match["vacancy_id"])
            if view is None:
                continue
            reason = _withdrawal_reason(event, worker, view)
            if reason is not None:
                yield from self._settle(tx, mkey, MatchStatus.WITHDRAWN, reason=reason)
                dirty[view.vacancy_id] = view
            elif worker is not None and match["status"] == MatchStatus.PROPOSED:
                # still eligible: what recruiters read follows the worker (skills,
                # experience, an on-time return), and the ranking with it
                fresh = score(worker, view)
                if (fresh.score, _reasons(fresh)) != (match["score"], match["reasons"]):
                    yield from self._propose(tx, view, fresh)
                    dirty[view.vacancy_id] = view
        if worker is not None and not worker.busy:
            yield from self._offer(tx, market, worker, dirty, held)
        for view in dirty.values():
            yield from self._reconcile(tx, view, turn)

    def _offer(self, tx: StateTx, market: str, worker: WorkerView,
               dirty: dict[str, VacancyView], held: set[str]) -> Iterator[Output]:
        """A free worker's place among the proposals of each open vacancy with a
        position left that it could enter (the ``board`` narrows them down), but
        those where it holds a match already (``held``) or that changed (``dirty``)."""
        years = worker.occupations.get(split_market(market)[1])
        if years is None:
            return
        for vacancy_id in self.board.could_enter(market, worker, years,
                                                 lambda v: self._view(tx, v)):
            view = self._view(tx, vacancy_id)
            if view is None or view.vacancy_id in dirty or view.vacancy_id in held:
                continue
            taken = self.taken.get(view.vacancy_id)
            if taken >= view.positions or not quota.has_room(view, self._quota_used(view)):
                continue
            if failures(worker, view):
                continue
            limit = capacity(view.positions, taken)
            if self.board.outranked(view.vacancy_id, score_value(worker, view), limit):
                continue  # what the plan would decide: nothing
            yield from self._apply_plan(tx, view, self.board.live(view.vacancy_id),
                                        [score(worker, view)], limit)


def _match(tx: StateTx, match_id: str) -> tuple[str, dict[str, Any] | None]:
    """A match's key and record, withdrawn or not (None: no such match)."""
    for key in (MATCH + match_id, WITHDRAWN + match_id):
        record = tx.get(key)
        if record is not None:
            return key, record
    return MATCH + match_id, None


def _reasons(scored: Scored) -> list[dict[str, Any]]:
    return [{"code": r.code, "text": r.text, "weight": r.weight} for r in scored.reasons]


def _withdrawal_reason(event: MarketWorker, worker: WorkerView | None,
                       view: VacancyView) -> WithdrawalReason | None:
    if event.standing is WorkerStanding.ERASED:
        return WithdrawalReason.WORKER_ERASED
    if worker is None:
        return WithdrawalReason.WORKER_NO_LONGER_ELIGIBLE
    if worker.busy:
        if event.busy_with == mv.match_id(worker.worker_id, view.vacancy_id):
            return None
        return WithdrawalReason.WORKER_ACCEPTED_OTHER
    found = failures(worker, view, positions_taken=0)
    if not found:
        return None
    if Ineligible.NO_CONSENT in found:
        return WithdrawalReason.CONSENT_WITHDRAWN
    return WithdrawalReason.WORKER_NO_LONGER_ELIGIBLE


def _vacancy_view(record: dict[str, Any]) -> VacancyView | None:
    """The open vacancy with its terms (None: closed)."""
    return VacancyView.from_market(MarketVacancy.model_validate(record["state"]))
