"""The market's offer board (services/matcher/offer_board.py) skips the plan for a
free worker who cannot enter a vacancy's proposals: only when the plan would decide
nothing at all."""

from hypothesis import given
from hypothesis import strategies as st

from services.matcher.domain.proposals import plan
from services.matcher.domain.scoring import Scored
from services.matcher.market_stage import HeldCounter
from services.matcher.offer_board import OfferBoard


def board_with(live: dict[str, float]) -> OfferBoard:
    board = OfferBoard(HeldCounter(lambda r: r["vacancy_id"]), lambda record: None)
    for worker_id, value in live.items():
        board.apply(f"m:{worker_id}", None, {
            "vacancy_id": "v1", "worker_id": worker_id, "market": "DE-6111",
            "status": "proposed", "score": value})
    return board


scores = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda s: round(s, 1))


@given(live=st.dictionaries(st.sampled_from([f"w{n}" for n in range(20)]), scores,
                            max_size=16),
       score=scores, limit=st.integers(min_value=0, max_value=15))
def test_a_worker_is_passed_over_only_when_the_plan_changes_nothing(live, score, limit):
    board = board_with(live)
    decided = plan(live, [Scored("newcomer", score, ())], limit)
    if board.outranked("v1", score, limit):
        assert decided.propose == [] and decided.withdraw == []


def test_outranked_when_full_and_below_the_lowest_only():
    live = {"a": 50.0, "b": 40.0}
    assert board_with(live).outranked("v1", 39.9, 2)
    assert not board_with(live).outranked("v1", 40.0, 2)  # a tie goes to the plan
    assert not board_with(live).outranked("v1", 10.0, 3)  # room left
    assert not board_with(live).outranked("v1", 10.0, 1)  # over: the plan withdraws one
    assert not board_with({}).outranked("v1", 10.0, 0)


def _proposal(worker_id: str, score: float) -> dict:
    return {"vacancy_id": "v1", "worker_id": worker_id, "market": "DE-6111",
            "status": "proposed", "score": score}


def test_the_bar_follows_every_change_to_the_proposals_after_it_was_asked():
    """The lowest live score is kept once asked; a proposal withdrawn, re-scored or
    added after that moves it, as the plan would see it."""
    board = board_with({"a": 50.0, "b": 40.0})
    assert board.outranked("v1", 39.9, 2) and not board.outranked("v1", 40.0, 2)
    board.apply("m:b", _proposal("b", 40.0), None)  # b withdrawn
    board.apply("m:c", None, _proposal("c", 45.0))
    assert board.outranked("v1", 44.9, 2) and not board.outranked("v1", 45.0, 2)
    board.apply("m:a", _proposal("a", 50.0), _proposal("a", 30.0))  # a re-scored
    assert board.outranked("v1", 29.9, 2) and not board.outranked("v1", 30.0, 2)
