"""Slash commands generated from the core's command registry, and their options turned back into text."""

from __future__ import annotations

import re
from typing import Any

from bot.commands import CommandRegistry, CommandSpec
from bot.i18n import catalog
from bot.parsing import Mention, Rest

STRING, INTEGER, USER = 3, 4, 6
MANAGE_GUILD = 1 << 5
_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
_LOCAL_NAME = re.compile(r"^[-_\w]{1,32}$", re.UNICODE)


def _text(lang: str, key: str, fallback: str, limit: int = 100) -> str:
    return catalog(lang).get(key, fallback)[:limit]


def _option_type(annotation: Any) -> int:
    if annotation is int:
        return INTEGER
    if annotation is Mention:
        return USER
    return STRING


def command_payload(spec: CommandSpec) -> dict[str, Any] | None:
    """One application command; None for a name Discord would refuse (e.g. a Chinese-only alias)."""
    if not _NAME.match(spec.name):
        return None
    options = []
    for field_name, info in spec.args.model_fields.items():
        key = f"cmd.{spec.name}.arg.{field_name}"
        options.append(
            {
                "name": field_name,
                "type": _option_type(info.annotation),
                "description": _text("en", key, field_name),
                "description_localizations": {"zh-CN": _text("zh-CN", key, field_name)},
                "required": info.is_required(),
            }
        )
    payload: dict[str, Any] = {
        "name": spec.name,
        "type": 1,
        "description": _text("en", spec.help_key, spec.name),
        "description_localizations": {"zh-CN": _text("zh-CN", spec.help_key, spec.name)},
        "options": options,
        "contexts": [0],  # guilds only
        "default_member_permissions": str(MANAGE_GUILD) if spec.admin_only else None,
    }
    zh_name = catalog("zh-CN").get(f"cmd.{spec.name}.slash", "")
    if _LOCAL_NAME.match(zh_name) and zh_name.lower() == zh_name:
        payload["name_localizations"] = {"zh-CN": zh_name}
    return payload


def command_payloads(registry: CommandRegistry) -> list[dict[str, Any]]:
    return [p for spec in registry.all() if (p := command_payload(spec)) is not None]


def _quote(value: str) -> str:
    if value and not any(c.isspace() for c in value):
        return value
    return f'"{value}"' if '"' not in value else f"「{value}」"


def options_to_args(spec: CommandSpec | None, options: list[dict[str, Any]]) -> str:
    """Render slash-command options as the argument text the core's parser reads, in the model's order."""
    given = {o.get("name"): o for o in options}
    if spec is None:
        return " ".join(str(o.get("value", "")) for o in options)
    parts = []
    for field_name, info in spec.args.model_fields.items():
        option = given.get(field_name)
        if option is None:
            break  # later options cannot be placed without this one
        value = str(option.get("value", ""))
        if option.get("type") == USER:
            parts.append(f"<@{value}>")
        elif any(isinstance(m, Rest) for m in info.metadata):
            parts.append(value)
        else:
            parts.append(_quote(value))
    return " ".join(parts)
