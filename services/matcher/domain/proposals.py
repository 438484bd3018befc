"""Which proposals an open vacancy keeps (SPEC 3.4): at most max(5, 3 x open
positions) unreviewed proposals at a time, the best candidates first. A better
candidate arriving later displaces the lowest unreviewed proposal; approved
matches are never displaced; a vacancy with no open position gets none; when
the limit shrinks (positions filled), the lowest proposals beyond it go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.matcher.domain.scoring import Scored

MIN_PROPOSALS = 5
PER_POSITION = 3


def capacity(positions: int, taken: int) -> int:
    open_positions = max(0, positions - taken)
    return max(MIN_PROPOSALS, PER_POSITION * open_positions) if open_positions else 0


@dataclass(frozen=True)
class Plan:
    propose: list[Scored] = field(default_factory=list)
    withdraw: list[str] = field(default_factory=list)


def plan(live: Mapping[str, float], candidates: Sequence[Scored], limit: int) -> Plan:
    """``live``: worker id -> score of the unreviewed proposals; ``candidates``: eligible
    workers not matched with the vacancy yet, in any order. Returns what to propose
    and which live proposals to withdraw (displaced)."""
    fresh = {c.worker_id: c for c in candidates if c.worker_id not in live}
    pool = sorted([(-s, w) for w, s in live.items()]
                  + [(-c.score, c.worker_id) for c in fresh.values()])
    kept = {w for _, w in pool[:limit]}
    return Plan(propose=sorted((c for w, c in fresh.items() if w in kept),
                               key=lambda c: c.rank_key),
                withdraw=sorted(w for w in live if w not in kept))
