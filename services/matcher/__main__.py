"""``python -m services.matcher``: run one matcher worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

from eventbus.logs import configure
from eventbus.worker import run_worker
from services.matcher.bootstrap import build
from services.matcher.settings import MatcherSettings


def main() -> None:
    settings = MatcherSettings()
    configure("matcher", settings.log_level,
              settings.library_log_level)
    run_worker(build(settings), settings.log_level, settings.shutdown_grace_seconds,
               settings.switch_interval_ms)


if __name__ == "__main__":
    main()
