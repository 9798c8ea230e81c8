"""The processed-event log that makes dispatch idempotent across redeliveries and restarts."""

from __future__ import annotations

from collections import OrderedDict

from storage.db import Database


class ProcessedEvents:
    """Remembers recent keys in memory; the database answers for older ones (after a restart).

    New keys are persisted through the activity writer's batch, which is flushed before the bot
    answers anything, so a key whose event had a visible effect is always durable.
    """

    def __init__(self, db: Database, memory: int = 50_000) -> None:
        self._db = db
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._memory = memory

    async def seen(self, event_key: str) -> bool:
        """True if already processed (or being processed); otherwise marks it as taken."""
        if event_key in self._recent:
            return True
        self._remember(event_key)  # before the await, so a concurrent duplicate is refused too
        found = await self._db.fetchval("SELECT 1 FROM processed_events WHERE event_key = ?", event_key)
        return found is not None

    def _remember(self, event_key: str) -> None:
        self._recent[event_key] = None
        if len(self._recent) > self._memory:
            self._recent.popitem(last=False)

    async def prune(self, older_than_ms: int) -> int:
        return await self._db.execute_rowcount(
            "DELETE FROM processed_events WHERE processed_at < ?", older_than_ms
        )
