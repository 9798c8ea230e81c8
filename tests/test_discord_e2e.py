"""End to end through discord.py's real code: gateway payloads parsed by its ConnectionState, its real HTTP
client talking to a fake REST server on 127.0.0.1 (Route.BASE is process-wide: one fake at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from adapters.discord.adapter import make_client
from adapters.discord.runner import DiscordRunner
from bot.app import App
from bot.clock import FakeClock
from bot.outbox import Outbox
from config.settings import Settings
from handlers import default_features
from storage.db import Database
from tests.fakes import discord_api as F
from tests.helpers import Tools, eventually

ALICE = F.user(1001, "Alice")
CAROL = F.user(1003, "Carol")


async def _equals(value: Any, expected: object) -> bool:
    return await value == expected


def _greeting_queued(app: App) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any(j.startswith("welcome:") for j in app.scheduler.job_ids())

    return check


class Bot:
    def __init__(self, fake: F.FakeDiscordApi, db: Database) -> None:
        self.fake, self.db = fake, db
        self.clock = FakeClock(datetime.now(UTC))

    async def start(self) -> None:
        self.app = App(
            self.db, self.clock, Outbox(backoff=0.05), [Tools(), *default_features()], manual_scheduler=True
        )
        self.client = make_client(guild_ready_timeout=0.05)
        self.runner = DiscordRunner(self.app, Settings(discord_token="fake-token"), self.client)
        await self.app.start()
        await self.runner.login()
        self.state = self.client._connection
        self.state.parse_ready(F.ready())
        self.state.parse_guild_create(F.guild([F.member(ALICE), F.member(CAROL, [F.ROLE_ADMIN])]))
        await asyncio.sleep(0.2)  # guild_ready_timeout passes; on_ready fires

    async def stop(self) -> None:
        await self.runner.stop()
        await self.app.stop()

    def post(self, author: dict[str, Any], content: str, roles: list[int] | None = None) -> int:
        mid = F.snowflake()
        self.state.parse_message_create(F.message(mid, author, content, roles=roles))
        return mid

    async def calls(self, method: str, path: str, count: int = 1) -> list[F.Call]:
        await self.fake.wait_until(lambda: len(self.fake.of(method, path)) >= count)
        return self.fake.of(method, path)

    async def said(self, count: int = 1) -> list[str]:
        """Texts sent as channel messages and as interaction answers, in order."""
        await self.fake.wait_until(lambda: len(self._texts()) >= count)
        return self._texts()

    def _texts(self) -> list[str]:
        out = []
        for c in self.fake.calls:
            body = c.body or {}
            if c.method == "POST" and ("/messages" in c.path or c.path.startswith("/webhooks")):
                out.append(body.get("content", ""))
            elif c.path.startswith("/interactions") and body.get("type") == 4:
                out.append(body["data"].get("content", ""))
        return out


@pytest.fixture
async def bot(db: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    fake = F.FakeDiscordApi()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", f"{fake.base_url}/api/v10")
    running = Bot(fake, db)
    await running.start()
    yield running
    await running.stop()
    await fake.stop()


async def test_a_join_reaches_the_core_once(bot: Bot, db: Database) -> None:
    newcomer = F.user(1050, "Newbie")
    payload = {**F.member(newcomer), "guild_id": str(F.GUILD_ID), "joined_at": F.now_iso()}
    bot.state.parse_guild_member_add(payload)
    bot.state.parse_guild_member_add(payload)  # a replay: discord.py drops a cached member itself
    joins = "SELECT COUNT(*) FROM membership_events WHERE kind = 'join' AND user_id = '1050'"
    await eventually(lambda: _equals(db.fetchval(joins), 1))
    await asyncio.sleep(0.1)
    assert await db.fetchval(joins) == 1
    bot.state.parse_guild_member_remove({"guild_id": str(F.GUILD_ID), "user": newcomer})
    leaves = "SELECT COUNT(*) FROM membership_events WHERE kind = 'leave'"
    await eventually(lambda: _equals(db.fetchval(leaves), 1))
    stayed = await db.fetchval("SELECT stayed_seconds FROM membership_events WHERE kind = 'leave'")
    assert stayed is not None and stayed < 60


async def test_a_text_command_in_a_channel_gets_its_reply(bot: Bot) -> None:
    mid = bot.post(ALICE, "帮助")
    [call] = await bot.calls("POST", f"/channels/{F.CHANNEL_ID}/messages")
    assert call.body["content"].startswith("可用命令")
    assert int(call.body["message_reference"]["message_id"]) == mid
    assert call.body["allowed_mentions"]["parse"] == []  # nobody can be pinged through the bot


async def test_slash_commands_answered_in_zh_then_en(bot: Bot) -> None:
    bot.state.parse_interaction_create(F.slash("help", ALICE))
    bot.state.parse_interaction_create(
        F.slash("lang", CAROL, [{"name": "language", "type": 3, "value": "en"}], admin=True)
    )
    bot.state.parse_interaction_create(F.slash("help", ALICE))
    texts = await bot.said(3)
    assert texts[0].startswith("可用命令") and texts[1] == "This group's language is now English."
    assert texts[2].startswith("Commands you can use")
    callbacks = await bot.calls("POST", "/interactions/", 3)
    assert callbacks[0].query.get("with_response") in ("1", "true", "True")
    assert callbacks[0].body["data"]["flags"] & 64  # /help concerns only the caller: ephemeral
    assert not callbacks[1].body["data"].get("flags", 0) & 64  # a language change is for everyone


async def test_slash_options_with_spaces_reach_the_parser(bot: Bot) -> None:
    bot.state.parse_interaction_create(
        F.slash(
            "set",
            CAROL,
            [
                {"name": "key", "type": 3, "value": "timezone"},
                {"name": "value", "type": 3, "value": "Asia/Tokyo"},
            ],
            admin=True,
        )
    )
    assert (await bot.said(1))[0] == "已将 timezone 设为 Asia/Tokyo。"


async def test_a_non_admin_is_refused(bot: Bot) -> None:
    bot.state.parse_interaction_create(
        F.slash(
            "set",
            ALICE,
            [{"name": "key", "type": 3, "value": "timezone"}, {"name": "value", "type": 3, "value": "UTC"}],
        )
    )
    bot.post(ALICE, "/settings")
    texts = await bot.said(2)
    assert texts == ["/set 仅限管理员使用。", "/settings 仅限管理员使用。"]


async def test_a_button_interaction(bot: Bot) -> None:
    bot.post(ALICE, "/poll")
    [sent] = await bot.calls("POST", "/messages")
    buttons = sent.body["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["Tea", "Coffee"] and all(
        len(b["custom_id"]) <= 100 for b in buttons
    )
    bot.state.parse_interaction_create(
        F.button(buttons[1]["custom_id"], ALICE, F.message(F.snowflake(), F.BOT_USER, "Tea or coffee?"))
    )
    texts = await bot.said(2)
    assert texts[1] == "Alice chose cccccc"


async def test_timeout_and_ban_payloads(bot: Bot) -> None:
    mid = bot.post(ALICE, "/hush")
    assert len(await bot.calls("DELETE", f"/channels/{F.CHANNEL_ID}/messages/{mid}")) == 1
    [patched] = await bot.calls("PATCH", f"/guilds/{F.GUILD_ID}/members/{ALICE['id']}")
    until = datetime.fromisoformat(patched.body["communication_disabled_until"])
    assert abs(until - (bot.clock.now() + timedelta(hours=1))) < timedelta(seconds=5)
    bot.post(ALICE, "/banme")
    [ban] = await bot.calls("PUT", f"/guilds/{F.GUILD_ID}/bans/{ALICE['id']}")
    assert ban.query == {"delete_message_seconds": "86400"}


async def test_role_grants_check_the_hierarchy(bot: Bot) -> None:
    bot.post(ALICE, "/reward 活跃成员")
    [added] = await bot.calls("PUT", f"/members/{ALICE['id']}/roles/{F.ROLE_LEVEL}")
    assert added is not None
    bot.post(ALICE, f"/reward {F.ROLE_HIGH}")
    texts = await bot.said(3)
    assert texts[0] == "role granted"
    assert texts[1].startswith("无法授予身份组「Owners」") and texts[2] == "no role: forbidden"
    assert not bot.fake.of("PUT", f"/roles/{F.ROLE_HIGH}")


async def test_forbidden_does_not_stop_later_actions(bot: Bot) -> None:
    bot.fake.fail_next("DELETE", "/messages/", 403, {"message": "Missing Permissions", "code": 50013})
    bot.post(ALICE, "/hush")  # the delete is refused; the mute still goes out
    await bot.calls("PATCH", f"/members/{ALICE['id']}")
    bot.post(ALICE, "/frobnicate")
    texts = await bot.said(1)
    assert texts[0].startswith("未知命令 /frobnicate")


async def test_a_429_is_waited_out(bot: Bot) -> None:
    bot.fake.fail_next(
        "POST",
        "/messages",
        429,
        {"message": "You are being rate limited.", "retry_after": 0.2, "global": False},
    )
    bot.post(ALICE, "/help")
    texts = await bot.said(2)  # the refused attempt is recorded too
    assert texts[-1].startswith("可用命令")


async def test_a_replayed_message_is_handled_once(bot: Bot) -> None:
    payload = F.message(F.snowflake(), ALICE, "/help")
    bot.state.parse_message_create(payload)
    bot.state.parse_message_create(payload)  # a gateway replay after a reconnect
    await bot.said(1)
    await asyncio.sleep(0.3)
    assert len(bot.fake.of("POST", "/messages")) == 1


async def test_edits_are_delivered_as_edits(bot: Bot) -> None:
    Tools.seen.clear()
    payload = F.message(F.snowflake(), ALICE, "hello")
    bot.state.parse_message_create(payload)
    await asyncio.sleep(0.05)  # as on a real gateway, the next event is read after this one's task started
    bot.state.parse_message_update(
        {**payload, "content": "hello, buy followers", "edited_timestamp": F.now_iso()}
    )
    await asyncio.sleep(0.3)
    assert [(e.text, e.edited) for e in Tools.seen] == [("hello", False), ("hello, buy followers", True)]


async def test_messages_from_bots_run_no_commands(bot: Bot) -> None:
    bot.post(F.user(1060, "OtherBot", bot=True), "/help")
    bot.post(ALICE, "/frobnicate")
    texts = await bot.said(1)
    await asyncio.sleep(0.2)
    assert texts == ["未知命令 /frobnicate，发送 /help 查看可用命令。"]


async def test_slash_commands_synced_when_joining_a_guild(bot: Bot) -> None:
    other = F.GUILD_ID + 1
    joined = F.guild([], guild_id=other)
    del joined["unavailable"]  # a guild the bot was just added to carries no "unavailable" flag
    bot.state.parse_guild_create(joined)
    [sync] = await bot.calls("PUT", f"/applications/{F.APP_ID}/guilds/{other}/commands")
    by_name = {c["name"]: c for c in sync.body}
    assert {"help", "settings", "set", "lang"} <= set(by_name)
    assert by_name["set"]["default_member_permissions"] == str(1 << 5)
    assert by_name["help"]["default_member_permissions"] is None
    assert by_name["lang"]["name_localizations"] == {"zh-CN": "语言"}
    assert by_name["set"]["description_localizations"]["zh-CN"] == "修改一项本群设置"
    assert [o["name"] for o in by_name["set"]["options"]] == ["key", "value"]


async def test_a_slow_command_is_deferred_then_answered(bot: Bot) -> None:
    bot.runner.adapter.defer_after = 0.1
    bot.state.parse_interaction_create(F.slash("slow", ALICE))
    [callback] = await bot.calls("POST", "/interactions/")
    # "thinking…" within the window, shown to the caller only: a private answer may still follow
    assert callback.body["type"] == 5 and callback.body["data"]["flags"] == 64
    # the answer is public: posted in the channel, and the private "thinking…" removed
    [posted] = await bot.calls("POST", f"/channels/{F.CHANNEL_ID}/messages")
    assert posted.body["content"] == "done at last"
    await bot.calls("DELETE", f"/webhooks/{F.APP_ID}/")
    assert not bot.fake.of("POST", f"/webhooks/{F.APP_ID}/")


async def test_a_slow_private_answer_stays_private(bot: Bot) -> None:
    bot.runner.adapter.defer_after = 0.1
    bot.state.parse_interaction_create(F.slash("slowme", ALICE))
    [callback] = await bot.calls("POST", "/interactions/")
    assert callback.body["type"] == 5 and callback.body["data"]["flags"] == 64
    [edit] = await bot.calls("PATCH", f"/webhooks/{F.APP_ID}/")
    assert edit.path.endswith("/messages/@original")
    assert edit.body["content"] == "only for you"
    assert not bot.fake.of("POST", f"/channels/{F.CHANNEL_ID}/messages")


async def test_buttons_on_old_messages_work_after_a_restart(bot: Bot) -> None:
    bot.post(ALICE, "/poll")
    [sent] = await bot.calls("POST", "/messages")
    custom_id = sent.body["components"][0]["components"][0]["custom_id"]
    await bot.stop()
    await bot.start()
    bot.state.parse_interaction_create(
        F.button(custom_id, ALICE, F.message(F.snowflake(), F.BOT_USER, "old"))
    )
    texts = await bot.said(2)
    assert texts[1] == "Alice chose tea"


async def test_a_hostile_name_is_greeted_without_pinging_anyone(bot: Bot) -> None:
    hostile = F.user(1066, "@everyone")
    bot.state.parse_guild_member_add(
        {**F.member(hostile), "guild_id": str(F.GUILD_ID), "joined_at": F.now_iso()}
    )
    await eventually(_greeting_queued(bot.app))
    await bot.app.scheduler.advance_to(bot.clock.now() + timedelta(seconds=10))
    [greeting] = await bot.calls("POST", "/messages")
    assert greeting.body["content"].startswith("欢迎 <@1066> 加入「测试服务器」")
    assert greeting.body["allowed_mentions"] == {
        "parse": [],
        "users": [1066],
    }  # that user only, never @everyone


async def test_a_level_up_grants_the_role_named_like_the_level(bot: Bot) -> None:
    bot.post(ALICE, "签到")
    await bot.said(1)
    bot.post(CAROL, f"/points give <@{ALICE['id']}> 95", roles=[F.ROLE_ADMIN])
    [added] = await bot.calls("PUT", f"/members/{ALICE['id']}/roles/{F.ROLE_LEVEL}")
    assert added.method == "PUT"
    texts = await bot.said(2)  # the grant's answer carries the level: one message
    assert texts[1].endswith(f"\n🎉 恭喜 <@{ALICE['id']}> 升级为「活跃成员」！")


async def test_moderation_deletes_times_out_and_logs_to_a_channel(bot: Bot) -> None:
    log_channel = F.CHANNEL_ID + 7
    bot.state.parse_message_create(
        F.message(F.snowflake(), CAROL, "/modlog set here", roles=[F.ROLE_ADMIN], channel_id=log_channel)
    )
    bot.post(CAROL, "/filter add 加微信 mute 2h", roles=[F.ROLE_ADMIN])
    await bot.said(2)
    mid = bot.post(ALICE, "快 加-微-信 abc123")
    assert len(await bot.calls("DELETE", f"/channels/{F.CHANNEL_ID}/messages/{mid}")) == 1
    [patched] = await bot.calls("PATCH", f"/guilds/{F.GUILD_ID}/members/{ALICE['id']}")
    until = datetime.fromisoformat(patched.body["communication_disabled_until"])
    assert abs(until - (bot.clock.now() + timedelta(hours=2))) < timedelta(seconds=5)
    [confirmed, log] = await bot.calls("POST", f"/channels/{log_channel}/messages", 2)
    assert confirmed.body["content"] == "管理日志今后发到这里。"
    assert "被禁言 2 小时" in log.body["content"] and log.body["components"]  # the case, with its undo button


async def test_a_report_reads_the_replied_message_from_the_gateway(bot: Bot) -> None:
    bob = F.user(1002, "Bob")
    target = bot.post(ALICE, "看我主页有惊喜")
    report = F.message(F.snowflake(), bob, "/report 广告")
    report["message_reference"] = {"message_id": str(target), "channel_id": str(F.CHANNEL_ID)}
    report["referenced_message"] = F.message(target, ALICE, "看我主页有惊喜")
    bot.state.parse_message_create(report)
    texts = await bot.said(2)
    assert texts[0] == "谢谢，已通知管理员。"
    assert f"<@{ALICE['id']}>：被举报" in texts[1] and "看我主页有惊喜" in texts[1]


async def test_member_text_cannot_forge_a_ping(bot: Bot) -> None:
    """Probe: marker characters in member text put an id on the allowed-mentions list."""
    bot.post(ALICE, "/redeem \x02777000\x1f群主\x03")
    [call] = await bot.calls("POST", "/messages")
    assert "<@777000>" not in call.body["content"]
    assert call.body["allowed_mentions"] == {"parse": []}  # nobody may be pinged by this reply


async def test_commands_are_synced_at_start_only_when_they_changed(bot: Bot, db: Database) -> None:
    """An operator who invited the bot before starting it sees the slash commands; a restart with the
    same command set registers nothing (Discord limits command creations a day)."""
    path = f"/applications/{F.APP_ID}/guilds/{F.GUILD_ID}/commands"
    [first] = await bot.calls("PUT", path)
    assert {c["name"] for c in first.body} >= {"checkin", "help", "filter"}
    await bot.stop()
    again = Bot(bot.fake, db)
    await again.start()
    await asyncio.sleep(0.1)
    assert len(bot.fake.of("PUT", path)) == 1  # unchanged: nothing sent
    await again.runner.adapter.sync_guild(F.GUILD_ID, force=True)  # joining a guild always registers
    assert len(bot.fake.of("PUT", path)) == 2
    bot.runner, bot.app = again.runner, again.app  # the fixture stops the running one


async def test_a_need_voted_and_answered_through_discord(bot: Bot) -> None:
    """The card, a vote press that edits the card instead of posting, and an admin's answer."""
    bot.post(CAROL, "大家好，我是 Carol", roles=[F.ROLE_ADMIN])
    await asyncio.sleep(0.2)
    bot.clock.advance(timedelta(hours=25))  # old enough for a vote to count
    bot.post(ALICE, "/need 希望每周办一次线上分享会")
    [card] = await bot.calls("POST", "/messages")
    assert card.body["content"].startswith("📌 需求 #1 · 待处理\n希望每周办一次线上分享会")
    vote = card.body["components"][0]["components"][0]
    assert vote["label"] == "👍 +1（1）"
    card_id = F.snowflake()
    bot.state.parse_interaction_create(
        F.button(vote["custom_id"], CAROL, F.message(card_id, F.BOT_USER, card.body["content"]))
    )
    await bot.fake.wait_until(
        lambda: (
            any("已为 #1 投票（共 2 票）" in str(c.body) for c in bot.fake.calls if c.body)
            and any(c.method == "PATCH" and "👍 2" in str(c.body) for c in bot.fake.calls if c.body)
        )
    )
    posts = [c for c in bot.fake.of("POST", "/messages")]
    assert len(posts) == 1  # the vote edited the card; no new message
    bot.post(CAROL, "/need 1 accepted 下周安排", roles=[F.ROLE_ADMIN])
    # Discord's DMs are tried, not opted into: Alice hears it by DM, the channel reads the news
    await bot.fake.wait_until(
        lambda: (
            any("你关注的需求 #1" in t and "已更新为「已受理」" in t for t in bot._texts())
            and any(t.startswith("需求 #1 已更新为「已受理」") for t in bot._texts())
        )
    )


async def test_recall_dm_refused_by_discord_falls_back_to_the_group_next_day(bot: Bot, db: Database) -> None:
    """Discord DMs are tried; a 403 (closed DMs) is counted as refused and the member is named in the
    group message of the next scan instead."""
    from zoneinfo import ZoneInfo

    # discord.py dates a message by its id: this one is from now (the fake's ids are from 2021)
    now_id = discord.utils.time_snowflake(bot.clock.now())
    bot.state.parse_message_create(F.message(now_id, ALICE, "大家好，我是 Alice"))
    bot.post(CAROL, "/recall on", roles=[F.ROLE_ADMIN])
    bot.post(CAROL, "/set recall.holdout_percent 0", roles=[F.ROLE_ADMIN])
    await bot.said(2)
    local = (bot.clock.now() + timedelta(days=7, minutes=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    scan = local.replace(hour=20, minute=0, second=0, microsecond=0)
    scan = scan if scan > local else scan + timedelta(days=1)
    await bot.app.scheduler.advance_to(scan - timedelta(minutes=1))  # the week's other jobs post first
    bot.fake.fail_next(
        "POST", "/messages", 403, {"code": 50007, "message": "Cannot send messages to this user"}
    )
    await bot.app.scheduler.advance_to(scan)
    rows = "SELECT arm || ':' || status FROM recall_nudges WHERE user_id = '1001' ORDER BY day"
    await eventually(lambda: _equals(db.fetchval(rows), "dm:failed"))
    assert await db.fetchval("SELECT COUNT(*) FROM dm_refused WHERE user_id = '1001'") == 1
    await bot.app.scheduler.advance_to(scan + timedelta(days=1))
    texts = await bot.said(4)
    nudge = [t for t in texts if "好久不见" in t and "<@1001>" in t]
    assert len(nudge) == 1 and "<@1003>" not in nudge[0]
    arms = [r[0] for r in await db.fetchall(rows)]
    assert arms == ["dm:failed", "group:sent"]


async def test_a_campaign_pinned_and_replaced_through_discord(bot: Bot) -> None:
    from zoneinfo import ZoneInfo

    bot.post(CAROL, "/campaign add 每天 20:00 pin replace 今日话题", roles=[F.ROLE_ADMIN])
    texts = await bot.said(1)
    assert texts[0].startswith("活动 #1 已安排：每天 20:00")
    local = bot.clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    evening = local.replace(hour=20, minute=0, second=0, microsecond=0)
    evening = evening if evening > local else evening + timedelta(days=1)
    await bot.app.scheduler.advance_to(evening)
    [pin] = await bot.calls("PUT", "/pins/")
    await bot.app.scheduler.advance_to(evening + timedelta(days=1))
    deletes = await bot.calls("DELETE", "/messages/")
    assert deletes[0].path.endswith(pin.path.rsplit("/", 1)[1])  # the previous post, replaced
    pins = await bot.calls("PUT", "/pins/", 2)
    assert pins[-1].path != pin.path


async def test_files_both_ways_through_discord_py(bot: Bot, db: Database) -> None:
    """A list attached to a message is read from the CDN; /stats posts two PNG attachments and /export a
    CSV by DM, each a multipart upload the fake parses."""
    words = "\n".join(["办证", "代开发票", "刷单兼职"]).encode()
    now_id = discord.utils.time_snowflake(datetime.now(UTC))  # a message of today, not of 2021
    payload = F.message(now_id, CAROL, "/filter import force", roles=[F.ROLE_ADMIN])
    payload["attachments"] = [bot.fake.attach("words.txt", words)]
    bot.state.parse_message_create(payload)
    await eventually(lambda: _equals(db.fetchval("SELECT COUNT(*) FROM mod_rules"), 3))

    bot.post(CAROL, "/stats", roles=[F.ROLE_ADMIN])
    channel = f"/channels/{F.CHANNEL_ID}/messages"
    await bot.fake.wait_until(lambda: len(_uploads(bot.fake.of("POST", channel))) >= 2)
    uploads = _uploads(bot.fake.of("POST", channel))
    assert [f["filename"] for f in uploads] == ["peak-hours.png", "daily.png"]
    assert all(f["data"].startswith(b"\x89PNG") for f in uploads)

    bot.post(CAROL, "/export members", roles=[F.ROLE_ADMIN])
    await bot.fake.wait_until(lambda: any("私信" in t for t in bot._texts()))
    await bot.app.scheduler.run_due()  # the export's own job (the scheduler is manual here)
    await bot.fake.wait_until(lambda: any(f["filename"].endswith(".csv") for f in _uploads(bot.fake.calls)))
    assert bot.fake.of("POST", "/users/@me/channels")  # by DM
    [csv_file] = [f for f in _uploads(bot.fake.calls) if f["filename"].endswith(".csv")]
    assert csv_file["data"].startswith(b"\xef\xbb\xbf") and "Carol" in csv_file["data"].decode("utf-8-sig")


def _uploads(calls: list[F.Call]) -> list[dict[str, Any]]:
    return [f for c in calls if isinstance(c.body, dict) for f in c.body.get("_files", [])]


async def test_a_faq_button_answers_only_the_presser(bot: Bot) -> None:
    bot.post(
        CAROL,
        "/faq add 怎么签到 | 在群里发送“签到”即可。\n[签到说明](buttonurl://https://example.com/checkin)",
        roles=[F.ROLE_ADMIN],
    )
    bot.post(ALICE, "/faq")
    await bot.fake.wait_until(lambda: len(bot.fake.of("POST", "/messages")) >= 2)
    listing = bot.fake.of("POST", "/messages")[1]
    custom_id = listing.body["components"][0]["components"][0]["custom_id"]
    bot.state.parse_interaction_create(
        F.button(custom_id, ALICE, F.message(F.snowflake(), F.BOT_USER, "faq"))
    )
    [answer] = await bot.calls("POST", "/interactions/")
    assert answer.body["data"]["content"].startswith("❓ 怎么签到") and answer.body["data"]["flags"] & 64
    assert "buttonurl" not in answer.body["data"]["content"]
    [link] = answer.body["data"]["components"][0]["components"]  # the entry's link, a URL button (style 5)
    assert link["style"] == 5 and link["url"] == "https://example.com/checkin" and link["label"] == "签到说明"


async def test_purge_bulk_deletes_what_is_younger_than_14_days(bot: Bot) -> None:
    now = datetime.now(UTC)
    channel = str(F.CHANNEL_ID)
    recent = [discord.utils.time_snowflake(now - timedelta(minutes=m)) for m in (3, 2, 1)]
    old = [discord.utils.time_snowflake(now - timedelta(days=20, minutes=m)) for m in (2, 1)]
    bot.fake.history[channel] = [F.message(i, ALICE, "chat") for i in old + recent]
    command = discord.utils.time_snowflake(now)
    bot.fake.history[channel].append(F.message(command, CAROL, "/purge 10"))
    bot.state.parse_message_create(F.message(command, CAROL, "/purge 10", roles=[F.ROLE_ADMIN]))
    [bulk] = await bot.calls("POST", "/bulk-delete")
    assert sorted(int(i) for i in bulk.body["messages"]) == sorted([*recent, command])
    await bot.fake.wait_until(lambda: any("已清理" in t for t in bot._texts()))
    [done] = [t for t in bot._texts() if "已清理" in t]
    assert "已清理 4 条" in done and "2 条超过 14 天" in done


async def test_a_locked_image_attachment_is_deleted(bot: Bot) -> None:
    bot.post(CAROL, "/lock 图片", roles=[F.ROLE_ADMIN])
    await bot.said(1)
    payload = F.message(F.snowflake(), ALICE, "")
    payload["attachments"] = [{**bot.fake.attach("cat.png", b"\x89PNG"), "content_type": "image/png"}]
    bot.state.parse_message_create(payload)
    [call] = await bot.calls("DELETE", f"/messages/{payload['id']}")
    assert call.method == "DELETE"


async def test_pin_unpin_and_del_act_on_the_replied_message(bot: Bot) -> None:
    """/pin, /unpin and /del as replies, through discord.py: the replied message is pinned, unpinned and
    deleted, and the /del itself goes too."""
    target = bot.post(ALICE, "周六晚上八点直播")

    def reply(text: str) -> int:
        mid = F.snowflake()
        command = F.message(mid, CAROL, text, roles=[F.ROLE_ADMIN])
        command["message_reference"] = {"message_id": str(target), "channel_id": str(F.CHANNEL_ID)}
        command["referenced_message"] = F.message(target, ALICE, "周六晚上八点直播")
        bot.state.parse_message_create(command)
        return mid

    reply("/pin")
    [pin] = await bot.calls("PUT", "/pins/")
    assert pin.path.endswith(f"/{target}")
    reply("/unpin")
    [unpin] = await bot.calls("DELETE", "/pins/")
    assert unpin.path.endswith(f"/{target}")
    command = reply("/del")

    def deleted() -> set[str]:
        return {
            c.path.rsplit("/", 1)[1] for c in bot.fake.of("DELETE", "/messages/") if "/pins/" not in c.path
        }

    await bot.fake.wait_until(lambda: len(deleted()) >= 2)
    assert deleted() == {str(target), str(command)}


async def test_a_lock_is_also_a_channel_permission_with_trusted_members_exempt(bot: Bot) -> None:
    """/lock media voice on Discord: @everyone denied Attach Files and Send Voice Messages in the channel,
    the "Qunbot trusted" role allowed them and given to the trusted member; /untrust takes the role
    back; /unlock clears the override."""
    attach, voice = 1 << 15, 1 << 46
    everyone = str(F.GUILD_ID)  # the @everyone role's id is the guild's
    bot.post(ALICE, "大家好")
    bot.post(CAROL, f"/trust <@{ALICE['id']}>", roles=[F.ROLE_ADMIN])
    assert "受信任" in (await bot.said(1))[0]
    bot.post(CAROL, "/lock links", roles=[F.ROLE_ADMIN])  # Discord has no permission for links
    assert "已锁定" in (await bot.said(2))[1]
    assert not bot.fake.of("PUT", "/permissions/") and not bot.fake.of("DELETE", "/permissions/")
    bot.post(CAROL, "/lock media voice", roles=[F.ROLE_ADMIN])
    [made] = await bot.calls("POST", f"/guilds/{F.GUILD_ID}/roles")
    assert made.body["name"] == "Qunbot trusted" and int(made.body["permissions"]) == 0
    puts = await bot.calls("PUT", f"/channels/{F.CHANNEL_ID}/permissions/", 2)
    by_target = {c.path.rsplit("/", 1)[1]: c.body for c in puts}
    assert int(by_target[everyone]["deny"]) == attach | voice and int(by_target[everyone]["allow"]) == 0
    [role_id] = [k for k in by_target if k != everyone]
    assert int(by_target[role_id]["allow"]) == attach | voice and int(by_target[role_id]["deny"]) == 0
    await bot.calls("PUT", f"/members/{ALICE['id']}/roles/{role_id}")
    texts = await bot.said(3)
    assert "频道权限也会直接不让成员发送" in texts[-1] and "图片" in texts[-1] and "语音" in texts[-1]

    bot.post(CAROL, f"/untrust <@{ALICE['id']}>", roles=[F.ROLE_ADMIN])
    # discord.py learns of the role on Alice from the gateway, as on Discord
    bot.state.parse_guild_member_update(
        {"guild_id": str(F.GUILD_ID), "user": ALICE, "roles": [role_id], "joined_at": F.now_iso()}
    )
    await bot.calls("DELETE", f"/members/{ALICE['id']}/roles/{role_id}")

    bot.post(CAROL, "/unlock all", roles=[F.ROLE_ADMIN])
    await bot.fake.wait_until(
        lambda: any(
            c.path.endswith(f"/permissions/{everyone}") for c in bot.fake.of("DELETE", "/permissions/")
        )
    )


async def test_hostile_names_reach_the_board_as_plain_letters(bot: Bot) -> None:
    """Members named as masked links, headings, spoilers and mention pills check in; /top (a slash
    command) sends every name escaped: no link, heading, spoiler or pill survives, and nobody is pinged."""
    names = ["[免费领取Nitro](https://evil.cn)", "# 管理员通知 ||点我||", "**官方** <@700000000000000001>"]
    for i, name in enumerate(names):
        bot.post(F.user(1200 + i, name), "签到")
    await bot.said(3)
    bot.state.parse_interaction_create(F.slash("top", ALICE))
    [callback] = await bot.calls("POST", "/interactions/")
    board = callback.body["data"]["content"]
    assert "\\[免费领取Nitro\\](<https://evil.cn>)" in board
    assert "# 管理员通知 \\|\\|点我\\|\\|" in board  # mid-line a # is no heading
    assert "\\*\\*官方\\*\\* \\<@700000000000000001>" in board
    assert "](https://" not in board and "||点" not in board and "**官" not in board
    assert callback.body["data"]["allowed_mentions"]["parse"] == []


async def test_a_slash_command_that_only_acts_is_still_answered_once(bot: Bot) -> None:
    """/warn answers its interaction with the member's notice itself (not a message beside it), and a
    command whose work is all actions gets a private 'done': never 'the application did not respond'."""
    bot.post(ALICE, "大家好")
    await asyncio.sleep(0.2)
    bot.state.parse_interaction_create(
        F.slash(
            "warn",
            CAROL,
            [{"name": "member", "type": 6, "value": ALICE["id"]}, {"name": "reason", "type": 3, "value": "刷屏"}],
            admin=True,
        )
    )
    [callback] = await bot.calls("POST", "/interactions/")
    assert callback.body["type"] == 4 and callback.body["data"]["content"].startswith("<@1001>")
    assert not callback.body["data"].get("flags")  # the notice is for the group to see
    await asyncio.sleep(0.3)
    assert len(bot.fake.of("POST", "/interactions/")) == 1
    assert not [c for c in bot.fake.of("POST", f"/channels/{F.CHANNEL_ID}/messages")]


async def test_pin_report_and_delete_from_a_messages_apps_menu(bot: Bot) -> None:
    """Pin, Report and Delete are message commands (Apps → …), not slash commands that could only answer
    their usage: the message they are used on reaches the same handlers as a reply's, and each
    interaction is answered."""
    [sync] = await bot.calls("PUT", f"/applications/{F.APP_ID}/guilds/{F.GUILD_ID}/commands")
    menus = {c["name"]: c for c in sync.body if c.get("type") == 3}
    assert set(menus) == {"Pin", "Unpin", "Delete", "Report"}
    assert menus["Delete"]["name_localizations"] == {"zh-CN": "删除"}
    assert not {"pin", "unpin", "del", "report"} & {c["name"] for c in sync.body if c.get("type") == 1}
    target_id = bot.post(ALICE, "看我主页有惊喜")
    target = F.message(target_id, ALICE, "看我主页有惊喜")

    bot.state.parse_interaction_create(F.message_command("Pin", CAROL, target, admin=True))
    [pin] = await bot.calls("PUT", "/pins/")
    assert pin.path.endswith(f"/{target_id}")
    [pinned] = await bot.calls("POST", "/interactions/", 1)  # answered, not left "thinking"
    assert pinned.body["data"]["content"] == "📌 已置顶。" and pinned.body["data"]["flags"] & 64

    bot.state.parse_interaction_create(F.message_command("Report", F.user(1002, "Bob"), target))
    await bot.fake.wait_until(lambda: "谢谢，已通知管理员。" in bot._texts())
    await bot.fake.wait_until(lambda: any("被举报" in t and "看我主页有惊喜" in t for t in bot._texts()))
    thanks = bot.fake.of("POST", "/interactions/")[1]
    assert thanks.body["data"]["flags"] & 64  # only the reporter sees it

    bot.state.parse_interaction_create(F.message_command("Delete", CAROL, target, admin=True))
    [deleted] = await bot.calls("DELETE", f"/messages/{target_id}")
    assert deleted.path.endswith(f"/messages/{target_id}")
    answered = (await bot.calls("POST", "/interactions/", 3))[2]
    assert answered.body["data"]["content"] == "🗑️ 已删除。"
    assert not any("用法" in t for t in bot._texts())


async def test_faq_import_reads_the_file_option_of_the_slash_command(bot: Bot, db: Database) -> None:
    """/faq import on Discord takes the list as an ATTACHMENT option: the interaction's resolved file
    is read from the CDN as an attached one would be."""
    text = "## 怎么签到\n> 如何签到\n在群里发送“签到”即可。\n\n## 积分有什么用\n可以在 /shop 兑换奖品。\n"
    file = bot.fake.attach("faq.txt", text.encode())
    payload = F.slash(
        "faq",
        CAROL,
        [{"name": "rest", "type": 3, "value": "import"}, {"name": "file", "type": 11, "value": file["id"]}],
        admin=True,
    )
    payload["data"]["resolved"] = {"attachments": {file["id"]: file}}
    bot.state.parse_interaction_create(payload)
    await bot.fake.wait_until(lambda: any("已导入 2 条" in t for t in bot._texts()))
    assert await db.fetchval("SELECT COUNT(*) FROM faq_entries") == 2


async def test_a_lock_without_manage_roles_claims_nothing_and_the_notice_is_said_once(
    bot: Bot, db: Database
) -> None:
    """Without Manage Roles the /lock reply does not say Discord refuses the kinds; the "I lack Manage
    Roles" notice comes once, not again on every /trust or /untrust, nor after a restart."""
    no_rights = F.ALL_PERMISSIONS & ~(1 << 28) & ~(1 << 3)  # neither Manage Roles nor Administrator

    def take_rights(state: Any) -> None:
        state.parse_guild_role_update(
            {"guild_id": str(F.GUILD_ID), "role": F.role(F.ROLE_BOT, "Qunbot", 3, no_rights)}
        )

    def notices() -> int:
        return sum("管理权限" in t for t in bot._texts())

    take_rights(bot.state)
    bot.post(ALICE, "大家好")
    bot.post(CAROL, "/lock media", roles=[F.ROLE_ADMIN])
    await bot.fake.wait_until(lambda: any("已锁定" in t for t in bot._texts()))
    await bot.fake.wait_until(lambda: notices() == 1)
    [locked] = [t for t in bot._texts() if "已锁定" in t]
    assert "频道权限也会直接不让成员发送" not in locked
    assert not bot.fake.of("PUT", "/permissions/")

    for command in (f"/trust <@{ALICE['id']}>", f"/untrust <@{ALICE['id']}>", f"/trust <@{ALICE['id']}>"):
        before = len(bot._texts())
        bot.post(CAROL, command, roles=[F.ROLE_ADMIN])
        await bot.said(before + 1)
    await asyncio.sleep(0.2)
    assert notices() == 1

    await bot.stop()
    again = Bot(bot.fake, db)
    await again.start()
    bot.runner, bot.app, bot.state = again.runner, again.app, again.state  # the fixture stops these
    take_rights(bot.state)
    before = len(bot._texts())
    bot.post(CAROL, f"/untrust <@{ALICE['id']}>", roles=[F.ROLE_ADMIN])
    await bot.said(before + 1)
    await asyncio.sleep(0.2)
    assert notices() == 1


def _press(custom_id: str, presser: dict[str, Any], *, admin: bool = False, on: str = "card") -> dict[str, Any]:
    """A component interaction on a bot message, by an admin (Manage Server) or a member."""
    data = {"custom_id": custom_id, "component_type": 2}
    shown = F.message(F.snowflake(), F.BOT_USER, on)
    return F.interaction(3, data, presser, admin=admin, message_payload=shown)


def _answers(bot: Bot) -> list[dict[str, Any]]:
    """What interactions were answered with: a response's data, a follow-up's or an @original edit's body."""
    out = []
    for c in bot.fake.calls:
        body = c.body or {}
        if c.path.startswith("/interactions") and body.get("type") == 4:
            out.append(body.get("data") or {})
        elif c.path.startswith("/webhooks") and c.method in ("POST", "PATCH") and "content" in body:
            out.append(body)
    return out


def _in_channel(bot: Bot) -> list[str]:
    return [c.body.get("content", "") for c in bot.fake.of("POST", f"/channels/{F.CHANNEL_ID}/messages")]


async def test_submit_anyway_on_a_similar_need_through_discord(bot: Bot) -> None:
    """The handler shortened the 85-byte payload to a reference and the adapter stored that reference
    again: the press resolved to "~n" and expired. Only the adapter shortens now."""
    bot.post(ALICE, "/need 希望增加夜间模式，晚上看着不刺眼，眼睛也能舒服一些")
    await bot.fake.wait_until(lambda: len(_in_channel(bot)) >= 1)
    bot.post(CAROL, "/need 希望增加夜间模式，晚上看着不刺眼，眼睛能舒服一些", roles=[F.ROLE_ADMIN])
    await bot.fake.wait_until(lambda: len(_in_channel(bot)) >= 2)
    offer = bot.fake.of("POST", f"/channels/{F.CHANNEL_ID}/messages")[1]
    assert offer.body["content"].startswith("和已有的需求 #1 很像")
    _vote_for, anyway = offer.body["components"][0]["components"]
    assert anyway["label"] == "仍然提交"
    bot.state.parse_interaction_create(_press(anyway["custom_id"], CAROL, on=offer.body["content"]))
    await bot.fake.wait_until(lambda: any(t.startswith("📌 需求 #2 · 待处理") for t in _in_channel(bot)))
    assert not any("失效" in a.get("content", "") for a in _answers(bot))


async def test_the_need_status_menu_is_private_and_a_refused_dm_falls_back_on_discord(
    bot: Bot, db: Database
) -> None:
    """The Respond menu is the pressing admin's private answer (never a channel message); a member
    pressing it is told privately. The status notice goes to the submitter by DM, Discord's DMs being
    tried rather than opted into; her DMs are closed (403, code 50007), so she is named in the channel
    instead and the refusal is remembered."""
    bot.post(ALICE, "/need 希望每月公布一次社群数据报告")
    await bot.fake.wait_until(lambda: len(_in_channel(bot)) >= 1)
    card = bot.fake.of("POST", f"/channels/{F.CHANNEL_ID}/messages")[0]
    respond = card.body["components"][0]["components"][1]
    bot.state.parse_interaction_create(_press(respond["custom_id"], ALICE, on=card.body["content"]))
    await bot.fake.wait_until(lambda: any("只有管理员可以处理需求" in a.get("content", "") for a in _answers(bot)))
    bot.state.parse_interaction_create(_press(respond["custom_id"], CAROL, admin=True, on=card.body["content"]))
    await bot.fake.wait_until(lambda: any("选择新状态" in a.get("content", "") for a in _answers(bot)))
    menu = next(a for a in _answers(bot) if "选择新状态" in a.get("content", ""))
    assert menu.get("flags", 0) & 64  # only the admin sees it
    labels = [b["label"] for row in menu["components"] for b in row["components"]]
    assert labels == ["已受理", "已排期", "进行中", "已完成", "待处理"]
    assert len(_in_channel(bot)) == 1 and not any("仅限管理员" in t for t in _in_channel(bot))
    accept = menu["components"][0]["components"][0]
    bot.fake.fail_next("POST", "/messages", 403, {"code": 50007, "message": "Cannot send messages to this user"})
    bot.state.parse_interaction_create(_press(accept["custom_id"], CAROL, admin=True, on=menu["content"]))
    await bot.fake.wait_until(lambda: any("你的需求 #1 已更新为「已受理」" in t for t in _in_channel(bot)))
    assert bot.fake.of("POST", "/users/@me/channels")  # the DM was tried
    named = [t for t in _in_channel(bot) if "已更新为「已受理」" in t]
    assert any(t.startswith("<@1001> 你的需求 #1 已更新为「已受理」") for t in named)  # her DM's fallback
    edits = [c for c in bot.fake.calls if c.method == "PATCH" and "/channels/" in c.path]
    assert any("📌 需求 #1 · 已受理" in (c.body or {}).get("content", "") for c in edits)  # the card
    refused = "SELECT COUNT(*) FROM dm_refused WHERE user_id = '1001'"
    await eventually(lambda: _equals(db.fetchval(refused), 1))


async def test_a_card_answered_privately_once_is_still_edited_in_the_channel(bot: Bot) -> None:
    """A press answered with a private message of its own no longer owns the pressed card: a member's
    refused press on the card, then the admin's status change, edits the card in the channel (before,
    the edit went to that press's @original: the member's private refusal became the card, and the
    channel's card kept its old status)."""
    bot.post(ALICE, "/need 希望每周六晚上办一次线上分享会")
    await bot.fake.wait_until(lambda: len(_in_channel(bot)) >= 1)
    card_id, card = next((i, m) for i, m in bot.fake.messages.items() if m.content.startswith("📌 需求 #1"))
    respond = card.components[0]["components"][1]
    shown = F.message(int(card_id), F.BOT_USER, card.content)
    pressed = F.interaction(3, {"custom_id": respond["custom_id"], "component_type": 2}, ALICE, message_payload=shown)
    bot.state.parse_interaction_create(pressed)
    await bot.fake.wait_until(lambda: any("只有管理员可以处理需求" in a.get("content", "") for a in _answers(bot)))
    bot.post(CAROL, "/need 1 accepted", roles=[F.ROLE_ADMIN])
    await bot.fake.wait_until(lambda: "已受理" in bot.fake.messages[card_id].content)
    assert not [c for c in bot.fake.calls if c.method == "PATCH" and c.path.startswith("/webhooks")]


async def test_punishments_offer_a_member_picker_and_read_it_back(bot: Bot) -> None:
    """/warn, /mute, /kick and /ban read free text in the core (a reply may name the member), but their
    slash forms offer a USER option and typed ones: the chosen values come back as the same text."""
    [sync] = await bot.calls("PUT", f"/applications/{F.APP_ID}/guilds/{F.GUILD_ID}/commands")
    by_name = {c["name"]: c for c in sync.body}
    assert [(o["name"], o["type"]) for o in by_name["mute"]["options"]] == [
        ("member", 6),
        ("duration", 3),
        ("reason", 3),
    ]
    count = by_name["purge"]["options"][0]
    assert (count["name"], count["type"], count["min_value"], count["max_value"]) == ("count", 4, 1, 500)
    bot.post(ALICE, "大家好")
    await asyncio.sleep(0.2)
    options = [
        {"name": "member", "type": 6, "value": ALICE["id"]},
        {"name": "duration", "type": 3, "value": "2h"},
        {"name": "reason", "type": 3, "value": "刷屏 广告"},
    ]
    bot.state.parse_interaction_create(F.slash("mute", CAROL, options, admin=True))
    [timeout] = await bot.calls("PATCH", f"/guilds/{F.GUILD_ID}/members/{ALICE['id']}")
    assert timeout.body["communication_disabled_until"]
    [callback] = await bot.calls("POST", "/interactions/")
    assert callback.body["data"]["content"].startswith("<@1001>") and "刷屏 广告" in callback.body["data"]["content"]


async def test_a_slash_need_with_an_invite_and_a_banned_word_is_refused_and_logged_like_the_typed_one(
    bot: Bot,
) -> None:
    """Probe (issue 29, 4): typed, `/need 加入 discord.gg/freegift 领福利 兼职刷单日结` was deleted and
    warned; as a slash command it posted a need card with the invite and the banned word. Now the slash
    form is refused: its answer is the member's warning, and the admin log gets the same case."""
    log_channel = F.CHANNEL_ID + 7
    bot.state.parse_message_create(
        F.message(F.snowflake(), CAROL, "/modlog set here", roles=[F.ROLE_ADMIN], channel_id=log_channel)
    )
    bot.post(CAROL, "/filter add 刷单", roles=[F.ROLE_ADMIN])
    await bot.said(2)
    spam = "加入 discord.gg/freegift 领福利 兼职刷单日结"
    typed = bot.post(ALICE, f"/need {spam}")
    await bot.calls("DELETE", f"/channels/{F.CHANNEL_ID}/messages/{typed}")
    await bot.calls("POST", f"/channels/{log_channel}/messages", 2)  # confirmation, Alice's case
    bob = F.user(1002, "Bob")
    bot.state.parse_interaction_create(F.slash("need", bob, [{"name": "rest", "type": 3, "value": spam}]))
    [answer] = await bot.calls("POST", "/interactions/")
    content = answer.body["data"]["content"]
    assert content.startswith("<@1002> 被警告：") and "命令未执行" in content
    logged = await bot.calls("POST", f"/channels/{log_channel}/messages", 3)
    alice_case, bob_case = logged[1].body["content"], logged[2].body["content"]
    assert "<@1002>：被警告" in bob_case and "<@1001>：被警告" in alice_case
    assert bob_case.split("\n")[2:5] == alice_case.split("\n")[2:5]  # reason, excerpt, warnings: alike
    await asyncio.sleep(0.2)
    assert not any("📌 需求" in t or "discord.gg" in t for t in bot._texts())  # no card, no echo
