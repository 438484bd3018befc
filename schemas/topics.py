"""The topic catalogue: every Kafka topic, what travels on it, who writes and reads it.

Partitioned topics all have the same partition count so faust co-partitions them:
a worker that owns partition p of one owns partition p of all of them, with the
table shards that go with it. Event topics keep their records (services rebuild
their state from the log); the services' own state topics are compacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from schemas.events import (
    agreements,
    clock,
    employers,
    market,
    matches,
    placements,
    triggers,
    vacancies,
    workers,
)
from schemas.events.base import Event

PARTITIONS = 6
FOREVER = -1
WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    description: str
    events: tuple[type[Event], ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = PARTITIONS
    retention_ms: int = FOREVER
    compacted: bool = False
    internal: bool = False
    config: dict[str, str] = field(default_factory=dict)

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dlq"

    def prefixed(self, prefix: str) -> Topic:
        """The same topic in a namespace (tests use a fresh one each)."""
        return replace(self, name=prefix + self.name) if prefix else self

    def topic_config(self) -> dict[str, str]:
        cfg = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": str(self.retention_ms),
        }
        cfg.update(self.config)
        return cfg


AGREEMENTS = Topic(
    "circular.agreements", "agreement_id", "Labour agreements and their status.",
    (agreements.AgreementRecorded, agreements.AgreementSuspended, agreements.AgreementResumed),
    ("gateway",), ("matcher",),
)
EMPLOYERS = Topic(
    "circular.employers", "employer_id", "Employers and their verification.",
    (employers.EmployerRegistered, employers.EmployerVerified, employers.EmployerSuspended),
    ("gateway",), ("matcher",),
)
VACANCIES = Topic(
    "circular.vacancies", "employer_id",
    "Vacancies posted and closed; keyed by employer, co-partitioned with employers.",
    (vacancies.VacancyPosted, vacancies.VacancyClosed), ("gateway",), ("matcher",),
)
WORKERS = Topic(
    "circular.workers", "worker_id", "Worker attributes for matching (no personal data).",
    (workers.WorkerRegistered, workers.WorkerProfileUpdated, workers.WorkerErased),
    ("gateway",), ("matcher",),
)
MATCH_REVIEWS = Topic(
    "circular.match-reviews", "market", "Recruiters' approvals and rejections of proposals.",
    (matches.MatchReviewed,), ("gateway",), ("matcher",),
)
MATCH_RESPONSES = Topic(
    "circular.match-responses", "worker_id", "Workers' acceptances and declines.",
    (matches.MatchResponded,), ("gateway",), ("matcher",),
)
MOVEMENTS = Topic(
    "circular.movements", "worker_id", "Departures and return registrations as recorded.",
    (placements.DepartureRecorded, placements.ReturnRegistered), ("gateway",), ("tracker",),
)
CLOCK = Topic(
    "circular.clock", "clock",
    "Clock ticks: one a day from the tracker, or any later date from an admin in tests.",
    (clock.ClockTicked,), ("tracker", "gateway"), ("tracker", "gateway"), partitions=1,
)
TRIGGER_OUTCOMES = Topic(
    "circular.trigger-outcomes", "worker_id", "Reintegration triggers completed by recruiters.",
    (triggers.TriggerCompleted,), ("gateway",), ("gateway",),
)
VACANCY_STATUS = Topic(
    "circular.vacancy-status", "vacancy_id", "The matcher's verdicts and fill levels.",
    (vacancies.VacancyEvaluated, vacancies.VacancyPositionsChanged), ("matcher",), ("gateway",),
)
MATCHES = Topic(
    "circular.matches", "worker_id", "Match lifecycle as decided by the matcher.",
    (matches.MatchProposed, matches.MatchApproved, matches.MatchApprovalRefused,
     matches.MatchRejected, matches.MatchAccepted, matches.MatchAcceptanceRefused,
     matches.MatchDeclined, matches.MatchWithdrawn),
    ("matcher",), ("gateway", "matcher", "tracker"),
)
QUOTA = Topic(
    "circular.quota", "agreement_id", "Quota usage per agreement, occupation and year.",
    (matches.QuotaUsageChanged,), ("matcher",), ("gateway",),
)
PLACEMENTS = Topic(
    "circular.placements", "worker_id", "Placement lifecycle and return reminders.",
    (placements.PlacementStarted, placements.PlacementOverdue, placements.PlacementReturned,
     placements.ReturnUnmatched, placements.ReturnReminderDue),
    ("tracker",), ("gateway", "matcher"),
)
TRIGGERS = Topic(
    "circular.reintegration-triggers", "worker_id", "Reintegration triggers fired.",
    (triggers.TriggerFired,), ("tracker",), ("gateway", "matcher"),
)

PUBLIC: tuple[Topic, ...] = (
    AGREEMENTS, EMPLOYERS, VACANCIES, WORKERS, MATCH_REVIEWS, MATCH_RESPONSES, MOVEMENTS,
    CLOCK, TRIGGER_OUTCOMES, VACANCY_STATUS, MATCHES, QUOTA, PLACEMENTS, TRIGGERS,
)


# Internal topics of the stream processors: co-partitioned re-keying and broadcasts.
MATCHER_AGREEMENTS_BROADCAST = Topic(
    "circular-matcher.agreements-broadcast", "agreement_id",
    "Every agreement event, copied to every partition: each legality shard needs all.",
    (agreements.AgreementRecorded, agreements.AgreementSuspended, agreements.AgreementResumed),
    ("matcher",), ("matcher",), internal=True, retention_ms=FOREVER,
)

MATCHER_MARKET = Topic(
    "circular-matcher.market", "market",
    "Vacancies, workers and acceptances re-keyed by labour market (destination-occupation).",
    (market.MarketVacancy, market.MarketWorker, market.AcceptanceRequest),
    ("matcher",), ("matcher",), internal=True, retention_ms=FOREVER,
)

TRACKER_TICKS = Topic(
    "circular-tracker.ticks", "clock",
    "Each clock tick that moved the clock forward, copied to every partition: each "
    "placement shard ticks its own placements.",
    (clock.ClockTicked,), ("tracker",), ("tracker",), internal=True, retention_ms=4 * WEEK_MS,
)

INTERNAL: tuple[Topic, ...] = (MATCHER_AGREEMENTS_BROADCAST, MATCHER_MARKET, TRACKER_TICKS)


#: How a table's changelog is compacted. Kafka never compacts a partition's open
#: segment, and by default a segment stays open until it holds 1 GiB or is 7 days
#: old: at our sizes compaction would never run, and a recovery would replay every
#: version of every key ever written. Segments close at 16 MiB or after 15 minutes;
#: a closed segment is compacted once a quarter of the log is superseded versions,
#: and within an hour whatever the ratio, so what a recovery reads follows the
#: table's size, not its history. A record stays at least a minute before it may be
#: compacted away, and a tombstone (a deleted key) stays 24 hours after its segment
#: was compacted: a local state store older than that may hold keys deleted since,
#: and must be rebuilt from the changelog instead (eventbus/tablestore.py).
CHANGELOG_CONFIG: dict[str, str] = {
    "segment.bytes": str(16 * 1024 * 1024),
    "segment.ms": str(15 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.25",
    "max.compaction.lag.ms": str(3600 * 1000),
    "min.compaction.lag.ms": "60000",
    "delete.retention.ms": str(24 * 3600 * 1000),
}


def changelog(app_id: str, table: str, partitions: int = PARTITIONS) -> Topic:
    """A faust table's changelog: compacted (:data:`CHANGELOG_CONFIG`), created here
    with the right settings before faust would create it with its own."""
    return Topic(f"{app_id}-{table}-changelog", "state key",
                 f"State of {app_id}'s {table} table.", (), (app_id,), (app_id,),
                 partitions=partitions, compacted=True, internal=True,
                 config=dict(CHANGELOG_CONFIG))


MATCHER_APP = "circular-matcher"
TRACKER_APP = "circular-tracker"

#: faust tables of each stream processor, by app id
TABLES: dict[str, tuple[str, ...]] = {
    MATCHER_APP: ("agreement-router", "legality", "workers", "market"),
    TRACKER_APP: ("clock", "placements"),
}

#: tables whose changelog follows a topic with another partition count
TABLE_PARTITIONS: dict[str, int] = {"clock": 1}


def dead_letters() -> tuple[Topic, ...]:
    """One dead-letter topic per consumed topic: the record as it came, the error and
    where it was read, in headers. Kept for four weeks."""
    return tuple(
        Topic(t.dead_letter, t.key, f"Records of {t.name} that failed validation.", (),
              t.consumers, (), partitions=t.partitions, retention_ms=4 * WEEK_MS)
        for t in PUBLIC + INTERNAL
    )


def catalogue(prefix: str = "") -> tuple[Topic, ...]:
    """Every topic, in the namespace ``prefix``."""
    state = tuple(changelog(prefix + app, table, TABLE_PARTITIONS.get(table, PARTITIONS))
                  for app, tables in TABLES.items() for table in tables)
    return tuple(t.prefixed(prefix) for t in PUBLIC + INTERNAL + dead_letters()) + state


def topic_for(event_type: type[Event]) -> Topic:
    for t in PUBLIC + INTERNAL:
        if event_type in t.events:
            return t
    raise KeyError(f"no topic carries {event_type.type}")
