"""``tests.bench.restart.phases``: where a restarted worker's time went, read from the
log lines our services write (``eventbus.logs``), faust's and aiokafka's included."""

import logging
import time

from eventbus import logs
from tests.bench import restart


def test_phases_are_read_from_the_services_own_log_lines(capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("matcher", "INFO", "INFO")
        wall = time.time()
        logging.getLogger("aiokafka.consumer").info("Joined group 'g' (generation 3)")
        logging.getLogger("faust.tables.recovery").info("[^---Recovery]: Recovery complete")
        logging.getLogger("eventbus.stage").info("stage recovered", extra={
            "stage": "market", "keys": 40, "read_seconds": 0.5, "seconds": 1.25})
        logging.getLogger("eventbus.stage").info("stage recovered", extra={
            "stage": "legality", "keys": 7, "read_seconds": 0.1, "seconds": 0.25})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    log = b"not json\n" + capsys.readouterr().err.encode()

    found = restart.phases(log, wall - 2.0)

    assert set(found) == {"joined", "recovered", "stages_recovered",
                          "stage_recovery_seconds", "stages"}
    # the log's times are to the millisecond
    assert 1.99 <= found["joined"] <= found["recovered"] <= found["stages_recovered"] < 3.0
    assert found["stage_recovery_seconds"] == 1.5
    assert [(s["stage"], s["keys"]) for s in found["stages"]] == [("market", 40),
                                                                  ("legality", 7)]
