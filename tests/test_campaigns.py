"""Campaigns (活动日历): created in the operators' words, fired once each through restarts and outages."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bot import actions as A
from bot.markup import plain
from storage.db import SqliteDatabase
from tests.helpers import SHANGHAI, Harness, kill_while_advancing, restarted

DAY = timedelta(days=1)
EVENING = datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)


async def _admin(h: Harness, text: str, chat_id: str = "g1") -> list[str]:
    h.adapter.admins.setdefault(chat_id, set()).add("carol")
    return await h.say("carol", text, admin=True, chat_id=chat_id)


def _posts(actions: list[A.Action], needle: str = "") -> list[A.Send]:
    return [a for a in actions if isinstance(a, A.Send) and needle in plain(a.text)]


async def test_added_in_either_language_with_the_next_three_times(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    reply = (await _admin(h, "/campaign add 每周一 09:00 pin 本周干货分享：{date}"))[0]
    assert reply.splitlines() == [
        "活动 #1 已安排：每周一 09:00。接下来的发布时间：",
        "  • 2026-11-23 09:00 周一",
        "  • 2026-11-30 09:00 周一",
        "  • 2026-12-07 09:00 周一",
        "选项：置顶",
    ]
    assert (await _admin(h, "/campaign add tomorrow 8pm Live session tonight!"))[0].startswith(
        "活动 #2 已安排：tomorrow 8pm"
    )
    listed = (await _admin(h, "/campaign"))[0]
    assert "#1 · 每周一 09:00 · 下次：2026-11-23 09:00 周一 · 进行中 · 本周干货分享：{date}" in listed
    assert "#2 · tomorrow 8pm · 下次：2026-11-23 20:00 周一" in listed
    assert (await h.say("alice", "/campaign list"))[0] == "/campaign 仅限管理员使用。"
    await h.stop()


async def test_bad_input_is_refused_with_the_reason(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    assert (await _admin(h, "/campaign add 2020-01-01 10:00 hi"))[0].startswith(
        "2020-01-01 10:00 已经过去了。"
    )
    assert (await _admin(h, '/campaign add cron "0 25 * * *" hi'))[0].startswith(
        "「0 25 * * *」不是五段式 cron"
    )
    assert "永远不会到来" in (await _admin(h, '/campaign add cron "0 20 31 2 *" hi'))[0]
    assert (await _admin(h, "/campaign add 每天 20:00 你好 {secret}"))[0].startswith(
        "{secret} 不是可用的占位符"
    )
    assert (await _admin(h, "/campaign add 每天 20:00 " + "长" * 2001))[0] == "活动内容最多 2000 个字。"
    assert "短于 10 分钟" in (await _admin(h, "/campaign add every 5m spam"))[0]
    assert (await _admin(h, "/campaign add 每天 20:00"))[0].startswith("要发什么内容？")
    assert (await _admin(h, "/campaign add 某天 hi"))[0].startswith("没能从「某天 hi」读出时间。")
    assert (await _admin(h, "/campaign frobnicate"))[0].startswith("用法：/campaign add")
    await _admin(h, "/set campaigns.max_per_group 1")
    await _admin(h, "/campaign add 每天 20:00 one")
    assert "已有 1 个活动" in (await _admin(h, "/campaign add 每天 21:00 two"))[0]
    await h.stop()


async def test_a_week_of_daily_posts_each_once_through_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "签到")
    await _admin(
        h,
        "/campaign add 每天 20:00 checkin {weekday} 晚安，今日已有 {checkins_today} 人签到，本群 {members} 人",
    )
    h.take()
    await h.advance(3 * DAY)
    await h.restart()
    await h.advance(4 * DAY)
    posts = _posts(h.take(), "晚安")
    assert len(posts) == 7
    assert plain(posts[0].text) == "周日 晚安，今日已有 1 人签到，本群 2 人"
    assert posts[0].buttons[0][0].data == "checkin:do"
    stats = (await _admin(h, "/campaign stats 1"))[0]
    assert "已发布 7 次，失败 0 次" in stats
    await h.stop()


async def test_downtime_within_the_grace_posts_once_late_and_beyond_it_skips_and_tells(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, "/campaign add 每天 20:00 晚间分享")
    await _admin(h, "/campaign add every 30m 半小时一次")
    h.take()
    await h.app.scheduler.advance_to(EVENING - timedelta(minutes=31))
    h.take()
    await h.app.stop()  # down from 19:29 to 20:40: both missed, by 40 and 10 minutes
    h.clock.set(EVENING + timedelta(minutes=40))
    await h.restart()
    late = h.take()
    assert len(_posts(late, "晚间分享")) == 1 and len(_posts(late, "半小时一次")) == 1  # many missed → one
    await h.app.stop()  # down 3 hours: beyond the hour of grace
    h.clock.set(EVENING + DAY + timedelta(hours=3))
    await h.restart()
    actions = h.take()
    assert not [p for p in _posts(actions) if plain(p.text) == "晚间分享"]
    notes = [plain(a.text) for a in _posts(actions, "错过了活动 #1")]
    assert len(notes) == 1 and "2026-11-23 20:00" in notes[0]
    await h.advance(DAY)
    assert len(_posts(h.take(), "晚间分享")) == 1  # on time again the next day
    await h.stop()


async def test_pin_and_replace(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, "/campaign add 每天 20:00 pin replace 今日话题")
    h.take()
    await h.app.scheduler.advance_to(EVENING)
    first = h.take()
    pins = [a for a in first if isinstance(a, A.Pin)]
    assert len(pins) == 1 and pins[0].pinned
    await h.app.scheduler.advance_to(EVENING + DAY)
    second = h.take()
    deleted = [a for a in second if isinstance(a, A.Delete)]
    assert [d.message_id for d in deleted] == [pins[0].message_id]  # the previous post is replaced
    assert [a.pinned for a in second if isinstance(a, A.Pin)] == [True]
    await h.stop()


async def test_a_staged_event_fires_in_order_and_goes_away_together(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    reply = (await _admin(h, "/campaign event 周年庆 2026-12-01 20:00"))[0]
    assert "#1 预热：2026-11-28 20:00 周六" in reply and "#4 返场：2026-12-02 20:00 周三" in reply
    h.take()
    await h.advance(12 * DAY)
    texts = [plain(p.text) for p in _posts(h.take(), "周年庆")]
    assert [t[:1] for t in texts] == ["📣", "⏳", "🎉", "🙏"]
    await _admin(h, "/campaign event 双十二 2026-12-12 20:00")
    assert (await _admin(h, "/campaign delete 6"))[0] == "已删除：#5, #6, #7, #8。"
    assert "双十二" not in (await _admin(h, "/campaign list"))[0]
    await h.stop()


async def test_three_failures_in_a_row_pause_the_campaign_and_say_why(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, "/campaign add 每天 20:00 晚安")
    h.take()
    for day in range(3):
        h.adapter.failures = [A.PermanentError(A.Failure.FORBIDDEN, "bot was kicked")]
        await h.app.scheduler.advance_to(EVENING + day * DAY)
    notes = [plain(a.text) for a in h.take() if isinstance(a, A.Send) and "自动暂停" in a.text]
    assert len(notes) == 1 and "连续 3 次" in notes[0]
    assert "已暂停" in (await _admin(h, "/campaign list"))[0]
    await h.advance(2 * DAY)
    assert not _posts(h.take(), "晚安")
    assert "已恢复" in (await _admin(h, "/campaign resume 1"))[0]
    await h.stop()


async def test_one_groups_admin_cannot_see_or_touch_anothers(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, "/campaign add 每天 20:00 g1 的活动")
    assert (await _admin(h, "/campaign show 1", "g2"))[0].startswith("本群没有活动 1")
    assert (await _admin(h, "/campaign delete 1", "g2"))[0].startswith("本群没有活动 1")
    assert "g1 的活动" in (await _admin(h, "/campaign show 1"))[0]
    await h.stop()


async def test_pause_edit_test_and_the_calendar(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, "/campaign add 每天 20:00 晚安 {group}")
    assert (await _admin(h, "/campaign pause 1"))[0] == "活动 #1 已暂停。"
    h.take()
    await h.advance(2 * DAY)
    assert not _posts(h.take(), "晚安")
    await _admin(h, "/campaign edit 1 when 每天 21:30")
    await _admin(h, "/campaign edit 1 text 晚上好 {group}")
    assert "晚上好 Group g1" in (await _admin(h, "/campaign test 1"))[0]
    calendar = (await h.say("alice", "/calendar"))[0]
    assert calendar.startswith("接下来 7 天的安排：") and "21:30 📣 #1 晚上好 {group}" in calendar
    assert "20:00 ⏰ 连签提醒" in calendar
    await h.stop()


async def test_a_kill_during_a_fire_posts_it_once(tmp_path: Path) -> None:
    """SQLite only: a kill at points of the fire, a restart; the scheduled post goes out once (or, for
    the one in flight at the kill, twice: at least once)."""
    count_db = tmp_path / "count.db"
    points = await _fire_run(count_db, None)
    for k in range(1, points + 1, 3):
        await _fire_run(tmp_path / f"k{k}.db", k)


async def _fire_run(path: Path, kill_at: int | None) -> int:
    db = await SqliteDatabase.open(str(path))
    h = await Harness(db).start()
    await _admin(h, "/campaign add 每天 20:00 晚安")
    await h.app.scheduler.advance_to(EVENING - timedelta(minutes=1))
    h.take()
    sent, points = await kill_while_advancing(h, EVENING, kill_at)
    db2 = await SqliteDatabase.open(str(path))
    h2 = await restarted(h, db2, timedelta(minutes=1))
    sent += h2.take()
    assert 1 <= len(_posts(sent, "晚安")) <= 2, (kill_at, len(_posts(sent, "晚安")))
    rows = await db2.fetchval("SELECT COUNT(*) FROM campaign_posts")
    assert rows == 1, kill_at
    await h2.stop()
    await db2.close()
    return points


async def test_buttons_under_a_post_and_what_they_caused(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    reply = (
        await _admin(h, "/campaign add 每天 20:00 checkin needs link=https://example.com/a 今晚签到了吗")
    )[0]
    assert "选项：签到按钮、需求榜按钮、链接按钮" in reply
    assert (await _admin(h, "/campaign add 每天 21:00 link=javascript:alert(1) x"))[0].startswith("活动 #2")
    h.take()
    await h.app.scheduler.advance_to(EVENING)
    [post] = [p for p in _posts(h.take()) if plain(p.text) == "今晚签到了吗"]
    assert [b.data for b in post.buttons[0]] == ["checkin:do", "needs:b", "url:https://example.com/a"]
    h.clock.advance(timedelta(minutes=5))
    message_id = "10007"
    await h.app.db.execute("UPDATE campaign_posts SET message_id = ? WHERE campaign_id = 1", message_id)
    await h.press("alice", "checkin:do", message_id=message_id)
    await h.press("erin", "tools:x", message_id=message_id, chat_id="g2")  # the same id in another group
    await h.press("bob", "needs:b", message_id=message_id)
    answers = [a.text for a in h.take() if isinstance(a, A.AnswerButton)]
    assert any("签到成功" in a for a in answers) and answers[-1].endswith("/needs")
    shown = (await _admin(h, "/campaign show 1"))[0]
    assert "按钮点击 2 次" in shown and "发布后一小时内的签到：1 次" in shown
    # the javascript: link was no link option: it stayed in the text
    assert "link=javascript:alert(1) x" in (await _admin(h, "/campaign show 2"))[0]
    await h.stop()


async def test_a_console_week_of_posts(tmp_path: Path) -> None:
    """The console drives the same code: a daily post and a weekly one over a week, with a restart."""
    import io
    import json

    from adapters.console.session import run_script

    script = """
@clock 2026-11-22T09:00:00+08:00
@admin me
me: /campaign add 每天 20:00 晚安，今天是{weekday}
me: /campaign add 每周一 09:00 本周干货分享
@advance 3d
@restart
@advance 4d
me: /calendar
"""
    out = io.StringIO()
    code = await run_script(script.strip().splitlines(), out, db_url=f"sqlite:///{tmp_path}/c.db", jsonl=True)
    assert code == 0
    sends = [json.loads(line) for line in out.getvalue().splitlines()]
    posts = [r["text"] for r in sends if r.get("action") == "send"]
    assert [p for p in posts if p.startswith("晚安")] == [
        f"晚安，今天是{d}" for d in ("周日", "周一", "周二", "周三", "周四", "周五", "周六")
    ]
    assert posts.count("本周干货分享") == 1
    calendar = [r["text"] for r in sends if r.get("action") == "reply"][-1]
    assert calendar.startswith("接下来 7 天的安排：") and "09:00 📣 #2 本周干货分享" in calendar
