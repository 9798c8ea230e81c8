"""The shared argument parser: tokens, quotes, durations, mentions, numbers, models."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from bot.commands import CommandRegistry, CommandSpec, UsageError, bind_args
from bot.parsing import REST, Duration, Integer, MemberArg, Mention, parse_duration, parse_mention, tokenize


def words(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def test_tokens_with_ascii_and_chinese_quotes() -> None:
    assert words('give @bob 5 "good answer"') == ["give", "@bob", "5", "good answer"]
    assert words("shop add “月度 会员” 500") == ["shop", "add", "月度 会员", "500"]
    assert words("「加 微 信」 ban") == ["加 微 信", "ban"]
    assert words('"unclosed quote runs on') == ["unclosed quote runs on"]
    assert words("   ") == []


def test_token_count_and_length_are_bounded() -> None:
    assert len(tokenize("a " * 10_000)) == 64
    assert sum(len(t.text) for t in tokenize("x" * 100_000)) == 4096


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("7d", 604800),
        ("1h30m", 5400),
        ("2 小时", 7200),
        ("3天", 259200),
        ("10分钟", 600),
        ("1w", 604800),
        ("45 MIN", 2700),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "abc", "10", "-5m", "0m", "5x", "1h foo", "400d", "m5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_mentions() -> None:
    assert parse_mention("@alice") == Mention("@alice", username="alice")
    assert parse_mention("<@!1234>") == Mention("<@!1234>", user_id="1234")
    assert parse_mention("<@99>").user_id == "99"
    assert parse_mention("5551234").user_id == "5551234"
    for bad in ("alice", "@", "<@abc>", "@" + "x" * 100):
        with pytest.raises(ValueError):
            parse_mention(bad)


class GiveArgs(BaseModel):
    who: MemberArg
    amount: Integer
    reason: Annotated[str, REST] = ""


class MuteArgs(BaseModel):
    who: MemberArg
    length: Duration = timedelta(hours=1)


async def _noop(_ctx: Any, _args: Any) -> None:
    return None


def test_bind_args_maps_tokens_to_the_model() -> None:
    give = CommandSpec("give", _noop, GiveArgs)
    args = bind_args(give, '@bob 1,000 for the   "great" answer')
    assert isinstance(args, GiveArgs)
    assert args.who.username == "bob" and args.amount == 1000
    assert args.reason == 'for the   "great" answer'  # the rest as typed
    assert bind_args(give, "@bob 5").reason == ""  # type: ignore[attr-defined]
    assert bind_args(CommandSpec("mute", _noop, MuteArgs), "<@42> 2h").length == timedelta(hours=2)  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["", "@bob", "@bob lots", "bob 5", "@bob 5.5"])
def test_bind_args_rejects_bad_input(text: str) -> None:
    with pytest.raises(UsageError):
        bind_args(CommandSpec("give", _noop, GiveArgs), text)


def test_too_many_arguments() -> None:
    with pytest.raises(UsageError):
        bind_args(CommandSpec("mute", _noop, MuteArgs), "@bob 2h extra")


def test_registry_matching() -> None:
    reg = CommandRegistry()
    reg.add(CommandSpec("checkin", _noop, aliases=("qd",), triggers=("签到", "打卡")))
    assert reg.match("/checkin").spec.name == "checkin"  # type: ignore[union-attr]
    assert reg.match("/QD extra args").args == "extra args"  # type: ignore[union-attr]
    assert reg.match("／checkin").spec is not None  # type: ignore[union-attr]  # full-width slash
    assert reg.match("签到").spec.name == "checkin"  # type: ignore[union-attr]
    assert reg.match("签到了") is not None and reg.match("签到了吗") is None  # a statement, not a question
    assert reg.match("hello /checkin") is None
    unknown = reg.match("/nope")
    assert unknown is not None and unknown.spec is None and unknown.name == "nope"
    with pytest.raises(ValueError):
        reg.add(CommandSpec("qd", _noop))
