"""Settings refuse default and weak secrets; there is no built-in password."""

import pytest
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("CIRCULAR_ADMIN_USER", "CIRCULAR_ADMIN_PASSWORD", "CIRCULAR_JWT_SECRET",
                 "CIRCULAR_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_have_no_admin_and_no_secret():
    s = GatewaySettings()
    assert s.admin_user is None and s.admin_password is None and s.jwt_secret is None
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/circular.db")
    assert (s.gateway_host, s.gateway_port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize("password", ["changethis", "admin", "short", "password123"])
def test_weak_admin_passwords_are_refused(monkeypatch, password):
    monkeypatch.setenv("CIRCULAR_ADMIN_USER", "root")
    monkeypatch.setenv("CIRCULAR_ADMIN_PASSWORD", password)
    with pytest.raises(ValidationError, match="too weak"):
        GatewaySettings()


def test_admin_needs_both_user_and_password(monkeypatch):
    monkeypatch.setenv("CIRCULAR_ADMIN_USER", "root")
    with pytest.raises(ValidationError, match="both"):
        GatewaySettings()


def test_production_needs_a_strong_jwt_secret(monkeypatch):
    monkeypatch.setenv("CIRCULAR_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="required in production"):
        GatewaySettings()
    monkeypatch.setenv("CIRCULAR_JWT_SECRET", "changethis")
    with pytest.raises(ValidationError, match="32"):
        GatewaySettings()
    monkeypatch.setenv("CIRCULAR_JWT_SECRET", "k" * 40)
    assert GatewaySettings().signing_key() == "k" * 40


def test_development_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CIRCULAR_VAR_DIR", str(tmp_path))
    first = GatewaySettings().signing_key()
    assert len(first) >= 32
    assert GatewaySettings().signing_key() == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0
