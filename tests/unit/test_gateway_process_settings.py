"""How many API processes and database connections the gateway uses when not told,
and the development signing key shared by API processes that start at once."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from services.gateway import settings as gateway_settings
from services.gateway.settings import GatewaySettings

PG = "postgresql+psycopg://circular@localhost/circular"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("CIRCULAR_ADMIN_USER", "CIRCULAR_ADMIN_PASSWORD", "CIRCULAR_JWT_SECRET",
                 "CIRCULAR_ENVIRONMENT", "CIRCULAR_API_WORKERS", "CIRCULAR_DATABASE_POOL_SIZE",
                 "CIRCULAR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (8, 2)])
def test_one_api_process_per_core_at_most_two(monkeypatch, cores, workers):
    monkeypatch.setattr(gateway_settings, "cores", lambda: cores)
    assert GatewaySettings().api_processes() == workers
    assert GatewaySettings(api_workers=3).api_processes() == 3


@pytest.mark.parametrize(("cores", "pool", "overflow"), [(1, 4, 1), (2, 4, 2), (8, 8, 8)])
def test_postgresql_pool_follows_the_cores(monkeypatch, cores, pool, overflow):
    """About two connections per core in all, split among the API processes (at least
    4 each); the thread pool is no larger than the pool, the overflow is for the rest."""
    monkeypatch.setattr(gateway_settings, "cores", lambda: cores)
    s = GatewaySettings(database_url=PG)
    assert (s.pool_size(), s.pool_overflow()) == (pool, overflow)
    assert GatewaySettings(database_url=PG, database_pool_size=10).pool_size() == 10


def test_sqlite_pool_keeps_16_and_no_overflow(monkeypatch):
    monkeypatch.setattr(gateway_settings, "cores", lambda: 8)
    s = GatewaySettings(database_url="sqlite:///x.db")
    assert (s.pool_size(), s.pool_overflow()) == (16, 0)


def test_processes_starting_at_once_share_one_development_key(tmp_path):
    settings = GatewaySettings(var_dir=str(tmp_path))
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: settings.signing_key(), range(32)))
    assert len(keys) == 1 and len(keys.pop()) >= 32
    assert [p.name for p in tmp_path.iterdir()] == ["jwt-secret"]
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0
