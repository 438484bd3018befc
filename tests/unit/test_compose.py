"""docker-compose.yml describes the same system as `make up`: the broker in KRaft
mode, PostgreSQL, an init step (topics, migrations) and the three services, with
settings the services really read."""

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


@pytest.mark.skipif(not (shutil.which("docker-compose") or shutil.which("docker")),
                    reason="no compose CLI here")
def test_compose_cli_accepts_the_file():
    cli = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    result = subprocess.run([*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, cwd=ROOT)
    if "unknown command" in result.stderr:
        pytest.skip("docker CLI without the compose plugin")
    assert result.returncode == 0, result.stderr
