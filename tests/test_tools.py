"""Everyday admin tools: /pin, /unpin, /del and /trust, on both databases."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot import actions as A
from bot.markup import plain
from tests.helpers import Harness


async def _setup(db) -> Harness:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    h.adapter.admins["g1"] = {"carol"}
    return h


async def test_pin_unpin_and_del_act_on_the_replied_message(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    notice = h.message("bob", "周六晚上八点直播，别错过")
    await h.app.handle(notice)
    h.take()
    await h.app.handle(h.message("carol", "/pin", admin=True, reply_to=notice))
    await h.app.handle(h.message("carol", "/置顶 silent", admin=True, reply_to=notice))
    await h.app.handle(h.message("carol", "/unpin", admin=True, reply_to=notice))
    pins = [(a.message_id, a.pinned, a.notify) for a in h.take() if isinstance(a, A.Pin)]
    assert pins == [
        (notice.message_id, True, True),
        (notice.message_id, True, False),
        (notice.message_id, False, False),
    ]
    spam = h.message("bob", "a message to remove")
    await h.app.handle(spam)
    command = h.message("carol", "/del", admin=True, reply_to=spam)
    await h.app.handle(command)
    assert [a.message_id for a in h.take() if isinstance(a, A.Delete)] == [
        spam.message_id,
        command.message_id,
    ]
    assert "用法" in (await h.say("carol", "/pin", admin=True))[0]  # nothing replied to
    assert "用法" in (await h.say("carol", "/pin sideways", admin=True, reply_to=notice))[0]
    assert (await h.say("bob", "/pin", reply_to=notice)) == ["/pin 仅限管理员使用。"]
    await h.stop()


async def test_what_the_platform_refuses_is_said_plainly(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    old = h.message("bob", "an old message")
    await h.app.handle(old)
    h.take()
    h.adapter.failures = [A.PermanentError(A.Failure.NOT_FOUND, "message to delete not found")]
    command = h.message("carol", "/del", admin=True, reply_to=old)
    await h.app.handle(command)
    out = h.take()
    assert not [a for a in out if isinstance(a, A.Delete)]  # the command stays: its answer explains
    [text] = [plain(a.text) for a in out if isinstance(a, A.Reply)]
    assert text.startswith("没能删除") and "48 小时" in text
    h.adapter.failures = [A.PermanentError(A.Failure.FORBIDDEN, "not enough rights")]
    said = await h.say("carol", "/pin", admin=True, reply_to=old)
    assert said[0].startswith("没能置顶") and "权限" in said[0]
    await h.stop()


async def test_trusted_members_skip_the_automatic_checks_and_trust_survives_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    await h.say("carol", "/filter add 办证 delete", admin=True)
    await h.say("dave", "大家好")
    await h.app.handle(h.message("dave", "办证找我"))
    assert any(isinstance(a, A.Delete) for a in h.take())  # not trusted: the word list acts
    assert "已设为受信任成员" in (await h.say("carol", "/trust @dave", admin=True))[0]
    assert "已经是" in (await h.say("carol", "/trust @dave", admin=True))[0]
    await h.restart()
    h.clock.advance(timedelta(minutes=1))
    await h.app.handle(h.message("dave", "办证找我，正规渠道"))
    assert not any(isinstance(a, A.Delete) for a in h.take())
    assert "dave" in (await h.say("carol", "/trusted", admin=True))[0]
    assert "已取消" in (await h.say("carol", "/untrust @dave", admin=True))[0]
    assert "不在" in (await h.say("carol", "/untrust @dave", admin=True))[0]
    assert "还没有" in (await h.say("carol", "/trusted", admin=True))[0]
    assert "@nobody" in (await h.say("carol", "/trust @nobody", admin=True))[0]
    assert "用法" in (await h.say("carol", "/trust", admin=True))[0]
    await h.stop()


async def test_purge_takes_a_run_of_messages_and_is_capped(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    first = h.message("bob", "第一条")
    await h.app.handle(first)
    command = h.message("carol", "/purge", admin=True, reply_to=first)
    await h.app.handle(command)
    out = h.take()
    [purge] = [a for a in out if isinstance(a, A.Purge)]
    assert (purge.from_message_id, purge.until_message_id, purge.count) == (
        first.message_id,
        command.message_id,
        500,  # a reply's range has the same cap as /purge n (issue 29: no cap made 2,501 calls)
    )
    assert any(isinstance(a, A.Send) and "已清理" in a.text for a in out)  # a message of its own
    await h.app.handle(h.message("carol", "/清理 100000", admin=True))
    out = h.take()
    assert [a.count for a in out if isinstance(a, A.Purge)] == [500]
    assert any(isinstance(a, A.Send) and "最多清理 500 条" in a.text for a in out)
    assert "用法" in (await h.say("carol", "/purge", admin=True))[0]  # neither a reply nor a number
    assert "用法" in (await h.say("carol", "/purge lots", admin=True))[0]
    assert (await h.say("bob", "/purge 5")) == ["/purge 仅限管理员使用。"]
    await h.stop()


async def test_locked_kinds_are_deleted_quietly_but_never_an_admins_or_a_trusted_members(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    assert "已锁定：链接、转发消息" in (await h.say("carol", "/lock 链接 转发", admin=True))[0]
    await h.say("carol", "/lock media", admin=True)
    await h.say("dave", "大家好")
    photo = dataclasses.replace(h.message("dave", ""), kinds=("photo",))
    await h.app.handle(photo)
    out = h.take()
    assert [a.message_id for a in out if isinstance(a, A.Delete)] == [photo.message_id]
    assert [plain(a.text) for a in out if isinstance(a, A.Send)] == ["dave，本群不允许发送图片，消息已删除。"]
    h.clock.advance(timedelta(minutes=5))
    await h.app.handle(h.message("dave", "看这个 https://spam.example.com/x"))
    out = h.take()
    assert any(isinstance(a, A.Delete) for a in out) and not [
        a for a in out if isinstance(a, A.Send)
    ]  # one notice an hour
    await h.app.handle(dataclasses.replace(h.message("dave", "hi"), kinds=("sticker",)))
    assert not any(isinstance(a, A.Delete) for a in h.take())  # stickers are not locked
    await h.app.handle(dataclasses.replace(h.message("carol", "", admin=True), kinds=("forward",)))
    assert not any(isinstance(a, A.Delete) for a in h.take())  # an admin's message is never deleted
    await h.say("carol", "/trust @dave", admin=True)
    await h.restart()
    await h.app.handle(dataclasses.replace(h.message("dave", ""), kinds=("video",)))
    assert not any(isinstance(a, A.Delete) for a in h.take())  # trusted
    await h.app.handle(dataclasses.replace(h.message("erin", ""), kinds=("video",)))
    assert any(isinstance(a, A.Delete) for a in h.take())  # the lock survived the restart
    assert "链接" in (await h.say("carol", "/locks", admin=True))[0]
    assert "已解锁" in (await h.say("carol", "/unlock all", admin=True))[0]
    assert "没有锁定" in (await h.say("carol", "/locks", admin=True))[0]
    assert "用法" in (await h.say("carol", "/lock everything-else", admin=True))[0]
    await h.stop()


async def test_a_trusted_member_who_rejoins_skips_verification_and_the_newcomer_link_rule(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    await h.say("carol", "/verify button", admin=True)
    await h.say("carol", "/set moderation.newcomer_links delete", admin=True)
    await h.join("erin")
    assert any(isinstance(a, A.Mute) for a in h.take())  # a stranger is challenged
    await h.join("dave")
    h.take()
    assert "已设为受信任成员" in (await h.say("carol", "/trust @dave", admin=True))[0]
    await h.leave("dave")
    h.clock.advance(timedelta(minutes=1))
    await h.join("dave")  # back: trusted, so no challenge and no mute
    out = h.take()
    assert not any(isinstance(a, A.Mute) for a in out)
    assert not any(isinstance(a, A.Send) and "验证" in a.text for a in out)
    await h.advance(timedelta(minutes=1))
    assert any(isinstance(a, A.Send) and "dave" in a.text for a in h.take())  # greeted as after passing
    await h.app.handle(h.message("erin", "看看 https://example.org 这个"))
    assert any(isinstance(a, A.Delete) for a in h.take())  # a newcomer's link is held
    await h.app.handle(h.message("dave", "我们的新网站 https://example.org 已上线"))
    assert not any(isinstance(a, A.Delete) for a in h.take())  # a newcomer's link, but a trusted one
    await h.stop()


async def test_members_at_the_trusted_level_skip_locks_as_they_skip_moderation(db) -> None:  # type: ignore[no-untyped-def]
    h = await _setup(db)
    await h.say("carol", "/set points.levels 0,50,200,1000", admin=True)
    await h.say("carol", "/set moderation.trusted_level 2", admin=True)
    await h.say("carol", "/lock links", admin=True)
    await h.say("bob", "大家好")
    await h.say("dave", "大家好")
    assert "加 60 积分" in (await h.say("carol", "/points give @bob 60 老成员", admin=True))[0]
    h.take()
    await h.app.handle(h.message("dave", "看 https://example.org"))
    assert any(isinstance(a, A.Delete) for a in h.take())  # level 1: held to the lock
    await h.app.handle(h.message("bob", "看 https://example.org"))
    assert not any(isinstance(a, A.Delete) for a in h.take())  # level 2: trusted
    await h.stop()


async def test_telegram_purge_is_one_capped_call_per_action_paced_through_the_outbox() -> None:
    """Issue 29: a reply from message 1 to 250,001 made 2,501 deleteMessages calls in a tight loop inside
    one action, unseen by the rate limiter. Now one call per Purge, the rest handed back, PURGE_MAX in all."""
    from adapters.telegram.adapter import TelegramAdapter
    from bot.events import ChatRef
    from handlers.tools import PURGE_MAX

    calls: list[list[int]] = []

    class Bot:
        async def delete_messages(self, chat_id: int, ids: list[int]) -> bool:
            calls.append(ids)
            return True

    adapter = TelegramAdapter.__new__(TelegramAdapter)
    adapter.bot = Bot()  # type: ignore[attr-defined]
    purge = A.Purge(chat=ChatRef("telegram", "-100"), until_message_id="250001", from_message_id="1", count=PURGE_MAX)
    result = await adapter._purge(purge, -100)
    assert calls == [list(range(249_902, 250_002))]
    assert result.extra["capped"] == "1" and result.extra["next_until"] == "249901"
    assert result.extra["next_from"] == str(250_001 - PURGE_MAX)
    while "next_until" in result.extra:
        purge = A.Purge(chat=purge.chat, until_message_id=result.extra["next_until"],
                        from_message_id=result.extra["next_from"], count=PURGE_MAX)  # fmt: skip
        result = await adapter._purge(purge, -100)
    assert len(calls) == 6 and sum(map(len, calls)) == PURGE_MAX + 1  # the last n and the command
