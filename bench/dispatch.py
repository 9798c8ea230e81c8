"""Plain group messages through App.handle, beside the commit-per-message style in the same run.

    .venv/bin/python bench/dispatch.py [messages] [--json]

Senders behave like members: 5 groups of 100 members, each group with the same 10,000-term word list
(bench/moderation.make_terms) loaded through the moderation repository; the clock advances 40 ms per
message (25 messages a second across the groups), each message comes from a random member of a random
group, so a member speaks about every 20 s, under the flood limits and the one-point-per-minute
cooldown; texts are real sentences (rules/data/innocent_zh.txt). Nothing is muted: the bench checks
that, and fails loudly if it is not so. The activity writer flushes inside the timed loop (every 500
rows, and whenever a unit of work takes the batch in).

Reported: mean µs per message through App.handle (steady state: the bot up for more than ten minutes,
and just started: the first ten minutes after a start), paying and non-paying messages apart; and the
baseline: the same messages written the way the bot did before the unit-of-work change, one
transaction per message through aiosqlite's thread (member, daily count; for a paying message the
nine-statement award), measured in this same run on the same machine.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite

from bench import figures
from bench.moderation import make_terms, messages
from bot import actions as A
from bot.app import App
from bot.clock import FakeClock, to_ms
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import Outbox, RateLimits
from handlers import default_features
from rules import detectors
from rules.engine import Rule, RuleSet
from storage.db import SqliteDatabase
from storage.moderation import ModerationRepo
from storage.points import periods
from tests.helpers import T0

GROUPS, MEMBERS, TERMS, STEP = 5, 100, 10_000, timedelta(milliseconds=40)


class CountingAdapter:
    platform = "bench"
    limits = RateLimits()

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}

    async def perform(self, action: A.Action) -> A.ActionResult:
        name = type(action).__name__
        self.kinds[name] = self.kinds.get(name, 0) + 1
        if name == "Send" and self.kinds[name] <= 3:
            print("bench: the bot said", getattr(action, "text", "")[:120], file=sys.stderr)
        return A.ActionResult(ok=True, message_id="1")

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        return False


async def started_app(db: SqliteDatabase, clock: FakeClock) -> tuple[App, CountingAdapter]:
    """The real App with every feature, a counting adapter and the manual scheduler."""
    adapter = CountingAdapter()
    outbox = Outbox()
    outbox.register(adapter)
    app = App(db, clock, outbox, default_features(), manual_scheduler=True)
    await app.start()
    return app, adapter


def ordinary() -> list[str]:
    """The bench's sentences less the disguised spam bench/moderation.py mixes in."""
    return [t for t in messages() if not detectors.contacts(t) and not detectors.links(t)]


def make_events(
    n: int, start: timedelta, seed: int, line: Callable[[int, int], str] | None = None
) -> list[MessagePosted]:
    """n messages from random members of random groups; `line(i, k)` is the text of the i-th message,
    the k-th its member says (default: the k-th of the bench's sentences)."""
    rng = random.Random(seed)
    texts = ordinary()
    if line is None:
        line = lambda _i, k: texts[k % len(texts)]  # noqa: E731
    chats = [ChatRef("bench", f"g{g}", f"G{g}") for g in range(GROUPS)]
    users = [[UserRef(f"u{g}-{m}", f"成员{m}") for m in range(MEMBERS)] for g in range(GROUPS)]
    said: dict[str, int] = {}
    out = []
    for i in range(n):
        g = rng.randrange(GROUPS)
        user = rng.choice(users[g])
        # each member works through the sentences in an order of their own: nobody repeats themself
        k = said[user.user_id] = said.get(user.user_id, rng.randrange(len(texts))) + 1
        out.append(
            MessagePosted(
                event_key=f"bench:{seed}:{i}",
                chat=chats[g],
                user=user,
                is_admin=False,
                at=T0 + start + STEP * i,
                message_id=str(i),
                text=line(i, k),
            )
        )
    return out


async def run_app(db: SqliteDatabase, events: list[MessagePosted], clock: FakeClock) -> dict[str, float]:
    app, adapter = await started_app(db, clock)
    for event in events[:50]:  # groups known, lists compiled: the steady state is what is measured
        clock.set(event.at)
        await app.handle(event)
    await app.writer.flush()
    paying: list[float] = []
    plain: list[float] = []
    total_start = time.perf_counter()
    for event in events[50:]:
        clock.set(event.at)
        before = app.writer.awards_total
        t = time.perf_counter()
        await app.handle(event)
        spent = time.perf_counter() - t
        (paying if app.writer.awards_total > before else plain).append(spent)
    await app.writer.flush()
    total = time.perf_counter() - total_start
    await app.stop()
    if adapter.kinds.get("Mute") or adapter.kinds.get("Delete"):
        raise SystemExit(f"the senders were punished, the bench measures nothing: {adapter.kinds}")
    n = len(paying) + len(plain)
    return {
        "mean_us": total / n * 1e6,
        "msg_per_s": n / total,
        "paying_mean_us": statistics.fmean(paying) * 1e6 if paying else 0.0,
        "plain_mean_us": statistics.fmean(plain) * 1e6 if plain else 0.0,
        "paying_share": len(paying) / n,
    }


async def baseline(path: str, events: list[MessagePosted], paying_every: int) -> float:
    """The old style: one transaction per message, each statement a hop to aiosqlite's thread."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    for i, e in enumerate(events):
        gid, user, at, day = int(e.chat.chat_id[1:]) + 1, e.user.user_id, to_ms(e.at), "2026-11-22"
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute(
            "INSERT INTO members (group_id, user_id, name, first_seen_at, last_seen_at, message_count) "
            "VALUES (?, ?, 'u', ?, ?, 1) ON CONFLICT (group_id, user_id) DO UPDATE SET "
            "last_seen_at = excluded.last_seen_at, message_count = members.message_count + 1",
            (gid, user, at, at),
        )
        await conn.execute(
            "INSERT INTO activity_daily (group_id, user_id, day, messages) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (group_id, day, user_id) DO UPDATE SET messages = activity_daily.messages + 1",
            (gid, user, day),
        )
        await conn.execute(
            "INSERT INTO processed_events (event_key, processed_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (e.event_key, at),
        )
        await conn.execute("COMMIT")
        if i % paying_every == 0:  # the old pay(): its own transaction of nine round trips
            await conn.execute("BEGIN IMMEDIATE")
            for _ in range(2):
                cur = await conn.execute(
                    "SELECT balance, earned FROM points_balance WHERE group_id = ? AND user_id = ?",
                    (gid, user),
                )
                await cur.fetchall()
            await conn.execute(
                "INSERT INTO points_ledger (group_id, user_id, delta, reason, source_key, actor, at, day, kind) "
                "VALUES (?, ?, 1, 'message', ?, NULL, ?, ?, 'earn') ON CONFLICT (source_key) DO NOTHING",
                (gid, user, e.event_key + ":base", at, day),
            )
            await conn.execute(
                "INSERT INTO points_balance (group_id, user_id, balance, earned) VALUES (?, ?, 1, 1) "
                "ON CONFLICT (group_id, user_id) DO UPDATE SET balance = points_balance.balance + 1, "
                "earned = points_balance.earned + 1",
                (gid, user),
            )
            await conn.executemany(
                "INSERT INTO points_period (group_id, period, user_id, earned) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (group_id, period, user_id) DO UPDATE SET earned = points_period.earned + 1",
                [(gid, p, user) for p in periods(day)],
            )
            await conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    await conn.close()
    return elapsed / len(events) * 1e6


def innocent_rules(n: int) -> list[Rule]:
    """n random terms, less the few that happen to occur in the bench's sentences: members here are
    well behaved, and a deleted message would measure the punishment path instead."""
    terms = make_terms(n + n // 10)
    probe = RuleSet([Rule(i, "literal", t, "delete") for i, t in enumerate(terms)])
    hit = {h.rule.id for text in ordinary() for h in probe.check(text)}
    return [Rule(0, "literal", t, "delete") for i, t in enumerate(terms) if i not in hit][:n]


async def measure(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.db"
        db = await SqliteDatabase.open(path)
        clock = FakeClock(T0)
        app = App(db, clock, Outbox(), default_features(), manual_scheduler=True)
        await app.start()
        rules = innocent_rules(TERMS)
        for g in range(GROUPS):
            group = await app.groups.ensure("bench", f"g{g}", f"G{g}", to_ms(T0))
            await ModerationRepo(db).add_rules(group.id, rules, "bench", to_ms(T0))
        await app.stop()
        steady = await run_app(db, make_events(n, timedelta(hours=1), 1), clock)
        clock2 = FakeClock(T0 + timedelta(hours=2))
        fresh = await run_app(db, make_events(n // 2, timedelta(hours=2), 2), clock2)
        await db.close()
        paying_every = max(1, round(1 / max(steady["paying_share"], 1e-9)))
        base = await baseline(path, make_events(n // 2, timedelta(hours=3), 3), paying_every)
    return {
        "messages": n,
        "terms_per_group": TERMS,
        "steady_mean_us": steady["mean_us"],
        "steady_msg_per_s": steady["msg_per_s"],
        "steady_paying_mean_us": steady["paying_mean_us"],
        "steady_plain_mean_us": steady["plain_mean_us"],
        "paying_share": steady["paying_share"],
        "just_started_mean_us": fresh["mean_us"],
        "baseline_commit_per_message_mean_us": base,
        "speedup_vs_baseline": base / steady["mean_us"],
    }


def report(r: dict[str, float]) -> None:
    base = r["baseline_commit_per_message_mean_us"]
    print(
        f"{r['messages']:,} plain messages, {GROUPS} groups × {MEMBERS} members, "
        f"{r['terms_per_group']:,} terms per group"
    )
    print(f"  baseline, commit per message (old style)  {base:8.1f} µs/msg  {1e6 / base:9,.0f} msg/s")
    print(
        f"  App.handle, steady state                  {r['steady_mean_us']:8.1f} µs/msg  "
        f"{r['steady_msg_per_s']:9,.0f} msg/s  ({r['speedup_vs_baseline']:.1f}x baseline)"
    )
    print(
        f"    paying messages ({r['paying_share']:.0%})                   "
        f"{r['steady_paying_mean_us']:8.1f} µs/msg"
    )
    print(f"    non-paying messages                     {r['steady_plain_mean_us']:8.1f} µs/msg")
    print(f"  App.handle, first 10 minutes after start  {r['just_started_mean_us']:8.1f} µs/msg")


def main() -> None:
    figures.begin()
    args = figures.args()
    r = asyncio.run(measure(int(args[0]) if args else 20_000))
    report(r)
    base = r["baseline_commit_per_message_mean_us"]
    figures.record(
        "plain messages, steady state",
        r["steady_mean_us"],
        "µs/msg",
        baseline=base,
        baseline_name="commit per message",
        goal="≤ 50 µs and ≥ 6x baseline",
    )
    figures.record("  paying messages", r["steady_paying_mean_us"], "µs/msg", baseline=base)
    figures.record("  non-paying messages", r["steady_plain_mean_us"], "µs/msg", baseline=base)
    figures.record("plain messages, just started", r["just_started_mean_us"], "µs/msg", baseline=base)
    figures.end("dispatch")


if __name__ == "__main__":
    main()
