"""The first day of a new operator (issue 13): forgiving input, one clear reply per action, the right
figures, one voice per language. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import Harness


async def test_check_in_words_are_forgiven(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    for i, text in enumerate(
        ("签到！", "签到了", "打卡～", "簽到", "签 到", "/签到", "checkin", "Check-in!")
    ):
        member = f"m{i}"
        [reply] = await h.say(member, text)
        assert "签到成功" in reply, (text, reply)
    assert await h.say("m9", "打卡了吗") == []  # a question about checking in is not a check-in
    assert await h.say("m9", "今天签到了吗？") == []
    await h.stop()


async def test_did_you_mean(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    [reply] = await h.say("alice", "/hlep")
    assert reply == "未知命令 /hlep。你是不是想用 /help？发送 /help 查看可用命令。"
    [reply] = await h.say("alice", "/xyzzy")
    assert reply == "未知命令 /xyzzy，发送 /help 查看可用命令。"  # nothing close: no guess
    [reply] = await h.say("carol", "/set checkin.base_point 5", admin=True)
    assert (
        reply
        == "没有设置项「checkin.base_point」。发送 /settings 查看全部设置项。\n你是不是想设置：checkin.base_points？"
    )
    assert "moderation.flood_seconds" not in reply  # no dump of every key
    await h.stop()


async def test_an_admin_action_is_one_message_and_an_unknown_member_is_named(db) -> None:  # type: ignore[no-untyped-def]
    from bot import actions as A

    h = await Harness(db).start()
    await h.say("alice", "hello")
    await h.app.handle(h.message("carol", "/mute @alice 5m", admin=True))
    said = [a for a in h.take() if isinstance(a, A.Send | A.Reply)]
    assert len(said) == 1 and "被禁言 5 分钟" in said[0].text  # no second "已处理：记录 #N"
    await h.say("carol", "/modlog set here", admin=True)
    await h.app.handle(h.message("carol", "/warn @alice 不礼貌", admin=True))
    said = [a for a in h.take() if isinstance(a, A.Send | A.Reply)]
    assert len(said) == 1 and said[0].buttons  # the log is this chat: the notice carries the undo button
    for command in ("/mute @nobody 10m", "/warns @nobody", "/unmute @nobody"):
        [reply] = await h.say("carol", command, admin=True)
        assert reply.startswith("本群没有找到成员 @nobody"), (command, reply)
    [usage] = await h.say("carol", "/mute", admin=True)
    assert usage.startswith("用法：/mute")
    await h.stop()


async def test_durations_and_plurals_read_one_way_per_language(db) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from bot.i18n import duration, t

    assert duration("zh-CN", timedelta(hours=1)) == "1 小时"
    assert duration("en", timedelta(days=1, hours=2)) == "1 day 2 hours"
    assert t("en", "points.me_streak", streak=1) == "🔥 Check-in streak: 1 day"
    assert t("en", "points.me_streak", streak=21) == "🔥 Check-in streak: 21 days"


async def test_the_modlog_tip_comes_once_per_group(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    [first] = await h.say("carol", "/filter add 加微信", admin=True)
    [second] = await h.say("carol", "/filter add 代开发票", admin=True)
    assert "/modlog set here" in first and "/modlog set here" not in second
    await h.stop()


async def test_a_redemption_goes_to_the_admin_log_and_items_match_by_prefix(db) -> None:  # type: ignore[no-untyped-def]
    from bot import actions as A
    from storage.moderation import LogTarget, ModerationRepo
    from tests.test_shop import give

    h = await Harness(db).start()
    await h.say("carol", '/shop add "京东卡 50元" 10', admin=True)
    await h.say("carol", '/shop add "京东卡 100元" 20', admin=True)
    await h.say("carol", "/shop add 贴纸 5", admin=True)
    await give(h, "alice", 100)
    [which] = await h.say("alice", "/redeem 京东卡")
    assert which.startswith("“京东卡”对应多个商品：#1 京东卡 50元、#2 京东卡 100元")
    group = await h.app.groups.get("test", "g1")
    await ModerationRepo(db).set_log_target(group.id, LogTarget("admins", None), "carol", 0)
    await h.app.handle(h.message("alice", "/redeem 京东卡 50"))
    actions = h.take()
    in_group = [a for a in actions if isinstance(a, A.Send | A.Reply) and a.chat.chat_id == "g1"]
    to_log = [a for a in actions if isinstance(a, A.Send) and a.chat.chat_id == "admins"]
    assert len(in_group) == 1 and "京东卡 50元" in in_group[0].text  # one reply in the group
    assert len(to_log) == 1 and "新的兑换" in to_log[0].text
    [removed] = await h.say("carol", "/shop remove 贴", admin=True)
    assert "贴纸" in removed
    await h.stop()


async def test_a_newcomers_first_check_in_is_one_reply_with_the_real_balance(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.join("nina")
    h.take()
    [reply] = await h.say("nina", "签到")
    assert "完成第一次签到（1/4），+20 积分" in reply
    assert f"当前积分 {await h.balance('nina')}。" in reply and await h.balance("nina") == 30
    [me] = await h.say("nina", "/me")
    assert "30" in me
    await h.stop()


async def test_boards_and_member_counts_are_of_current_members(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    for user in ("alice", "dave", "erin"):
        await h.join(user)
        await h.say(user, "签到")
    await h.advance(timedelta(minutes=2))
    await h.leave("dave")
    await h.say("carol", "/kick @erin", admin=True)
    [top] = await h.say("alice", "/top")
    [streaks] = await h.say("alice", "/streaks")
    for board in (top, streaks):
        assert "alice" in board and "dave" not in board and "erin" not in board, board
    h.take()
    await h.join("fred")
    await h.advance(timedelta(minutes=2))  # greetings are gathered for a few seconds
    welcome = " ".join(a.text for a in h.take() if hasattr(a, "text"))
    assert "你是本群第 3 位成员" in welcome  # alice, carol and fred: not dave, who left, nor erin, kicked
    [week] = await h.say("alice", "/top week")
    assert "dave" not in week
    await h.join("dave")  # back: his points put him back on the boards of the current periods
    for board in ("/top", "/top week", "/top day"):
        [top] = await h.say("alice", board)
        assert "dave" in top and "erin" not in top, top
    await h.stop()


async def test_current_values_are_shown_and_built_in_items_follow_the_language(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    [verify] = await h.say("carol", "/verify", admin=True)
    assert verify.startswith("入群验证：关闭；时限 5 分钟。") and "用法：/verify" in verify
    [shown] = await h.say("carol", "/settings", admin=True)
    assert "points.level_names = 新人,活跃成员,核心成员,社群之星" in shown
    await h.say("carol", "/shop add freeze 50", admin=True)
    [bad_lang] = await h.say("carol", "/lang fr", admin=True)
    assert "zh | en" in bad_lang
    await h.say("carol", "/lang en", admin=True)
    [shop] = await h.say("alice", "/shop")
    assert "Streak freeze" in shop and "连签保护卡" not in shop, shop
    await h.say("alice", "签到")
    [me] = await h.say("alice", "/me")
    assert "Check-in streak: 1 day" in me and "1 days" not in me
    await h.stop()
