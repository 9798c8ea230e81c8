"""SQLite's write lock held by another connection (a backup, a migration, a second bot) never stalls the
event loop: our statements wait for it with `asyncio.sleep`, not inside sqlite3 on the loop's thread.

Each test holds the lock from a second, plain sqlite3 connection to the same file and releases it from a
timer thread (as another process would, whatever our loop does), while a ticker waking every 20 ms
records the gaps between its wake-ups: on a loop blocked in sqlite3's busy handler a gap is as long as
the lock is held.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from bot.events import CommandInvoked
from storage.db import SqliteDatabase
from tests.helpers import Harness

TICK = 0.02
MAX_GAP = 0.6  # a responsive loop wakes the ticker within this even on a loaded CI machine; a loop
# blocked in sqlite3 stalls for the whole 1.5 s hold
HOLD = 1.5  # seconds the other connection keeps the write lock


@contextmanager
def held_lock(path: Path, seconds: float | None) -> Iterator[sqlite3.Connection]:
    """Another connection takes SQLite's write lock now and commits after `seconds` (or at the end)."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE IF NOT EXISTS other_side (x INTEGER)")
    other.execute("INSERT INTO other_side VALUES (1)")
    timer = threading.Timer(seconds or 0, other.execute, ("COMMIT",))
    if seconds is not None:
        timer.start()
    try:
        yield other
    finally:
        if seconds is not None:
            timer.cancel()
            timer.join()
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()


@asynccontextmanager
async def ticking() -> AsyncIterator[list[float]]:
    """Yields the list of gaps between the ticker's wake-ups (complete when the block ends)."""
    gaps: list[float] = []
    loop = asyncio.get_running_loop()
    last = [loop.time()]

    async def tick() -> None:
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            gaps.append(now - last[0])
            last[0] = now

    task = asyncio.create_task(tick())
    await asyncio.sleep(0)  # let it start before the block runs
    try:
        yield gaps
    finally:
        gaps.append(loop.time() - last[0])  # a stall up to the block's end counts too
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


Busy = tuple[SqliteDatabase, Path]


@pytest.fixture
async def busy(tmp_path: Path) -> AsyncIterator[Busy]:
    """Our database on a file (closed even when a test fails: its worker thread would keep the
    process alive) and that file's path, for the other connection."""
    path = tmp_path / "busy.db"
    db = await SqliteDatabase.open(str(path))
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    yield db, path
    await db.close()


async def test_a_write_waits_for_the_lock_without_blocking_the_loop(busy: Busy) -> None:
    db, path = busy
    loop = asyncio.get_running_loop()
    with held_lock(path, HOLD):
        async with ticking() as gaps:
            started = loop.time()
            await db.execute("INSERT INTO t (k, n) VALUES (?, ?)", "a", 1)
            waited = loop.time() - started
    assert waited >= HOLD - 0.1, f"the write did not wait for the lock ({waited:.2f} s)"
    assert max(gaps) < MAX_GAP, f"the event loop stalled for {max(gaps):.2f} s"
    assert await db.fetchval("SELECT n FROM t WHERE k = 'a'") == 1
    assert await db.fetchval("SELECT COUNT(*) FROM other_side") == 1  # the other side's commit stands


async def test_a_transaction_waits_for_begin_without_blocking_the_loop(busy: Busy) -> None:
    db, path = busy
    with held_lock(path, HOLD):
        async with ticking() as gaps:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t (k, n) VALUES (?, ?)", "a", 1)
                await tx.executemany("INSERT INTO t (k, n) VALUES (?, ?)", [("b", 2), ("c", 3)])
    assert max(gaps) < MAX_GAP, f"the event loop stalled for {max(gaps):.2f} s"
    assert [tuple(r) for r in await db.fetchall("SELECT k, n FROM t ORDER BY k")] == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
    ]


async def test_executemany_outside_a_transaction_is_written_once(busy: Busy) -> None:
    """Refused at its first row, it is run again whole: every row exactly once (a second insert of a
    key would fail on the primary key)."""
    db, path = busy
    rows = [(f"k{i}", i) for i in range(50)]
    with held_lock(path, 0.3):
        async with ticking() as gaps:
            await db.executemany("INSERT INTO t (k, n) VALUES (?, ?)", rows)
    assert max(gaps) < MAX_GAP
    assert await db.fetchval("SELECT COUNT(*) FROM t") == 50


async def test_reads_do_not_wait_and_writes_keep_their_order(busy: Busy) -> None:
    """WAL readers are not blocked by another writer; a second write from another task queues behind
    the waiting one instead of overtaking it."""
    db, path = busy
    loop = asyncio.get_running_loop()
    with held_lock(path, 0.5):
        started = loop.time()
        assert await db.fetchval("SELECT COUNT(*) FROM t") == 0
        assert loop.time() - started < 0.1, "a read waited for another connection's write lock"
        first = asyncio.create_task(db.execute("INSERT INTO t (k, n) VALUES ('first', 1)"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(db.execute("INSERT INTO t (k, n) VALUES ('second', 2)"))
        await asyncio.gather(first, second)
    order = [r[0] for r in await db.fetchall("SELECT k FROM t ORDER BY rowid")]
    assert order == ["first", "second"]


async def test_a_lock_held_past_the_budget_fails_with_a_transient_error(busy: Busy) -> None:
    db, path = busy
    db.busy_budget = 0.5
    loop = asyncio.get_running_loop()
    with held_lock(path, 2.5):
        async with ticking() as gaps:
            started = loop.time()
            with pytest.raises(sqlite3.OperationalError) as write_err:
                await db.execute("INSERT INTO t (k, n) VALUES ('late', 1)")
            gave_up = loop.time() - started
            with pytest.raises(sqlite3.OperationalError) as begin_err:
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO t (k, n) VALUES ('late', 2)")
    assert max(gaps) < MAX_GAP, f"the event loop stalled for {max(gaps):.2f} s"
    assert 0.4 <= gave_up < 2.0, f"gave up after {gave_up:.2f} s, the budget is 0.5 s (the lock: 2.5 s)"
    for err in (write_err.value, begin_err.value):
        assert "locked" in str(err)
        assert db.is_transient(err)
    # nothing is left half-open: once the lock is free, the connection works as before
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t (k, n) VALUES ('after', 3)")
    assert [r[0] for r in await db.fetchall("SELECT k FROM t")] == ["after"]


async def test_a_command_through_the_app_while_another_connection_writes(
    sqlite_db: SqliteDatabase, tmp_path: Path
) -> None:
    """The QA case: a native /me while a backup holds the lock. The loop keeps running (Discord's
    "thinking…" deferral is such a timer), and the command is answered once the lock is free."""
    h = await Harness(sqlite_db).start()
    await h.say("alice", "hello")  # the group and member exist, as in a live group
    event = CommandInvoked(
        event_key="slash:busy",
        chat=h.chat(),
        user=h.message("alice", "").user,
        is_admin=False,
        at=h.clock.now(),
        name="me",
    )
    loop = asyncio.get_running_loop()
    deferral_due = 0.5
    fired: list[float] = []
    with held_lock(tmp_path / "test.db", HOLD):
        async with ticking() as gaps:
            started = loop.time()
            loop.call_later(deferral_due, lambda: fired.append(loop.time() - started))
            await h.app.handle(event)
            answered = loop.time() - started
    assert max(gaps) < MAX_GAP, f"the event loop stalled for {max(gaps):.2f} s"
    assert fired and fired[0] < deferral_due + MAX_GAP, "the deferral timer did not fire on time"
    assert answered >= HOLD - 0.1
    assert len(h.adapter.pop_texts()) == 1
    await h.stop()


async def test_a_cancelled_wait_leaves_nothing_open(busy: Busy) -> None:
    """A task cancelled while it waits for BEGIN (an adapter's timeout) holds neither lock afterwards."""
    db, path = busy

    async def write() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t (k, n) VALUES ('cancelled', 1)")

    with held_lock(path, 0.5):
        task = asyncio.create_task(write())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t (k, n) VALUES ('next', 2)")
    assert [r[0] for r in await db.fetchall("SELECT k FROM t")] == ["next"]


async def test_executemany_of_a_generator_is_written_whole_after_a_wait(busy: Busy) -> None:
    """The first attempt consumes a generator's first row before SQLite refuses it: the retry must still
    write every row."""
    db, path = busy
    with held_lock(path, 0.3):
        await db.executemany("INSERT INTO t (k, n) VALUES (?, ?)", ((f"k{i}", i) for i in range(20)))
    assert await db.fetchval("SELECT COUNT(*) FROM t") == 20
