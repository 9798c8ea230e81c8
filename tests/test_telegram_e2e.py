"""End to end: the real python-telegram-bot Application polls a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.telegram.runner import TelegramRunner
from bot.app import App
from bot.clock import FakeClock
from bot.outbox import Outbox
from config.settings import Settings
from handlers import default_features
from storage.db import Database
from tests.fakes.telegram_api import (
    BOT_USER,
    BOT_USERNAME,
    FakeBotApi,
    callback,
    chat_member_update,
    document_message,
    group,
    join_message,
    member,
    message_base,
    text_message,
    user,
)
from tests.helpers import Tools, eventually

CHAT = -100_123
ALICE = user(1001, "Alice")
CAROL = user(1003, "Carol")
BOB = user(1002, "Bob")


class Bot:
    """One running bot: App + TelegramRunner against the fake, restartable on the same database."""

    def __init__(self, fake: FakeBotApi, db: Database) -> None:
        self.fake, self.db = fake, db
        self.clock = FakeClock(datetime.now(UTC))
        self.app: App | None = None
        self.runner: TelegramRunner | None = None

    async def start(self) -> None:
        self.app = App(
            self.db, self.clock, Outbox(backoff=0.05), [Tools(), *default_features()], manual_scheduler=True
        )
        settings = Settings(telegram_token=self.fake.token, telegram_api_base_url=self.fake.base_url)
        self.runner = TelegramRunner(self.app, settings)
        await self.app.start()
        await self.runner.start()

    async def stop(self) -> None:
        assert self.runner is not None and self.app is not None
        await self.runner.stop()
        await self.app.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    api.admins[CHAT] = [CAROL]
    yield api
    await api.stop()


@pytest.fixture
async def bot(fake: FakeBotApi, db: Database) -> AsyncIterator[Bot]:
    running = Bot(fake, db)
    await running.start()
    yield running
    await running.stop()


def say(fake: FakeBotApi, sender: dict[str, Any], text: str, **extra: Any) -> int:
    mid = fake.new_message_id()
    fake.push(text_message(CHAT, mid, sender, text, **extra))
    return mid


async def replies(fake: FakeBotApi, count: int) -> list[str]:
    return [c["text"] for c in await fake.wait_for("sendMessage", count)]


async def test_commands_answered_in_zh_then_en(bot: Bot, fake: FakeBotApi) -> None:
    mid = say(fake, ALICE, "/help")
    [first] = await replies(fake, 1)
    sent = fake.of("sendMessage")[0]
    assert first.startswith("可用命令") and "/set" not in first
    assert sent["parse_mode"] == "HTML" and sent["reply_parameters"]["message_id"] == mid
    say(fake, CAROL, "/lang en")
    say(fake, ALICE, "/help")
    texts = await replies(fake, 3)
    assert texts[1] == "This group's language is now English."
    assert texts[2].startswith("Commands you can use")


async def test_command_menus_in_both_languages_and_scopes(bot: Bot, fake: FakeBotApi) -> None:
    calls = fake.of("setMyCommands")
    scopes = {(c["scope"]["type"], c.get("language_code")) for c in calls}
    assert scopes >= {
        ("all_group_chats", "zh"),
        ("all_group_chats", "en"),
        ("all_chat_administrators", "zh"),
        ("all_chat_administrators", "en"),
    }
    member_menu = next(
        c for c in calls if c["scope"]["type"] == "all_group_chats" and c.get("language_code") == "en"
    )
    admin_menu = next(
        c for c in calls if c["scope"]["type"] == "all_chat_administrators" and c.get("language_code") == "zh"
    )
    assert "set" not in {c["command"] for c in member_menu["commands"]}
    assert {"help", "set", "settings", "lang"} <= {c["command"] for c in admin_menu["commands"]}
    assert (
        next(c["description"] for c in admin_menu["commands"] if c["command"] == "set") == "修改一项本群设置"
    )


async def test_a_join_seen_through_both_update_paths_is_one_join(
    bot: Bot, fake: FakeBotApi, db: Database
) -> None:
    newcomer = user(1050, "Newbie")
    fake.push(join_message(CHAT, fake.new_message_id(), newcomer))
    fake.push(chat_member_update(CHAT, newcomer, "left", "member"))
    say(fake, ALICE, "/help")  # a marker: once answered, both join updates were handled
    await replies(fake, 1)
    await asyncio.sleep(0.1)
    joins = await db.fetchval(
        "SELECT COUNT(*) FROM membership_events WHERE kind = 'join' AND user_id = '1050'"
    )
    assert joins == 1
    fake.push(chat_member_update(CHAT, newcomer, "member", "kicked"))
    say(fake, ALICE, "/help")
    await replies(fake, 2)
    await asyncio.sleep(0.1)
    assert await db.fetchval("SELECT COUNT(*) FROM membership_events WHERE kind = 'leave'") == 1


async def test_commands_for_another_bot_are_ignored(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, ALICE, "/help@OtherBot")
    say(fake, ALICE, f"/help@{BOT_USERNAME}")
    [only] = await replies(fake, 1)
    await asyncio.sleep(0.3)
    assert only.startswith("可用命令") and len(fake.of("sendMessage")) == 1


async def test_non_admin_is_refused_and_nothing_changes(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, ALICE, "/set timezone UTC")
    say(fake, CAROL, "/settings")
    texts = await replies(fake, 2)
    assert texts[0] == "/set 仅限管理员使用。"
    assert "timezone = Asia/Shanghai" in texts[1]


async def test_button_press_with_a_long_payload(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, ALICE, "/poll")
    [sent] = await fake.wait_for("sendMessage")
    buttons = sent["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Tea", "Coffee"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    fake.push(callback("cbq-1", CHAT, 777, ALICE, buttons[1]["callback_data"]))
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert answer["callback_query_id"] == "cbq-1" and answer["text"] == "Alice chose cccccc"


async def test_delete_and_mute_carry_the_right_parameters(bot: Bot, fake: FakeBotApi) -> None:
    mid = say(fake, ALICE, "/hush")
    [deleted] = await fake.wait_for("deleteMessage")
    [muted] = await fake.wait_for("restrictChatMember")
    assert (int(deleted["chat_id"]), int(deleted["message_id"])) == (CHAT, mid)
    assert int(muted["chat_id"]) == CHAT and int(muted["user_id"]) == ALICE["id"]
    assert muted["permissions"]["can_send_messages"] is False
    until = int(muted["until_date"])
    assert abs(until - (bot.clock.now() + timedelta(hours=1)).timestamp()) < 2


async def test_a_429_is_waited_out_and_the_message_delivered(bot: Bot, fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    say(fake, ALICE, "/help")
    texts = await replies(fake, 2)  # the refused attempt, then the retry
    assert texts[0] == texts[1] and texts[1].startswith("可用命令")
    assert "Telegram 的命令菜单只能用英文命令" in texts[1]  # where the Chinese commands went


async def test_a_server_error_is_retried(bot: Bot, fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    say(fake, ALICE, "/help")
    assert len(await replies(fake, 2)) == 2


async def test_a_permanent_error_does_not_stop_later_messages(bot: Bot, fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat")
    say(fake, ALICE, "/help")
    await fake.wait_for("sendMessage", 1)
    say(fake, ALICE, "/frobnicate")
    texts = await replies(fake, 2)
    assert texts[1].startswith("未知命令 /frobnicate")


async def test_an_update_redelivered_after_a_restart_is_not_processed_twice(
    bot: Bot, fake: FakeBotApi
) -> None:
    mid = fake.new_message_id()
    update = text_message(CHAT, mid, ALICE, "/help")
    uid = fake.push(update)
    await replies(fake, 1)
    await bot.stop()
    await bot.start()
    fake.push(update, update_id=uid)  # Telegram delivers it again
    say(fake, ALICE, "/frobnicate")  # a marker after it
    texts = await replies(fake, 2)
    await asyncio.sleep(0.3)
    assert len(fake.of("sendMessage")) == 2 and texts[1].startswith("未知命令")


async def test_user_text_is_escaped_for_html(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, CAROL, "/set <b>bold</b> 1")
    [text] = await replies(fake, 1)
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>" not in text


async def test_anonymous_admin_and_channel_posts(bot: Bot, fake: FakeBotApi) -> None:
    say(
        fake,
        {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"},
        "/lang en",
        sender_chat=group(CHAT),
    )
    say(
        fake,
        {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"},
        "/lang zh",
        sender_chat={"id": -100_777, "type": "channel", "title": "News"},
    )
    say(fake, ALICE, "/help")
    texts = await replies(fake, 2)
    assert texts[0] == "This group's language is now English."  # the anonymous admin is an admin
    assert texts[1].startswith("Commands you can use")  # the channel post ran no command


async def test_private_start_records_that_dms_can_be_delivered(
    bot: Bot, fake: FakeBotApi, db: Database
) -> None:
    zh_user = user(1070, "Xiao", lang="zh-hans")
    fake.push(
        {
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "from": zh_user,
                "text": "/start",
                "chat": {"id": 1070, "type": "private", "first_name": "Xiao"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }
        }
    )
    [text] = await replies(fake, 1)
    assert text.startswith("你好！我是 Qunbot")
    assert bot.app is not None and await bot.app.dms.can_dm("telegram", "1070")


async def test_missing_rights_are_told_plainly(bot: Bot, fake: FakeBotApi) -> None:
    fake.push(
        {
            "my_chat_member": {
                "chat": group(CHAT),
                "from": CAROL,
                "date": 1_700_000_000,
                "old_chat_member": member(BOT_USER, "left"),
                "new_chat_member": member(BOT_USER, "member"),
            }
        }
    )
    [text] = await replies(fake, 1)
    assert text.startswith("我还缺少这些管理员权限：管理员身份")


async def test_webhook_mode_checks_the_secret(fake: FakeBotApi, sqlite_db: Database) -> None:
    import socket

    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tg-hook"
    app = App(sqlite_db, FakeClock(datetime.now(UTC)), Outbox(), default_features(), manual_scheduler=True)
    settings = Settings(
        telegram_token=fake.token,
        telegram_api_base_url=fake.base_url,
        telegram_webhook_url=url,
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_secret="s3cret",
    )
    runner = TelegramRunner(app, settings)
    await app.start()
    await runner.start()
    try:
        [hook] = fake.of("setWebhook")
        assert hook["url"] == url and hook["secret_token"] == "s3cret"
        assert set(hook["allowed_updates"]) >= {"message", "chat_member", "callback_query"}
        update = {"update_id": 1, **text_message(CHAT, 42, ALICE, "/help")}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 403
            async with http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            ) as r:
                assert r.status == 200
        [text] = await replies(fake, 1)
        assert text.startswith("可用命令")
    finally:
        await runner.stop()
        await app.stop()


async def test_edits_reach_the_core_as_edits(bot: Bot, fake: FakeBotApi) -> None:
    Tools.seen.clear()
    mid = say(fake, ALICE, "hello there")
    edited = text_message(CHAT, mid, ALICE, "hello, buy followers at spam.example")["message"]
    fake.push({"edited_message": {**edited, "edit_date": edited["date"] + 5}})
    say(fake, ALICE, "/help")
    await replies(fake, 1)
    texts = [(e.text, e.edited) for e in Tools.seen]
    assert texts[:2] == [("hello there", False), ("hello, buy followers at spam.example", True)]
    assert Tools.seen[0].event_key != Tools.seen[1].event_key


async def test_a_promotion_is_seen_at_once(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, ALICE, "/lang en")
    assert (await replies(fake, 1))[0] == "/lang 仅限管理员使用。"  # the admin list is now cached
    fake.admins[CHAT].append(ALICE)
    fake.push(chat_member_update(CHAT, ALICE, "member", "administrator"))
    say(fake, ALICE, "/lang en")
    assert (await replies(fake, 2))[1] == "This group's language is now English."


async def test_verification_and_a_hostile_name_through_telegram(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, CAROL, "/verify button")
    await replies(fake, 1)
    hostile = user(1066, "<b>Admin</b>")
    fake.push(join_message(CHAT, fake.new_message_id(), hostile))
    [muted] = await fake.wait_for("restrictChatMember")
    assert int(muted["user_id"]) == 1066 and muted["permissions"]["can_send_messages"] is False
    challenge = (await fake.wait_for("sendMessage", 2))[1]
    assert '<a href="tg://user?id=1066">&lt;b&gt;Admin&lt;/b&gt;</a>' in challenge["text"]
    [[press]] = challenge["reply_markup"]["inline_keyboard"]
    fake.push(callback("cbq-9", CHAT, 1, ALICE, press["callback_data"]))  # not hers to press
    [refusal] = await fake.wait_for("answerCallbackQuery")
    assert refusal["show_alert"] is True
    fake.push(callback("cbq-10", CHAT, 1, hostile, press["callback_data"]))
    await fake.wait_for("answerCallbackQuery", 2)
    unmuted = (await fake.wait_for("restrictChatMember", 2))[1]
    assert unmuted["permissions"]["can_send_messages"] is True  # the group's defaults come back
    await fake.wait_for("deleteMessage")  # the challenge is removed, and the greeting queued
    assert bot.app is not None
    app = bot.app

    async def queued() -> bool:
        return any(j.startswith("welcome:") for j in app.scheduler.job_ids())

    await eventually(queued)
    await bot.app.scheduler.advance_to(bot.clock.now() + timedelta(seconds=10))
    greeting = (await replies(fake, 3))[2]
    assert greeting.startswith('欢迎 <a href="tg://user?id=1066">&lt;b&gt;Admin&lt;/b&gt;</a> 加入')
    assert fake.of("sendMessage")[2]["parse_mode"] == "HTML"


async def test_check_in_and_a_level_up_announced_on_telegram(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, ALICE, "签到")
    [checked_in] = await replies(fake, 1)
    assert checked_in.startswith("✅ 签到成功！+10 积分")
    say(fake, CAROL, "/points give @alice 95")
    texts = await replies(fake, 2)  # one message: the grant and the level it reached
    assert texts[-1].startswith('已给 <a href="tg://user?id=1001">Alice</a> 加 95 积分')
    assert texts[-1].endswith('\n🎉 恭喜 <a href="tg://user?id=1001">Alice</a> 升级为「活跃成员」！')


async def test_moderation_deletes_evasive_spam_and_mutes_a_repeat_offender(
    bot: Bot, fake: FakeBotApi
) -> None:
    say(fake, CAROL, "/filter add 加微信")
    [added] = await replies(fake, 1)
    assert added.startswith("已添加：#1 加微信")
    mids = [say(fake, ALICE, f"快 加-微\u200b信 abc{i}") for i in range(3)]
    deleted = await fake.wait_for("deleteMessage", 3)
    assert sorted(int(d["message_id"]) for d in deleted) == mids
    [muted] = await fake.wait_for("restrictChatMember")
    assert int(muted["user_id"]) == ALICE["id"] and muted["permissions"]["can_send_messages"] is False
    assert abs(int(muted["until_date"]) - (bot.clock.now() + timedelta(hours=1)).timestamp()) < 5


async def test_a_report_reads_the_replied_message(bot: Bot, fake: FakeBotApi) -> None:
    target = say(fake, ALICE, "看我主页有惊喜")
    original = text_message(CHAT, target, ALICE, "看我主页有惊喜")["message"]
    say(fake, BOB, "/report 广告", reply_to_message=original)
    texts = await replies(fake, 2)
    assert texts[0] == "谢谢，已通知管理员。"
    assert "Alice</a>：被举报" in texts[1] and "1 位成员举报：广告" in texts[1]


async def test_member_text_cannot_forge_a_mention(bot: Bot, fake: FakeBotApi) -> None:
    """Probe: `/redeem \\x02777000\\x1f群主\\x03` rendered as a link to user 777000; so did a /report reason."""
    forged = "\x02777000\x1f群主\x03"
    say(fake, ALICE, f"/redeem {forged}")
    target = say(fake, ALICE, "看我主页")
    original = text_message(CHAT, target, ALICE, "看我主页")["message"]
    say(fake, BOB, f"/report {forged}", reply_to_message=original)
    sent = await fake.wait_for("sendMessage", 3)
    assert all("tg://user?id=777000" not in c["text"] for c in sent)
    assert "没有找到" in sent[0]["text"] and "777000群主" in sent[0]["text"]  # shown as the plain text it is


async def test_a_nul_in_a_name_or_text_takes_nothing_down(bot: Bot, fake: FakeBotApi, db: Database) -> None:
    """Probe: a display name with NUL failed every activity batch on PostgreSQL, and with it every reply."""
    nul = user(1077, "Eve\x00\x01")
    say(fake, nul, "大家好\x00，我是新来的")
    say(fake, CAROL, "/rules set 第一条\x00：友善")
    say(fake, ALICE, "/help")
    texts = await replies(fake, 2)
    assert texts[0] == "群规已更新。" and texts[1].startswith("可用命令")
    assert bot.app is not None
    await bot.app.writer.flush()
    assert await db.fetchval("SELECT name FROM members WHERE user_id = '1077'") == "Eve"


async def test_the_api_base_url_as_ptb_documents_it_works_and_a_wrong_one_is_named(
    fake: FakeBotApi, db: Database
) -> None:
    """`http://host:8081/bot` (PTB's own form) and `http://host:8081` both reach the server; an address
    that answers 404 to getMe is called a wrong URL, not a rejected token."""
    for base in (fake.base_url, fake.base_url + "/bot", fake.base_url + "/bot/"):
        app = App(
            db, FakeClock(datetime.now(UTC)), Outbox(backoff=0.05), default_features(), manual_scheduler=True
        )
        runner = TelegramRunner(app, Settings(telegram_token=fake.token, telegram_api_base_url=base))
        await app.start()
        await runner.start()
        await runner.stop()
        await app.stop()
    app = App(
        db, FakeClock(datetime.now(UTC)), Outbox(backoff=0.05), default_features(), manual_scheduler=True
    )
    wrong = TelegramRunner(
        app, Settings(telegram_token=fake.token, telegram_api_base_url=fake.base_url + "/v2")
    )
    await app.start()
    with pytest.raises(RuntimeError, match="answered 404 Not Found to getMe: the API base URL is wrong"):
        await wrong.start()
    bad_token = TelegramRunner(app, Settings(telegram_token="123:nope", telegram_api_base_url=fake.base_url))
    with pytest.raises(RuntimeError, match="token was rejected"):
        await bad_token.start()
    await app.stop()


async def test_a_need_voted_and_answered_through_telegram(bot: Bot, fake: FakeBotApi) -> None:
    """The card, a vote press editing it in place, and an admin's answer telling the submitter."""
    say(fake, ALICE, "大家好，我是 Alice")
    say(fake, BOB, "大家好，我是 Bob")
    await asyncio.sleep(0.3)
    bot.clock.advance(timedelta(hours=25))  # both old enough for their votes to count
    say(fake, ALICE, "/need 希望每周办一次线上分享会")
    [card] = await fake.wait_for("sendMessage")
    assert card["text"].startswith("📌 需求 #1 · 待处理\n希望每周办一次线上分享会")
    vote = card["reply_markup"]["inline_keyboard"][0][0]
    assert vote["text"] == "👍 +1（1）"
    fake.push(callback("cbq-n1", CHAT, 1, BOB, vote["callback_data"]))
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert answer["text"].startswith("已为 #1 投票（共 2 票）")
    [edit] = await fake.wait_for("editMessageText")
    assert "👍 2" in edit["text"] and edit["reply_markup"]["inline_keyboard"][0][0]["text"] == "👍 +1（2）"
    say(fake, CAROL, "/need 1 受理 下周安排")
    told = (await fake.wait_for("sendMessage", 2))[-1]
    assert told["text"].startswith('<a href="tg://user?id=1001">Alice</a> 你的需求 #1 已更新为「已受理」。')


async def test_need_cards_go_to_the_forum_topic_chosen_for_them(bot: Bot, fake: FakeBotApi) -> None:
    topic = {"message_thread_id": 77, "is_topic_message": True}
    say(fake, CAROL, "/needs channel here", **topic)
    [done] = await replies(fake, 1)
    assert done == "好的，需求卡片以后发布到这个频道。"
    say(fake, ALICE, "/need 希望每周办一次线上分享会")  # asked in the general topic
    calls = await fake.wait_for("sendMessage", 3)
    [card] = [c for c in calls if c["text"].startswith("📌 需求 #1")]
    assert int(card["message_thread_id"]) == 77
    assert calls[-1]["text"] == "需求 #1 已发布到需求频道。"  # and the submitter is told where it went


def _next_scan(after: datetime) -> datetime:
    """The first 20:00 in the groups' default timezone (Asia/Shanghai) a week and more after `after`."""
    from zoneinfo import ZoneInfo

    local = (after + timedelta(days=7, minutes=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    at = local.replace(hour=20, minute=0, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


async def test_recall_by_dm_to_a_member_who_started_the_bot_and_in_the_group_for_the_rest(
    bot: Bot, fake: FakeBotApi, db: Database
) -> None:
    """Bob started the bot: a DM with a stop button (pressed in the private chat). Alice never did:
    the one group message names her. Carol is an admin: never nudged."""
    private = {"id": 1002, "type": "private", "first_name": "Bob"}
    start = {"message_id": 1, "date": int(datetime.now(UTC).timestamp()), "from": BOB, "text": "/start",
             "chat": private, "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}  # fmt: skip
    fake.push({"message": start})
    say(fake, ALICE, "大家好，我是 Alice")
    say(fake, BOB, "大家好，我是 Bob")
    say(fake, CAROL, "/recall on")
    say(fake, CAROL, "/set recall.holdout_percent 0")
    await replies(fake, 3)
    assert bot.app is not None
    await bot.app.scheduler.advance_to(_next_scan(bot.clock.now()))
    sent = await fake.wait_for("sendMessage", 5)
    dm = [c for c in sent if str(c["chat_id"]) == "1002" and "好久不见" in c["text"]]
    group_nudge = [c for c in sent if str(c["chat_id"]) == str(CHAT) and "好久不见" in c["text"]]
    assert len(dm) == 1 and len(group_nudge) == 1
    assert '<a href="tg://user?id=1001">Alice</a>' in group_nudge[0]["text"]
    assert "1002" not in group_nudge[0]["text"] and "1003" not in group_nudge[0]["text"]
    stop = dm[0]["reply_markup"]["inline_keyboard"][0][0]
    assert stop["text"] == "🔕 不再提醒"
    press = callback("cbq-stop", 1002, 50, BOB, stop["callback_data"])
    press["callback_query"]["message"]["chat"] = private
    fake.push(press)
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert answer["text"].startswith("好的，本群不会再给你发召回提醒")
    assert await db.fetchval("SELECT COUNT(*) FROM recall_optout WHERE user_id = '1002'") == 1
    assert await db.fetchval("SELECT COUNT(*) FROM groups") == 1  # the private chat is no group


async def test_a_campaign_pinned_and_replaced_through_telegram(bot: Bot, fake: FakeBotApi) -> None:
    """The post, pinned quietly; the next day the previous post deleted, the new one pinned."""
    from zoneinfo import ZoneInfo

    say(fake, CAROL, "/campaign add 每天 20:00 pin replace 今日话题：{weekday}")
    [added] = await replies(fake, 1)
    assert added.startswith("活动 #1 已安排：每天 20:00")
    assert bot.app is not None
    local = bot.clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    evening = local.replace(hour=20, minute=0, second=0, microsecond=0)
    evening = evening if evening > local else evening + timedelta(days=1)
    await bot.app.scheduler.advance_to(evening)
    [first_pin] = await fake.wait_for("pinChatMessage")
    assert str(first_pin["chat_id"]) == str(CHAT) and first_pin["disable_notification"] in (
        True,
        "true",
        "True",
    )
    posts = [c for c in fake.of("sendMessage") if c["text"].startswith("今日话题")]
    assert len(posts) == 1
    await bot.app.scheduler.advance_to(evening + timedelta(days=1))
    [deleted] = await fake.wait_for("deleteMessage")
    assert str(deleted["message_id"]) == str(first_pin["message_id"])
    pins = await fake.wait_for("pinChatMessage", 2)
    assert pins[-1]["message_id"] != first_pin["message_id"]


async def test_files_both_ways_through_the_real_bot_api(bot: Bot, fake: FakeBotApi, db: Database) -> None:
    """A word list arrives as a document (getFile, then the download); /stats answers with two photos and
    /export with a document, each a multipart upload the fake parses."""
    words = "\n".join(["办证", "代开发票", "刷单兼职", "网赚项目"]).encode()
    fake.add_file("doc-1", words)
    mid = fake.new_message_id()
    fake.push(
        document_message(CHAT, mid, CAROL, "doc-1", "words.txt", len(words), caption="/filter import force")
    )
    [imported] = await replies(fake, 1)
    assert "4" in imported and await db.fetchval("SELECT COUNT(*) FROM mod_rules") == 4
    assert fake.of("getFile")[0]["file_id"] == "doc-1"

    say(fake, CAROL, "/stats")
    photos = await fake.wait_for("sendPhoto", 2)
    assert [p["photo"]["filename"] for p in photos] == ["peak-hours.png", "daily.png"]
    assert all(p["photo"]["data"].startswith(b"\x89PNG") and p["chat_id"] == str(CHAT) for p in photos)
    assert "高峰" in photos[0]["caption"]

    private = {"message_id": fake.new_message_id(), "date": int(datetime.now(UTC).timestamp()),
               "chat": {"id": CAROL["id"], "type": "private", "first_name": "Carol"}, "from": CAROL,
               "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}  # fmt: skip
    fake.push({"message": private})
    await replies(fake, 3)  # the /stats text, and the greeting in the private chat
    say(fake, CAROL, "/export members")
    started = await replies(fake, 4)
    assert "私信" in started[-1]
    assert bot.app is not None
    await bot.app.scheduler.run_due()  # the export's own job (the scheduler is manual here)
    [doc] = await fake.wait_for("sendDocument", 1)
    assert doc["chat_id"] == str(CAROL["id"]) and doc["document"]["filename"].endswith(".csv")
    assert doc["document"]["data"].startswith(b"\xef\xbb\xbf")
    rows = doc["document"]["data"].decode("utf-8-sig").splitlines()
    assert rows[0].startswith("用户ID,名称") and any(r.startswith("1003,Carol") for r in rows)


async def test_an_oversized_or_binary_list_is_refused_with_the_reason(
    bot: Bot, fake: FakeBotApi, db: Database
) -> None:
    fake.add_file("bin-1", b"\x00\x01\x02binary")
    fake.push(
        document_message(CHAT, fake.new_message_id(), CAROL, "bin-1", "list.txt", 9, caption="/filter import")
    )
    fake.push(
        document_message(
            CHAT, fake.new_message_id(), CAROL, "huge", "big.txt", 9_000_000, caption="/filter import"
        )
    )
    texts = await replies(fake, 2)
    assert any("不是文本文件" in t for t in texts) and any("太大" in t for t in texts)
    assert len(fake.of("getFile")) == 1  # the size on the message was enough to refuse the big one
    assert await db.fetchval("SELECT COUNT(*) FROM mod_rules") == 0


async def test_purge_deletes_an_id_range_and_refuses_past_48_hours(bot: Bot, fake: FakeBotApi) -> None:
    first = say(fake, ALICE, "第一条")
    for text in ("第二条", "第三条"):
        say(fake, ALICE, text)
    command = fake.new_message_id()
    original = {"message_id": first, "date": int(datetime.now(UTC).timestamp()) - 60, "chat": group(CHAT),
                "from": ALICE, "text": "第一条"}  # fmt: skip
    fake.push(text_message(CHAT, command, CAROL, "/purge", reply_to_message=original))
    [call] = await fake.wait_for("deleteMessages", 1)
    assert call["message_ids"] == list(range(first, command + 1))
    [done] = [t for t in await replies(fake, 1) if "已清理" in t]
    assert f"已清理连续 {command - first + 1} 个消息编号内的消息" in done and "Telegram 不告知" in done
    old = {**original, "date": int((datetime.now(UTC) - timedelta(days=3)).timestamp())}
    fake.push(text_message(CHAT, fake.new_message_id(), CAROL, "/purge", reply_to_message=old))
    texts = await replies(fake, 2)
    assert "48 小时" in texts[-1] and len(fake.of("deleteMessages")) == 1  # nothing was attempted


async def test_a_locked_photo_is_read_from_the_update_and_deleted(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, CAROL, "/lock 图片")
    await replies(fake, 1)
    mid = fake.new_message_id()
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90, "file_size": 1000}]
    fake.push({"message": {**message_base(CHAT, mid, ALICE), "photo": photo}})
    [deleted] = await fake.wait_for("deleteMessage", 1)
    assert int(deleted["message_id"]) == mid


async def test_pin_unpin_and_del_act_on_the_replied_message(bot: Bot, fake: FakeBotApi) -> None:
    """/pin silent, /unpin and /del as replies, through python-telegram-bot; a refusal is told."""
    notice = say(fake, ALICE, "周六晚上八点直播")
    replied = {"message_id": notice, "date": int(datetime.now(UTC).timestamp()) - 60, "chat": group(CHAT),
               "from": ALICE, "text": "周六晚上八点直播"}  # fmt: skip
    fake.push(text_message(CHAT, fake.new_message_id(), CAROL, "/pin silent", reply_to_message=replied))
    [pin] = await fake.wait_for("pinChatMessage", 1)
    assert int(pin["message_id"]) == notice and pin["disable_notification"] in (True, "true", "True")
    fake.push(text_message(CHAT, fake.new_message_id(), CAROL, "/unpin", reply_to_message=replied))
    [unpin] = await fake.wait_for("unpinChatMessage", 1)
    assert int(unpin["message_id"]) == notice
    command = fake.new_message_id()
    fake.push(text_message(CHAT, command, CAROL, "/del", reply_to_message=replied))
    deleted = await fake.wait_for("deleteMessage", 2)
    assert sorted(int(d["message_id"]) for d in deleted) == sorted([notice, command])  # the /del goes too
    fake.fail_next(
        "pinChatMessage", 400, "Bad Request: not enough rights to manage pinned messages in the chat"
    )
    fake.push(text_message(CHAT, fake.new_message_id(), CAROL, "/pin", reply_to_message=replied))
    await _said(fake, lambda t: t.startswith("没能置顶"))
    fake.push(text_message(CHAT, fake.new_message_id(), ALICE, "/pin", reply_to_message=replied))
    await _said(fake, lambda t: "仅限管理员" in t)  # a member cannot pin
    assert len(fake.of("pinChatMessage")) == 2


async def _said(fake: FakeBotApi, wanted: Callable[[str], bool]) -> None:
    """Wait until the bot has sent a message that `wanted` accepts (others may come in any order)."""
    for count in range(1, 20):
        if any(wanted(t) for t in await replies(fake, count)):
            return
    raise AssertionError(f"never said: {[c['text'] for c in fake.of('sendMessage')]}")


# --- members without a @username, named by a text mention --------------------------------------------

DAVE = {"id": 1090, "is_bot": False, "first_name": "Dave", "last_name": "Smith"}  # no username
EVE = {"id": 1091, "is_bot": False, "first_name": "Eve"}
FAY = {"id": 1092, "is_bot": False, "first_name": "🦄 Fay", "last_name": "Lin"}


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def say_naming(fake: FakeBotApi, sender: dict[str, Any], text: str, *named: tuple[str, dict[str, Any]]) -> int:
    """A message with `text_mention` entities over the `named` spans (offsets in UTF-16 units, as
    Telegram counts them), beside the usual bot_command entity."""
    entities = list(text_message(CHAT, 0, sender, text)["message"].get("entities", []))
    for span, who in named:
        at = text.index(span)
        entities.append({"type": "text_mention", "offset": _utf16(text[:at]), "length": _utf16(span), "user": who})
    return say(fake, sender, text, entities=entities)


async def test_points_given_to_a_member_without_a_username(bot: Bot, fake: FakeBotApi, db: Database) -> None:
    """Probe: `/points give <text mention Dave Smith> 30` answered the usage line."""
    say(fake, DAVE, "大家好")
    say_naming(fake, CAROL, "/points give Dave Smith 30", ("Dave Smith", DAVE))
    await _said(fake, lambda t: t.startswith('已给 <a href="tg://user?id=1090">Dave Smith</a> 加 30 积分'))
    granted = await db.fetchval(
        "SELECT SUM(delta) FROM points_ledger WHERE user_id = '1090' AND reason = 'admin'"
    )
    assert granted == 30


async def test_warn_and_mute_a_text_mention_the_reason_keeping_its_own_mention(
    bot: Bot, fake: FakeBotApi, db: Database
) -> None:
    """The target's span is exact (emoji before the reason's mention shift UTF-16 offsets), and a text
    mention inside the reason stays the readable name it was."""
    say(fake, DAVE, "大家好")
    say(fake, EVE, "我也在")
    say_naming(fake, CAROL, "/warn Dave Smith 🎉🎉 刷屏，问 Eve", ("Dave Smith", DAVE), ("Eve", EVE))
    await _said(fake, lambda t: t.startswith('<a href="tg://user?id=1090">Dave Smith</a> 被警告：🎉🎉 刷屏，问 Eve'))
    row = await db.fetchone("SELECT user_id, user_name, reason FROM mod_cases WHERE action = 'warn'")
    assert row is not None
    assert (row["user_id"], row["user_name"], row["reason"]) == ("1090", "Dave Smith", "🎉🎉 刷屏，问 Eve")
    say_naming(fake, CAROL, "/mute Dave Smith 2h 😡 Eve 说的", ("Dave Smith", DAVE), ("Eve", EVE))
    [muted] = await fake.wait_for("restrictChatMember", 1)
    assert int(muted["user_id"]) == DAVE["id"]


async def test_whois_a_name_with_an_emoji_and_a_space(bot: Bot, fake: FakeBotApi) -> None:
    say(fake, FAY, "hi")
    say_naming(fake, CAROL, "/whois 🦄 Fay Lin", ("🦄 Fay Lin", FAY))
    await _said(fake, lambda t: t.startswith('<a href="tg://user?id=1092">🦄 Fay Lin</a> · '))


async def test_a_text_mention_of_someone_not_in_the_group_is_not_found(bot: Bot, fake: FakeBotApi) -> None:
    """A real Telegram user who never appeared here: 'no such member', never the usage line."""
    zed = {"id": 1099, "is_bot": False, "first_name": "Zed"}
    say_naming(fake, CAROL, "/points give Zed 30", ("Zed", zed))
    say_naming(fake, CAROL, "/whois Zed", ("Zed", zed))
    texts = await replies(fake, 2)
    assert texts[0].startswith("在本群找不到成员 Zed") and texts[1].startswith("本群没有找到成员 Zed")
    assert not any("/points give|take" in t or "/whois @" in t for t in texts)


async def _card_message_id(db: Database, need_id: int) -> int:
    """The need card's message id, as the bot kept it once Telegram answered the send."""
    sql = "SELECT card_message_id FROM needs WHERE id = ?"

    async def kept() -> bool:
        return await db.fetchval(sql, need_id) is not None

    await eventually(kept)
    return int(await db.fetchval(sql, need_id))


async def test_submit_anyway_on_a_similar_need_through_telegram(bot: Bot, fake: FakeBotApi) -> None:
    """The payload carries the need's text (85 bytes here): stored once by the adapter, not first by the
    handler as well, so the press resolves to it instead of "这个按钮已失效"."""
    say(fake, ALICE, "/need 希望增加夜间模式，晚上看着不刺眼，眼睛也能舒服一些")
    await fake.wait_for("sendMessage")
    say(fake, BOB, "/need 希望增加夜间模式，晚上看着不刺眼，眼睛能舒服一些")
    offer = (await fake.wait_for("sendMessage", 2))[1]
    assert offer["text"].startswith("和已有的需求 #1 很像")
    _vote_for, anyway = offer["reply_markup"]["inline_keyboard"][0]
    assert anyway["text"] == "仍然提交" and len(anyway["callback_data"].encode()) <= 64
    fake.push(callback("cbq-any", CHAT, 900, BOB, anyway["callback_data"]))
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert not answer.get("text")  # not "这个按钮已失效"
    card = (await fake.wait_for("sendMessage", 3))[2]
    assert card["text"].startswith("📌 需求 #2 · 待处理\n希望增加夜间模式，晚上看着不刺眼，眼睛能舒服一些")


async def test_the_need_status_menu_is_the_admins_alone_on_telegram(
    bot: Bot, fake: FakeBotApi, db: Database
) -> None:
    """A reply to a press is a group message on Telegram: the card shows the menu in place, and members
    pressing any of it get an alert, never a public "/need 仅限管理员使用。"."""
    say(fake, ALICE, "/need 希望每月公布一次社群数据报告")
    [card] = await fake.wait_for("sendMessage")
    card_id = await _card_message_id(db, 1)
    respond = card["reply_markup"]["inline_keyboard"][0][1]
    fake.push(callback("cbq-r1", CHAT, card_id, BOB, respond["callback_data"]))
    [refused] = await fake.wait_for("answerCallbackQuery")
    assert refused["text"] == "只有管理员可以处理需求。" and refused["show_alert"] is True
    fake.push(callback("cbq-r2", CHAT, card_id, CAROL, respond["callback_data"]))
    [menu] = await fake.wait_for("editMessageText")
    assert int(menu["message_id"]) == card_id and "处理需求 #1：选择新状态" in menu["text"]
    rows = menu["reply_markup"]["inline_keyboard"]
    labels = [b["text"] for row in rows for b in row]
    assert labels == ["已受理", "已排期", "进行中", "已完成", "待处理", "↩️ 返回"]
    accept = rows[0][0]
    fake.push(callback("cbq-s1", CHAT, card_id, BOB, accept["callback_data"]))  # a member, again
    refused = (await fake.wait_for("answerCallbackQuery", 3))[2]
    assert refused["text"] == "只有管理员可以处理需求。" and refused["show_alert"] is True
    fake.push(callback("cbq-s2", CHAT, card_id, CAROL, accept["callback_data"]))
    done = (await fake.wait_for("answerCallbackQuery", 4))[3]
    assert done["text"] == "需求 #1 已更新为「已受理」。"
    restored = (await fake.wait_for("editMessageText", 2))[1]
    assert int(restored["message_id"]) == card_id and restored["text"].startswith("📌 需求 #1 · 已受理")
    assert "选择新状态" not in restored["text"]
    assert [b["text"] for b in restored["reply_markup"]["inline_keyboard"][0]] == ["👍 +1（1）", "处理 / Respond"]
    told = (await fake.wait_for("sendMessage", 2))[1]
    assert told["text"].startswith('<a href="tg://user?id=1001">Alice</a> 你的需求 #1 已更新为「已受理」。')
    assert not any("仅限管理员" in c["text"] for c in fake.of("sendMessage"))


async def test_members_menus_leave_out_commands_members_are_refused_by_default(
    bot: Bot, fake: FakeBotApi
) -> None:
    """/stats is refused to members unless a group turns digest.public_stats on: only the admins' menus
    list it. Every description fits Telegram's 256 characters."""
    calls = fake.of("setMyCommands")
    assert calls
    for call in calls:
        names = {c["command"] for c in call["commands"]}
        if call["scope"]["type"] == "all_group_chats":
            assert "stats" not in names and "checkin" in names, call
        else:
            assert "stats" in names, call
        assert all(1 <= len(c["description"]) <= 256 for c in call["commands"])
    say(fake, ALICE, "/stats")
    assert await replies(fake, 1) == ["/stats 仅限管理员使用。"]


async def test_export_never_posts_the_member_file_into_the_group_that_is_its_own_admin_log(
    bot: Bot, fake: FakeBotApi
) -> None:
    """Probe (issue 29, 7): `/modlog set here` in the group, and an admin who never sent /start: /export
    members posted names, ids, usernames and balances into the group. Now nothing goes there but the
    refusal, which says how to open a DM; after /start the file comes by DM."""
    say(fake, ALICE, "大家好")
    say(fake, CAROL, "/modlog set here")
    await replies(fake, 1)
    say(fake, CAROL, "/export members")
    [_, refused] = await replies(fake, 2)
    assert "不能发在群里" in refused and "/start" in refused
    assert bot.app is not None
    await bot.app.scheduler.run_due()
    await asyncio.sleep(0.3)
    assert not fake.of("sendDocument")
    private = {"message_id": fake.new_message_id(), "date": int(datetime.now(UTC).timestamp()),
               "chat": {"id": CAROL["id"], "type": "private", "first_name": "Carol"}, "from": CAROL,
               "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}  # fmt: skip
    fake.push({"message": private})
    await replies(fake, 3)
    say(fake, CAROL, "/export members")
    assert "私信" in (await replies(fake, 4))[-1]
    await bot.app.scheduler.run_due()
    [doc] = await fake.wait_for("sendDocument", 1)
    assert doc["chat_id"] == str(CAROL["id"])
