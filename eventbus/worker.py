"""Runs a faust app as a worker process: our JSON logging kept, SIGTERM and
Ctrl-C stop it cleanly (faust's worker handles both signals)."""

from __future__ import annotations

import faust


def run_worker(app: faust.App, loglevel: str = "INFO") -> None:
    worker = faust.Worker(app, loglevel=loglevel, override_logging=False,
                          redirect_stdouts=False, quiet=True)
    worker.execute_from_commandline()
