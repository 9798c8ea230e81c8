"""Regressions for what probing the landed bot found (issue 11): each test reproduces one finding.

The Telegram/Discord ones (forged mentions, NUL names) live with the end-to-end tests; the hijack of the
mod log with test_moderation; hostile-input timing and the fuzz in their own modules.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.console.session import run_script
from bot import actions as A
from bot.i18n import t as t_
from bot.markup import plain
from rules.engine import Rule, RuleSet
from storage.migrate import migrate
from tests.helpers import SHANGHAI, Harness

QUIET = timedelta(seconds=11)


def sends(actions: list[A.Action]) -> list[A.Send]:
    return [a for a in actions if isinstance(a, A.Send)]


# --- 3. a row the database refuses ---------------------------------------------------------------------


async def test_a_poison_row_is_isolated_and_replies_go_on(db) -> None:  # type: ignore[no-untyped-def]
    """A NUL name once failed every batch forever, and every reply (each flushes first) with it."""
    h = await Harness(db).start()
    gid = (await h.app.groups.ensure("test", "g1", "Group g1", 0)).id
    w = h.app.writer
    await w.touch(
        gid, "alice", name="alice", username="alice", is_bot=False, at_ms=1, day="2026-11-22", hour=9
    )
    await w.touch(gid, "poison", name="p", username=None, is_bot=False, at_ms=2**70)  # no column holds it
    await w.touch(gid, "bob", name="bob", username="bob", is_bot=False, at_ms=1, day="2026-11-22", hour=9)
    await w.flush()  # does not raise
    assert w.dropped == 1 and w.pending == 0
    names = {r[0] for r in await db.fetchall("SELECT user_id FROM members WHERE group_id = ?", gid)}
    assert names == {"alice", "bob"}
    assert await db.fetchval("SELECT messages FROM activity_hourly WHERE group_id = ?", gid) == 2
    assert await h.say("alice", "/rules") == ["本群还没有设置群规。"]
    await h.stop()


async def test_a_transient_failure_keeps_exactly_the_unwritten_rows(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    w = h.app.writer
    gid = (await h.app.groups.ensure("test", "g1", "Group g1", 0)).id
    await w.touch(
        gid, "alice", name="alice", username="alice", is_bot=False, at_ms=1, day="2026-11-22", hour=9
    )
    real, calls = w.write, 0

    async def flaky(rows):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        raise sqlite3.OperationalError("database is locked")

    w.write = flaky  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        await w.flush()
    assert calls == 4 and w.pending == 3  # three retries, then the batch is kept whole
    w.write = real  # type: ignore[method-assign]
    await w.flush()
    assert await sqlite_db.fetchval("SELECT message_count FROM members WHERE user_id = 'alice'") == 1
    await h.stop()  # stopping never raises


# --- 5. moderation never fails open ------------------------------------------------------------------


def test_a_lone_surrogate_is_matched_around_not_crashed_on() -> None:
    hits = RuleSet([Rule(1, "literal", "加微信")]).check("加微信\ud83d")
    assert [h.rule.id for h in hits] == [1]


async def test_a_failing_check_holds_the_message_and_tells_admins_sparingly(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    moderation = next(f for f in h.app.features if f.name == "moderation")

    async def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("matcher exploded")

    moderation.inspect = broken  # type: ignore[method-assign]
    texts = await h.say("alice", "签到")
    assert len(texts) == 1 and "关键词检查出错" in texts[0]  # held: no check-in reply, admins told
    assert await h.balance("alice") == 0
    assert (
        await h.say("alice", "今天的分享真不错，学到很多") == []
    )  # within 10 minutes: counted, not re-posted
    h.clock.advance(timedelta(minutes=11))
    [again] = await h.say("alice", "还有人在吗？有没有人")
    assert "共 2 次" in again  # the one held quietly and this one
    assert moderation.check_failures == 3
    await h.stop()


# --- 6. one-off jobs after downtime --------------------------------------------------------------------


async def test_greetings_resume_after_more_than_an_hour_of_downtime(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.join("alice")
    await h.app.stop()
    h.clock.advance(timedelta(hours=3))
    await h.restart()
    assert sends(h.take()) == []  # alice joined three hours ago: no odd late greeting
    await h.join("bob")
    await h.advance(QUIET)
    [greeting] = sends(h.take())
    assert plain(greeting.text).startswith("欢迎 @bob 加入")
    await h.restart()
    h.clock.advance(timedelta(hours=2))
    await h.join("carl")  # the queue is empty, not stuck on a stale row
    await h.advance(QUIET)
    assert len(sends(h.take())) == 1
    await h.stop()


# --- 7 and 8. odd digits and huge numbers ------------------------------------------------------------

ODD_INPUTS = [
    "/redeem ²",
    "/redeem ①",
    "/shop add x ² 5",
    "/shop remove ²",
    "/redemptions done ²",
    "/modlog ²",
    "/filter list ²",
    "/filter remove #²",
    "/redeem 99999999999999999999",
    "/redemptions cancel 99999999999999999999",
    "/points give @alice 99999999999999999999",
    "/points give ² 10",
    "/mute ² 10m",
    "/warn 99999999999999999999",
    "/flood ² 10",
    "/top week ²",
    "/set points.levels 0,²,60",
    "/modlog 99999999999999999999",
]


@pytest.mark.parametrize("text", ODD_INPUTS)
async def test_odd_digits_get_an_answer_never_an_internal_error(sqlite_db, text: str) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("alice", "大家好")
    texts = await h.say("carol", text, admin=True)
    assert texts and all(t != t_("zh-CN", "common.internal_error") for t in texts), texts
    await h.stop()


async def test_full_width_digits_still_work(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("carol", "/shop add 贴纸 １２ ３", admin=True)
    assert "12" in (await h.say("carol", "/shop"))[0]
    await h.stop()


@pytest.mark.parametrize(
    "data", ["mod:²:undo", "mod:99999999999999999999:undo", "~²", "~99999999999999999999"]
)
async def test_forged_button_data_is_answered(db, data: str) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.press("carol", data, admin=True)
    [answer] = [a for a in h.take() if isinstance(a, A.AnswerButton)]
    assert answer.text == "这个按钮已失效。"
    await h.stop()


# --- 9. refunds are not earnings -----------------------------------------------------------------------


async def test_a_refund_is_not_counted_as_earned(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "hi")
    await h.say("carol", "/points give @alice 1000", admin=True)
    await h.say("carol", "/shop add 京东卡 500", admin=True)
    for _ in range(2):
        await h.say("alice", "/redeem 京东卡")
        await h.say("carol", "/redemptions", admin=True)
        pending = (await h.say("carol", "/redemptions", admin=True))[0]
        rid = pending.split("#")[1].split()[0]
        await h.say("carol", f"/redemptions cancel {rid}", admin=True)
    me = (await h.say("alice", "/me"))[0]
    assert "可用积分 1000（累计获得 1000）" in me
    assert "1000" in (await h.say("alice", "/top day"))[0].splitlines()[1]
    await h.stop()


async def test_migration_8_takes_refunds_out_of_existing_earnings(db) -> None:  # type: ignore[no-untyped-def]
    await migrate(db, target=7)
    await db.execute("INSERT INTO groups (platform, chat_id, title, created_at) VALUES ('t', 'g', 'g', 0)")
    gid = await db.fetchval("SELECT id FROM groups")
    rows = [
        ("alice", 1000, "admin", "k1", "2026-11-18"),
        ("alice", -500, "redeem:1", "k2", "2026-11-18"),
        ("alice", 500, "refund:1", "refund:1", "2026-11-19"),
    ]
    for user, delta, reason, key, day in rows:
        await db.execute(
            "INSERT INTO points_ledger (group_id, user_id, delta, reason, source_key, actor, at, day) "
            "VALUES (?, ?, ?, ?, ?, NULL, 0, ?)",
            gid,
            user,
            delta,
            reason,
            key,
            day,
        )
    await db.execute("INSERT INTO points_balance VALUES (?, 'alice', 1000, 1500)", gid)
    for period, earned in (
        ("d:2026-11-18", 1000),
        ("d:2026-11-19", 500),
        ("w:2026-11-16", 1500),
        ("m:2026-11", 1500),
    ):
        await db.execute("INSERT INTO points_period VALUES (?, ?, 'alice', ?)", gid, period, earned)
    await migrate(db)
    assert await db.fetchval("SELECT earned FROM points_balance") == 1000
    periods = {r[0]: int(r[1]) for r in await db.fetchall("SELECT period, earned FROM points_period")}
    assert periods == {"d:2026-11-18": 1000, "d:2026-11-19": 0, "w:2026-11-16": 1000, "m:2026-11": 1000}
    kinds = [r[0] for r in await db.fetchall("SELECT kind FROM points_ledger ORDER BY id")]
    assert kinds == ["earn", "spend", "refund"]


# --- 10. the event's own day -----------------------------------------------------------------------------


async def test_a_check_in_sent_before_midnight_counts_for_that_day(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db, start=datetime(2026, 11, 22, 23, 59, 59, tzinfo=SHANGHAI)).start()
    late = h.message("alice", "签到")  # stamped 23:59:59 …
    h.clock.advance(timedelta(seconds=5))  # … handled at 00:00:04 (a backlog)
    await h.app.handle(late)
    h.take()
    assert await db.fetchval("SELECT day FROM checkins WHERE user_id = 'alice'") == "2026-11-22"
    await h.restart()  # the key was in memory only: a redelivery reaches the handler again
    h.app.processed._recent.clear()
    await h.app.handle(late)
    assert await db.fetchval("SELECT COUNT(*) FROM points_ledger WHERE user_id = 'alice'") == 1
    assert "今天已经签到" not in " ".join(await h.say("alice", "签到"))  # the new day is still free
    await h.stop()


# --- 11. a member who just spoke --------------------------------------------------------------------------


async def test_a_member_who_just_spoke_can_be_granted_points(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "hi")  # too short to earn a point: the balance below is the grant alone
    [reply] = await h.say("boss", "/points give @alice 10", admin=True)
    assert reply.startswith("已给 @alice 加 10 积分")
    assert await h.balance("alice") == 10
    await h.stop()


# --- 12. the console on the same database twice ----------------------------------------------------------


async def test_a_second_console_run_on_the_same_database_is_not_dropped(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'console.db'}"
    script = [
        "@clock 2026-11-22T09:00:00+08:00",
        "@admin boss",
        "alice: hi",
        "boss: /points give @alice 100",
    ]
    assert await run_script(script, _Out(), db_url=url) == 0
    out = _Out()
    assert await run_script(script, out, db_url=url) == 0
    assert "已给 @alice 加 100 积分" in out.text  # handled again, not dropped as a duplicate
    from storage.db import open_database

    db = await open_database(url)
    assert await db.fetchval("SELECT balance FROM points_balance WHERE user_id = 'alice'") == 200
    await db.close()


async def test_a_grant_whose_cause_was_paid_says_so(db, caplog) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "hi")
    give = h.message("boss", "/points give @alice 100", admin=True, key="t:g1:reused")
    await h.app.handle(give)
    h.take()
    h.app.processed._recent.clear()  # as if the key had been forgotten (a reused key)
    await h.app.writer.flush()
    await h.app.db.execute("DELETE FROM processed_events")
    caplog.set_level(logging.INFO)
    await h.app.handle(give)
    [reply] = h.adapter.pop_texts()
    assert reply == "这条命令之前已经处理过了，没有重复执行。"
    assert await h.balance("alice") == 100
    await h.stop()


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass
