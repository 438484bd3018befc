"""Checked tokens, remembered for a short time so that a request does not read its
caller's account again: a token is verified (signature, expiry, audience) and its
account looked up once, then trusted for ``ttl`` seconds, never past its own expiry.
A deleted account therefore loses access at once on the API process that deleted it
(:meth:`Principals.forget`) and within ``ttl`` seconds on any other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.gateway.auth.security import Principal

MAX_ENTRIES = 10_000


class Principals:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        #: token: (principal, monotonic time until which it is trusted)
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            with self._lock:
                self._entries.pop(token, None)
            return None
        return entry[0]

    def put(self, token: str, principal: Principal, expires_at: float) -> None:
        """Trust ``principal`` for ``token`` for ``ttl`` seconds, or until
        ``expires_at`` (the token's own expiry, seconds since the epoch) if sooner."""
        if self.ttl <= 0:
            return
        now = time.monotonic()
        until = min(now + self.ttl, now + (expires_at - time.time()))
        if until <= now:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {t: e for t, e in self._entries.items() if e[1] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[token] = (principal, until)

    def forget(self, which: Callable[[Principal], bool]) -> None:
        """Stop trusting the tokens of the principals ``which`` picks (e.g. the
        login of an erased worker): their next request looks the account up again."""
        with self._lock:
            self._entries = {t: e for t, e in self._entries.items() if not which(e[0])}

    def __len__(self) -> int:
        return len(self._entries)
