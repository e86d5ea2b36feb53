"""Rate limits, as FastAPI dependencies: how many conversations one address may start, how many
messages one conversation and one address may send, how often one address may try to log in
to the console, and the lockout of a staff account after too many wrong passwords.

Beyond a limit the answer is 429 with ``Retry-After`` (seconds) and a detail that says when to
try again; on the chat socket, an ``error`` frame for that message. Counts live in Redis when
the service has one (CXAGENT_REDIS_URL), so that every process behind a load balancer counts
the same calls; otherwise in the process. When Redis fails, counting goes on in the process
for a while rather than fail the request: a limit a little loose for some seconds is better
than a chat that is down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, status
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from bot.api.deps import CustomerTokenDep
from bot.config import Settings
from bot.errors import Unauthenticated

logger = logging.getLogger(__name__)

# Redis keys are "<prefix>/…"; the prefix keeps several installs on one Redis apart.
KEY_PREFIX = "cxagent:limits"
# A Redis that does not answer within this costs the request no more than this.
REDIS_TIMEOUT_SECONDS = 0.5
# After Redis fails, counts stay in the process this long before Redis is tried again: one
# timeout every so often, not one per request.
REDIS_RETRY_SECONDS = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class Limit:
    """One limit of the settings: its windows, and what it counts, for the refusal."""

    what: str
    windows: tuple[RateLimitItem, ...]

    @classmethod
    def of(cls, what: str, setting: str) -> Limit:
        return cls(what, tuple(parse_many(setting)))


class Counter:
    """Calls per key, in moving windows: in Redis when given one, else (or while Redis is
    failing) in this process. ``clock`` (monotonic seconds) says when to try Redis again."""

    def __init__(
        self, redis_url: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared = (
            MovingWindowRateLimiter(
                RedisStorage(
                    redis_url,
                    key_prefix=KEY_PREFIX,
                    wrap_exceptions=True,
                    socket_timeout=REDIS_TIMEOUT_SECONDS,
                    socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                )
            )
            if redis_url
            else None
        )
        self._clock = clock
        self._redis_failed_at: float | None = None

    def hit(self, limit: Limit, *key: str) -> int | None:
        """Count one call: None if it is within the limit, else the seconds until a call will be
        (a call refused is not counted)."""
        return self._run(lambda counter: _hit(counter, limit, key))

    def wait(self, limit: Limit, *key: str) -> int | None:
        """Like ``hit`` without counting: None if one more call would be within the limit."""
        return self._run(lambda counter: _wait(counter, limit, key))

    def _run(self, count: Callable[[MovingWindowRateLimiter], T]) -> T:
        if self._shared is not None and self._redis_may_answer():
            try:
                result = count(self._shared)
            except StorageError as error:
                self._redis_failed_at = self._clock()
                logger.warning(
                    "rate limits: Redis failed (%s); counting in this process for %.0f s",
                    error.storage_error,
                    REDIS_RETRY_SECONDS,
                )
            else:
                self._redis_failed_at = None
                return result
        return count(self._local)

    def _redis_may_answer(self) -> bool:
        failed_at = self._redis_failed_at
        return failed_at is None or self._clock() - failed_at >= REDIS_RETRY_SECONDS


def _hit(counter: MovingWindowRateLimiter, limit: Limit, key: tuple[str, ...]) -> int | None:
    for window in limit.windows:
        if not counter.hit(window, *key):
            return _retry_after(counter, window, key)
    return None


def _wait(counter: MovingWindowRateLimiter, limit: Limit, key: tuple[str, ...]) -> int | None:
    for window in limit.windows:
        if not counter.test(window, *key):
            return _retry_after(counter, window, key)
    return None


def _retry_after(
    counter: MovingWindowRateLimiter, window: RateLimitItem, key: tuple[str, ...]
) -> int:
    # reset_time is when the oldest call of the window leaves it (epoch seconds).
    reset_time = counter.get_window_stats(window, *key).reset_time
    return max(1, math.ceil(reset_time - time.time()))


def too_many(what: str, seconds: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many {what}: try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


class RateLimits:
    """The service's limits (from the settings) and their counter; built once per app."""

    def __init__(self, settings: Settings, counter: Counter | None = None) -> None:
        self.enabled = settings.rate_limits
        self.counter = counter if counter is not None else Counter(settings.redis_url)
        self.conversation_starts = Limit.of(
            "conversations started from this address", settings.limit_conversation_starts
        )
        self.conversation_messages = Limit.of(
            "messages in this conversation", settings.limit_messages_per_conversation
        )
        self.address_messages = Limit.of(
            "messages from this address", settings.limit_messages_per_ip
        )
        self.address_logins = Limit.of(
            "log-in attempts from this address", settings.limit_logins_per_ip
        )
        self.lockout = Limit.of(
            "wrong passwords for this account (logging in to it is refused meanwhile)",
            settings.login_lockout,
        )

    def seconds_to_wait(self, limit: Limit, *key: str) -> int | None:
        """Count a call against ``limit`` for ``key``: None if allowed, else seconds to wait."""
        return self.counter.hit(limit, *key) if self.enabled else None

    def check(self, limit: Limit, *key: str) -> None:
        """Count a call; raise 429 beyond the limit."""
        seconds = self.seconds_to_wait(limit, *key)
        if seconds is not None:
            raise too_many(limit.what, seconds)

    def message_wait(self, address: str, conversation_id: str, token: str) -> int | None:
        """Count a customer message; None if allowed, else the seconds to wait. A conversation
        is counted with its token, so that nobody without it can use up its messages."""
        seconds = self.seconds_to_wait(self.address_messages, "messages", address)
        if seconds is None:
            key = ("conversation", conversation_id, _digest(token))
            seconds = self.seconds_to_wait(self.conversation_messages, *key)
        return seconds

    @contextmanager
    def login_attempt(self, username: str) -> Iterator[None]:
        """Around checking a password: refused (429) while the account is locked out; a wrong
        password counts towards the lockout. Unknown usernames are counted alike, so that the
        answers say nothing of which accounts exist."""
        account = username.strip().lower()
        if self.enabled:
            seconds = self.counter.wait(self.lockout, "lockout", account)
            if seconds is not None:
                raise too_many(self.lockout.what, seconds)
        try:
            yield
        except Unauthenticated:
            self.seconds_to_wait(self.lockout, "lockout", account)
            raise


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _address(connection: HTTPConnection) -> str:
    # The peer, or behind a trusted proxy the client it names (uvicorn's --forwarded-allow-ips).
    return connection.client.host if connection.client else "unknown"


async def get_rate_limits(connection: HTTPConnection) -> RateLimits:
    limits: RateLimits = connection.app.state.rate_limits
    return limits


RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]


def limit_conversation_starts(connection: HTTPConnection, limits: RateLimitsDep) -> None:
    limits.check(limits.conversation_starts, "starts", _address(connection))


def limit_messages(
    connection: HTTPConnection, conversation_id: str, token: CustomerTokenDep, limits: RateLimitsDep
) -> None:
    seconds = limits.message_wait(_address(connection), conversation_id, token)
    if seconds is not None:
        raise too_many("messages", seconds)


def limit_logins(connection: HTTPConnection, limits: RateLimitsDep) -> None:
    limits.check(limits.address_logins, "logins", _address(connection))
