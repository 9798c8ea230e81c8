"""The processed-event log that makes dispatch idempotent across redeliveries and restarts."""

from __future__ import annotations

from collections import OrderedDict

from storage.db import Database


class ProcessedEvents:
    """Remembers recent keys in memory; the database answers for older ones (after a restart).

    New keys are persisted through the activity writer's batch, which is flushed before the bot
    answers anything, so a key whose event had a visible effect is always durable.
    """

    # Platform timestamps may run ahead of ours; an event stamped later than our start by more than this
    # cannot have been handled by an earlier run, so the database need not be asked.
    CLOCK_SKEW_MS = 10 * 60 * 1000

    def __init__(self, db: Database, memory: int = 200_000, started_ms: int | None = None) -> None:
        self._db = db
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._memory = memory
        self._horizon_ms = None if started_ms is None else started_ms + self.CLOCK_SKEW_MS

    async def seen(self, event_key: str, at_ms: int | None = None) -> bool:
        """True if already processed (or being processed); otherwise marks it as taken.

        Events from before this run (plus clock skew) are checked against the database too; newer ones
        only against memory, which keeps a read off the hot path once the bot has been up a few minutes.
        """
        if event_key in self._recent:
            return True
        self._remember(event_key)  # before the await, so a concurrent duplicate is refused too
        if self._horizon_ms is not None and at_ms is not None and at_ms >= self._horizon_ms:
            return False
        found = await self._db.fetchval("SELECT 1 FROM processed_events WHERE event_key = ?", event_key)
        return found is not None

    def begin(self, started_ms: int) -> None:
        """Called when the bot starts: events stamped well after this are new to the database."""
        self._horizon_ms = started_ms + self.CLOCK_SKEW_MS

    async def record(self, event_key: str, at_ms: int) -> None:
        """Persist a key inside its unit's transaction (units that open none leave it to the batch)."""
        await self._db.execute(
            "INSERT INTO processed_events (event_key, processed_at) VALUES (?, ?) "
            "ON CONFLICT (event_key) DO NOTHING",
            event_key,
            at_ms,
        )

    def forget(self, event_key: str) -> None:
        """A unit that failed before its commit left nothing: a redelivery must be handled in full."""
        self._recent.pop(event_key, None)

    def _remember(self, event_key: str) -> None:
        self._recent[event_key] = None
        if len(self._recent) > self._memory:
            self._recent.popitem(last=False)

    async def prune(self, older_than_ms: int) -> int:
        return await self._db.execute_rowcount(
            "DELETE FROM processed_events WHERE processed_at < ?", older_than_ms
        )
