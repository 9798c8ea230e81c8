"""The health digest over a synthetic week whose every figure is known, the Monday push (once, late after
downtime, never twice), charts (PNG, the CJK font really used), /stats, /export as CSV and /filter
import from a file. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import actions as A
from bot import charts
from bot.events import Attachment
from bot.markup import plain
from handlers.digest import WEEKDAYS, DigestFeature, Report, last_fire, week_before
from handlers.exports import cell
from storage.digest import Period
from storage.moderation import LogTarget, ModerationRepo
from tests.helpers import PLATFORM, SHANGHAI, Harness

WEEK_FIRST = datetime(2026, 11, 16, tzinfo=SHANGHAI)  # a Monday: the week is 11-16 .. 11-22
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


async def _gid(h: Harness) -> int:
    group = await h.app.groups.get(PLATFORM, "g1")
    assert group is not None
    return group.id


async def _say(h: Harness, when: datetime, user: str, text: str, *, admin: bool = False) -> None:
    h.clock.set(when)
    if admin:
        h.adapter.admins.setdefault("g1", set()).add(user)
    await h.app.handle(h.message(user, text, admin=admin))


async def _join(h: Harness, when: datetime, user: str) -> None:
    h.clock.set(when)
    await h.join(user)


async def _leave(h: Harness, when: datetime, user: str) -> None:
    h.clock.set(when)
    await h.leave(user)


def _feature(h: Harness) -> DigestFeature:
    return next(f for f in h.app.features if isinstance(f, DigestFeature))


async def known_week(db) -> Harness:  # type: ignore[no-untyped-def]
    """The week 11-16..11-22 (and the one before), built through the app as members would."""
    h = await Harness(db, start=at(9, 9)).start()
    # the week before: setup by the admin, three newcomers, one who leaves again
    await _say(h, at(9, 9, 30), "carol", "/set points.per_message 0", admin=True)
    await _say(h, at(9, 9, 31), "carol", "/filter add 办证", admin=True)
    for user in ("n1", "n2", "n3"):
        await _join(h, at(9, 10), user)
    await _say(h, at(10, 12), "a", "早上好呀大家")
    await _join(h, at(12, 12), "x")
    await _leave(h, at(13, 12), "x")
    # the week
    await _join(h, at(16, 10), "n4")
    await _say(h, at(16, 10, 5), "n4", "你好，我是新人")
    await _say(h, at(16, 10, 10), "a", "签到")
    await _say(h, at(17, 21, 30), "n1", "晚上好各位")
    await _say(h, at(17, 21, 40), "a", "今天讨论什么")
    await _say(h, at(18, 11), "b", "/need 希望增加每周直播回放功能")
    await _say(h, at(18, 15), "carol", "/need 1 accepted 好的，安排上", admin=True)
    await _say(h, at(18, 21, 10), "n2", "签到")
    await _say(h, at(19, 9), "b", "hello everyone")
    await _say(h, at(19, 15), "b", "办证找我")
    await _leave(h, at(20, 12), "n4")
    await _say(h, at(22, 23, 59), "a", "晚安")  # Sunday 23:59 group time: in the week, Sunday's 23h cell
    await _say(h, at(23, 0, 1), "b", "早")  # Monday 00:01: the next week
    gid = await _gid(h)
    # recall and campaigns: rows as their features write them
    await db.execute(
        "INSERT INTO recall_nudges (group_id, user_id, day, episode, arm, status, nudged_at, returned_at, gift) "
        "VALUES (?, 'n3', '2026-11-17', 1, 'dm', 'sent', ?, ?, 20), (?, 'z', '2026-11-17', 1, 'holdout', 'held', ?, NULL, 0)",
        gid, int(at(17, 20).timestamp() * 1000), int(at(18, 8).timestamp() * 1000), gid, int(at(17, 20).timestamp() * 1000),
    )  # fmt: skip
    await db.execute(
        "INSERT INTO campaigns (group_id, text, trigger_type, trigger_args, schedule_text, created_by, created_at) "
        "VALUES (?, '晚安', 'cron', '{}', '每天 20:00', 'carol', 0)",
        gid,
    )
    for user, status in (("v1", "passed"), ("v2", "timeout"), ("v3", "left")):  # a left one is no outcome
        await db.execute(
            "INSERT INTO verifications (group_id, user_id, name, kind, answer, tries_left, deadline, status, "
            "created_at) VALUES (?, ?, ?, 'button', '', 3, 0, ?, ?)",
            gid, user, user, status, int(at(17, 10).timestamp() * 1000),
        )  # fmt: skip
    cid = await db.fetchval("SELECT MAX(id) FROM campaigns")
    for day, status, presses in ((16, "sent", 3), (17, "sent", 1), (18, "failed", 0), (12, "sent", 9)):
        ms = int(at(day, 20).timestamp() * 1000)
        await db.execute(
            "INSERT INTO campaign_posts (campaign_id, due_at, fired_at, status, presses) VALUES (?, ?, ?, ?, ?)",
            cid, ms, ms, status, presses,
        )  # fmt: skip
    h.clock.set(MONDAY_9)
    h.take()
    return h


async def test_every_figure_of_a_known_week(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    ctx = await h.app.context_for_group(await _gid(h))
    assert ctx is not None
    await h.app.writer.flush()
    period = Period.of_days(WEEK_FIRST.date(), 7, "Asia/Shanghai")
    r: Report = await _feature(h).compute(ctx, period, ("members", "activity", "rituals", "newcomers",
                                                            "order", "needs", "recall", "campaigns"))  # fmt: skip
    m = r.members
    assert m is not None and (m.total, m.joined, m.left, m.net) == (6, 1, 1, 0)  # a carol n1 n2 n3 b
    assert m.leave_rate == pytest.approx(1 / 6)
    assert r.members_before is not None and (r.members_before.joined, r.members_before.left) == (4, 1)
    act = r.activity
    assert act is not None
    assert act.messages == 10 and act.active == 6 and act.mau == 6
    assert act.dau == {"2026-11-16": 2, "2026-11-17": 2, "2026-11-18": 3, "2026-11-19": 1,
                       "2026-11-20": 0, "2026-11-21": 0, "2026-11-22": 1}  # fmt: skip
    assert act.dau_avg == pytest.approx(9 / 7) and act.stickiness == pytest.approx(9 / 7 / 6)
    assert act.heat[0][10] == 2 and act.heat[1][21] == 2 and act.heat[6][23] == 1  # Mon 10h, Tue 21h, Sun 23h
    assert act.heat[0][0] == 0  # Monday 00:01 of the next week is not in this one
    assert sum(map(sum, act.heat)) == 10
    assert act.peak_hours() == [21, 10, 15] and act.busiest_day == ("2026-11-18", 3)
    assert r.activity_before is not None and r.activity_before.messages == 3  # carol twice, a once
    rit = r.rituals
    assert rit is not None
    assert (rit.checkins, rit.checkers, rit.avg_streak) == (2, 2, 1.0)
    assert (rit.issued, rit.spent) == (45, 0)  # two check-ins of 10; a need of 5, and 20 when accepted
    assert [(u, p) for u, _, p in rit.top] == [("b", 25), ("a", 10), ("n2", 10)]
    n = r.newcomers
    assert n is not None
    assert (n.joined_before, n.retained, n.joined, n.onboarded) == (4, 2, 1, 0)  # n1 and n2 posted
    assert n.retention == 0.5 and (n.verified, n.verify_failed, n.pass_rate) == (1, 1, 0.5)
    o = r.order
    assert o is not None and o.cases == 1 and o.by_kind["word"] == 1 and o.by_action["warn"] == 1
    assert (o.reports, o.reports_handled) == (0, 0)
    need = r.needs
    assert need is not None
    assert (need.submitted, need.responded, need.median_response_ms) == (1, 1, 4 * 3_600_000)
    assert (need.within_deadline, need.closed_loop, need.overdue_now) == (1.0, 0.0, 0)
    rec = r.recall
    assert rec is not None and rec.nudged.returned == 1 and rec.dm.settled == 1 and rec.holdout.pending == 1
    assert rec.gifts == 1
    c = r.campaigns
    assert c is not None and (c.sent, c.failed, c.presses) == (2, 1, 4)

    text = plain(_feature(h).text(ctx, r, weekly=True))
    for figure in ("6 人（净增 +0）", "加入 1", "退群率 17%", "消息 10", "发言成员 6", "日活均值 1.3",
                   "月活 6", "21:00–22:00、10:00–11:00、15:00–16:00", "11/18（周三）（3 条）", "签到 2 次",
                   "平均连签 1.0 天", "积分发放 45", "1. b +25", "次周留存 50%", "入群验证通过 1/2（50%）", "处理 1 起", "违禁词 1",
                   "警告 1", "首次回应中位用时 4 小时", "闭环率 0%", "回归 1 人（100%）", "发出 2 条",
                   "失败 1 条", "按钮点击 4 次"):  # fmt: skip
        assert figure in text, figure
    await h.stop()


async def test_the_digest_goes_to_the_admin_log_monday_morning_once(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    h.clock.set(at(22, 12))
    gid = await _gid(h)
    await ModerationRepo(db).set_log_target(gid, LogTarget("admins", None), "carol", 0)
    await h.app.scheduler.advance_to(at(23, 8, 59))
    assert not [a for a in h.take() if isinstance(a, A.Send | A.SendFile)]  # not before its hour
    await h.app.scheduler.advance_to(at(23, 9, 1))
    out = h.take()
    sends = [a for a in out if isinstance(a, A.Send) and "健康度周报" in a.text]
    files = [a for a in out if isinstance(a, A.SendFile)]
    assert len(sends) == 1 and sends[0].chat.chat_id == "admins"
    assert "2026-11-16 至 2026-11-22" in sends[0].text
    assert [f.filename for f in files] == ["peak-hours.png", "daily.png"]
    assert all(f.chat.chat_id == "admins" and f.photo for f in files)
    assert all(Path(f.path).read_bytes().startswith(charts.PNG_MAGIC) for f in files)
    await h.restart()  # a restart the same morning: the start-up catch-up finds it sent
    await h.app.scheduler.advance_to(at(23, 12))
    assert not [a for a in h.take() if isinstance(a, A.Send | A.SendFile)]
    await h.stop()


async def test_a_digest_missed_in_downtime_goes_once_within_a_day_and_not_after(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    gid = await _gid(h)
    await ModerationRepo(db).set_log_target(gid, LogTarget("admins", None), "carol", 0)
    await h.app.stop()  # down from Monday 08:00 ...
    h.clock.set(at(23, 15))  # ... to 15:00
    await h.restart()
    sent = [a for a in h.take() if isinstance(a, A.Send) and "健康度周报" in a.text]
    assert len(sent) == 1
    await h.restart()
    assert not [a for a in h.take() if isinstance(a, A.Send) and "健康度周报" in a.text]
    # a whole week later, down across the next Monday for more than a day: that digest is skipped
    await h.app.stop()
    h.clock.set(at(30, 10))
    await h.restart()
    assert [a for a in h.take() if isinstance(a, A.Send) and "健康度周报" in a.text]  # 11-30 10:00: 1 h late
    await h.app.stop()
    h.clock.set(datetime(2026, 12, 8, 10, 0, tzinfo=SHANGHAI))  # Tuesday: Monday's went unsent > 1 day
    await h.restart()
    assert not [a for a in h.take() if isinstance(a, A.Send) and "健康度周报" in a.text]
    await h.stop()


async def test_no_admin_log_no_push_and_a_group_target_posts_in_the_group(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    h.clock.set(at(22, 12))
    await h.app.scheduler.advance_to(at(23, 9, 1))
    assert not [a for a in h.take() if isinstance(a, A.Send) and "健康度周报" in a.text]
    await _say(h, at(23, 9, 5), "carol", "/set digest.target group", admin=True)
    h.take()
    await h.app.scheduler.advance_to(at(23, 10, 1))  # the next hourly tick, within the day
    sent = [a for a in h.take() if isinstance(a, A.Send) and "健康度周报" in a.text]
    assert len(sent) == 1 and sent[0].chat.chat_id == "g1"
    await h.stop()


async def test_a_chart_that_fails_to_render_still_lets_the_text_go(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    await ModerationRepo(db).set_log_target(await _gid(h), LogTarget("admins", None), "carol", 0)

    def broken(*_args: object) -> bytes:
        raise RuntimeError("no renderer")

    monkeypatch.setattr(charts, "render_heatmap", broken)
    await h.app.scheduler.advance_to(at(23, 9, 1))
    out = h.take()
    assert [a for a in out if isinstance(a, A.Send) and "健康度周报" in a.text]
    assert [f.filename for f in out if isinstance(f, A.SendFile)] == ["daily.png"]
    await h.stop()


def test_charts_are_png_and_drawn_in_the_cjk_font(caplog) -> None:  # type: ignore[no-untyped-def]
    assert charts.cjk_family() == "Noto Sans CJK SC"
    heat = [[(d + 1) * h for h in range(24)] for d in range(7)]
    labels = charts.HeatmapLabels("高峰时段：每小时消息数", ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
                                  "时（Asia/Shanghai）", "消息数")  # fmt: skip
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for tofu
        png = charts.render_heatmap(heat, labels)
        days = [f"2026-11-{d:02d}" for d in range(1, 29)]
        daily = charts.render_daily(days, list(range(28)), [1] * 28, [2] * 28,
                                    charts.DailyLabels("近 28 天", "发言成员", "加入", "退出"))  # fmt: skip
    assert not [r for r in caplog.records if "missing" in r.getMessage()]
    for image in (png, daily):
        assert image.startswith(charts.PNG_MAGIC)
        width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
        assert (width, height) == (1200, 630)  # 8 × 4.2 inches at 150 dpi: sharp on a phone
        assert 10_000 < len(image) < 500_000
    from matplotlib import font_manager

    found = font_manager.findfont(
        font_manager.FontProperties(family=charts.cjk_family()), fallback_to_default=False
    )
    assert found.endswith(charts.CJK_FONT_FILE)


async def test_stats_for_admins_members_and_bad_input(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    h.clock.set(at(22, 23, 59))
    await h.app.handle(h.message("carol", "/stats 7d", admin=True))
    out = h.take()
    replies = [plain(a.text) for a in out if isinstance(a, A.Reply)]
    assert len(replies) == 1 and "近 7 天（2026-11-16 至 2026-11-22）" in replies[0]
    # the week's ten messages and this /stats itself; and how to get the report every week
    assert "消息 11" in replies[0] and "/modlog" in replies[0]
    assert [a.filename for a in out if isinstance(a, A.SendFile)] == ["peak-hours.png", "daily.png"]
    await h.app.handle(h.message("carol", "/stats needs", admin=True))
    one = next(plain(a.text) for a in h.take() if isinstance(a, A.Reply))
    assert "需求" in one and "成员" not in one.split("\n", 1)[1]
    assert await h.say("a", "/stats") == ["/stats 仅限管理员使用。"]
    await _say(h, at(22, 23, 59), "carol", "/set digest.public_stats on", admin=True)
    h.take()
    public = await h.say("a", "/stats 30d")
    assert len(public) == 1 and "近 30 天" in public[0] and "警告" not in public[0]
    assert "用法" in (await h.say("carol", "/stats forever", admin=True))[0]
    await h.stop()


async def test_export_goes_by_dm_or_to_the_log_never_to_the_group(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    assert (await h.say("a", "/export members")) == ["/export 仅限管理员使用。"]
    no_route = await h.say("carol", "/export members", admin=True)
    assert "不能发在群里" in no_route[0]
    await ModerationRepo(db).set_log_target(await _gid(h), LogTarget("admins", None), "carol", 0)
    await h.app.handle(h.message("carol", "/export members", admin=True))
    started = h.take()
    assert not [a for a in started if isinstance(a, A.SendFile)]  # written by a job of its own, not inline
    assert "发到管理日志" in next(plain(a.text) for a in started if isinstance(a, A.Reply))
    await h.app.scheduler.run_due()
    files = _csv_files(h.take())  # (the Monday digest's charts went out on this run too)
    assert len(files) == 1 and files[0].chat.chat_id == "admins" and files[0].user_id is None
    assert "8 行" in files[0].caption  # a b carol n1 n2 n3 n4 x
    await h.app.dms.opened(PLATFORM, "carol", 0)
    await h.app.handle(h.message("carol", "/export ledger 90d", admin=True))
    out = h.take()
    await h.app.scheduler.run_due()
    [dm] = _csv_files(h.take())
    assert dm.user_id == "carol" and dm.fallback is not None and dm.fallback.chat.chat_id == "admins"
    assert "私信" in next(plain(a.text) for a in out if isinstance(a, A.Reply))
    assert "用法" in (await h.say("carol", "/export everything", admin=True))[0]
    await h.stop()


def _csv_files(actions: list[A.Action]) -> list[A.SendFile]:
    return [a for a in actions if isinstance(a, A.SendFile) and a.filename.endswith(".csv")]


async def test_csv_round_trip_with_chinese_names_and_no_formulas(db) -> None:  # type: ignore[no-untyped-def]
    h = await known_week(db)
    h.clock.set(at(23, 10))
    await h.app.handle(h.message("张三", "大家好，我是张三"))
    await h.app.handle(h.message("=HYPERLINK(1)", "hello there all"))
    await ModerationRepo(db).set_log_target(await _gid(h), LogTarget("admins", None), "carol", 0)
    exported = {}
    for kind in ("members", "ledger", "needs", "cases", "activity"):
        await h.app.handle(h.message("carol", f"/export {kind} 30d", admin=True))
        await h.app.scheduler.run_due()
        [file] = _csv_files(h.take())
        raw = Path(file.path).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
        exported[kind] = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    members = exported["members"]
    assert members[0][:3] == ["用户ID", "名称", "用户名"]
    names = {row[0]: row[1] for row in members[1:]}
    assert names["张三"] == "张三" and names["'=HYPERLINK(1)"] == "'=HYPERLINK(1)"
    assert len(members) - 1 == 10  # a b carol n1 n2 n3 n4 x, 张三 and the formula
    ledger = exported["ledger"]
    assert sorted(int(row[5]) for row in ledger[1:]) == [5, 10, 10, 20]
    assert ledger[1][1].startswith("2026-11-")  # times in the group's timezone
    assert exported["needs"][1][8] == "希望增加每周直播回放功能"
    assert exported["cases"][1][4:6] == ["word", "warn"]
    activity = exported["activity"]
    # every message of the 30 days, commands too: 3 the week before, 10 in the week, b's "早", 张三, the
    # formula, and the five /export commands
    assert sum(int(row[3]) for row in activity[1:]) == 3 + 10 + 1 + 2 + 5
    await h.stop()


async def test_filter_import_from_a_file_and_refusals(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """10,000 real words (jieba's dictionary: data we did not write) imported from one attached file."""
    import jieba

    dict_file = Path(jieba.__file__).parent / "dict.txt"
    words = [line.split(" ", 1)[0] for line in dict_file.read_text(encoding="utf-8").splitlines()[200_000:]]
    words = [w for w in words if 3 <= len(w) <= 6][:10_000]
    assert len(words) == 10_000
    listing = tmp_path / "words.txt"
    listing.write_text("\n".join(words), encoding="utf-8")
    h = await Harness(db).start()
    h.adapter.admins["g1"] = {"carol"}

    async def send(path: Path, text: str = "/filter import force") -> list[str]:
        ev = h.message("carol", text, admin=True)
        attached = Attachment(str(path), path.name, path.stat().st_size)
        await h.app.handle(dataclasses.replace(ev, attachments=(attached,)))
        return h.adapter.pop_texts()

    reply = await send(listing)
    assert (
        "10000" in reply[0].replace(",", "") and await db.fetchval("SELECT COUNT(*) FROM mod_rules") == 10_000
    )
    big = tmp_path / "big.txt"
    big.write_bytes(b"a\n" * 3_000_000)
    assert "太大" in (await send(big))[0]
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("办证\n发票\n".encode("gbk"))
    assert "UTF-8" in (await send(gbk))[0]
    binary = tmp_path / "list.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert "不是文本文件" in (await send(binary))[0]
    sheet = tmp_path / "list.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    assert ".txt" in (await send(sheet))[0]
    await h.app.handle(h.message("carol", "/filter export", admin=True))
    exported = [a for a in h.take() if isinstance(a, A.SendFile)]
    assert len(exported) == 1
    back = Path(exported[0].path).read_text(encoding="utf-8-sig").split()
    assert sorted(back) == sorted(words)
    await h.stop()


def test_period_bounds_follow_the_group_timezone() -> None:
    p = Period.of_days(WEEK_FIRST.date(), 7, "Asia/Shanghai")
    assert p.start_ms == int(at(16, 0).timestamp() * 1000) and p.end_ms == int(at(23, 0).timestamp() * 1000)
    assert p.before().first == "2026-11-09" and p.before().end_ms == p.start_ms
    ny = Period.of_days(datetime(2026, 10, 29).date(), 7, "America/New_York")  # across the end of DST
    assert ny.end_ms - ny.start_ms == (7 * 24 + 1) * 3_600_000


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(SHANGHAI)),
    st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kolkata", "UTC"]),
    st.sampled_from(WEEKDAYS),
    st.integers(0, 23),
)
def test_the_last_digest_hour_is_the_latest_such_moment_before_now(now, zone, day, hour) -> None:  # type: ignore[no-untyped-def]
    fire = last_fire(now, zone, day, hour)
    assert fire <= now < fire + timedelta(days=7, hours=1)  # an hour of slack for a DST change
    assert fire.weekday() == WEEKDAYS.index(day) and fire.hour in (hour, (hour + 1) % 24)
    week = week_before(fire, zone)
    assert week.days == 7 and date.fromisoformat(week.last) == fire.date() - timedelta(days=1)


@given(st.text(max_size=60))
def test_no_exported_cell_can_run_as_a_formula(text: str) -> None:
    out = io.StringIO()
    csv.writer(out).writerow([cell(text)])
    [[back]] = list(csv.reader(io.StringIO(out.getvalue())))
    signs = ("=", "+", "-", "@", "\t", "\r")
    assert not back.lstrip().startswith(signs)  # not even after leading blanks (" =HYPERLINK(…)")
    assert back == (
        "'" + text if text.startswith(signs) or text.lstrip().startswith(signs) else text
    )  # nothing else changed
