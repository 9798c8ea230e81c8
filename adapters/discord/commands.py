"""Application commands generated from the core's command registry, and their options turned back into text.

A command is a slash command (type 1) whose options are read from its argument model: a Literal (or
`Choices`) becomes a list of choices, an int an INTEGER with the model's bounds, a bool a BOOLEAN, a member
a USER; a spec's `file` is an ATTACHMENT option. A command on a message (`CommandSpec.target ==
"message"`: /pin, /del, /report) is a message context-menu command (type 3, Apps → "Pin") instead: a slash
command has no message to act on.
"""

from __future__ import annotations

import enum
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import regex
from pydantic.fields import FieldInfo

from bot.commands import Choices, CommandRegistry, CommandSpec, shorten
from bot.i18n import catalog
from bot.parsing import Mention, Rest

CHAT_INPUT, MESSAGE_COMMAND = 1, 3  # application command types
STRING, INTEGER, BOOLEAN, USER, ATTACHMENT = 3, 4, 5, 6, 11  # option types
MANAGE_GUILD = 1 << 5
DESCRIPTION_LIMIT = 100
CHOICE_LIMIT = 100  # a choice's name and a string choice's value
MAX_OPTIONS = 25
MAX_CHOICES = 25
INTEGER_BOUND = 2**53  # Discord's INTEGER range is ±2^53
# Discord's rule for slash command and option names (and their localizations), lowercase where a case exists.
NAME = regex.compile(r"^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")
_OWN_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")  # our own English names: what the core matches on


def valid_name(name: str) -> bool:
    return bool(NAME.match(name)) and name == name.lower()


def _text(lang: str, key: str, fallback: str, limit: int = DESCRIPTION_LIMIT) -> str:
    return shorten(catalog(lang).get(key, "") or fallback, limit)


def _localized(key: str) -> dict[str, str]:
    """A zh-CN name where the catalog has one Discord accepts."""
    zh = catalog("zh-CN").get(key, "")
    return {"zh-CN": zh} if valid_name(zh) else {}


# --- options from the argument model ----------------------------------------------------------------------


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any], bool]:
    """The field's type without Optional and Annotated layers, every metadata item found on the way
    (a FieldInfo's own bounds included), and whether None is allowed."""
    found = list(metadata)
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            found.extend(extra)
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(members) < len(get_args(annotation))
            if len(members) != 1:
                return str, found, optional  # a real union: offered as text
            annotation = members[0]
        else:
            break
    flat: list[Any] = []
    for item in found:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else (item,))
    return annotation, flat, optional


def _bounds(metadata: list[Any]) -> dict[str, int]:
    """min_value / max_value from the model's bounds (pydantic's Ge, Gt, Le, Lt or Interval), kept within
    Discord's range; none when the model sets none."""
    out: dict[str, int] = {}
    for m in metadata:
        if isinstance(getattr(m, "ge", None), int):
            out["min_value"] = max(out.get("min_value", -INTEGER_BOUND), m.ge)
        if isinstance(getattr(m, "gt", None), int):
            out["min_value"] = max(out.get("min_value", -INTEGER_BOUND), m.gt + 1)
        if isinstance(getattr(m, "le", None), int):
            out["max_value"] = min(out.get("max_value", INTEGER_BOUND), m.le)
        if isinstance(getattr(m, "lt", None), int):
            out["max_value"] = min(out.get("max_value", INTEGER_BOUND), m.lt - 1)
    return {k: max(-INTEGER_BOUND, min(INTEGER_BOUND, v)) for k, v in out.items()}


def _choices(spec: CommandSpec, values: list[Any]) -> list[dict[str, Any]]:
    out = []
    for value in values[:MAX_CHOICES]:
        key = f"cmd.{spec.name}.choice.{value}"
        choice: dict[str, Any] = {"name": _text("en", key, str(value), CHOICE_LIMIT), "value": value}
        zh = catalog("zh-CN").get(key)
        if zh:
            choice["name_localizations"] = {"zh-CN": shorten(zh, CHOICE_LIMIT)}
        out.append(choice)
    return out


def _typed(spec: CommandSpec, annotation: Any, metadata: list[Any]) -> dict[str, Any]:
    """The option's type and what narrows it: choices, bounds."""
    offered = next((m for m in metadata if isinstance(m, Choices)), None)
    if offered is not None:
        return {"type": STRING, "choices": _choices(spec, list(offered.values))}
    if get_origin(annotation) is Literal:
        values = list(get_args(annotation))
        kind = INTEGER if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else STRING
        return {"type": kind, "choices": _choices(spec, values if kind == INTEGER else [str(v) for v in values])}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": STRING, "choices": _choices(spec, [str(m.value) for m in annotation])}
    if annotation is bool:
        return {"type": BOOLEAN}
    if annotation is int:
        return {"type": INTEGER, **_bounds(metadata)}
    if annotation is Mention:
        return {"type": USER}
    return {"type": STRING}


def _option(spec: CommandSpec, name: str, info: FieldInfo) -> dict[str, Any]:
    annotation, metadata, _optional = _unwrap(info.annotation, list(info.metadata))
    key = f"cmd.{spec.name}.arg.{name}"
    shared = f"slash_option_help.{name}"  # what an option of that name means in any command
    option: dict[str, Any] = {
        "name": name,
        "description": _text("en", key, catalog("en").get(shared, name)),
        "description_localizations": {"zh-CN": _text("zh-CN", key, catalog("zh-CN").get(shared, name))},
        "required": info.is_required(),
        **_typed(spec, annotation, metadata),
    }
    if zh := _localized(f"slash_option.{name}"):
        option["name_localizations"] = zh
    return option


def _file_option(spec: CommandSpec, name: str) -> dict[str, Any]:
    key = f"cmd.{spec.name}.arg.{name}"
    option: dict[str, Any] = {
        "name": name,
        "type": ATTACHMENT,
        "description": _text("en", key, name),
        "description_localizations": {"zh-CN": _text("zh-CN", key, name)},
        "required": False,
    }
    if zh := _localized(f"slash_option.{name}"):
        option["name_localizations"] = zh
    return option


# --- payloads ---------------------------------------------------------------------------------------------


def _permissions(spec: CommandSpec) -> str | None:
    """Admin commands, and those members are refused unless a setting opens them, are shown to admins only
    by default (a server can still change who sees them in its Integrations settings)."""
    return None if spec.for_members else str(MANAGE_GUILD)


def menu_name(spec: CommandSpec, lang: str = "en") -> str:
    """The name a message's Apps menu shows (`cmd.<name>.menu`: Pin, 置顶)."""
    return catalog(lang).get(f"cmd.{spec.name}.menu", "")[:32]


def _menu_payload(spec: CommandSpec) -> dict[str, Any] | None:
    name = menu_name(spec)
    if not name.strip():
        return None
    payload: dict[str, Any] = {
        "name": name,
        "type": MESSAGE_COMMAND,
        "contexts": [0],  # guilds only
        "default_member_permissions": _permissions(spec),
    }
    if zh := menu_name(spec, "zh-CN").strip():
        payload["name_localizations"] = {"zh-CN": zh}
    return payload


def command_payload(spec: CommandSpec) -> dict[str, Any] | None:
    """One application command; None for a name Discord would refuse (e.g. a Chinese-only alias)."""
    if spec.target == "message":
        return _menu_payload(spec)
    if not _OWN_NAME.match(spec.name):
        return None
    options = [_option(spec, name, info) for name, info in spec.native_model.model_fields.items()]
    if spec.file:
        options.append(_file_option(spec, spec.file))
    payload: dict[str, Any] = {
        "name": spec.name,
        "type": CHAT_INPUT,
        "description": _text("en", spec.help_key, spec.name),
        "description_localizations": {"zh-CN": _text("zh-CN", spec.help_key, spec.name)},
        "options": options[:MAX_OPTIONS],
        "contexts": [0],  # guilds only
        "default_member_permissions": _permissions(spec),
    }
    if zh := _localized(f"cmd.{spec.name}.slash"):
        payload["name_localizations"] = zh
    return payload


def command_payloads(registry: CommandRegistry) -> list[dict[str, Any]]:
    return [p for spec in registry.all() if (p := command_payload(spec)) is not None]


def invoked(registry: CommandRegistry, data: dict[str, Any]) -> CommandSpec | None:
    """The spec an application command interaction is for: a slash command by its name, a message
    command by its menu name (Discord sends the default name, whatever the member's language)."""
    name = str(data.get("name", ""))
    if data.get("type") == MESSAGE_COMMAND:
        return next((s for s in registry.all() if s.target == "message" and menu_name(s) == name), None)
    spec = registry.get(name)
    return spec if spec is not None and spec.target != "message" else None


# --- options back to text ---------------------------------------------------------------------------------


def _quote(value: str) -> str:
    if value and not any(c.isspace() for c in value):
        return value
    return f'"{value}"' if '"' not in value else f"「{value}」"


def options_to_args(spec: CommandSpec | None, options: list[dict[str, Any]]) -> str:
    """Render slash-command options as the argument text the core's parser reads, in the model's order
    (a file option is not text: the adapter hands its file over as an attachment)."""
    given = {o.get("name"): o for o in options if o.get("type") != ATTACHMENT}
    if spec is None:
        return " ".join(str(o.get("value", "")) for o in given.values())
    parts = []
    for field_name, info in spec.native_model.model_fields.items():
        option = given.get(field_name)
        if option is None:
            break  # later options cannot be placed without this one
        raw = option.get("value", "")
        value = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if option.get("type") == USER:
            parts.append(f"<@{value}>")
        elif any(isinstance(m, Rest) for m in info.metadata):
            parts.append(value)
        else:
            parts.append(_quote(value))
    return " ".join(parts)


def attachment_ids(spec: CommandSpec | None, options: list[dict[str, Any]]) -> list[str]:
    """The ids of the files given as the command's file option (resolved in the interaction's data)."""
    if spec is None or not spec.file:
        return []
    return [str(o.get("value")) for o in options if o.get("type") == ATTACHMENT and o.get("name") == spec.file]
