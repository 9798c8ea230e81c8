"""Check-ins, the ledger, anti-farming, admin grants, leaderboards and levels."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import actions as A
from bot.markup import plain
from config.group_settings import CheckinSettings
from handlers.checkin import reward
from storage.points import PointsRepo
from tests.helpers import SHANGHAI, Harness


def test_reward_ladder() -> None:
    s = CheckinSettings()
    assert [reward(s, n) for n in range(1, 9)] == [10, 12, 14, 16, 18, 20, 22 + 50, 24]
    assert reward(s, 12) == 30 and reward(s, 30) == 30 + 200  # the step is capped at +20


async def test_one_check_in_per_group_day_at_the_midnight_edge(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db, start=datetime(2026, 11, 22, 23, 59, tzinfo=SHANGHAI)).start()
    [first] = await h.say("alice", "签到")
    assert first == "✅ 签到成功！+10 积分，连续签到 1 天，今日第 1 位签到。当前积分 10。"
    [again] = await h.say("alice", "打卡")
    assert again == "你今天已经签到过了（连续 1 天），明天 00:00 后再来吧！"
    h.clock.advance(timedelta(minutes=2))  # 00:01 the next day in Shanghai
    [second] = await h.say("alice", "/checkin")
    assert "连续签到 2 天" in second and "+12 积分" in second
    assert await h.balance("alice") == 22
    await h.stop()


async def test_the_day_follows_the_group_timezone_across_dst(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    ny = ZoneInfo("America/New_York")
    h = await Harness(sqlite_db, start=datetime(2026, 3, 8, 0, 30, tzinfo=ny)).start()  # DST starts 02:00
    await h.say("carol", "/set timezone America/New_York", admin=True)
    assert "签到成功" in (await h.say("alice", "签到"))[0]
    h.clock.set(datetime(2026, 3, 8, 23, 30, tzinfo=ny))  # a 23-hour day, same local date
    assert "已经签到过了" in (await h.say("alice", "签到"))[0]
    h.clock.set(datetime(2026, 3, 9, 0, 10, tzinfo=ny))
    assert "连续签到 2 天" in (await h.say("alice", "签到"))[0]
    await h.stop()


async def test_leap_day_keeps_the_streak_and_a_skipped_day_breaks_it(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db, start=datetime(2028, 2, 28, 9, tzinfo=SHANGHAI)).start()
    for _ in range(3):  # 28 Feb, 29 Feb, 1 Mar
        [text] = await h.say("alice", "签到")
        h.clock.advance(timedelta(days=1))
    assert "连续签到 3 天" in text
    h.clock.advance(timedelta(days=1))  # skipped 2 March
    [text] = await h.say("alice", "签到")
    assert "连续签到 1 天" in text
    await h.stop()


async def test_a_week_of_check_ins_earns_the_day_seven_bonus(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    for _ in range(7):
        text = (await h.say("alice", "签到"))[0]  # day 7 also brings a level-up announcement
        h.clock.advance(timedelta(days=1))
    assert text.startswith("🎉 签到成功！连续签到 7 天，获得奖励共 +72 积分")
    assert await h.balance("alice") == 10 + 12 + 14 + 16 + 18 + 20 + 72
    [board] = await h.say("bob", "连签榜")
    assert board == "🔥 连续签到榜：\n1. alice — 7 天"
    await h.stop()


async def test_a_redelivered_check_in_pays_once(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    event = h.message("alice", "签到")
    await h.app.handle(event)
    await h.restart()
    await h.app.handle(event)
    assert len(h.adapter.pop_texts()) == 1
    assert await h.balance("alice") == 10
    await h.stop()


async def test_message_points_with_anti_farming(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("alice", "hello everyone here")  # paid
    await h.say("alice", "and again right away")  # within 60 s: not paid
    await h.say("alice", "ok")  # too short
    await h.say("alice", "/help me please now")  # a command
    assert await h.balance("alice") == 1
    h.clock.advance(timedelta(seconds=61))
    await h.say("alice", "a minute later, paid")
    assert await h.balance("alice") == 2
    await h.say("carol", "/set points.per_message 0", admin=True)
    h.clock.advance(timedelta(minutes=5))
    await h.say("alice", "now messages earn nothing")
    assert await h.balance("alice") == 2
    await h.stop()


async def test_admin_grants_and_bad_amounts(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "签到")
    assert await h.say("carol", "/points give @alice 50 great answer", admin=True) == [
        "已给 @alice 加 50 积分，当前 60。"
    ]
    assert await h.say("carol", "/points take @alice 100", admin=True) == ["alice 只有 60 积分，不够扣。"]
    assert await h.say("carol", "/points take @alice 60", admin=True) == ["已扣除 @alice 60 积分，当前 0。"]
    usage = "用法：/points give|take @成员 <数量，1 到 1000000> [原因]"
    for bad in (
        "/points give @alice -5",
        "/points give @alice 0",
        "/points give @alice 99999999",
        "/points give @alice lots",
        "/points steal @alice 5",
        "/points give alice 5",
    ):
        assert await h.say("carol", bad, admin=True) == [usage], bad
    assert await h.say("carol", "/points give @nobody 5", admin=True) == ["在本群找不到成员 @nobody。"]
    assert await h.say("alice", "/points give @alice 5") == ["/points 仅限管理员使用。"]
    # An admin of another group cannot reach alice: she is no member there.
    assert await h.say("carol", "/points give @alice 5", admin=True, chat_id="g2") == [
        "在本群找不到成员 @alice。"
    ]
    assert await h.balance("alice") == 0
    await h.stop()


async def test_leaderboard_windows(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    # Wednesday 2026-11-18, Shanghai.
    h = await Harness(sqlite_db, start=datetime(2026, 11, 2, 9, tzinfo=SHANGHAI)).start()
    await h.say("bob", "签到")  # early in the month
    await h.say("carol", "/points give @bob 200", admin=True)
    h.clock.set(datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))  # Monday of the week
    await h.say("dave", "签到")
    await h.say("carol", "/points give @dave 50", admin=True)
    h.clock.set(datetime(2026, 11, 18, 9, tzinfo=SHANGHAI))
    await h.say("alice", "签到")
    [day] = await h.say("erin", "/top day")
    assert day.splitlines() == ["🏆 积分排行榜（今日）：", "🥇 alice — 10", "你在这段时间还没有获得积分。"]
    [week] = await h.say("alice", "/top 周")
    assert week.splitlines() == ["🏆 积分排行榜（本周）：", "🥇 dave — 60", "🥈 alice — 10"]
    [month] = await h.say("alice", "/top month")
    assert month.splitlines()[1:] == ["🥇 bob — 210", "🥈 dave — 60", "🥉 alice — 10"]
    [everything] = await h.say("alice", "排行榜")
    assert everything.splitlines()[0] == "🏆 积分排行榜（总榜）："
    [bad] = await h.say("alice", "/top year")
    assert bad.startswith("用法：/top")  # a bad period gets the usage line
    await h.stop()


async def test_the_callers_own_rank_is_always_shown(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    for i in range(12):
        await h.say(f"m{i:02d}", "签到")
        await h.say("carol", f"/points give @m{i:02d} {100 - i}", admin=True)
    [board] = await h.say("m11", "/top")
    lines = board.splitlines()
    assert (
        len(lines) == 13
        and lines[-2] == "你：第 12 名，99 分"
        and lines[-1] == "第 1/2 页，发送 /top all 2 翻页"
    )
    [second] = await h.say("m11", "/top all 2")
    assert second.splitlines()[1:] == ["11. m10 — 100", "12. m11 — 99", "第 2/2 页，发送 /top all 1 翻页"]
    [clamped] = await h.say("m11", "/top all 99")
    assert clamped == second
    await h.stop()


async def test_big_boards_stop_counting_where_the_reply_needs_no_more(sqlite_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Counting a page total or a rank walks the board's index; in a group of 100k it stops at a cap."""
    import handlers.points as points

    monkeypatch.setattr(points, "RANK_CAP", 5)
    monkeypatch.setattr(points, "COUNTED_PAGES", 1)
    h = await Harness(sqlite_db).start()
    for i in range(40):
        await h.say(f"m{i:02d}", "签到")
        await h.say("carol", f"/points give @m{i:02d} {100 - i}", admin=True)
    [board] = await h.say("m30", "/top")
    assert board.splitlines()[-2:] == ["你：第 5+ 名，80 分", "第 1/2+ 页，发送 /top all 2 翻页"], board
    [second] = await h.say("m30", "/top all 2")  # counted just past the page asked for
    assert second.splitlines()[1] == "11. m10 — 100", second
    assert second.splitlines()[-1] == "第 2/3+ 页，发送 /top all 3 翻页", second
    [last] = await h.say("m30", "/top all 4")  # 40 on the board: the count reaches the end, exact
    assert last.splitlines()[-1] == "第 4/4 页，发送 /top all 1 翻页", last
    [me] = await h.say("m03", "/me")
    assert "总榜第 4 名" in me
    [far] = await h.say("m30", "/me")
    assert "总榜第 5+ 名" in far
    await h.stop()


async def test_level_up_is_announced_and_the_role_granted(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("alice", "签到")
    h.take()
    await h.app.handle(h.message("carol", "/points give @alice 95", admin=True))
    actions = h.take()
    [reply] = [a for a in actions if isinstance(a, A.Send | A.Reply)]  # one message: the grant and the level
    assert plain(reply.text).endswith("\n🎉 恭喜 @alice 升级为「活跃成员」！")
    assert [a.role for a in actions if isinstance(a, A.GrantRole)] == ["活跃成员"]
    [me] = await h.say("alice", "/me")
    assert "🏅 等级：活跃成员  ▱▱▱▱▱▱▱▱▱▱ 105/500" in me  # 5 of the 400 points to the next level
    await h.stop()


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_ledger_always_balances(db, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    h = await Harness(db).start()
    users = ["u1", "u2", "u3", "u4"]
    for _ in range(120):
        user = rng.choice(users)
        op = rng.random()
        if op < 0.3:
            await h.say(user, "签到")
        elif op < 0.6:
            await h.say(user, "a message long enough to be paid")
        elif op < 0.8:
            await h.say("carol", f"/points give @{user} {rng.randint(1, 50)}", admin=True)
        else:
            await h.say("carol", f"/points take @{user} {rng.randint(1, 80)}", admin=True)
        h.clock.advance(timedelta(minutes=rng.choice([1, 30, 600])))
    group = await h.app.groups.get("test", "g1")
    assert group is not None
    repo = PointsRepo(db)
    for user in users:
        bal = await repo.balance(group.id, user)
        assert bal.balance == await repo.ledger_sum(group.id, user) >= 0
        for prefix in ("d:", "w:", "m:"):  # each kind of period adds up to everything earned
            total = await db.fetchval(
                "SELECT COALESCE(SUM(earned), 0) FROM points_period WHERE group_id = ? AND user_id = ? "
                "AND period LIKE ?",
                group.id,
                user,
                prefix + "%",
            )
            assert int(total) == bal.earned
    await h.stop()


async def test_badges_are_earned_once_and_shown(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    said: list[str] = []
    for _ in range(11):
        said += await h.say("alice", "签到")  # always the first of the day
        h.clock.advance(timedelta(days=1))
    earned = [line for t in said for line in t.splitlines() if line.startswith("🏅")]  # in the check-in reply
    assert earned == [
        "🏅 @alice 获得勋章「七日坚持」！",
        "🏅 @alice 获得勋章「早起鸟（10 次当日第一个签到）」！",
    ]
    [me] = await h.say("alice", "/me")
    assert me.splitlines()[-1] == "🎖 勋章：七日坚持、早起鸟（10 次当日第一个签到）"
    [me] = await h.say("bob", "/me")
    assert "勋章" not in me
    await h.stop()


async def test_a_streak_freeze_covers_one_missed_day(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("carol", "/shop add freeze 20", admin=True)
    for _ in range(3):
        await h.say("alice", "签到")
        h.clock.advance(timedelta(days=1))
    [bought] = await h.say("alice", "/redeem 连签保护卡")
    assert bought.startswith("🧊 兑换成功：连签保护卡 ×1（现有 1 张），扣除 20 积分")
    h.clock.advance(timedelta(days=1))  # missed a day
    [text] = await h.say("alice", "签到")
    assert "连续签到 4 天" in text and text.endswith("已自动使用 1 张连签保护卡，连签没有中断。")
    h.clock.advance(timedelta(days=2))  # missed another, no freeze left
    [text] = await h.say("alice", "签到")
    assert "连续签到 1 天" in text and "保护卡" not in text
    await h.stop()


async def test_evening_reminder_for_streaks_at_risk(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db, start=datetime(2026, 11, 20, 9, tzinfo=SHANGHAI)).start()
    for _ in range(3):
        for user in ("alice", "bob", "dave"):
            await h.say(user, "签到")
        h.clock.advance(timedelta(days=1))
    assert await h.say("alice", "/remind on") == [
        "好的！连签 3 天以上且当天还没签到时，我会在 20:00 提醒你（能私信就私信，否则在群里提醒）。"
    ]
    await h.say("dave", "/remind on")
    await h.say("dave", "签到")  # dave is safe today; bob never asked for reminders
    h.take()
    await h.app.dms.opened("test", "dave", 0)
    await h.advance(timedelta(hours=12))  # to 21:00 on 23 November, through 20:00
    texts = h.adapter.texts()
    assert texts == ["⏰ @alice 今天还没签到，连签记录要断啦！发送“签到”保住它。"]
    await h.say("alice", "/remind off")
    h.adapter.actions.clear()
    await h.advance(timedelta(days=1))  # dave missed today: he opened a chat with the bot, so a private nudge
    [nudge] = h.take()
    assert isinstance(nudge, A.DirectMessage) and nudge.user_id == "dave"
    assert (
        plain(nudge.text)
        == "⏰ 你在「Group g1」已经连续签到 4 天，今天还没签到哦，去群里发送“签到”保住记录吧！"
    )
    assert await h.say("alice", "/remind maybe") == ["用法：/remind on|off"]
    await h.stop()


async def test_make_up_check_in(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db, start=datetime(2026, 11, 1, 9, tzinfo=SHANGHAI)).start()
    await h.say("alice", "签到")
    h.clock.advance(timedelta(days=1))
    await h.say("alice", "签到")  # 2 Nov: streak 2, 22 points
    h.clock.advance(timedelta(days=2))  # missed 3 Nov
    [text] = await h.say("alice", "签到")  # 4 Nov: the streak broke
    assert "连续签到 1 天" in text
    [made_up] = await h.say("alice", "补签")
    assert made_up == "🗓 补签成功：昨天已补上，扣除 30 积分，当前连签 4 天。本月还可补签 1 次。"
    assert await h.balance("alice") == 10 + 12 + 10 - 30
    assert await h.say("alice", "/makeup") == ["昨天已经签到过了，不需要补签。"]
    h.clock.advance(timedelta(days=1))
    [text] = await h.say("alice", "签到")  # 5 Nov continues the repaired streak
    assert "连续签到 5 天" in text
    h.clock.advance(timedelta(days=2))
    assert await h.say("bob", "补签") == ["积分不够：补签需要 30 积分。"]
    await h.say("carol", "/points give @alice 100", admin=True)
    await h.say("alice", "补签")  # the second this month
    h.clock.advance(timedelta(days=2))
    assert await h.say("alice", "补签") == ["本月的 2 次补签机会已经用完了。"]
    await h.stop()


async def test_one_tap_check_in_from_the_button(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.app.handle(h.message("alice", "签到"))
    [reply] = h.take()
    assert isinstance(reply, A.Reply) and [[b.label for b in row] for row in reply.buttons] == [
        ["✅ 我也签到"]
    ]
    data = reply.buttons[0][0].data
    await h.press("bob", data)
    [answer] = h.take()
    assert isinstance(answer, A.AnswerButton) and answer.text.startswith(
        "✅ 签到成功！+10 积分，连续签到 1 天，今日第 2 位签到"
    )
    await h.press("bob", data)
    [again] = h.take()
    assert isinstance(again, A.AnswerButton) and again.text.startswith("你今天已经签到过了")
    assert await h.balance("bob") == 10
    await h.stop()


async def test_levels_are_configurable(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    [bad] = await h.say("carol", "/set points.levels 0,500,100", admin=True)
    assert "points.levels" in bad and "从 0 开始递增" in bad
    assert (await h.say("carol", "/set points.levels 0,20,60", admin=True))[
        0
    ] == "已将 points.levels 设为 0,20,60。"
    [bad] = await h.say("carol", "/set points.level_names 萌新,骨干", admin=True)
    assert "个数与 points.levels 相同" in bad  # three levels need three names
    await h.say("carol", "/set points.level_names 萌新,骨干,元老", admin=True)
    await h.say("alice", "签到")
    await h.app.handle(h.message("carol", "/points give @alice 15", admin=True))
    assert any(t.endswith("\n🎉 恭喜 @alice 升级为「骨干」！") for t in h.adapter.pop_texts())
    [me] = await h.say("alice", "/me")
    assert "🏅 等级：骨干  ▰▱▱▱▱▱▱▱▱▱ 25/60" in me  # 5 of the 40 points to the next level
    await h.stop()


async def test_last_months_top_three_get_a_badge(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db, start=datetime(2026, 11, 28, 9, tzinfo=SHANGHAI)).start()
    for i, user in enumerate(("ann", "ben", "cat", "dan")):
        await h.say(user, "签到")
        await h.say("carol", f"/points give @{user} {10 * (i + 1)}", admin=True)
    h.take()
    await h.advance(timedelta(days=3))  # through 00:05 on 1 December, Shanghai time
    earned = [plain(a.text) for a in h.take() if isinstance(a, A.Send)]
    assert earned == [f"🏅 @{u} 获得勋章「月度前三」！" for u in ("dan", "cat", "ben")]
    await h.stop()


@pytest.mark.parametrize("seed", [3, 4])
async def test_the_ledger_balances_under_concurrent_redeems_and_check_ins(db, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Members of three groups check in, redeem a short-stocked item and get grants and deductions, with
    every member's stream running at once (on PostgreSQL, concurrent transactions on a pool): balances
    equal ledger sums, nobody overdraws, stock never goes below zero, and each check-in pays once."""
    rng = random.Random(seed)
    h = await Harness(db).start()
    chats, users = ["g1", "g2", "g3"], ["u1", "u2", "u3", "u4"]
    for chat in chats:
        await h.say("carol", "/shop add 限量杯 25 3", admin=True, chat_id=chat)
        for user in users:
            await h.say("carol", f"/points give @{user} 40", admin=True, chat_id=chat)

    async def member(chat: str, user: str, ops: list[float]) -> None:
        for n, op in enumerate(ops):
            key = f"{chat}:{user}:{n}"
            if op < 0.35:
                await h.app.handle(h.message(user, "签到", chat_id=chat, key=key))
                await h.app.handle(h.message(user, "签到", chat_id=chat, key=key))  # redelivered
            elif op < 0.7:
                await h.app.handle(h.message(user, "/redeem 限量杯", chat_id=chat, key=key))
            elif op < 0.85:
                await h.app.handle(
                    h.message("carol", f"/points give @{user} 7", admin=True, chat_id=chat, key=key)
                )
            else:
                await h.app.handle(
                    h.message("carol", f"/points take @{user} 30", admin=True, chat_id=chat, key=key)
                )

    streams = [member(c, u, [rng.random() for _ in range(8)]) for c in chats for u in users]
    await asyncio.gather(*streams)
    await h.app.writer.flush()
    repo = PointsRepo(db)
    for chat in chats:
        group = await h.app.groups.get("test", chat)
        assert group is not None
        stock = await db.fetchval("SELECT stock FROM shop_items WHERE group_id = ?", group.id)
        redeemed = await db.fetchval("SELECT COUNT(*) FROM redemptions WHERE group_id = ?", group.id)
        assert stock >= 0 and stock + redeemed == 3, (chat, stock, redeemed)
        for user in users:
            bal = await repo.balance(group.id, user)
            assert bal.balance == await repo.ledger_sum(group.id, user) >= 0, (chat, user)
            checkins = await db.fetchval(
                "SELECT COUNT(*) FROM checkins WHERE group_id = ? AND user_id = ?", group.id, user
            )
            paid = await db.fetchval(
                "SELECT COUNT(*) FROM points_ledger WHERE group_id = ? AND user_id = ? AND reason = 'checkin'",
                group.id,
                user,
            )
            assert checkins == paid <= 1, (chat, user, checkins, paid)  # one group day: once at most
    await h.stop()
