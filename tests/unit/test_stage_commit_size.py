"""A batch of many busy records (a year of ticks, each with the placements that fell
due) is committed in parts of bounded size: each part's state, outputs, ids and
position reach the changelog before the next part is handled, so a worker holds
at most one part's writes and outputs at once. What the batch does is the same as
in one commit."""

from typing import Any

from eventbus import stage as stage_module
from tests.support.stage_fakes import App, handle, make_stage, published, record, state


def changelog_keys(app: App) -> list[str]:
    return [key.decode() if isinstance(key, bytes) else key
            for topic, key, _ in app.sent if topic == "stage-changelog"]


def run(records: int, limit: int, monkeypatch: Any) -> tuple[App, Any]:
    monkeypatch.setattr(stage_module, "MAX_STAGED_PER_COMMIT", limit)
    app = App()
    stage, _ = make_stage(app)
    handle(stage, [record(n, n, 2) for n in range(records)])
    return app, stage


def test_a_batch_past_the_limit_is_committed_in_parts_with_the_same_result(monkeypatch):
    # each record stages one write and one output: 2 per record
    whole, whole_stage = run(10, 1_000, monkeypatch)
    parts, parts_stage = run(10, 4, monkeypatch)
    assert whole_stage.stats.batches == 1
    assert parts_stage.stats.batches == 5  # two records per part
    assert published(parts) == published(whole) and len(published(parts)) == 10
    assert state(parts_stage) == state(whole_stage)
    assert parts_stage.table.data["pos:0"] == whole_stage.table.data["pos:0"] == {
        "p": 0, "next": {"ticks": 10}}
    # each part's position follows its own writes into the changelog, so a crash
    # after any part keeps a position that the part's state and outputs back
    positions = [n for n, key in enumerate(changelog_keys(parts)) if "pos:" in key]
    assert len(positions) == 5
    seen = [n for n, key in enumerate(changelog_keys(parts)) if "seen:" in key]
    assert all(s < p for s, p in zip(seen, positions, strict=True))


def test_records_after_a_committed_part_are_handled_again_when_a_rebalance_stops_them(
        monkeypatch):
    monkeypatch.setattr(stage_module, "MAX_STAGED_PER_COMMIT", 4)
    app = App()
    stage, _ = make_stage(app)
    sends = app.send

    async def send_then_rebalance(topic: str, *args: Any) -> Any:
        sent = await sends(topic, *args)
        if topic == "out":  # the first part is published, then a rebalance begins
            app.flowing = False
        return sent

    app.send = send_then_rebalance  # type: ignore[method-assign,assignment]
    handle(stage, [record(n, n, 2) for n in range(6)])
    assert state(stage) == ["day:2027-03-01", "day:2027-03-02"]
    assert stage.stats.stale == 4
    app.send = sends  # type: ignore[method-assign]
    app.flowing = True
    app.consumer_generation_id = 3
    handle(stage, [record(n, n, 3) for n in range(6)])  # delivered again from offset 0
    assert len(published(app)) == 6
    assert stage.stats.duplicates == 2 and len(state(stage)) == 6
