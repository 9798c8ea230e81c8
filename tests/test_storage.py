"""Migrations (including an in-place upgrade) and the first repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.clock import to_ms
from config.group_settings import from_overrides
from storage.activity import ActivityWriter
from storage.db import to_dollar_params
from storage.groups import GroupRepo
from storage.members import MemberRepo
from storage.migrate import current_version, head, migrate
from storage.processed import ProcessedEvents
from tests.helpers import T0

NOW = to_ms(T0)


async def test_fresh_database_reaches_head_and_migrate_is_idempotent(db) -> None:  # type: ignore[no-untyped-def]
    assert await migrate(db) == list(range(1, head() + 1))
    assert await current_version(db) == head()
    assert await migrate(db) == []


async def test_upgrade_in_place_keeps_data(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db, target=1)
    assert await current_version(db) == 1
    await db.execute(
        "INSERT INTO groups (platform, chat_id, title, created_at) VALUES ('tg', '-100', 'Old', 1)"
    )
    gid = await db.fetchval("SELECT id FROM groups WHERE chat_id = '-100'")
    await db.execute(
        "INSERT INTO members (group_id, user_id, name, first_seen_at, last_seen_at) VALUES (?, 'u1', 'Ann', 5, 9)",
        gid,
    )
    await db.execute(
        "INSERT INTO group_settings (group_id, overrides, updated_at) VALUES (?, ?, 1)",
        gid,
        '{"language": "en"}',
    )

    assert await migrate(db) == list(range(2, head() + 1))
    members = MemberRepo(db)
    ann = await members.get(gid, "u1")
    assert ann is not None and (ann.name, ann.last_seen_ms, ann.message_count, ann.left_ms) == (
        "Ann",
        9,
        0,
        None,
    )
    assert await GroupRepo(db, from_overrides).overrides(gid) == {"language": "en"}
    assert await members.record_leave(gid, "u1", 5005) == 5  # the new columns work on old rows


async def test_group_ensure_is_stable_and_keeps_titles(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db)
    repo = GroupRepo(db, from_overrides)
    a = await repo.ensure("tg", "-1", "Alpha", NOW)
    assert (
        await GroupRepo(db, from_overrides).ensure("tg", "-1", "", NOW) == a
    )  # a fresh repo finds the same row
    b = await repo.ensure("dc", "-1", "Beta", NOW)
    assert a.id != b.id  # same chat id on another platform is another group


async def test_activity_is_batched_then_flushed(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db)
    gid = (await GroupRepo(db, from_overrides).ensure("tg", "-1", "G", NOW)).id
    writer = ActivityWriter(db, max_rows=10_000)
    for i in range(50):
        await writer.touch(
            gid,
            f"u{i % 5}",
            name=f"U{i % 5}",
            username=None,
            is_bot=False,
            at_ms=NOW + i,
            day="2026-11-22",
            hour=9,
        )
    await writer.touch(
        gid, "u0", name="U0 renamed", username="u0", is_bot=False, at_ms=NOW + 100
    )  # a non-message
    assert await db.fetchval("SELECT COUNT(*) FROM members") == 0  # nothing written per message
    await writer.flush()
    members = MemberRepo(db)
    u0 = await members.get(gid, "u0")
    assert (
        u0 is not None and u0.message_count == 10 and u0.last_seen_ms == NOW + 100 and u0.name == "U0 renamed"
    )
    assert await members.messages_on(gid, "2026-11-22") == 50
    assert (
        await db.fetchval("SELECT messages FROM activity_hourly WHERE group_id = ? AND hour = 9", gid) == 50
    )
    # A second batch adds to the first.
    await writer.touch(
        gid, "u0", name="U0", username=None, is_bot=False, at_ms=NOW + 200, day="2026-11-22", hour=10
    )
    await writer.flush()
    assert (await members.get(gid, "u0")).message_count == 11  # type: ignore[union-attr]


async def test_writer_flushes_by_itself_when_the_batch_is_full(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db)
    gid = (await GroupRepo(db, from_overrides).ensure("tg", "-1", "G", NOW)).id
    writer = ActivityWriter(db, max_rows=20)
    for i in range(25):
        await writer.touch(gid, f"u{i}", name="x", username=None, is_bot=False, at_ms=NOW)
    assert await db.fetchval("SELECT COUNT(*) FROM members") >= 20


async def test_join_and_leave_record_how_long_a_member_stayed(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db)
    gid = (await GroupRepo(db, from_overrides).ensure("tg", "-1", "G", NOW)).id
    members = MemberRepo(db)
    await members.record_join(gid, "u1", "Ann", "ann", False, NOW)
    assert (await members.find(gid, "@ANN")).user_id == "u1"  # type: ignore[union-attr]
    assert await members.count_active(gid) == 1
    assert await members.record_leave(gid, "u1", NOW + 3_600_000) == 3600
    assert await members.count_active(gid) == 0
    rows = await db.fetchall("SELECT kind, stayed_seconds FROM membership_events ORDER BY id")
    assert [(r["kind"], r["stayed_seconds"]) for r in rows] == [("join", None), ("leave", 3600)]
    await members.record_join(gid, "u1", "Ann", "ann", False, NOW + 7_200_000)  # back again
    assert (await members.get(gid, "u1")).left_ms is None  # type: ignore[union-attr]


async def test_processed_events_survive_and_prune(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db)
    writer = ActivityWriter(db)
    log = ProcessedEvents(db)
    assert not await log.seen("k1")
    assert await log.seen("k1")  # in memory
    await writer.mark_processed("k1", 1_000)
    await writer.mark_processed("k2", 9_000)
    await writer.flush()
    fresh = ProcessedEvents(db)  # after a restart
    assert await fresh.seen("k1") and await fresh.seen("k2")
    assert await fresh.prune(5_000) == 1
    assert not await ProcessedEvents(db).seen("k1")


def test_placeholders_rewritten_outside_literals() -> None:
    assert to_dollar_params("SELECT ? , '?', 'it''s ?' , ?") == "SELECT $1 , '?', 'it''s ?' , $2"


async def test_migrations_are_news_only_on_an_existing_database(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A first run creates its database quietly; upgrading one that holds data says what was applied."""
    import logging

    from storage.db import open_database

    db = await open_database(f"sqlite:///{tmp_path / 'q.db'}")
    with caplog.at_level(logging.INFO, logger="storage.migrate"):
        await migrate(db, target=head() - 1)
        assert not [r for r in caplog.records if r.levelno >= logging.INFO]
        await migrate(db)
        [record] = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert f"{head():04d}_" in record.getMessage()
    await db.close()


async def test_after_a_restart_redeliveries_are_answered_from_one_load(db) -> None:  # type: ignore[no-untyped-def]
    """The keys of the day before a start are read once; no event then costs a read of its own."""
    await migrate(db)
    writer = ActivityWriter(db)
    start = 10 * 86_400_000
    await writer.mark_processed("old-but-loaded", start - 3_600_000)
    await writer.mark_processed("older-than-a-day", start - 2 * 86_400_000)
    await writer.flush()
    log = ProcessedEvents(db)
    await log.begin(start)
    reads = 0
    real = db.fetchval

    async def counting(*args):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return await real(*args)

    db.fetchval = counting
    assert await log.seen("old-but-loaded", start - 3_600_000)
    assert not await log.seen("new-before-start", start - 60_000)
    assert not await log.seen("new-after-start", start + 1_000)
    assert reads == 0
    assert await log.seen("older-than-a-day", start - 2 * 86_400_000)  # the rare one asks the database
    assert reads == 1
