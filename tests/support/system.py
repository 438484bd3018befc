"""A whole Circular system for one test: the gateway's three processes and the
stream processors, on the session broker with a fresh topic namespace and a fresh
database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.kafka.broker import free_port
from tests.support.processes import ServiceProcess, wait_for

ADMIN_USER = "admin"
ADMIN_PASSWORD = "test-admin-password-" + "x" * 8


@dataclass
class System:
    bootstrap: str
    prefix: str
    database_url: str
    var_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CIRCULAR_TOPIC_PREFIX": self.prefix,
            "CIRCULAR_DATABASE_URL": self.database_url,
            "CIRCULAR_VAR_DIR": str(self.var_dir),
            "CIRCULAR_ADMIN_USER": ADMIN_USER,
            "CIRCULAR_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CIRCULAR_JWT_SECRET": "test-" + secrets.token_hex(24),
            "CIRCULAR_GATEWAY_PORT": str(self.port),
            "CIRCULAR_OUTBOX_POLL_SECONDS": "0.02",
            "CIRCULAR_LIBRARY_LOG_LEVEL": "INFO",  # printed when a test fails
            # one API process unless a test asks for more: tests that count sign-in
            # failures or cached tokens count those of one process
            "CIRCULAR_API_WORKERS": "1",
            **self.extra_env,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def service(self, name: str, *args: str) -> ServiceProcess:
        proc = ServiceProcess(name, list(args), self.env, self.var_dir / "logs" / f"{name}.log")
        self.processes[name] = proc
        return proc

    def start(self, *names: str) -> System:
        """Start some of: api, relay, projector, matcher (default: all)."""
        wanted = names or ("api", "relay", "projector", "matcher")
        for name in wanted:
            if name in ("api", "relay", "projector"):
                self.service(name, "services.gateway", name).start()
            else:
                self.service(name, f"services.{name}").start()
        if "api" in wanted:
            self.wait_for_api()
        return self

    def wait_for_api(self, timeout: float = 60.0) -> None:
        wait_for(self._api_up, timeout=timeout, what="the gateway API")

    def _api_up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop()

    def logs(self) -> dict[str, str]:
        return {name: p.log() for name, p in self.processes.items()}

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)

    def token(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> str:
        with self.client() as c:
            r = c.post("/auth/token", data={"username": username, "password": password})
            r.raise_for_status()
            return str(r.json()["access_token"])


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    r.raise_for_status()
    return r.json()
