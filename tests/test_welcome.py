"""Welcomes, bursts, clean-up, verification (pass, timeout, wrong answers, restarts), onboarding, goodbyes."""

from __future__ import annotations

from datetime import timedelta

from bot import actions as A
from bot.markup import plain
from handlers.welcome import template_problem
from tests.helpers import Harness

QUIET = timedelta(seconds=10)


def sends(actions: list[A.Action]) -> list[A.Send]:
    return [a for a in actions if isinstance(a, A.Send)]


async def test_a_join_is_greeted_in_zh_then_en(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.join("alice")
    assert h.take() == []  # greeted once the burst window closes, not at once
    await h.advance(QUIET)
    [greeting] = sends(h.take())
    assert plain(greeting.text).startswith("欢迎 @alice 加入「Group g1」！")
    assert [b.label for row in greeting.buttons for b in row] == ["✅ 新手任务"]
    await h.say("carol", "/lang en", admin=True)
    await h.join("bob")
    await h.advance(QUIET)
    greeting = sends(h.take())[-1]
    assert plain(greeting.text).startswith("Welcome to Group g1, @bob!")
    await h.stop()


async def test_twenty_joins_in_a_minute_get_one_greeting(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    for i in range(20):
        await h.join(f"user{i:02d}")
        await h.advance(timedelta(seconds=3))
    await h.advance(timedelta(minutes=2))
    [greeting] = sends(h.take())
    assert plain(greeting.text).startswith("欢迎 @user00、@user01、@user02 等 20 位新成员加入")
    await h.stop()


async def test_a_pending_greeting_survives_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.join("alice")
    await h.restart()
    await h.advance(QUIET)
    assert len(sends(h.take())) == 1
    await h.stop()


async def test_someone_who_left_before_the_greeting_is_not_greeted(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.join("alice")
    await h.leave("alice")
    await h.advance(QUIET)
    assert sends(h.take()) == []
    await h.stop()


async def test_clean_welcome_deletes_the_previous_greeting(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.join("alice")
    await h.advance(QUIET)
    [first] = h.take()
    first_id = "10000"  # the recording adapter numbers sent messages from 10000
    await h.join("bob")
    await h.advance(QUIET)
    actions = h.take()
    assert isinstance(first, A.Send)
    assert [type(a) for a in actions] == [A.Delete, A.Send]
    assert actions[0].message_id == first_id  # type: ignore[attr-defined]
    await h.say("carol", "/welcome clean off", admin=True)
    await h.join("dave")
    await h.advance(QUIET)
    assert [type(a) for a in h.take()] == [A.Send]
    await h.stop()


async def test_welcome_by_dm_falls_back_to_the_group(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("carol", "/welcome dm on", admin=True)
    await h.join("alice")
    await h.join("bob")
    h.adapter.failures = [A.PermanentError(A.Failure.FORBIDDEN, "bot can't initiate conversation")]
    await h.advance(QUIET)
    actions = h.take()
    dms = [a for a in actions if isinstance(a, A.DirectMessage)]
    assert [d.user_id for d in dms] == ["bob"]  # alice's DM was refused…
    assert plain(sends(actions)[0].text).startswith("欢迎 @alice")  # …so she is greeted in the group
    await h.stop()


async def test_templates_are_validated_and_rendered(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    assert template_problem("Hi {mention}, see {rules}") is None
    assert template_problem("Hi {nmae}") == "{nmae}"
    assert template_problem("{name.__class__}") == "{name.__class__}"
    assert template_problem("{name!r}") == "{name!r}"
    assert template_problem("broken {") == "{"
    h = await Harness(sqlite_db).start()
    [bad] = await h.say("carol", "/welcome set 你好 {nmae}", admin=True)
    assert "{nmae}" in bad and "{mention}" in bad
    [long] = await h.say("carol", "/welcome set " + "x" * 1001, admin=True)
    assert "1000" in long
    await h.say("carol", "/welcome set 欢迎 {name} 来到 {group}，群规：{rules}", admin=True)
    await h.say("carol", "/rules set 不许发广告", admin=True)
    [preview] = await h.say("carol", "/welcome test", admin=True)
    assert preview == "欢迎 carol 来到 Group g1，群规：不许发广告"
    [usage] = await h.say("carol", "/welcome frobnicate", admin=True)
    assert usage.startswith("用法：/welcome set")
    assert await h.say("mallory", "/welcome off") == ["/welcome 仅限管理员使用。"]
    await h.stop()


async def test_a_hostile_name_cannot_format_or_ping(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    from adapters.discord.adapter import allowed
    from adapters.discord.render import render as discord_render
    from adapters.telegram.adapter import render
    from bot.events import MemberJoined, UserRef

    h = await Harness(sqlite_db).start()
    hostile = UserRef("4242", "<b>{count}</b> @everyone\u202e", None)
    await h.app.handle(
        MemberJoined(event_key="j1", chat=h.chat(), user=hostile, is_admin=False, at=h.clock.now())
    )
    await h.advance(QUIET)
    [greeting] = sends(h.take())
    # Telegram: a link to the user, the name escaped, no bidi override, no placeholder expanded.
    html = render(greeting.text)
    assert '<a href="tg://user?id=4242">&lt;b&gt;{count}&lt;/b&gt; @\u2060everyone</a>' in html
    assert "<b>" not in html and "\u202e" not in html
    # Discord: a real mention of that user only; @everyone cannot ping.
    assert "<@4242>" in discord_render(greeting.text)
    mentions = allowed(greeting.text)
    assert mentions.everyone is False and [u.id for u in mentions.users] == [4242]  # type: ignore[union-attr]
    await h.stop()


async def test_rules_for_everyone_set_by_admins(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    assert await h.say("alice", "/rules") == ["本群还没有设置群规。"]
    assert await h.say("alice", "/rules set 随便") == ["/rules set 仅限管理员使用。"]
    await h.say("carol", "/rules set 1. 友善交流\\n2. 不发广告", admin=True)
    assert await h.say("alice", "群规") == ["📜 群规：\n1. 友善交流\\n2. 不发广告"]
    await h.stop()


async def test_goodbye(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.leave("alice")
    assert h.take() == []  # off by default
    await h.say("carol", "/goodbye set 再见，{name}！", admin=True)
    await h.leave("bob")
    assert [plain(a.text) for a in sends(h.take())] == ["再见，bob！"]  # type: ignore[attr-defined]
    await h.stop()


# --- verification ------------------------------------------------------------------------------------


async def _challenge(h: Harness, user: str) -> A.Send:
    await h.join(user)
    actions = h.take()
    assert isinstance(actions[0], A.Mute) and actions[0].user_id == user
    [challenge] = sends(actions)
    return challenge


async def test_button_verification_passed(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    [reply] = await h.say("carol", "/verify button 3", admin=True)
    assert "3 分钟" in reply
    challenge = await _challenge(h, "alice")
    [[button]] = challenge.buttons
    assert button.label == "我不是机器人" and "3 分钟" in challenge.text
    await h.press("mallory", button.data)  # someone else cannot pass it for her
    [refused] = h.take()
    assert (
        isinstance(refused, A.AnswerButton)
        and refused.alert
        and refused.text == "这是别人的验证，不用帮忙点哦。"
    )
    await h.press("alice", button.data)
    actions = h.take()
    assert [type(a) for a in actions] == [A.Unmute, A.AnswerButton, A.Delete]
    await h.advance(QUIET)
    assert plain(sends(h.take())[0].text).startswith("欢迎 @alice")  # welcomed after passing
    await h.advance(timedelta(minutes=10))
    assert not any(isinstance(a, A.Kick) for a in h.take())  # the deadline no longer applies
    await h.stop()


async def test_verification_timeout_kicks_not_bans(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("carol", "/verify button", admin=True)
    await _challenge(h, "alice")
    await h.advance(timedelta(minutes=4, seconds=59))
    assert h.take() == []
    await h.advance(timedelta(seconds=1))
    actions = h.take()
    assert [type(a) for a in actions] == [A.Delete, A.Kick] and actions[1].user_id == "alice"  # type: ignore[attr-defined]
    await h.stop()


async def test_math_verification_wrong_answers(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("carol", "/verify math", admin=True)
    challenge = await _challenge(h, "alice")
    question = challenge.text.split("点出 ")[1].split(" 的答案")[0]
    right = str(eval(question, {"__builtins__": {}}))  # a sum like "3 + 5"
    wrong = [b.data for row in challenge.buttons for b in row if not b.data.endswith(f":{right}")]
    assert len(wrong) == 3
    await h.press("alice", wrong[0])
    await h.press("alice", wrong[1])
    texts = [a.text for a in h.take() if isinstance(a, A.AnswerButton)]
    assert texts == ["答案不对，还剩 2 次机会。", "答案不对，还剩 1 次机会。"]
    await h.press("alice", wrong[2])
    assert [type(a) for a in h.take()] == [A.AnswerButton, A.Delete, A.Kick]
    await h.stop()


async def test_a_restart_during_a_challenge_still_kicks_on_time(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("carol", "/verify button", admin=True)
    await _challenge(h, "alice")
    await h.restart()
    await h.advance(timedelta(minutes=5))
    assert any(isinstance(a, A.Kick) for a in h.take())
    await h.stop()


async def test_a_deadline_passed_while_down_is_enforced_at_start(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("carol", "/verify button", admin=True)
    await _challenge(h, "alice")
    await h.app.stop()
    h.clock.advance(timedelta(hours=3))  # longer than the scheduler's misfire grace
    await h.restart()
    assert any(isinstance(a, A.Kick) and a.user_id == "alice" for a in h.take())
    await h.stop()


async def test_verify_command_bad_input(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    [usage] = await h.say("carol", "/verify captcha", admin=True)
    assert usage.startswith("用法：/verify off|button|math")
    [bad] = await h.say("carol", "/verify math 600", admin=True)
    assert "1 到 60" in bad
    [bad] = await h.say("carol", "/verify math soon", admin=True)
    assert bad.startswith("用法：")
    await h.stop()


# --- onboarding --------------------------------------------------------------------------------------


async def test_onboarding_tasks_from_real_events(db) -> None:  # type: ignore[no-untyped-def]
    signals: list[tuple[str, dict[str, object]]] = []
    h = await Harness(db).start()
    original = h.app.emit

    async def spy(ctx, signal, /, **data):  # type: ignore[no-untyped-def]
        signals.append((signal, data))
        await original(ctx, signal, **data)

    h.app.emit = spy  # type: ignore[method-assign]
    await h.join("alice")
    [tasks] = await h.say("alice", "/tasks")
    assert tasks.splitlines() == [
        "你的新手任务（还剩 7 天）：",
        "⬜ 发一条至少 10 个字的自我介绍",
        "⬜ 阅读群规（/rules）",
        "⬜ 完成第一次签到",  # shown because this build has check-ins
        "⬜ 为一个需求投票",  # and needs voting
    ]
    assert await h.say("alice", "大家好") == []  # too short to count
    [done] = await h.say("alice", "大家好，我是 alice，做产品的，请多指教！")
    assert done == "✅ 新手任务完成：发一条至少 10 个字的自我介绍（1/4），+20 积分"
    assert await h.say("alice", "再说一句很长很长很长很长的话") == []  # once only
    assert await h.say("alice", "/rules") == ["本群还没有设置群规。"]  # read quietly: not the last task
    [checked_in] = await h.say("alice", "签到")  # one message: the check-in, its task and the real balance
    assert checked_in.startswith("✅ 签到成功！+10 积分")
    assert f"当前积分 {await h.balance('alice')}。" in checked_in  # after the task's +20, not before
    assert checked_in.endswith("\n✅ 新手任务完成：完成第一次签到（3/4），+20 积分")
    await h.say("bob", "/need 希望每周办一次线上分享会")
    h.clock.advance(timedelta(hours=25))  # a vote counts once the member has been here a day
    await h.press("alice", "needs:v:1")
    [voted] = [t for t in h.adapter.pop_texts() if "新手任务" in t]
    assert voted == "🎉 恭喜！全部新手任务已完成（4/4），+20 积分。"
    assert [d["task"] for n, d in signals if n == "onboarding.task_done"] == [
        "intro",
        "rules",
        "checkin",
        "upvote",
    ]
    # An old member (no join seen) gets no tasks.
    assert await h.say("bob", "我是老成员了，随便说两句话而已") == []
    await h.stop()


async def test_onboarding_window_is_seven_days(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.join("alice")
    h.clock.advance(timedelta(days=8))
    assert await h.say("alice", "大家好，我是 alice，做产品的，请多指教！") == []
    [tasks] = await h.say("alice", "/tasks")
    assert tasks.startswith("新手任务期（入群 7 天内）已结束")
    await h.stop()
