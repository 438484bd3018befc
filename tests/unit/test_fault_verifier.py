"""The fault harness's verifier on records made up here: it must see a lost effect, a
duplicated one, one of a kind never seen, a lost input, a create published twice and
a read-model row that differs, and must not count a redelivery as any of those."""

from tests.faults.verifier import Observed, effects, verify

N = 0


def rec(event_id, type_, payload, cause=None, topic="circular.matches", public=True):
    global N
    N += 1
    return Observed(topic=topic, partition=0, offset=N, event_id=event_id, type=type_,
                    cause=cause, payload=payload, public=public)


def worker(event_id="in-1", worker_id="w1"):
    return rec(event_id, "circular.worker.registered", {"worker_id": worker_id},
               topic="circular.workers")


def routed(event_id="mk-1", cause="in-1"):  # internal re-keying: not an effect
    return rec(event_id, "circular.market.worker", {"worker_id": "w1"}, cause=cause,
               topic="circular-matcher.market", public=False)


def proposed(event_id, match="m1", cause="mk-1"):
    return rec(event_id, "circular.match.proposed", {"match_id": match, "worker_id": "w1"},
               cause=cause)


def withdrawn(event_id, match="m1", reason="consent_withdrawn", cause="mk-1"):
    return rec(event_id, "circular.match.withdrawn",
               {"match_id": match, "worker_id": "w1", "reason": reason}, cause=cause)


INPUTS = {"in-1", "in-2"}


def run(*records):
    return effects(records, is_input=INPUTS)


def test_the_same_effects_pass_and_a_redelivery_is_only_counted():
    ref = run(worker(), routed(), proposed("p1"))
    again = run(worker(), routed(), proposed("p1"), proposed("p1"), routed())
    v = verify(ref, again, {}, {})
    assert v.ok and v.redelivered == 1 and v.inputs == v.inputs_joined == 1
    assert (v.lost, v.duplicated, v.unexpected, v.state_diff) == (0, 0, 0, 0)


def test_a_lost_effect_breaks_the_input_it_came_from():
    ref = run(worker(), routed(), proposed("p1"))
    v = verify(ref, run(worker(), routed()), {}, {})
    assert not v.ok and v.lost == 1 and v.inputs_joined == 0


def test_the_same_effect_under_a_second_id_is_a_duplicate():
    ref = run(worker(), routed(), proposed("p1"))
    v = verify(ref, run(worker(), routed(), proposed("p1"), proposed("p2")), {}, {})
    assert not v.ok and v.duplicated == 1 and v.lost == 0


def test_an_effect_of_a_kind_never_seen_is_unexpected():
    ref = run(worker(), routed(), proposed("p1"))
    v = verify(ref, run(worker(), routed(), proposed("p1"), withdrawn("x1")), {}, {})
    assert not v.ok and v.unexpected == 1


def test_a_flap_that_the_reference_also_had_is_not_a_fault():
    flap = (worker(), routed(), proposed("p1"), withdrawn("x1"), proposed("p2"))
    assert verify(run(*flap), run(*flap), {}, {}).ok


def test_inputs_are_compared_by_content_and_a_create_must_appear_once():
    ref = effects([worker("g-1")], input_topics={"circular.workers"})
    other_ids = effects([worker("g-9")], input_topics={"circular.workers"})
    assert verify(ref, other_ids, {}, {}).ok  # the gateway gave it another id: fine
    twice = effects([worker("g-9"), worker("g-10")], input_topics={"circular.workers"})
    assert verify(ref, twice, {}, {}).duplicated == 1
    none = effects([], input_topics={"circular.workers"})
    assert verify(ref, none, {}, {}).lost == 1


def test_a_read_model_row_that_differs_is_counted():
    state = {"matches": {"m1": ("proposed", 0.5, None)}}
    v = verify(run(), run(), state, {"matches": {"m1": ("withdrawn", 0.5, "displaced")}})
    assert not v.ok and v.state_diff == 1 and v.state_rows == 1
    assert verify(run(), run(), state, {"matches": {}}).state_diff == 1
