"""Telegram's text mentions (a member without a @username, named by an entity that carries the user):
the adapter turns the member argument of a command into the `<@id>` the parser reads as one token, and
leaves every other text mention, and every message that is no command, as written."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Message

from adapters.telegram.adapter import TelegramAdapter
from bot.commands import CommandSpec, bind_args
from bot.parsing import parse_mention, tokenize
from handlers.points import PointsArgs

DAVE = {"id": 1090, "is_bot": False, "first_name": "Dave", "last_name": "Smith"}
EVE = {"id": 1091, "is_bot": False, "first_name": "Eve"}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity(text: str, span: str, who: dict[str, Any], *, after: int = 0) -> dict[str, Any]:
    """A text_mention entity over the first `span` in `text` from `after`, its offsets in UTF-16 units."""
    at = text.index(span, after)
    return {"type": "text_mention", "offset": utf16(text[:at]), "length": utf16(span), "user": who}


def message(text: str, *entities: dict[str, Any], caption: bool = False) -> Message:
    data: dict[str, Any] = {
        "message_id": 7,
        "date": 1_700_000_000,
        "chat": {"id": -100, "type": "supergroup", "title": "G"},
        "from": {"id": 1003, "is_bot": False, "first_name": "Carol"},
    }
    if caption:
        data.update(caption=text, caption_entities=list(entities), document={"file_id": "f", "file_unique_id": "u"})
    else:
        data.update(text=text, entities=list(entities))
    return Message.de_json(data, None)


def read(text: str, *entities: dict[str, Any], caption: bool = False) -> tuple[str, dict[str, str]]:
    out, found = TelegramAdapter._mentions(message(text, *entities, caption=caption), text)
    return out, {key: ref.user_id for key, ref in found.items()}


def test_a_name_with_a_space_becomes_one_id_token() -> None:
    text = "/points give Dave Smith 30 well done"
    out, found = read(text, entity(text, "Dave Smith", DAVE))
    assert out == "/points give <@1090> 30 well done"
    assert found == {"Dave Smith": "1090", "<@1090>": "1090"}
    args = bind_args(CommandSpec("points", _noop, PointsArgs), out.partition(" ")[2])
    assert isinstance(args, PointsArgs)
    assert args.member.user_id == "1090" and args.amount == 30 and args.reason == "well done"


def test_offsets_count_utf16_units_past_emoji() -> None:
    """An emoji is two UTF-16 units and one Python character: a slice by the raw offsets would be wrong."""
    who = {**DAVE, "first_name": "🦄😀 Dave"}
    text = "/whois 🦄😀 Dave Smith"
    out, _ = read(text, entity(text, "🦄😀 Dave Smith", who))
    assert out == "/whois <@1090>"
    reason = "/warn Dave Smith 🎉🎉 spam 😡 ask Eve"
    out, found = read(reason, entity(reason, "Dave Smith", DAVE), entity(reason, "Eve", EVE))
    assert out == "/warn <@1090> 🎉🎉 spam 😡 ask Eve"  # the reason's mention stays readable
    assert found["Eve"] == "1091"


def test_only_the_member_argument_is_rewritten() -> None:
    text = "/warn Eve said Eve"
    out, _ = read(text, entity(text, "Eve", EVE, after=10))  # the reason's Eve, not a target
    assert out == text
    text = "/warn Dave Smith bothered Eve"
    out, _ = read(text, entity(text, "Dave Smith", DAVE), entity(text, "Eve", EVE))
    assert out == "/warn <@1090> bothered Eve"  # one member per command; the word Eve elsewhere untouched
    text = "/warn Dave's spam"
    out, _ = read(text, entity(text, "Dave", DAVE))
    assert out == text  # part of a word is prose, not an argument


def test_messages_that_are_no_commands_are_never_rewritten() -> None:
    text = "thanks Dave Smith 👍"
    out, found = read(text, entity(text, "Dave Smith", DAVE))
    assert out == text and found == {"Dave Smith": "1090"}


def test_a_command_in_a_caption_and_one_for_this_bot_by_name() -> None:
    text = "/whois@QunBot Dave Smith"
    out, found = read(text, entity(text, "Dave Smith", DAVE), caption=True)
    assert out == "/whois@QunBot <@1090>" and found["<@1090>"] == "1090"


def test_hostile_offsets_do_not_crash() -> None:
    text = "/whois 🦄 Dave"
    split = {"type": "text_mention", "offset": 8, "length": 5, "user": DAVE}  # starts inside 🦄
    assert read(text, split) == (text, {})
    beyond = {"type": "text_mention", "offset": 500, "length": 4, "user": DAVE}
    assert read(text, beyond) == (text, {})


def test_the_id_form_is_one_member_token() -> None:
    assert [t.text for t in tokenize("give <@1090> 30")] == ["give", "<@1090>", "30"]
    assert parse_mention("<@1090>").user_id == "1090"


async def _noop(_ctx: Any, _args: Any) -> None:
    return None


@pytest.mark.parametrize("text", ["/points give Dave Smith 30", "／points give Dave Smith 30"])
def test_full_width_slash_is_a_command_too(text: str) -> None:
    out, _ = read(text, entity(text, "Dave Smith", DAVE))
    assert out.endswith("give <@1090> 30")
