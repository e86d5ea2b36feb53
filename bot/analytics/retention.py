"""The retention period kept by the service itself: with ``CXAGENT_RETENTION_DAYS`` set, each
process purges what has passed it soon after it starts and every ``CXAGENT_PURGE_EVERY_SECONDS``
after, so nothing outlives the period by more than that, with no cron job to forget.

Several processes purging at once erase each customer once: the purge locks the customer and
checks again inside its transaction, and records only what it erased (bot.analytics.privacy).
"""

from __future__ import annotations

import logging
import threading

from bot.analytics.privacy import SERVICE, PrivacyService

logger = logging.getLogger(__name__)

# The first purge waits this long after start-up, so that it does not compete with the first
# requests for the database.
FIRST_PURGE_SECONDS = 60.0


class RetentionSchedule:
    def __init__(
        self,
        privacy: PrivacyService,
        every_seconds: float,
        first_seconds: float = FIRST_PURGE_SECONDS,
    ) -> None:
        self.privacy = privacy
        self.every_seconds = every_seconds
        self.first_seconds = first_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="retention-purge")
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            # A purge under way finishes its customer's transaction first.
            self._thread.join(timeout=30)

    def _run(self) -> None:
        wait = self.first_seconds
        while not self._stopping.wait(wait):
            self._purge_safely()
            wait = self.every_seconds

    def _purge_safely(self) -> None:
        # This thread must outlive a database that is briefly down: the next round tries again.
        try:
            self.privacy.purge(by=SERVICE)
        except Exception:
            logger.warning("retention: the purge failed, will try again", exc_info=True)
