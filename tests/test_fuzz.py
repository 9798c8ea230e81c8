"""Fuzz: 100,000 hostile commands, messages and button presses per database, none of which may end in an
internal error, an exception in the log, or a stuck bot. Seeded, so a failure replays exactly
(QUNBOT_FUZZ_SEED picks another seed, QUNBOT_FUZZ_EVENTS another count)."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from datetime import timedelta

from bot.events import (
    ButtonPressed,
    CommandInvoked,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Replied,
    UserRef,
)
from bot.i18n import t
from tests.helpers import Harness

EVENTS = int(os.environ.get("QUNBOT_FUZZ_EVENTS", "100000"))
STREAMS = int(os.environ.get("QUNBOT_FUZZ_STREAMS", "2"))  # groups fuzzed concurrently; 1 replays exactly
SEED = int(os.environ.get("QUNBOT_FUZZ_SEED", "20261123"))

TOKENS = [
    "²",
    "①",
    "１２",
    "٣",
    "99999999999999999999",
    "-1",
    "0",
    "1",
    "7",
    "500",
    "1,000",
    "+5",
    "1e9",
    "10m",
    "1h",
    "2小时",
    "999d",
    "0s",
    "1h30m",
    "1y",
    "@alice",
    "@bob",
    "@nobody",
    "@",
    "<@123>",
    "<@!99999999999999999999>",
    "<@²>",
    "#1",
    "#²",
    "#",
    "~1",
    "\x00",
    "\x02777000\x1f群主\x03",
    "\ud83d",
    "\u202e",
    "\u200b",
    "\x1b[31m",
    "\r\n",
    "on",
    "off",
    "here",
    "set",
    "add",
    "remove",
    "list",
    "test",
    "import",
    "export",
    "csv",
    "except",
    "shadow",
    "allow",
    "deny",
    "link",
    "give",
    "take",
    "done",
    "cancel",
    "freeze",
    "button",
    "math",
    "day",
    "week",
    "month",
    "all",
    "日",
    "周",
    "zh",
    "en",
    "fr",
    "中文",
    "regex:[(",
    "regex:(a+)+$",
    "regex:.*",
    "fuzzy:ab",
    "fuzzy:casino",
    "加微信",
    "刷单",
    "sex",
    '"',
    "「",
    "”",
    "'",
    "“引号",
    "京东卡",
    "京东卡 50元",
    "example.com",
    "https://t.me/+abc",
    "discord.gg/x",
    # schedules and the words of /campaign, /recall, /lifecycle (issues 16 and 17)
    "每天",
    "每周一三五",
    "每月31号",
    "20:00",
    "25:61",
    "8pm",
    "13pm",
    "晚上8点半",
    "明天",
    "tomorrow",
    "2026-02-30",
    "2099-12-31",
    "12-01",
    "in",
    "every",
    "3h",
    "0m",
    "cron",
    '"0 20 * * 1-5"',
    '"*/0 * * * *"',
    '"0 20 * * 9"',
    "pin",
    "replace",
    "checkin",
    "needs",
    "link=https://example.com/a",
    "link=javascript:alert(1)",
    "event",
    "stats",
    "template",
    "preview",
    "pause",
    "resume",
    "edit",
    "when",
    "text",
    "{date}",
    "{name.__class__}",
    "{mentions}",
    "{",
    "7d",
    "90d",
    "{mention}",
    "{0}",
    "{name!r}",
    "{count:>9999}",
    "%s",
    "<b>x</b>",
    "&amp;",
    "`code`",
    "*bold*",
    "points.levels",
    "points.level_names",
    "moderation.ladder",
    "moderation.repeats",
    "timezone",
    "Asia/Shanghai",
    "Mars/Base",
    "3=mute:1h,5=kick",
    "3=mute:²",
    "0,100,500",
    "0,²",
    "萌新,骨干",
    "😀",
    "👍🏽",
    "ＳＥＸ",
    "兼職刷單",
    "加 微 信",
    "c.a.s.i.n.o",
]
HEADS = [
    "/",
    "／",
    "/x",
    "/hlep",
    "/help@OtherBot",
    "/help@",
    "//",
    "签到！",
    "签到",
    "打卡",
    "补签",
    "群规",
    "排行榜",
]
OPS = ["undo", "unwarn", "dismiss", "delete", "warn", "mute", "x", ""]


def _noise_pool(rng: random.Random) -> list[str]:
    """Random text of every size up to past the maximum message, made once (making it per event was
    most of the test's time)."""
    pool = []
    for size in (1, 2, 3, 5, 10, 30, 200, 1000, 5000):
        for _ in range(8):
            pool.append("".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(size)))
    return pool


NOISE = _noise_pool(random.Random(SEED))


def _noise(rng: random.Random) -> str:
    return rng.choice(NOISE)


def _args(rng: random.Random) -> str:
    parts = [rng.choice(TOKENS) if rng.random() < 0.85 else _noise(rng) for _ in range(rng.randrange(0, 5))]
    return rng.choice((" ", "  ", "\n", "\t")).join(parts)


def _button(rng: random.Random) -> str:
    n = rng.choice(("1", "2", "²", "0", "-1", "99999999999999999999", "abc", ""))
    return rng.choice(
        (
            f"mod:{n}:{rng.choice(OPS)}",
            f"~{n}",
            f"verify:{rng.choice(('alice', 'bob', n))}:{rng.choice(('ok', n, ''))}",
            "checkin:do",
            f"checkin:{n}",
            f"welcome:{rng.choice(('rules', 'tasks', n))}",
            f"{_noise(rng)[:60]}:{n}",
            "",
            # the buttons of the features added since (needs, FAQ, recall, moderation's import lint)
            f"needs:{rng.choice('vrscdnb')}:{n}",
            f"needs:s:{n}:{rng.choice(('progress', 'done', 'declined', 'open', 'planned', n))}",
            f"needs:d:{n}:{rng.choice(('alice', 'bob', n))}",
            f"needs:n:{rng.choice(('alice', 'bob'))}:{_noise(rng)[:40]}",
            f"faq:{rng.choice((n, 'list', f'p:{n}', f'no:{n}'))}",
            f"recall:{rng.choice(('stop', f'stop:{n}', f'k:{n}:{n}', f'c:{n}:{n}', n))}",
            f"mod:addall:{n}",
        )
    )


async def test_fuzzed_input_never_ends_in_an_internal_error(db, caplog) -> None:  # type: ignore[no-untyped-def]
    """Groups are fuzzed concurrently, as adapters deliver them (in order within a chat, concurrently
    across chats): that is how production runs, and it lets races show."""
    h = await Harness(db).start()
    names = sorted({n for spec in h.app.commands.all() for n in (spec.name, *spec.aliases)})
    names += [tr for spec in h.app.commands.all() for tr in spec.triggers]
    specs = h.app.commands.all()
    internal = {t("zh-CN", "common.internal_error"), t("en", "common.internal_error")}
    caplog.set_level(logging.ERROR)
    bad: list[str] = []

    def check(event: object) -> None:
        for action in h.take():
            text = getattr(action, "text", None)
            if text in internal:
                bad.append(f"internal error for a {type(event).__name__} in {action.chat.chat_id}")
        for record in caplog.records:
            bad.append(f"{record.getMessage()} (around {event!r})")
        caplog.clear()

    async def stream(number: int) -> None:
        rng = random.Random(SEED + number)
        chat = f"g{number}"
        users = ["alice", "bob", "carol", "dave", "\x00eve", "\x02777\x1f@everyone\x03"]
        admins = {"carol", "dave"} if number % 2 == 0 else {"bob"}
        for i in range(EVENTS // STREAMS):
            if len(bad) > 20:
                return
            h.clock.advance(timedelta(seconds=rng.choice((0, 1, 1, 2, 30))))
            user = rng.choice(users)
            base = {
                "event_key": f"fz:{number}:{i}",
                "chat": h.chat(chat),
                "user": UserRef(user, user, user),
                "is_admin": user in admins,
                "at": h.clock.now(),
            }
            roll = rng.random()
            if roll < 0.8:
                head = rng.choice(names) if rng.random() < 0.8 else rng.choice(HEADS)
                prefix = "" if head.startswith(("/", "／")) or not head.isascii() else "/"
                text = f"{prefix}{head} {_args(rng)}" if rng.random() < 0.9 else _args(rng)
                event: object = MessagePosted(**base, message_id=str(i), text=text)
            elif roll < 0.88:
                event = ButtonPressed(
                    **base, message_id=str(rng.randrange(1, i + 2)), data=_button(rng), callback_id=str(i)
                )
            elif roll < 0.95:  # a native command (a Discord slash or context-menu command)
                spec = rng.choice(specs)
                replied = (
                    Replied(str(rng.randrange(1, i + 2)), UserRef("bob", "bob", "bob"), _noise(rng)[:200])
                    if spec.target == "message" or rng.random() < 0.1
                    else None
                )
                event = CommandInvoked(**base, name=spec.name, args=_args(rng), replied=replied)
            elif roll < 0.98:
                event = MemberJoined(**base)
            else:
                event = MemberLeft(**base)
            await h.app.handle(event)  # type: ignore[arg-type]
            check(event)

    await asyncio.gather(*(stream(n) for n in range(STREAMS)))
    await h.stop()
    assert not bad, "\n".join(bad[:20])
