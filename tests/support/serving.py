"""An app served over real HTTP for a test: uvicorn in a background thread on a free
port (for what the in-process client cannot do: a browser, a stream read as it
comes), with a client on it; stopped when the block ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from deploy.kafka.broker import free_port


@contextmanager
def served(app: FastAPI, name: str) -> Iterator[tuple[str, httpx.Client]]:
    """The app's base URL and an HTTP client on it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=30)
    try:
        yield url, client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=15)
