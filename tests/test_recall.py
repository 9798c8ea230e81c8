"""Member lifecycle and dormant-member recall over simulated weeks: stages, the daily scan at the group
hour, caps, opt-outs, the hold-out, DM and group channels, the return gift, the figures, clean-up."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot import actions as A
from bot.events import ButtonPressed, UserRef
from bot.markup import plain
from handlers.recall import RecallFeature, in_holdout
from storage.db import SqliteDatabase
from storage.recall import NewNudge, RecallRepo
from tests.helpers import PLATFORM, SHANGHAI, Harness, kill_while_advancing, restarted

DAY = timedelta(days=1)
SCAN = datetime(2026, 11, 29, 20, 0, tzinfo=SHANGHAI)  # the first scan that finds T0's speakers silent


async def _admin(h: Harness, text: str) -> list[str]:
    h.adapter.admins.setdefault("g1", set()).add("carol")
    return await h.say("carol", text, admin=True)


async def _gid(h: Harness, chat_id: str = "g1") -> int:
    group = await h.app.groups.get(PLATFORM, chat_id)
    assert group is not None
    return group.id


async def _speakers(h: Harness, *users: str) -> None:
    for user in users:
        await h.say(user, f"大家好，我是{user}")


def _dms(actions: list[A.Action]) -> list[A.DirectMessage]:
    return [a for a in actions if isinstance(a, A.DirectMessage)]


def _sends(actions: list[A.Action]) -> list[str]:
    return [plain(a.text) for a in actions if isinstance(a, A.Send)]


async def _rows(db, gid: int) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    rows = await db.fetchall(
        "SELECT user_id, day, arm, status FROM recall_nudges WHERE group_id = ? ORDER BY day, user_id", gid
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def _recall_on(h: Harness, holdout: int = 0) -> None:
    await _admin(h, "/recall on")
    await _admin(h, f"/set recall.holdout_percent {holdout}")


async def test_stages_move_as_time_passes_and_admins_see_them(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.join("alice")
    await h.say("alice", "大家好，我是新来的")
    await h.join("bob")  # never speaks: counts from the day he joined
    await h.join("dave")
    assert (await h.say("alice", "/lifecycle"))[0] == "/lifecycle 仅限管理员使用。"
    text = (await _admin(h, "/lifecycle"))[0]
    assert "🌱 新人：3" in text and "🔥 活跃：1" in text  # carol, an admin seen just now, is active
    assert "记录满一周" in text  # no snapshot a week old yet
    await h.advance(8 * DAY)
    await h.join("erin")
    await h.leave("dave")
    await h.say("carol", "还在")
    text = (await _admin(h, "/lifecycle"))[0]
    assert "🌱 新人：1" in text and "💤 沉默：2" in text and "👋 已退群：1" in text
    assert "🔥 活跃：1（较上周 ±0）" in text  # the midnight snapshot of a week ago is there
    assert "🌱 新人：1（较上周 -2）" in text
    silent = (await _admin(h, "/silent"))[0]
    assert silent.startswith("沉默成员 2 人") and "alice · 最后活跃 8 天" in silent and "bob" in silent
    assert (await _admin(h, "/silent x"))[0].startswith("用法：/silent")
    await h.advance(23 * DAY)
    await h.say("carol", "还在")
    text = (await _admin(h, "/lifecycle"))[0]
    assert "🥀 流失：2" in text and "💤 沉默：1" in text  # erin joined 23 days ago, never spoke
    whois = (await _admin(h, "/whois @alice"))[0]
    assert whois.startswith("@alice · 🥀 流失") and "最后活跃：2026-11-22 09:00" in whois
    assert "有效警告：0 次" in whois and "连续签到：0 天" in whois
    assert (await _admin(h, "/whois @nobody"))[0].startswith("本群没有找到成员 @nobody")
    await h.stop()


async def test_the_daily_scan_nudges_at_the_group_hour_by_dm_or_one_group_message(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    await _speakers(h, "alice", *(f"m{i:02d}" for i in range(11)))
    await h.say("carol", "管理员也发过言")
    await h.app.dms.opened(PLATFORM, "alice", 0)  # alice started the bot: a DM may reach her
    gid = await _gid(h)
    h.take()
    await h.app.scheduler.advance_to(SCAN - timedelta(minutes=1))
    assert not _dms(h.adapter.actions) and not _sends(h.adapter.actions)  # nothing before the hour
    await h.say("erin", "好久没说话了")  # erin, silent since T0, speaks just before: still in the batch
    await h.app.db.execute(
        "UPDATE members SET last_seen_at = ? WHERE user_id = 'erin'", _ms(h) - 8 * 86_400_000
    )  # as the database saw her before this message
    locked: list[bool] = []
    asked = h.adapter.member_is_admin

    async def is_admin(chat_id: str, user_id: str) -> bool:
        locked.append(h.app.db.in_transaction())  # the platform is never asked with the lock held
        return await asked(chat_id, user_id)

    h.adapter.member_is_admin = is_admin  # type: ignore[method-assign]
    await h.app.scheduler.advance_to(SCAN)
    assert locked and not any(locked)
    actions = h.take()
    dms = _dms(actions)
    assert [d.user_id for d in dms] == ["alice"]
    assert "alice，好久不见！你已经 7 天没来「Group g1」了" in dms[0].text
    assert "20 积分回归礼包" in dms[0].text
    assert dms[0].buttons[0][0].data == f"recall:stop:{gid}"
    sends = _sends(actions)
    assert len(sends) == 1  # one group message a day
    mentioned = re.findall(r"@(m\d\d)", sends[0])
    assert len(mentioned) == 10 and "carol" not in sends[0]  # an admin is never nudged
    rows = await _rows(db, gid)
    assert len(rows) == 11 and {r[2] for r in rows} == {"dm", "group"}  # not erin, who just spoke
    assert ("alice", "2026-11-29", "dm", "sent") in rows
    # the next day: the member left out by the mention cap, and nobody nudged yesterday
    await h.app.scheduler.advance_to(SCAN + DAY)
    actions = h.take()
    assert not _dms(actions)
    assert re.findall(r"@(m\d\d)", _sends(actions)[0]) == sorted(
        set(f"m{i:02d}" for i in range(11)) - set(mentioned)
    )
    await h.stop()


async def test_quiet_hours_and_the_scan_hour_hold(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    assert (await _admin(h, "/set recall.hour 23"))[0].startswith("recall.hour 必须在免打扰时段")
    assert (await _admin(h, "/set recall.quiet 25:00-08:00"))[0].startswith(
        "「25:00-08:00」不是 recall.quiet 的有效值"
    )
    await _speakers(h, "alice")
    await h.app.dms.opened(PLATFORM, "alice", 0)
    gid = await _gid(h)
    h.take()
    # the bot is down over the scan hour and comes back at 23:30, inside the quiet hours: no nudge
    await h.app.scheduler.advance_to(SCAN + timedelta(hours=3, minutes=30), jump=True)
    assert not _dms(h.take()) and await _rows(db, gid) == []
    await h.app.scheduler.advance_to(SCAN + DAY)
    assert [d.user_id for d in _dms(h.take())] == ["alice"]
    await h.stop()


async def test_caps_per_week_and_per_episode_and_a_new_episode_after_a_return(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    await _admin(h, "/set lifecycle.lost_days 60")
    await _speakers(h, "alice")
    await h.app.dms.opened(PLATFORM, "alice", 0)
    h.take()
    await h.advance(40 * DAY)
    days = [d.text for d in _dms(h.take())]
    assert len(days) == 3  # one a week, three per silent spell
    assert [re.search(r"已经 (\d+) 天", t).group(1) for t in days] == ["7", "14", "21"]  # type: ignore[union-attr]
    reply = await h.say("alice", "我回来啦")  # 40 days on: too late for a gift, but a new episode starts
    assert reply == []
    await h.advance(8 * DAY)
    assert len(_dms(h.take())) == 1
    await h.stop()


async def test_opt_outs_are_respected(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    await _speakers(h, "alice", "bob", "dave", "erin")
    for user in ("alice", "bob", "dave", "erin"):
        await h.app.dms.opened(PLATFORM, user, 0)
    gid = await _gid(h)
    assert "本群也不会再给你发召回提醒" in (await h.say("bob", "/remind off"))[0]
    await h.press("dave", "recall:stop")  # the button under a group nudge
    direct = ButtonPressed(
        event_key="t:dm:erin:1",
        chat=h.chat("dm-erin"),
        user=UserRef("erin", "erin"),
        is_admin=False,
        at=h.clock.now(),
        message_id="1",
        data=f"recall:stop:{gid}",
        callback_id="cb1",
        direct=True,
    )
    await h.app.handle(direct)  # "stop these" under a DM: no group of its own
    answers = [a for a in h.take() if isinstance(a, A.AnswerButton)]
    assert [a.text for a in answers][-1].startswith("好的，本群不会再给你发召回提醒")
    assert await h.app.groups.get(PLATFORM, "dm-erin") is None  # a private chat is never made a group
    await h.app.scheduler.advance_to(SCAN)
    assert [d.user_id for d in _dms(h.take())] == ["alice"]
    await h.say("bob", "/remind on")  # and back on (he is active again now, too)
    assert not await RecallRepo(db).opted_out(gid, "bob") and await RecallRepo(db).opted_out(gid, "dave")
    await h.stop()


async def test_the_holdout_share_over_1000_members_is_stable_across_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    h.adapter.dm_opt_in = False  # type: ignore[attr-defined]  # DMs are tried for everyone (as on Discord)
    await _recall_on(h, holdout=10)
    await h.say("alice", "hello")
    gid = await _gid(h)
    for i in range(1000):
        await h.app.writer.touch(
            gid, f"u{i:04d}", name=f"u{i:04d}", username=None, is_bot=False, at_ms=_ms(h)
        )
    await h.app.writer.flush()
    h.take()
    await h.app.scheduler.advance_to(SCAN)
    first = {r[0]: r[2] for r in await _rows(db, gid)}
    held = sorted(u for u, arm in first.items() if arm == "holdout")
    assert len(first) == 1001 and 70 <= len(held) <= 130  # 10% ± 3 standard deviations
    assert len(_dms(h.take())) == 1001 - len(held)
    await h.restart()
    h.take()
    await h.app.scheduler.advance_to(SCAN + 7 * DAY)  # the second nudge of the same silent spell
    second = {r[0]: r[2] for r in await _rows(db, gid) if r[1] == "2026-12-06"}
    assert sorted(u for u, arm in second.items() if arm == "holdout") == held
    episodes = await db.fetchall("SELECT user_id, episode FROM recall_nudges WHERE day = '2026-11-29'")
    assert held == sorted(r[0] for r in episodes if in_holdout(gid, r[0], int(r[1]), 10))  # the hash decides
    await h.stop()


def _ms(h: Harness) -> int:
    return int(h.clock.now().timestamp() * 1000)


async def test_the_return_gift_is_paid_once_with_a_welcome_back(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    await _speakers(h, "alice", "bob")
    await h.app.dms.opened(PLATFORM, "alice", 0)
    await h.app.scheduler.advance_to(SCAN)
    h.take()
    h.clock.advance(timedelta(days=2))
    back = h.message("alice", "我回来啦")
    await h.app.handle(back)
    replies = [plain(a.text) for a in h.take() if isinstance(a, A.Reply)]
    assert replies == ["🎉 欢迎回来，alice！回归礼包 20 积分已到账，当前余额 21。"]  # 1 for her first message
    await h.app.handle(back)  # redelivered
    assert await h.say("alice", "再说一句") == []
    assert await h.balance("alice") == 21
    # a returning member who comes back with a command gets one reply holding both
    text = await h.say("bob", "签到")
    assert len(text) == 1 and "签到成功" in text[0] and "欢迎回来，bob" in text[0]
    await h.stop()


async def test_recall_stats_on_a_known_history(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    gid = await _gid(h)
    repo, start = RecallRepo(db), _ms(h) - 20 * 86_400_000
    arms = {"d1": "dm", "d2": "dm", "d3": "dm", "d4": "dm", "g1": "group", "g2": "group",
            "h1": "holdout", "h2": "holdout", "h3": "holdout", "h4": "holdout", "f1": "dm"}  # fmt: skip
    status = {"dm": "sent", "group": "sent", "holdout": "held"}
    ids = await repo.record(
        gid,
        "2026-11-02",
        start,
        [NewNudge(u, 1, a, "queued" if u == "f1" else status[a]) for u, a in arms.items()],
        every_ms=1,
        max_per_episode=3,
    )
    await repo.delivered(ids["f1"], ok=False)
    for user in ("d1", "d2", "g1", "h1"):
        await repo.settle(gid, user, start + 86_400_000, 7 * 86_400_000)
    await repo.set_gift([ids["d1"]], 20)
    await repo.set_gift([ids["d2"]], 20)
    late = await repo.record(
        gid,
        "2026-11-21",
        _ms(h) - 86_400_000,
        [NewNudge("p1", 1, "dm", "sent")],
        every_ms=1,
        max_per_episode=3,
    )
    assert late
    text = (await _admin(h, "/recall stats"))[0]
    assert text.splitlines() == [
        "召回效果（近 30 天；回归 = 提醒后 7 天内有活动）：",
        "已提醒：3/6 人回归（50.0%）",
        "  私信：2/4（50.0%）",
        "  群内提及：1/2（50.0%）",
        "对照组（未提醒）：1/4 人回归（25.0%）",
        "提升：+25.0 个百分点（提醒组减对照组）",
        "私信被拒：1 · 已发礼包：2 份（40 积分）· 仍在观察期：1",
    ]
    assert (await _admin(h, "/recall stats 1y"))[0].startswith("用法：/recall")
    await h.stop()


async def test_templates_are_validated_and_used(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    assert "{secret}" in (await _admin(h, "/recall template dm 你好 {secret}"))[0]
    assert "{mentions}" in (await _admin(h, "/recall template group 大家好"))[0]
    assert (await _admin(h, "/recall template dm {name}，{days} 天没见了！{gift}"))[
        0
    ] == "模板已保存。/recall preview 可预览私信效果。"
    preview = (await _admin(h, "/recall preview"))[0]
    assert "carol，10 天没见了！🎁 7 天内回来说句话，就能领取 20 积分回归礼包。" in preview
    assert (await _admin(h, "/recall template dm reset"))[0] == "已恢复默认模板。"
    assert (await h.say("alice", "/recall on"))[0] == "/recall 仅限管理员使用。"
    status = (await _admin(h, "/recall"))[0]
    assert status.startswith("召回已开启：每天 20:00 扫描；免打扰时段 22:00-08:00。")
    await h.stop()


async def test_lost_members_are_told_first_and_a_kick_needs_an_admin_to_confirm(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _recall_on(h)
    await _admin(h, "/set recall.lost_action kick")
    long_ids = [f"30000000000000000{i}" for i in range(3)]  # Discord-sized: the list outgrows 64 bytes
    await _speakers(h, "alice", "bob", *long_ids)
    await h.app.dms.opened(PLATFORM, "alice", 0)  # so a nudge goes by DM too, with its stop button
    h.take()
    await h.advance(31 * DAY)
    await h.app.scheduler.advance_to(h.clock.now().replace(hour=20, minute=0) + DAY)
    seen = h.take()
    notices = [s for s in _sends(seen) if "很久没有发言" in s]
    assert len(notices) == 1 and "@alice" in notices[0] and "@bob" in notices[0]
    await h.say("bob", "我还在")  # bob is active again before the grace ends
    await h.advance(3 * DAY)
    actions = h.take()
    seen += actions
    lists = [a for a in actions if isinstance(a, A.Send) and "是否移出" in a.text]
    assert len(lists) == 1 and "alice" in lists[0].text
    # Every payload is the feature's own, and survives the adapters' shortening (Telegram 64 bytes,
    # Discord 100): the kick list's was shortened by the handler and again by the adapter, and its
    # press resolved to a reference, an expired button.
    payloads = {b.data for a in seen for row in getattr(a, "buttons", ()) for b in row}
    assert all(p.startswith("recall:") for p in payloads), payloads
    assert {p.split(":")[1] for p in payloads} >= {"stop", "k", "c"}
    assert len(lists[0].buttons[0][0].data.encode()) > 64
    for data in payloads:
        for limit in (64, 100):
            short = await h.app.buttons.shorten(data, limit, 0)
            assert len(short.encode()) <= limit and await h.app.buttons.resolve(short) == data
    confirm = await h.app.buttons.shorten(lists[0].buttons[0][0].data, 64, 0)  # as Telegram sends it
    await h.press("erin", confirm)  # not an admin
    assert not [a for a in h.adapter.actions if isinstance(a, A.Kick)]
    assert [a.text for a in h.take() if isinstance(a, A.AnswerButton)] == ["只有该群的管理员可以操作。"]
    await h.press("carol", confirm, message_id="77")
    kicks = [a.user_id for a in h.adapter.actions if isinstance(a, A.Kick)]
    assert sorted(kicks) == sorted(["alice", *long_ids])
    await h.stop()


@pytest.mark.parametrize("step", [1, 3])
async def test_a_kill_at_any_point_of_a_scan_nudges_nobody_twice(tmp_path: Path, step: int) -> None:
    """SQLite only (as tests/test_crash_consistency.py): kill the scan at every point, restart."""
    path = tmp_path / "count.db"
    points = await _scan_run(path, None)
    assert points > 10
    for k in range(step, points + 1, 4):
        await _scan_run(tmp_path / f"k{k}.db", k)


async def _scan_run(path: Path, kill_at: int | None) -> int:
    db = await SqliteDatabase.open(str(path))
    h = await Harness(db).start()
    await _recall_on(h)
    await _speakers(h, "alice", "bob", "dave", "erin")
    for user in ("alice", "bob", "dave"):
        await h.app.dms.opened(PLATFORM, user, 0)
    await h.app.scheduler.advance_to(SCAN - timedelta(minutes=1))
    h.take()
    sent, points = await kill_while_advancing(h, SCAN, kill_at)
    db2 = await SqliteDatabase.open(str(path))
    h2 = await restarted(h, db2)  # resends what was committed, and runs a scan that never committed
    await h2.app.scheduler.advance_to(SCAN + timedelta(hours=1))
    sent += h2.take()
    gid = await _gid(h2)
    rows = await _rows(db2, gid)
    assert sorted(r[0] for r in rows) == ["alice", "bob", "dave", "erin"], kill_at  # one nudge each
    dm_counts = {u: sum(1 for d in _dms(sent) if d.user_id == u) for u in ("alice", "bob", "dave")}
    assert all(1 <= n <= 2 for n in dm_counts.values()), (kill_at, dm_counts)  # at least once
    assert sum(dm_counts.values()) <= 4, (kill_at, dm_counts)  # only the one in flight may repeat
    assert len([s for s in _sends(sent) if "@erin" in s]) in (1, 2), kill_at
    await h2.stop()
    await db2.close()
    return points


def test_the_feature_is_registered() -> None:
    from handlers import default_features

    assert any(isinstance(f, RecallFeature) for f in default_features())


async def test_a_console_script_over_three_weeks(tmp_path: Path) -> None:
    """The console drives the same code: turned on, a silent member nudged by DM at 20:00, the other
    comes back and gets the gift, the figures say so; a restart in between changes nothing."""
    import io
    import json

    from adapters.console.session import run_script

    script = """
@clock 2026-11-22T09:00:00+08:00
@admin me
alice: 大家好，我是 alice
bob: 大家好，我是 bob
me: /recall on
me: /set recall.holdout_percent 0
@advance 7d
@advance 12h
@restart
bob: 我回来了
me: /recall stats
@advance 7d
me: /recall stats
"""
    out = io.StringIO()
    assert (
        await run_script(script.strip().splitlines(), out, db_url=f"sqlite:///{tmp_path}/c.db", jsonl=True)
        == 0
    )
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    dms = [r for r in records if r.get("action") == "dm"]
    assert sorted(d["user"] for d in dms[:2]) == ["alice", "bob"]  # the first scan, 2026-11-29 20:00
    assert sum(1 for d in dms if d["user"] == "bob") == 1  # bob came back: not nudged again
    replies = [r["text"] for r in records if r.get("action") == "reply"]
    assert any("欢迎回来，bob！回归礼包 20 积分已到账" in t for t in replies)
    stats = [t for t in replies if t.startswith("召回效果")]
    assert "已提醒：1/1 人回归（100.0%）" in stats[0] and "仍在观察期：1" in stats[0]
    assert "已提醒：1/2 人回归（50.0%）" in stats[1]  # alice's week went by without her
