"""Sign-in attempts, limited per account and per address: after too many failed
attempts in a window, further attempts are refused before the password is checked,
until the window moves on. Counts live in the process (the ``limits`` library's
moving window); each API process keeps its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


@dataclass
class SignInThrottle:
    per_account: RateLimitItem
    per_address: RateLimitItem
    _limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage()))

    @classmethod
    def from_limits(cls, per_account: str, per_address: str) -> SignInThrottle:
        """Limits as ``limits`` writes them, e.g. ``"5 per 15 minutes"``."""
        return cls(parse(per_account), parse(per_address))

    def allows(self, *, username: str, address: str) -> bool:
        return (self._limiter.test(self.per_account, "account", username.lower())
                and self._limiter.test(self.per_address, "address", address))

    def failed(self, *, username: str, address: str) -> None:
        self._limiter.hit(self.per_account, "account", username.lower())
        self._limiter.hit(self.per_address, "address", address)
