"""``python -m services.tracker``: run one tracker worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

from eventbus.logs import configure
from eventbus.worker import run_worker
from services.tracker.bootstrap import build
from services.tracker.settings import TrackerSettings


def main() -> None:
    settings = TrackerSettings()
    configure("tracker", settings.log_level,
              settings.library_log_level)
    run_worker(build(settings), settings.log_level, settings.shutdown_grace_seconds,
               settings.switch_interval_ms)


if __name__ == "__main__":
    main()
