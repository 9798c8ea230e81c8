"""The application commands generated from the registry keep Discord's documented limits, offer typed
options (choices, bounds, users, files) and put the reply-based tools on a message's Apps menu."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from adapters.discord import commands as C
from bot.commands import Choices, CommandRegistry, CommandSpec, shorten
from handlers import default_features

# https://discord.com/developers/docs/interactions/application-commands (limits of a registration)
MAX_SLASH, MAX_MESSAGE_COMMANDS = 100, 5


def _registry() -> CommandRegistry:
    registry = CommandRegistry()
    for feature in default_features():
        for spec in feature.commands():
            registry.add(spec)
    return registry


def _payloads() -> list[dict[str, Any]]:
    return C.command_payloads(_registry())


def _by_name(type_: int = C.CHAT_INPUT) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in _payloads() if p["type"] == type_}


def _check_description(where: str, text: str, localized: dict[str, str]) -> None:
    for value in (text, *localized.values()):
        assert 1 <= len(value) <= 100, (where, value)


def _check_options(where: str, options: list[dict[str, Any]]) -> None:
    assert len(options) <= 25, where
    required = [o["required"] for o in options]
    assert required == sorted(required, reverse=True), f"{where}: a required option after an optional one"
    assert len({o["name"] for o in options}) == len(options), where
    for o in options:
        assert C.valid_name(o["name"]), (where, o["name"])
        for local in o.get("name_localizations", {}).values():
            assert C.valid_name(local), (where, local)
        _check_description(f"{where}.{o['name']}", o["description"], o["description_localizations"])
        choices = o.get("choices", [])
        assert len(choices) <= 25, where
        for choice in choices:
            assert 1 <= len(choice["name"]) <= 100, (where, choice)
            assert all(1 <= len(v) <= 100 for v in choice.get("name_localizations", {}).values())
            assert not isinstance(choice["value"], str) or 1 <= len(choice["value"]) <= 100
        if o["type"] == C.INTEGER:
            lo, hi = o.get("min_value", -(2**53)), o.get("max_value", 2**53)
            assert -(2**53) <= lo <= hi <= 2**53, (where, o)


def test_every_payload_keeps_discords_limits() -> None:
    payloads = _payloads()
    slash = [p for p in payloads if p["type"] == C.CHAT_INPUT]
    menus = [p for p in payloads if p["type"] == C.MESSAGE_COMMAND]
    assert len(slash) <= MAX_SLASH and len(menus) <= MAX_MESSAGE_COMMANDS
    assert len({p["name"] for p in slash}) == len(slash) and len({p["name"] for p in menus}) == len(menus)
    for p in slash:
        assert C.valid_name(p["name"]), p["name"]
        for local in p.get("name_localizations", {}).values():
            assert C.valid_name(local), (p["name"], local)
        _check_description(p["name"], p["description"], p["description_localizations"])
        _check_options(p["name"], p["options"])
    for p in menus:  # a message command has a name (spaces and capitals allowed) and no description
        names = [p["name"], *p.get("name_localizations", {}).values()]
        assert all(1 <= len(n) <= 32 for n in names), p
        assert "description" not in p and "options" not in p


def test_reply_tools_are_message_commands_not_slash_commands() -> None:
    slash, menus = _by_name(), _by_name(C.MESSAGE_COMMAND)
    assert not {"pin", "unpin", "del", "report"} & set(slash)
    assert {n: p.get("name_localizations") for n, p in menus.items()} == {
        "Pin": {"zh-CN": "置顶"},
        "Unpin": {"zh-CN": "取消置顶"},
        "Delete": {"zh-CN": "删除"},
        "Report": {"zh-CN": "举报"},
    }
    assert menus["Delete"]["default_member_permissions"] == str(C.MANAGE_GUILD)
    assert menus["Report"]["default_member_permissions"] is None  # members report
    registry = _registry()
    spec = C.invoked(registry, {"type": 3, "name": "Delete"})
    assert spec is not None and spec.name == "del"
    assert C.invoked(registry, {"type": 1, "name": "del"}) is None  # no slash form any more
    assert C.invoked(registry, {"type": 1, "name": "help"}) is registry.get("help")


def test_options_are_typed_from_the_argument_models() -> None:
    slash = _by_name()

    def option(command: str, name: str) -> dict[str, Any]:
        return next(o for o in slash[command]["options"] if o["name"] == name)

    period = option("top", "period")
    assert period["type"] == C.STRING and [c["value"] for c in period["choices"]] == [
        "day",
        "week",
        "month",
        "all",
    ]
    assert period["choices"][0]["name_localizations"] == {"zh-CN": "今日"}
    page = option("top", "page")
    assert (page["type"], page["min_value"], page["max_value"]) == (C.INTEGER, 1, 1000)
    language = option("lang", "language")
    assert [c["value"] for c in language["choices"]] == ["zh-CN", "en"]
    assert language["name_localizations"] == {"zh-CN": "语言"}
    minutes = option("verify", "minutes")
    assert (minutes["type"], minutes["min_value"], minutes["max_value"]) == (C.INTEGER, 1, 60)
    assert [c["value"] for c in option("verify", "mode")["choices"]] == ["off", "button", "math"]
    assert option("points", "member")["type"] == C.USER
    assert option("points", "amount")["type"] == C.INTEGER and "min_value" not in option("points", "amount")
    for command in ("faq", "filter"):
        assert option(command, "file")["type"] == C.ATTACHMENT and not option(command, "file")["required"]


def test_admin_only_by_default_commands_are_hidden_from_members() -> None:
    slash = _by_name()
    assert slash["stats"]["default_member_permissions"] == str(C.MANAGE_GUILD)
    assert slash["help"]["default_member_permissions"] is None
    hidden = {s.name for s in _registry().all() if not s.for_members}
    assert {"stats", "set", "pin"} <= hidden and "checkin" not in hidden


class _Typed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag: bool
    size: Annotated[int, Field(gt=0, lt=11)]
    color: Literal["red", "green"] | None = None
    level: Literal[1, 2, 3] = 1
    word: Annotated[str | None, Choices(("a", "b"))] = None


async def _noop(_ctx: Any, _args: Any) -> None:
    return None


def test_generic_derivation_bool_int_bounds_literals_and_choices() -> None:
    payload = C.command_payload(CommandSpec("typed", _noop, _Typed))
    assert payload is not None
    options = {o["name"]: o for o in payload["options"]}
    assert options["flag"]["type"] == C.BOOLEAN and options["flag"]["required"]
    assert (options["size"]["min_value"], options["size"]["max_value"]) == (1, 10)
    assert [c["value"] for c in options["color"]["choices"]] == ["red", "green"]
    assert options["level"]["type"] == C.INTEGER and [c["value"] for c in options["level"]["choices"]] == [1, 2, 3]
    assert [c["value"] for c in options["word"]["choices"]] == ["a", "b"]
    text = C.options_to_args(
        CommandSpec("typed", _noop, _Typed),
        [
            {"name": "flag", "type": C.BOOLEAN, "value": True},
            {"name": "size", "type": C.INTEGER, "value": 4},
            {"name": "color", "type": C.STRING, "value": "red"},
        ],
    )
    assert text == "true 4 red"


def test_a_file_option_is_no_argument_text() -> None:
    faq = _registry().get("faq")
    options = [
        {"name": "rest", "type": C.STRING, "value": "import"},
        {"name": "file", "type": C.ATTACHMENT, "value": "123"},
    ]
    assert C.options_to_args(faq, options) == "import"
    assert C.attachment_ids(faq, options) == ["123"]
    assert C.attachment_ids(_registry().get("help"), options) == []


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short enough", 100, "short enough"),
        ("alpha beta gamma delta", 15, "alpha beta…"),
        ("one, two, three four five six", 20, "one, two, three…"),
        ("first clause; then a longer second part", 30, "first clause; then a longer…"),
        ("a long first clause here; then more", 30, "a long first clause here…"),
        ("see e.g. example.com and more words here", 30, "see e.g. example.com and…"),
        ("常见问题：列出问题按钮，或查看答案", 12, "常见问题：列出问题按钮…"),
        ("一二三四五六七八九十", 6, "一二三四五…"),
    ],
)
def test_descriptions_are_cut_at_a_boundary_with_an_ellipsis(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_a_long_help_is_not_cut_mid_word() -> None:
    for p in _payloads():
        for text in (p.get("description", ""), *p.get("description_localizations", {}).values()):
            if text.endswith("…"):
                head = text[:-1]
                assert head[-1].isalnum() or head[-1] in ")）" or "\u4e00" <= head[-1] <= "\u9fff", text
                assert len(text) <= 100
