"""Kill the process at every point of an event, restart, redeliver: the end state is the uncrashed one.

`bot.faults` marks every point where a `kill -9` would leave a different state: before each statement,
around each commit, around each platform call. For each scenario the test first counts those points
in an uncrashed run, then, for every k, replays the scenario on a fresh database, dies at the k-th
point (a BaseException no handler can swallow), abandons that process without any clean-up (its
pending batch is lost, as in a real kill), starts a new one on the same database file (which sends
what the outbox holds) and redelivers the event, as both platforms do for an update nobody confirmed.

What must hold for every k: the database equals the uncrashed run's, the outbox is empty, and every
action the uncrashed run sent was sent (an action sent just before the kill may go out twice: at
least once, as docs/architecture.md says). These scenarios are the four halves-of-an-event the
probing found: a join, a check-in that completes an onboarding task, a verification start, a redeem.
SQLite only: PostgreSQL sequences are not transactional, so ids would differ between runs though the
guarantee is the same code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot import actions as A
from bot import faults
from bot.events import Event
from storage.db import SqliteDatabase
from tests.helpers import Harness

LATER = timedelta(minutes=10)  # greetings, deadlines: what the event set in motion also happens
Setup = Callable[[Harness], Awaitable[Event]]

_SKIP_TABLES = {"schema_migrations", "sqlite_sequence", "platform_syncs"}


async def _join_setup(h: Harness) -> Event:
    await h.say("carol", "/rules 友善交流", admin=True)
    return h.join_event("alice")


async def _checkin_setup(h: Harness) -> Event:
    await h.join("alice")  # a newcomer: the first check-in is an onboarding task, paid on completion
    return h.message("alice", "签到")


async def _verify_setup(h: Harness) -> Event:
    await h.say("carol", "/verify button 3", admin=True)
    return h.join_event("alice")


async def _redeem_setup(h: Harness) -> Event:
    await h.say("carol", "/shop add 贴纸 30 5", admin=True)
    await h.say("alice", "签到")
    await h.say("carol", "/points give @alice 100", admin=True)
    return h.message("alice", "/redeem 贴纸")


SCENARIOS: dict[str, Setup] = {
    "join": _join_setup,
    "checkin_with_task": _checkin_setup,
    "verification_start": _verify_setup,
    "redeem_with_notice": _redeem_setup,
}


def _signature(action: A.Action) -> tuple[str, str]:
    text = getattr(action, "text", "") or getattr(action, "user_id", "")
    return type(action).__name__, str(text)


async def _snapshot(db: SqliteDatabase) -> dict[str, list[tuple[object, ...]]]:
    tables = [
        r[0]
        for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if r[0] not in _SKIP_TABLES
    ]
    out = {}
    for table in tables:
        rows = await db.fetchall(f"SELECT * FROM {table}")
        # The fake platform numbers messages in sending order, so an id the bot keeps (the last greeting,
        # a challenge) differs by one when an action went out twice; whether one is kept is compared.
        out[table] = sorted(
            (tuple(_id_kept(k, r[k]) for k in r.keys()) for r in rows),
            key=repr,
        )
    return out


def _id_kept(column: str, value: object) -> object:
    return value is not None if column in ("last_message_id", "message_id") else value


async def _fresh(path: Path) -> tuple[Harness, SqliteDatabase]:
    db = await SqliteDatabase.open(str(path))
    return await Harness(db).start(), db


def _abandon(h: Harness) -> None:
    """What a kill leaves: no flush of the pending batch, no stop, nothing."""
    task = h.app.writer._task
    if task is not None:
        task.cancel()


async def _run(tmp_path: Path, name: str, kill_at: int | None) -> tuple[dict, list[tuple[str, str]], int]:
    path = tmp_path / f"{name}-{kill_at}.db"
    h, db = await _fresh(path)
    event = await SCENARIOS[name](h)
    h.take()
    if kill_at is None:
        faults.count()
        await h.app.handle(event)
        points = faults.disarm()
        await h.advance(LATER)
        sent = [_signature(a) for a in h.take()]
        await h.stop()
        snap = await _snapshot(db)
        await db.close()
        return snap, sent, points
    faults.arm(kill_at)
    try:
        await h.app.handle(event)
    except faults.Killed:
        pass
    finally:
        faults.disarm()
    sent = [_signature(a) for a in h.take()]
    _abandon(h)
    await db.close()
    # the next process: same database file and clock, new memory; the platform redelivers the event
    db2 = await SqliteDatabase.open(str(path))
    h2 = Harness(db2, start=h.clock.now())
    h2.adapter = h.adapter
    h2.outbox = h.outbox
    h2.app.outbox = h.outbox
    await h2.start()
    await h2.app.handle(event)
    await h2.advance(LATER)
    sent += [_signature(a) for a in h2.take()]
    await h2.stop()
    snap = await _snapshot(db2)
    await db2.close()
    return snap, sent, 0


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_kill_at_any_point_leaves_all_or_nothing(tmp_path: Path, name: str) -> None:
    reference, ref_sent, points = await _run(tmp_path, name, None)
    assert points >= 5, points  # the scenario really passes through statements, a commit and sends
    assert not reference["outbox"]
    for k in range(1, points + 1):
        snap, sent, _ = await _run(tmp_path, name, k)
        assert not snap["outbox"], (name, k)
        differing = [t for t in reference if snap.get(t) != reference[t]]
        assert not differing, repr((name, k, {t: (reference[t], snap.get(t)) for t in differing}))
        counts, ref_counts = Counter(sent), Counter(ref_sent)
        assert set(counts) == set(ref_counts), (name, k, ref_sent, sent)
        extra = counts - ref_counts
        assert sum(extra.values()) <= 1, (name, k, extra)  # only the one in flight when killed


async def test_a_full_batch_flushed_by_a_closing_unit_is_committed(tmp_path: Path) -> None:
    """A plain message whose key fills the activity batch: the writer's flush commits it then (it once
    opened the closing unit's transaction instead, which nobody committed)."""
    for max_rows in range(2, 9):  # some of these sizes fill up exactly at a message's key
        path = tmp_path / f"batch{max_rows}.db"
        db = await SqliteDatabase.open(str(path))
        h = await Harness(db).start()
        h.app.writer._max_rows = max_rows
        for i in range(6):
            await h.say(f"m{i % 3}", f"大家好，我是第 {i} 位新朋友")
            assert not db.in_transaction(), (max_rows, i)
        await db.close()
