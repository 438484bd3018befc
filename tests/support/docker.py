"""Is a Docker engine answering? (testcontainers is used only then.)"""

from __future__ import annotations

from functools import cache


@cache
def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:  # no client, no socket, no engine: all mean "no"
        return False
