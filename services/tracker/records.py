"""Placements and accepted-match terms as the JSON the tracker's table stores."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import date
from typing import Any

from schemas.events.placements import PlacementStatus
from services.tracker.domain.dates import Timing
from services.tracker.domain.placement import Placement, Terms

_DATES = ("departure_date", "expected_return_date", "return_date", "reentry_from",
          "overdue_since")


def dump(p: Placement) -> dict[str, Any]:
    out = asdict(p)
    for name in _DATES:
        out[name] = out[name].isoformat() if out[name] else None
    out["status"] = p.status.value
    out["return_timing"] = p.return_timing.value if p.return_timing else None
    return out


def load(data: dict[str, Any]) -> Placement:
    values = {f.name: data[f.name] for f in fields(Placement)}
    for name in _DATES:
        values[name] = date.fromisoformat(values[name]) if values[name] else None
    values["terms"] = Terms(**data["terms"])
    values["status"] = PlacementStatus(data["status"])
    values["return_timing"] = Timing(data["return_timing"]) if data["return_timing"] else None
    return Placement(**values)
