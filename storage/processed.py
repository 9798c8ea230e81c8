"""The processed-event log that makes dispatch idempotent across redeliveries and restarts."""

from __future__ import annotations

from storage.db import Database


class ProcessedEvents:
    """Remembers recent keys in memory; what earlier runs handled is loaded once, at start.

    Keys are persisted with their unit of work (or, for plain messages, the activity batch). Memory
    holds 64-bit hashes of keys, not the keys: a tenth of the size, and with 200,000 of them the chance
    that two distinct keys share a hash is about one in a billion (which would drop one event).

    After a restart a redelivered update carries its original timestamp. Keys stamped in the last
    `LOOKBACK_MS` before the start (Telegram keeps an unconfirmed update for a day) are read in one query
    at start, up to `LOADED_MAX`; only an event older than what was loaded costs a database read.
    """

    # Platform timestamps may run ahead of ours; an event stamped later than our start by more than this
    # cannot have been handled by an earlier run, so nothing need be asked.
    CLOCK_SKEW_MS = 10 * 60 * 1000
    LOOKBACK_MS = 24 * 3600 * 1000
    LOADED_MAX = 200_000

    def __init__(self, db: Database, memory: int = 200_000, started_ms: int | None = None) -> None:
        self._db = db
        self._recent: dict[int, None] = {}
        self._memory = memory
        self._horizon_ms = None if started_ms is None else started_ms + self.CLOCK_SKEW_MS
        self._earlier: set[int] = set()
        self._earlier_from: int | None = None  # events stamped at or after this were loaded at start

    async def seen(self, event_key: str, at_ms: int | None = None) -> bool:
        """True if already processed (or being processed); otherwise marks it as taken."""
        h = hash(event_key)
        if h in self._recent:
            return True
        self._remember(h)  # before any await, so a concurrent duplicate is refused too
        if at_ms is not None:
            if self._horizon_ms is not None and at_ms >= self._horizon_ms:
                return False
            if self._earlier_from is not None and at_ms >= self._earlier_from:
                return h in self._earlier
        found = await self._db.fetchval("SELECT 1 FROM processed_events WHERE event_key = ?", event_key)
        return found is not None

    async def begin(self, started_ms: int) -> None:
        """At start: events stamped well after this are new; the keys of the day before it are loaded."""
        self._horizon_ms = started_ms + self.CLOCK_SKEW_MS
        since = started_ms - self.LOOKBACK_MS
        rows = await self._db.fetchall(
            "SELECT event_key, processed_at FROM processed_events WHERE processed_at >= ? "
            "ORDER BY processed_at DESC LIMIT ?",
            since,
            self.LOADED_MAX,
        )
        self._earlier = {hash(r[0]) for r in rows}
        # Cut short by the cap: only as far back as what was loaded (the oldest second may be partial).
        self._earlier_from = since if len(rows) < self.LOADED_MAX else int(rows[-1][1]) + 1

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
        self._recent.pop(hash(event_key), None)

    def _remember(self, h: int) -> None:
        self._recent[h] = None
        if len(self._recent) > self._memory:
            del self._recent[next(iter(self._recent))]

    async def prune(self, older_than_ms: int) -> int:
        return await self._db.execute_rowcount(
            "DELETE FROM processed_events WHERE processed_at < ?", older_than_ms
        )
