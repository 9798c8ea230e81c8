"""Batched writes of plain messages: last seen, daily and hourly message counts, processed-event keys,
the points messages earn, and the FAQ's figure rows for questions it did not answer (a member's
question is a plain message too: counting it must not cost a commit).

A commit per message tops out near 7,000 messages/s; one commit per batch of a few hundred rows, or
every quarter second, keeps the hot path off the disk. A unit of work that opens a transaction takes
the pending batch into it first (bot/unit.py), so whatever a member is told about is on disk with it.
A kill loses at most the rows of the current batch: activity, and message points that nobody was told
about (their keys are lost with them, so a redelivered message is handled, and paid, again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.faq import FAQ_LOG_INSERT
from storage.points import Award, award_many

log = logging.getLogger(__name__)


RETRY_PAUSES = (0.05, 0.25, 1.0)  # seconds between attempts at a batch that failed for a transient reason


@dataclass(slots=True)
class _Touch:
    name: str
    username: str | None
    is_bot: int
    first_ms: int
    last_ms: int
    messages: int


_Row = tuple[str, Any, Any]  # (kind, key, value): one row of a batch, so a batch can be split


class ActivityWriter:
    def __init__(self, db: Database, *, max_rows: int = 500, interval: float = 0.25) -> None:
        self._db = db
        self._max_rows = max_rows
        self._interval = interval
        self._keys: list[tuple[str, int]] = []
        self._members: dict[tuple[int, str], _Touch] = {}
        self._daily: dict[tuple[int, str, str], int] = {}
        self._hourly: dict[tuple[int, str, int], int] = {}
        self._awards: list[Award] = []
        self._faq: list[tuple[Any, ...]] = []
        self.awards_total = 0  # awards taken in since start (benches tell paying messages apart by it)
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.dropped = 0  # rows the database refused and that were logged and dropped

    @property
    def pending(self) -> int:
        return (
            len(self._keys)
            + len(self._members)
            + len(self._daily)
            + len(self._hourly)
            + len(self._awards)
            + len(self._faq)
        )

    async def mark_processed(self, event_key: str, at_ms: int) -> None:
        self._keys.append((event_key, at_ms))
        await self._maybe_flush()

    async def award(self, award: Award) -> None:
        """Points for a plain message, written with the batch (idempotent on its source key)."""
        self._awards.append(award)
        self.awards_total += 1
        await self._maybe_flush()

    async def faq(self, row: tuple[Any, ...]) -> None:
        """A `faq_log` row (made by storage.faq.log_row) that only the figures read."""
        self._faq.append(row)
        await self._maybe_flush()

    async def touch(
        self,
        group_id: int,
        user_id: str,
        *,
        name: str,
        username: str | None,
        is_bot: bool,
        at_ms: int,
        day: str | None = None,
        hour: int | None = None,
    ) -> None:
        """Record that a member was active; with `day`/`hour`, that they posted a message."""
        posted = day is not None
        entry = self._members.get((group_id, user_id))
        if entry is None:
            self._members[(group_id, user_id)] = _Touch(
                name, username, int(is_bot), at_ms, at_ms, int(posted)
            )
        else:
            entry.name, entry.username = name, username
            entry.last_ms = max(entry.last_ms, at_ms)
            entry.messages += int(posted)
        if day is not None:
            self._daily[(group_id, user_id, day)] = self._daily.get((group_id, user_id, day), 0) + 1
            if hour is not None:
                self._hourly[(group_id, day, hour)] = self._hourly.get((group_id, day, hour), 0) + 1
        await self._maybe_flush()

    async def _maybe_flush(self) -> None:
        if self.pending >= self._max_rows:
            await self.flush()

    async def flush(self) -> None:
        """Write everything pending in one transaction of its own.

        Inside an open unit of work this does nothing: the unit takes the batch into its own
        transaction. A transient failure (a lock, a lost connection) is retried a few times, then the
        batch is put back and the error raised. A row the database refuses (a value it cannot store)
        must not hold up the others: the batch is split in halves until that row stands alone, and then
        it is logged and dropped.
        """
        if self._db.in_transaction():
            return
        # One flush at a time: a flush that found the batch already taken by another (the timer's) must
        # still return only once those rows are written, or a reader that flushed first (settle, the
        # digest) would read without them.
        async with self._flushing:
            rows = self.take()
            if rows:
                await self._write_isolating(rows)

    def take(self) -> list[_Row]:
        """Everything pending, as rows; the writer forgets them (put them back with `requeue`)."""
        if not self.pending:
            return []
        keys, members, daily, hourly, awards, faq = (
            self._keys,
            self._members,
            self._daily,
            self._hourly,
            self._awards,
            self._faq,
        )
        self._keys, self._members, self._daily, self._hourly, self._awards, self._faq = [], {}, {}, {}, [], []
        rows: list[_Row] = [("key", k, None) for k in keys]
        rows += [("member", k, t) for k, t in members.items()]
        rows += [("daily", k, n) for k, n in daily.items()]
        rows += [("hourly", k, n) for k, n in hourly.items()]
        rows += [("award", a.source_key, a) for a in awards]
        rows += [("faq", None, r) for r in faq]
        return rows

    async def _write_isolating(self, rows: list[_Row]) -> None:
        """Write `rows`, halving any chunk the database refuses; on a transient failure put back exactly
        what is not written yet (counts are additive: a written row must never be written twice)."""
        chunks = [rows]
        while chunks:
            chunk = chunks.pop()
            try:
                await self._write_retrying(chunk)
            except BaseException as exc:
                if not isinstance(exc, Exception) or self._db.is_transient(exc):  # cancelled, or retry later
                    log.exception("activity flush failed; the unwritten rows are kept and retried")
                    self.requeue([row for c in (*chunks, chunk) for row in c])
                    raise
                if len(chunk) == 1:
                    self.dropped += 1
                    log.error("activity row dropped, the database refuses it: %r (%s)", chunk[0][:2], exc)
                    continue
                half = len(chunk) // 2
                chunks += [chunk[half:], chunk[:half]]

    async def _write_retrying(self, rows: list[_Row]) -> None:
        for attempt, pause in enumerate((*RETRY_PAUSES, None)):
            try:
                async with self._db.transaction():
                    await self.write(rows)
                return
            except Exception as exc:
                if pause is None or not self._db.is_transient(exc):
                    raise
                log.warning("activity flush attempt %d failed (%s); retrying", attempt + 1, exc)
                await asyncio.sleep(pause)

    async def write(self, rows: list[_Row]) -> None:
        """Write rows inside the caller's transaction."""
        keys = [k for kind, k, _ in rows if kind == "key"]
        members = [(k, v) for kind, k, v in rows if kind == "member"]
        daily = [(k, v) for kind, k, v in rows if kind == "daily"]
        hourly = [(k, v) for kind, k, v in rows if kind == "hourly"]
        awards = [v for kind, _, v in rows if kind == "award"]
        faq = [v for kind, _, v in rows if kind == "faq"]
        tx = self._db
        if keys:
            await tx.executemany(
                "INSERT INTO processed_events (event_key, processed_at) VALUES (?, ?) "
                "ON CONFLICT (event_key) DO NOTHING",
                keys,
            )
        if members:
            await tx.executemany(
                "INSERT INTO members (group_id, user_id, name, username, is_bot, first_seen_at, "
                "last_seen_at, message_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, user_id) DO UPDATE SET name = excluded.name, "
                "username = excluded.username, "
                "last_seen_at = CASE WHEN excluded.last_seen_at > members.last_seen_at "
                "THEN excluded.last_seen_at ELSE members.last_seen_at END, "
                "message_count = members.message_count + excluded.message_count",
                [
                    (g, u, t.name, t.username, t.is_bot, t.first_ms, t.last_ms, t.messages)
                    for (g, u), t in members
                ],
            )
        if daily:
            await tx.executemany(
                "INSERT INTO activity_daily (group_id, user_id, day, messages) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (group_id, day, user_id) DO UPDATE SET "
                "messages = activity_daily.messages + excluded.messages",
                [(g, u, d, n) for (g, u, d), n in daily],
            )
        if hourly:
            await tx.executemany(
                "INSERT INTO activity_hourly (group_id, day, hour, messages) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (group_id, day, hour) DO UPDATE SET "
                "messages = activity_hourly.messages + excluded.messages",
                [(g, d, h, n) for (g, d, h), n in hourly],
            )
        if awards:
            await award_many(self._db, awards)
        if faq:
            await tx.executemany(FAQ_LOG_INSERT, faq)

    def requeue(self, rows: list[_Row]) -> None:
        keys: list[tuple[str, int]] = []
        for kind, key, value in rows:
            if kind == "key":
                keys.append(key)
            elif kind == "member":
                cur = self._members.get(key)
                if cur is None:
                    self._members[key] = value
                else:
                    cur.first_ms = min(cur.first_ms, value.first_ms)
                    cur.messages += value.messages
            elif kind == "daily":
                self._daily[key] = self._daily.get(key, 0) + value
            elif kind == "award":
                self._awards.append(value)
            elif kind == "faq":
                self._faq.append(value)
            else:
                self._hourly[key] = self._hourly.get(key, 0) + value
        self._keys = keys + self._keys

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="activity-writer")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # already logged; keep the loop alive
                pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:  # already logged; stopping must not fail because the database is down
            log.error("activity writer stopped with %d rows unwritten", self.pending)
