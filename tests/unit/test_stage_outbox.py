"""A stage's outbox entries (``out:``) are deleted once their outputs were delivered,
in the order they were written: a later batch's entry never goes before an earlier
one's, so what a crash leaves is always the latest batches, published again in order."""

import asyncio

from tests.support import stage_fakes
from tests.support.stage_fakes import make_stage, record


class App(stage_fakes.App):
    """Outputs (topic ``out``) are acknowledged only when the test says so."""

    def __init__(self):
        super().__init__()
        self.deliveries = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        fut = await super().send(topic, key, value, partition, timestamp, headers)
        if topic != "out":
            return fut
        held = asyncio.get_running_loop().create_future()
        self.deliveries.append(held)
        return held


def outbox(stage):
    return sorted(k for k in stage.table.data if k.startswith("out:"))


async def settle():
    for _ in range(3):
        await asyncio.sleep(0)


async def two_batches(stage, app):
    """Two batches handled, each with one output in flight; their outbox entries."""
    await stage.process_batch([record(0, 0, 2)])
    await stage.process_batch([record(1, 1, 2)])
    written = outbox(stage)
    assert len(written) == 2 and len(app.deliveries) == 2
    return written


def test_a_later_entry_waits_for_the_earlier_ones_to_be_delivered():
    app = App()
    stage, _ = make_stage(app)

    async def run():
        written = await two_batches(stage, app)
        app.deliveries[1].set_result(None)  # the later batch's output acknowledged first
        await settle()
        after_later = outbox(stage)
        app.deliveries[0].set_result(None)
        await settle()
        return written, after_later, outbox(stage)

    written, after_later, after_both = asyncio.run(run())
    assert after_later == written  # neither deleted while the earlier one is in flight
    assert after_both == []


def test_an_entry_whose_output_was_refused_stays_and_holds_back_the_later_ones(caplog):
    app = App()
    stage, _ = make_stage(app)

    async def run():
        written = await two_batches(stage, app)
        app.deliveries[0].set_exception(TimeoutError("not acknowledged"))
        app.deliveries[1].set_result(None)
        await settle()
        return written, outbox(stage)

    written, left = asyncio.run(run())
    assert left == written  # a recovery publishes both again, in the order written
    assert "an output was not delivered" in caplog.text
