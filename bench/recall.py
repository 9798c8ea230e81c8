"""Dormant-member recall at scale, beside baselines from the same run.

    .venv/bin/python bench/recall.py [members] [nudges] [--json]

1. The daily selection for one group of `members` members (default 200,000), a third of them silent,
   a fifth of those nudged before: `RecallRepo.due` (the members index on (group, last activity) beside
   a primary-key probe of each one's episode), beside the same query made to scan the table
   (`NOT INDEXED`). Goal: under 50 ms.
2. Sending `nudges` DMs (default 5,000) through the real scan job, the real outbox and a fake platform
   that enforces Telegram's limits the way the Bot API counts them (at most 30 messages in any one
   second overall, 20 a minute in one group; anything more gets a 429 with retry_after). Reported: the
   sending rate as a share of the limit (goal ≥ 90%), nudges lost (goal 0), 429s (goal 0), and how long
   a command in another group waits for its answer while the nudges go out, beside the same command
   with nothing else being sent.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.points import timed
from bot import actions as A
from bot.app import App
from bot.clock import FakeClock, to_ms
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import TELEGRAM_LIMITS, Outbox
from handlers import default_features
from storage.db import SqliteDatabase
from storage.recall import DUE_SQL, RecallRepo
from tests.helpers import SHANGHAI

DAY_MS = 86_400_000
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)
SCAN = datetime(2026, 11, 29, 20, 0, tzinfo=SHANGHAI)


class TelegramLimits:
    """A platform that answers 429 the moment a call would break Telegram's published limits."""

    platform = "bench"
    limits = TELEGRAM_LIMITS
    dm_opt_in = False  # every member reachable: the bench is about the sending

    def __init__(self) -> None:
        self.recent: deque[float] = deque()
        self.per_chat: dict[str, deque[float]] = {}
        self.delivered: list[A.Action] = []
        self.rejected = 0
        self.replied = asyncio.Event()

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        return False

    async def perform(self, action: A.Action) -> A.ActionResult:
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if len(self.recent) >= 30:
            self.rejected += 1
            raise A.RetryAfter(1)
        if not isinstance(action, A.DirectMessage):
            chat = self.per_chat.setdefault(action.chat.chat_id, deque())
            while chat and now - chat[0] >= 60.0:
                chat.popleft()
            if len(chat) >= 20:
                self.rejected += 1
                raise A.RetryAfter(3)
            chat.append(now)
        self.recent.append(now)
        self.delivered.append(action)
        if isinstance(action, A.Reply):
            self.replied.set()
        return A.ActionResult(ok=True, message_id=str(len(self.delivered)))


def message(chat: str, user: str, text: str, at: datetime, n: int) -> MessagePosted:
    return MessagePosted(
        event_key=f"b:{chat}:{n}",
        chat=ChatRef("bench", chat, chat),
        user=UserRef(user, user),
        is_admin=user == "admin",
        at=at,
        message_id=str(n),
        text=text,
    )


async def selection(members: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/sel.db")
        try:
            clock = FakeClock(SCAN)
            app = App(db, clock, Outbox(), default_features(), manual_scheduler=True)
            await app.start()
            now = to_ms(SCAN)
            gid = (await app.groups.ensure("bench", "big", "big", now)).id
            rows, state = [], []
            for i in range(members):
                silent = i % 3 == 0
                seen = now - (8 + i % 20) * DAY_MS if silent else now - (i % 6) * DAY_MS - 60_000
                rows.append((gid, f"u{i}", f"u{i}", None, 0, seen - DAY_MS, seen, 1))
                if silent and i % 5 == 0:  # nudged before in this episode, next one due later
                    state.append((gid, f"u{i}", seen, 1, now - DAY_MS, now + 6 * DAY_MS))
            await db.executemany(
                "INSERT INTO members (group_id, user_id, name, username, is_bot, first_seen_at, last_seen_at, "
                "message_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            await db.executemany(
                "INSERT INTO recall_state (group_id, user_id, episode, nudges, last_at, due_at) VALUES (?, ?, ?, ?, ?, ?)",
                state,
            )
            await db.execute("ANALYZE")
            repo = RecallRepo(db)
            args = {
                "now_ms": now,
                "silent_before": now - 7 * DAY_MS,
                "lost_before": now - 30 * DAY_MS,
                "joined_before": now - 7 * DAY_MS,
                "limit": 5_000,
            }
            found = await repo.due(gid, **args)  # type: ignore[arg-type]
            ms = await timed(5)(lambda: repo.due(gid, **args))  # type: ignore[arg-type]
            base = await timed(3)(lambda: _due_scanning(db, gid, args))
            print(
                f"selection: {len(found)} due of {members} members in {ms:.1f} ms (table scan {base:.1f} ms)"
            )
            figures.record(
                f"daily selection, {members:,} members (5,000 due)",
                ms,
                "ms",
                baseline=base,
                baseline_name="same query, table scan",
                goal="< 50 ms",
            )
            await app.stop()
        finally:
            await db.close()


async def _due_scanning(db: SqliteDatabase, gid: int, a: dict[str, int]) -> list[object]:
    """RecallRepo.due's query with the members index out of play: what it costs without it."""
    return await db.fetchall(
        DUE_SQL.replace("FROM members m ", "FROM members m NOT INDEXED ", 1),
        gid,
        a["silent_before"],
        a["lost_before"],
        a["joined_before"],
        a["now_ms"],
        a["limit"],
    )


async def sending(nudges: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/send.db")
        try:
            clock = FakeClock(T0)
            fake = TelegramLimits()
            outbox = Outbox()
            outbox.register(fake)
            app = App(db, clock, outbox, default_features(), manual_scheduler=True)
            await app.start()
            n = 0
            for cmd in ("/recall on", "/set recall.holdout_percent 0", f"/set recall.max_per_day {nudges}"):
                n += 1
                await app.handle(message("big", "admin", cmd, clock.now(), n))
            gid = (await app.groups.get("bench", "big")).id  # type: ignore[union-attr]
            for i in range(nudges):
                await app.writer.touch(
                    gid, f"u{i}", name=f"u{i}", username=None, is_bot=False, at_ms=to_ms(T0)
                )
            await app.writer.flush()

            async def ask(k: int) -> float:
                """/me in another group, by a different member each time: how long until its answer goes out."""
                fake.replied.clear()
                start = time.perf_counter()
                # a different member in one of 100 other groups each time: a member repeating
                # /me is moderated, and one group may not get more than 20 messages a minute
                await app.handle(message(f"other{k % 100}", f"asker{k}", "/me", clock.now(), 1_000_000 + k))
                await fake.replied.wait()
                return (time.perf_counter() - start) * 1000

            quiet = [await ask(k) for k in range(20)]
            await asyncio.sleep(1.1)
            fake.rejected, fake.delivered = 0, []
            await app.scheduler.advance_to(SCAN - timedelta(minutes=1))
            start = time.perf_counter()
            scan = asyncio.create_task(app.scheduler.advance_to(SCAN))
            busy: list[float] = []
            k = 100
            while not scan.done():
                await asyncio.sleep(0.5)
                if not scan.done():
                    k += 1
                    busy.append(await ask(k))
            await scan
            took = time.perf_counter() - start
            dms = sum(1 for a in fake.delivered if isinstance(a, A.DirectMessage))
            share = (dms / TELEGRAM_LIMITS.overall_per_second) / took * 100  # type: ignore[operator]
            sent = await db.fetchval(
                "SELECT COUNT(*) FROM recall_nudges WHERE group_id = ? AND status = 'sent'", gid
            )
            print(
                f"sending: {dms} DMs in {took:.1f} s = {dms / took:.1f}/s ({share:.1f}% of 30/s); "
                f"recorded sent {sent}; 429s {fake.rejected}; command answer p50 {statistics.median(busy):.1f} ms "
                f"while sending vs {statistics.median(quiet):.1f} ms idle (p95 {_p95(busy):.1f} / {_p95(quiet):.1f})"
            )
            figures.record(f"{nudges:,} nudges: rate as share of 30/s", share, "%", goal=">= 90%")
            figures.record("nudges lost", float(nudges - dms), "", goal="0")
            figures.record("429s from the platform", float(fake.rejected), "", goal="0")
            figures.record(
                "a command elsewhere, answered (p95)",
                _p95(busy),
                "ms",
                baseline=_p95(quiet),
                baseline_name="idle",
            )
            await app.stop()
        finally:
            await db.close()


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] if ordered else 0.0


async def main() -> None:
    figures.begin()
    args = figures.args()
    members = int(args[0]) if args else 200_000
    nudges = int(args[1]) if len(args) > 1 else 5_000
    await selection(members)
    await sending(nudges)
    figures.end("recall")


if __name__ == "__main__":
    asyncio.run(main())
