"""A single-node Apache Kafka (KRaft, broker+controller) run from Maven-fetched jars.

No Docker needed: Maven fetches ``org.apache.kafka:kafka_2.13`` with its runtime
dependencies and a logging backend into ``var/kafka/<version>/libs``; this module
formats KRaft storage, starts the JVM with its log in a file, waits until the broker
answers and stops it (SIGTERM, then SIGKILL after a timeout).

Standard library only, so it also runs before the virtual environment exists.

    python -m deploy.kafka.broker fetch|up|down|status   (see ``--help``)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POM = Path(__file__).resolve().parent / "pom.xml"
DEFAULT_VERSION = "3.9.1"
READY_LINE = "Kafka Server started"


def major(version: str) -> int:
    return int(version.split(".", 1)[0])


def libs_dir(version: str, cache: Path | None = None) -> Path:
    return (cache or ROOT / "var" / "kafka") / version / "libs"


def fetch_jars(version: str = DEFAULT_VERSION, cache: Path | None = None) -> Path:
    """Fetch the broker jars with Maven unless they are already cached."""
    libs = libs_dir(version, cache)
    marker = libs / f"kafka_2.13-{version}.jar"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise SystemExit("Maven (mvn) is needed to fetch the Kafka jars; install it first.")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        "mvn", "-B", "-q", "-Dstyle.color=never", "-f", str(POM), "package",
        f"-Dkafka.version={version}", f"-Doutput.dir={tmp}",
    ]
    if major(version) >= 4:
        cmd.append("-Dkafka4")
    print(f"fetching Apache Kafka {version} jars with Maven ...", file=sys.stderr)
    subprocess.run(cmd, check=True)
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    return libs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


LOG4J1 = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
"""

LOG4J2 = """\
Configuration:
  Appenders:
    File:
      name: file
      fileName: "{log}"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: file
"""


@dataclass
class LocalBroker:
    """One KRaft node. ``data_dir`` holds storage, config, pid file and logs."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 0
    version: str = DEFAULT_VERSION
    cache: Path | None = None
    heap: str = "768m"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.controller_port:
            self.controller_port = free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    def properties(self) -> dict[str, str]:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "data"),
            "num.partitions": "6",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.retention.check.interval.ms": "60000",
        }
        props.update(self.extra)
        return props

    def _write_config(self) -> Path:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        cfg = self.data_dir / "server.properties"
        cfg.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        (self.data_dir / "log4j.properties").write_text(LOG4J1.format(log=self.log_file))
        (self.data_dir / "log4j2.yaml").write_text(LOG4J2.format(log=self.log_file))
        return cfg

    def _java(self, *args: str, heap: str | None = None) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise SystemExit("Java 17+ is needed to run the Kafka broker; install it first.")
        libs = fetch_jars(self.version, self.cache)
        cmd = [java]
        if heap:
            cmd += ["-Xms256m", f"-Xmx{heap}"]
        cmd += [
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp", f"{libs}/*",
            *args,
        ]
        return cmd

    def _format(self, cfg: Path) -> None:
        if (self.data_dir / "data" / "meta.properties").exists():
            return
        cluster_id = uuid.uuid4().bytes
        import base64

        cid = base64.urlsafe_b64encode(cluster_id).decode().rstrip("=")
        out = self.data_dir / "logs" / "format.log"
        with out.open("wb") as fh:
            subprocess.run(
                # --cluster-id=: a random id may start with "-" and read as an option
                self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cid}",
                           "-c", str(cfg), "--ignore-formatted"),
                check=True, stdout=fh, stderr=subprocess.STDOUT,
            )

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def start(self, timeout: float = 90.0) -> LocalBroker:
        if self.running_pid() and port_answers(self.port):
            return self
        if port_answers(self.port):
            raise SystemExit(f"port {self.port} is taken by another process; "
                             "set CIRCULAR_KAFKA_BOOTSTRAP_SERVERS to another port")
        cfg = self._write_config()
        self._format(cfg)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        stdout = (self.data_dir / "logs" / "stdout.log").open("ab")
        proc = subprocess.Popen(
            self._java("kafka.Kafka", str(cfg), heap=self.heap),
            stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Kafka exited with {proc.returncode}; see {self.log_file} and "
                    f"{self.data_dir / 'logs' / 'stdout.log'}")
            if self._log_says_started(offset) and port_answers(self.port):
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"Kafka did not start within {timeout}s; see {self.log_file}")

    def _log_says_started(self, offset: int) -> bool:
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(offset)
                return READY_LINE.encode() in fh.read()
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # a zombie that is not our child still answers kill(0); check its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    except OSError:
        return False


def _port_from_bootstrap(bootstrap: str) -> int:
    first = bootstrap.split(",")[0]
    return int(first.rsplit(":", 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["fetch", "up", "down", "status"])
    parser.add_argument("--version", default=os.environ.get("CIRCULAR_KAFKA_VERSION",
                                                             DEFAULT_VERSION))
    parser.add_argument("--data-dir", default=os.environ.get(
        "CIRCULAR_KAFKA_DATA_DIR", str(ROOT / "var" / "kafka-broker")))
    parser.add_argument("--bootstrap", default=os.environ.get(
        "CIRCULAR_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args(argv)
    broker = LocalBroker(
        data_dir=Path(args.data_dir), port=_port_from_bootstrap(args.bootstrap),
        controller_port=_port_from_bootstrap(args.bootstrap) + 1, version=args.version,
    )
    if args.command == "fetch":
        print(fetch_jars(args.version))
    elif args.command == "up":
        started = time.monotonic()
        broker.start()
        print(f"Kafka {args.version} ready on {broker.bootstrap} in "
              f"{time.monotonic() - started:.1f}s (log: {broker.log_file})")
    elif args.command == "down":
        broker.stop()
        print("Kafka stopped")
    else:
        up = broker.running_pid() is not None and port_answers(broker.port)
        print("running" if up else "stopped")
        return 0 if up else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
