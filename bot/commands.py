"""The command registry: one spec per command; adapters build native menus from the same specs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from rapidfuzz import fuzz, process

from bot.parsing import Rest, tokenize
from rules.normalize import compact

if TYPE_CHECKING:
    from bot.context import Context


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


CommandFunc = Callable[["Context", Any], Awaitable[None]]


@dataclass(frozen=True)
class Choices:
    """Argument metadata: the values a native menu offers for a field the handler reads more forgivingly
    than a Literal would (/lang offers zh-CN and en, and still takes 中文 or english typed)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    func: CommandFunc
    args: type[BaseModel] = NoArgs
    admin_only: bool = False
    aliases: tuple[str, ...] = ()  # other slash names, e.g. /qd for /checkin
    triggers: tuple[str, ...] = ()  # plain-text triggers: the whole message, e.g. 签到
    feature: str = ""
    # Refused to members unless a group setting opens it (/stats): menus offer it to admins only.
    admin_by_default: bool = False
    # "message": the command acts on a message (the one replied to): where a platform has commands on a
    # message's own menu (Discord's Apps menu), it is offered there instead of as a native slash command.
    target: Literal["message"] | None = None
    # The name of a file option the command reads through ctx.attachments() (/faq import), offered
    # where a native command can take a file; elsewhere the file rides on the message or its reply.
    file: str | None = None
    # Where `args` is free text the handler reads itself (/warn @member [reason], or a reply), the
    # options a native command offers instead (a member picker, a bounded number): their values are
    # written back, in order, as the same text (adapters/discord/commands.py).
    native_args: type[BaseModel] | None = None

    @property
    def native_model(self) -> type[BaseModel]:
        return self.native_args or self.args

    @property
    def for_members(self) -> bool:
        """Whether members' menus list it."""
        return not (self.admin_only or self.admin_by_default)

    @property
    def help_key(self) -> str:
        return f"cmd.{self.name}.help"

    @property
    def usage_key(self) -> str:
        return f"cmd.{self.name}.usage"


_WIDE_ENDS = "，。；：、！？）】」"  # end a clause wherever they stand
_NARROW_ENDS = ",.;:!?)"  # only before a space ("e.g." and "example.com" go on)


def shorten(text: str, limit: int) -> str:
    """A menu description that fits `limit` characters: whole as written when it fits, else cut at the
    last clause end (or, failing one in the second half, the last space; Chinese may break between any
    two characters) and ended with "…", never inside a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    clause = max(
        (
            i
            for i, c in enumerate(room)
            if c in _WIDE_ENDS or (c in _NARROW_ENDS and i + 1 < len(text) and text[i + 1] == " ")
        ),
        default=-1,
    )
    space = room.rfind(" ")
    if clause >= limit // 2:
        head = room[: clause + 1]
    elif space >= limit // 2:
        head = room[:space]
    elif _wide(text[limit - 2]) or _wide(text[limit - 1]):
        head = room  # between two characters of Chinese: no word is cut
    else:
        head = room[:space] if space > 0 else room
    return head.rstrip(" ,;:，、；：") + "…"


def _wide(char: str) -> bool:
    return "\u2e80" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or "\uff00" <= char <= "\uffef"


class UsageError(Exception):
    """The arguments do not fit: the caller gets the command's usage line."""


def bind_args(spec: CommandSpec, text: str) -> BaseModel:
    """Map tokens onto the argument model's fields in order; a field marked REST takes the rest as typed."""
    model = spec.args
    tokens = tokenize(text)
    values: dict[str, Any] = {}
    ti = 0
    for name, info in model.model_fields.items():
        if ti >= len(tokens):
            break
        if any(isinstance(m, Rest) for m in info.metadata):
            rest = tokens[ti:]
            values[name] = rest[0].text if len(rest) == 1 else text[rest[0].start :].strip()
            ti = len(tokens)
            break
        values[name] = tokens[ti].text
        ti += 1
    if ti < len(tokens):
        raise UsageError("too many arguments")
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise UsageError(str(exc)) from exc


_SLASH = re.compile(r"^[/／]([^\s@/]+)(@\S+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Match:
    spec: CommandSpec | None  # None: a slash command nobody registered
    name: str
    args: str


MAX_TRIGGER = 40  # a trigger word with its variants ("签到了！", "check-in") is short
SUGGEST_CUTOFF = 60.0  # /hlep → help scores 75; unrelated names stay below
# Particles that end a statement without changing it (签到了, 打卡啦～); question particles (吗, 呢) are
# not among them: "打卡了吗" asks, it does not check in.
_PARTICLES = "了啦咯喽哦噢呀啊嘛吧"


def trigger_key(text: str) -> str:
    """A plain-text trigger as matched: normalised as moderation normalises (width, case, traditional →
    simplified; spaces, punctuation and symbols dropped: 簽 到！, check-in), trailing particles dropped."""
    key = compact(text)
    stripped = key.rstrip(_PARTICLES)
    return stripped or key


class CommandRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec] = {}
        self._names: dict[str, CommandSpec] = {}
        self._triggers: dict[str, CommandSpec] = {}

    def add(self, spec: CommandSpec) -> None:
        for name in (spec.name, *spec.aliases):
            key = name.lower()
            if key in self._names:
                raise ValueError(f"command name {name!r} registered twice")
            self._names[key] = spec
        for trigger in spec.triggers:
            if trigger_key(trigger) in self._triggers:
                raise ValueError(f"trigger {trigger!r} registered twice")
            self._triggers[trigger_key(trigger)] = spec
        self._specs[spec.name] = spec

    def get(self, name: str) -> CommandSpec | None:
        return self._names.get(name.lower())

    def all(self) -> list[CommandSpec]:
        return list(self._specs.values())

    def visible_to(self, is_admin: bool) -> list[CommandSpec]:
        """What /help and suggestions offer: members never see a command they are refused by default."""
        return [s for s in self._specs.values() if is_admin or s.for_members]

    def match(self, text: str) -> Match | None:
        """A slash command (`/name args`), or a plain-text trigger as the whole message (or followed by args).

        A command still carrying an `@botname` suffix is for another bot: adapters remove their own name.
        """
        stripped = text.strip()
        if m := _SLASH.match(stripped):
            if m.group(2):  # "/cmd@SomeBot": adapters strip their own bot's name, so this is another bot's
                return None
            name = m.group(1).lower()
            spec = self._names.get(name) or self._triggers.get(trigger_key(name))  # /签到 as 签到
            return Match(spec, spec.name if spec else name, (m.group(3) or "").strip())
        if len(stripped) > MAX_TRIGGER:
            return None
        spec = self._triggers.get(trigger_key(stripped))
        if spec is not None:
            return Match(spec, spec.name, "")
        head, _, rest = stripped.partition(" ")
        spec = self._triggers.get(trigger_key(head))
        if spec is not None and rest.strip():
            return Match(spec, spec.name, rest.strip())
        return None

    def suggest(self, name: str, is_admin: bool) -> str | None:
        """The closest command name the caller may use, for "did you mean" (None when nothing is close)."""
        names = [n for spec in self.visible_to(is_admin) for n in (spec.name, *spec.aliases)]
        found = process.extractOne(name.lower(), names, scorer=fuzz.ratio, score_cutoff=SUGGEST_CUTOFF)
        return found[0] if found else None
