"""Quota and positions arithmetic (SPEC 3.5), at its boundaries."""

import pytest

from schemas.events.matches import MatchStatus, RefusalReason
from services.matcher.domain.quota import approval_refusal, has_room, holds_place
from tests.unit.matcher_factories import vacancy

R = RefusalReason


@pytest.mark.parametrize(("used", "room"), [(0, True), (9, True), (10, False), (11, False)])
def test_room_until_the_quota_is_used_up(used, room):
    assert has_room(vacancy(annual_quota=10), used) is room


def test_a_zero_quota_has_no_room():
    assert has_room(vacancy(annual_quota=0), 0) is False


@pytest.mark.parametrize(("quota_used", "positions_taken", "expected"), [
    (0, 0, None),
    (9, 1, None),                     # one unit and one position left
    (10, 1, R.QUOTA_EXHAUSTED),       # quota used up, a position left
    (9, 2, R.POSITIONS_FILLED),       # a unit left, positions filled
    (10, 2, R.POSITIONS_FILLED),      # both: the vacancy's own limit is reported first
    (12, 3, R.POSITIONS_FILLED),
])
def test_why_an_approval_is_refused(quota_used, positions_taken, expected):
    v = vacancy(positions=2, annual_quota=10)
    assert approval_refusal(v, quota_used=quota_used, positions_taken=positions_taken) \
        == expected


@pytest.mark.parametrize(("status", "holds"), [
    (MatchStatus.PROPOSED, False),
    (MatchStatus.APPROVED, True),
    (MatchStatus.ACCEPTED, True),
    (MatchStatus.REJECTED, False),
    (MatchStatus.DECLINED, False),
    (MatchStatus.WITHDRAWN, False),
])
def test_which_matches_hold_a_place(status, holds):
    assert holds_place(status) is holds
    assert holds_place(status.value) is holds  # as stored in the tables


def test_the_gateway_counts_places_by_the_matchers_policy():
    """One policy in the shared contracts: the matcher (the authority) and the
    gateway's up-front refusals count the same statuses as holding a place."""
    from schemas.events import matches
    from services.gateway.matches import service as gateway
    from services.matcher.domain import quota

    assert quota.holds_place is matches.holds_place
    assert sorted(s.value for s in MatchStatus if matches.holds_place(s)) == gateway._HOLDING
    assert not hasattr(gateway, "HOLDS_PLACE") or gateway.HOLDS_PLACE is matches.HOLDS_PLACE
