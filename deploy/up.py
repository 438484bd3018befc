"""``make up`` / ``make down``: the whole system on one machine, without Docker.

up: starts the single-node Kafka broker from Maven-fetched jars (unless the
bootstrap servers point elsewhere), creates the topics, migrates the database,
then runs the gateway, matcher and tracker in the foreground with their logs
prefixed by service (honcho). Ctrl-C or SIGTERM stops the services, then the
broker. down: stops whatever an earlier ``up`` left running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from deploy.kafka.broker import DEFAULT_VERSION, LocalBroker, _alive
from eventbus.admin import ensure_topics
from eventbus.settings import KafkaSettings
from schemas.topics import catalogue

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _broker(settings: KafkaSettings) -> LocalBroker | None:
    first = settings.bootstrap_list[0]
    host, port = first.rsplit(":", 1)
    if host not in LOCAL_HOSTS:
        return None
    return LocalBroker(data_dir=Path(settings.var_dir) / "kafka-broker", port=int(port),
                       controller_port=int(port) + 1,
                       version=os.environ.get("CIRCULAR_KAFKA_VERSION", DEFAULT_VERSION))


def group_instance_name() -> str:
    """This machine's name as a consumer group member's (``CIRCULAR_KAFKA_GROUP_
    INSTANCE_ID``): the same at every start, another on another machine."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()) or "up"


def _pid_file(settings: KafkaSettings) -> Path:
    return Path(settings.var_dir) / "run" / "up.pid"


def up() -> int:
    settings = KafkaSettings()
    started = time.monotonic()
    broker = _broker(settings)
    if broker is not None:
        broker.start()
        print(f"[up] Kafka {broker.version} ready on {broker.bootstrap} "
              f"(log: {broker.log_file})", flush=True)
    report = ensure_topics(settings.bootstrap_list, catalogue(settings.topic_prefix))
    print(f"[up] topics: {len(report.created)} created, {len(report.verified)} verified",
          flush=True)
    for change in report.altered:
        print(f"[up] topic setting changed to the catalogue's: {change}", flush=True)
    for problem in report.problems:
        print(f"[up] topic problem: {problem}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "services.gateway", "migrate"], check=True, cwd=ROOT)
    print(f"[up] database migrated; starting services ({time.monotonic() - started:.1f}s)",
          flush=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # one matcher and one tracker, each a stable member of its group: a restarted one
    # takes its partitions back at once (the name is per group, so both may share it)
    env.setdefault("CIRCULAR_KAFKA_GROUP_INSTANCE_ID", group_instance_name())
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "-f", str(ROOT / "deploy" / "Procfile"), "-d",
         str(ROOT), "start"], env=env, start_new_session=True)
    pid_file = _pid_file(settings)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{os.getpid()}\n{honcho.pid}\n")
    stopping = {"asked": False}

    def ask_stop(*_: object) -> None:
        stopping["asked"] = True

    signal.signal(signal.SIGINT, ask_stop)
    signal.signal(signal.SIGTERM, ask_stop)
    try:
        while honcho.poll() is None and not stopping["asked"]:
            time.sleep(0.3)
    finally:
        _stop_group(honcho.pid)
        if broker is not None:
            broker.stop()
            print("[up] Kafka stopped", flush=True)
        pid_file.unlink(missing_ok=True)
    return 0


def _stop_group(pid: int, timeout: float = 25.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def down() -> int:
    settings = KafkaSettings()
    pid_file = _pid_file(settings)
    if pid_file.exists():
        up_pid, honcho_pid = (int(x) for x in pid_file.read_text().split())
        if _alive(up_pid):
            os.kill(up_pid, signal.SIGTERM)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and _alive(up_pid):
                time.sleep(0.3)
        _stop_group(honcho_pid)
        pid_file.unlink(missing_ok=True)
    broker = _broker(settings)
    if broker is not None:
        broker.stop()
    print("[down] stopped", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    return up() if parser.parse_args().command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
