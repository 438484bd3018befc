"""The most any stream stage can read through faust on this machine: an agent that
does nothing with its records, on an app made as every stage's is
(``eventbus.faustapp.make_app``, the stages' ``take_events`` batching), reading the
given topics from the beginning. The matcher bench runs it as a process on the same
records as the bare consumer and the matcher, so the figures say how much of the gap
to the bare consumer is faust's own per-record machinery.

    python -m tests.bench.ceiling OUT_JSON COUNT TOPIC [TOPIC ...]

Writes ``{"events": COUNT, "seconds": ...}`` (from the first record to the last) to
OUT_JSON, then stops the worker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import faust

from eventbus.faustapp import make_app
from eventbus.settings import StreamSettings
from eventbus.stage import Stage
from eventbus.worker import run_worker


def build(settings: StreamSettings, out: Path, count: int, topics: list[str]) -> faust.App:
    app = make_app(f"ceiling-{uuid.uuid4().hex[:8]}", settings)
    channel = app.topic(*topics, key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")

    @app.agent(channel, name="ceiling", concurrency=1)
    async def ceiling(stream: faust.StreamT) -> None:
        seen, first = 0, 0.0
        async for events in stream.take_events(  # type: ignore[attr-defined]
                settings.batch_size, within=Stage.batch_within):
            if not seen:
                first = time.perf_counter()
            seen += len(events)
            if seen >= count:
                out.write_text(json.dumps({"events": seen,
                                           "seconds": time.perf_counter() - first}))
                os.kill(os.getpid(), signal.SIGTERM)
                return

    return app


def main(argv: list[str]) -> None:
    out, count, topics = Path(argv[0]), int(argv[1]), argv[2:]
    settings = StreamSettings()
    # Python's own switch interval, not the stages' 0.5 ms: the empty agent reads
    # faster with it (11,000 against 9,450 events/s at 20,000 workers), and the ceiling
    # is the most a faust stage can reach here
    run_worker(build(settings, out, count, topics), "WARNING", 5.0, switch_interval_ms=None)


if __name__ == "__main__":
    main(sys.argv[1:])
