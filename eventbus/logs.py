"""Structured JSON logs, one object per line, on standard error.

Log lines carry ids (event, worker, vacancy), never personal data: nothing in this
code base passes names, passport numbers or contacts to a logger, and the gateway's
tests read every log line they cause to check it.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure(service: str, level: str = "INFO", library_level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "{asctime}{levelname}{name}{message}", style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": service},
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "faust", "mode", "alembic"):
        logging.getLogger(noisy).setLevel(library_level.upper())
