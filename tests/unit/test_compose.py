"""docker-compose.yml describes the same system as `make up`: the broker in KRaft
mode, PostgreSQL, an init step (topics, migrations) and the three services, with
settings the services really read."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.gateway.settings import GatewaySettings
from services.matcher.settings import MatcherSettings
from services.tracker.settings import TrackerSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
KNOWN = {f"CIRCULAR_{n.upper()}" for s in (GatewaySettings, MatcherSettings, TrackerSettings)
         for n in s.model_fields}


def test_services_and_their_commands():
    services = COMPOSE["services"]
    assert {"kafka", "postgres", "init", "gateway", "matcher", "tracker"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in ("gateway", "matcher", "tracker"):
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["depends_on"]["init"]["condition"] == \
            "service_completed_successfully"
    assert "eventbus.admin" in services["init"]["command"][-1]
    assert "migrate" in services["init"]["command"][-1]


def test_every_service_setting_is_one_the_code_reads():
    for name in ("init", "gateway", "matcher", "tracker"):
        for key in COMPOSE["services"][name]["environment"]:
            assert key in KNOWN, (name, key)


def _compose_cli() -> list[str] | None:
    """``docker compose`` (v2 plugin) or ``docker-compose`` (v1), whichever answers;
    CI installs Debian's ``docker-compose`` where neither does."""
    candidates = [["docker", "compose"]] if shutil.which("docker") else []
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cli in candidates:
        if subprocess.run([*cli, "version"], capture_output=True).returncode == 0:
            return cli
    return None


def test_compose_cli_accepts_the_file():
    cli = _compose_cli()
    if cli is None:
        if os.environ.get("CIRCULAR_REQUIRE_COMPOSE") == "1":
            pytest.fail("no docker compose CLI, and CI requires one")
        pytest.skip("no docker compose CLI here")
    result = subprocess.run([*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
