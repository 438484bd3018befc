"""Browser tests: Debian's Chromium driven by pytest-playwright (Playwright's own
browser download is not reachable here). Without Chromium they are skipped, except
where ``CIRCULAR_REQUIRE_BROWSER=1`` (CI), where that is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveConsole, live_console, seeded
from tests.support.brokers import Broker

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: what the machine's closed network needs (no background connections, no sandbox as
#: root)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM is not None:
        return
    if os.environ.get("CIRCULAR_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError("Chromium is required here: apt-get install chromium")
    skip = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="module")
def console(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    """One live console per test module, with the seeded world."""
    var_dir: Path = tmp_path_factory.mktemp("console")
    with live_console(var_dir, broker.bootstrap) as live:
        seeded(live)
        yield live
