"""The API's database threads (``services/gateway/database/threads.py``): a call goes
to a pool thread without first giving the event loop a round, carries the caller's
context, and is waited for even when its caller is cancelled."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.gateway.database import threads

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


class Rounds:
    """Counts the event loop's rounds: a task that yields once per round."""

    def __init__(self) -> None:
        self.count = 0

    async def tick(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)


class SubmitRecorder(ThreadPoolExecutor):
    def __init__(self, rounds: Rounds) -> None:
        super().__init__(max_workers=2, thread_name_prefix=threads.THREAD_NAME)
        self.rounds = rounds
        self.at: list[int] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.at.append(self.rounds.count)
        return super().submit(fn, *args, **kwargs)


def test_a_call_reaches_its_thread_before_the_loop_runs_anything_else():
    async def main() -> tuple[list[int], int, str]:
        rounds = Rounds()
        executor = SubmitRecorder(rounds)
        asyncio.get_running_loop().set_default_executor(executor)
        ticker = asyncio.create_task(rounds.tick())
        await asyncio.sleep(0)  # the ticker is running
        before = rounds.count
        name = await threads.run(lambda: threading.current_thread().name)
        ticker.cancel()
        return executor.at, before, name

    at, before, name = asyncio.run(main())
    assert at == [before]  # submitted with no round of the loop in between
    assert name.startswith(f"{threads.THREAD_NAME}_")


def test_the_call_sees_the_callers_context_and_its_outcome_comes_back():
    def read() -> str:
        return request_id.get()

    def fail() -> None:
        raise LookupError("no such row")

    async def main() -> str:
        threads.use(asyncio.get_running_loop(), 2)
        request_id.set("r-1")
        with pytest.raises(LookupError, match="no such row"):
            await threads.run(fail)
        return await threads.run(read)

    assert asyncio.run(main()) == "r-1"


def test_a_cancelled_caller_still_waits_for_its_call_to_end():
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        ended.append("call")
        return "done"

    async def main() -> list[str]:
        threads.use(asyncio.get_running_loop(), 2)
        caller = asyncio.create_task(threads.run(slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        caller.cancel()
        await asyncio.sleep(0.05)
        seen = [*ended, "caller still waiting" if not caller.done() else "caller gone"]
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        return [*seen, *ended]

    assert asyncio.run(main()) == ["caller still waiting", "call"]
