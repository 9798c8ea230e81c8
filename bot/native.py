"""The options native commands offer where a command reads free text itself.

`/warn @member [reason]` is one free-text argument in the core (a reply can name the member instead), so
on Discord it would be a single "rest" box. These models give such commands real options (a member
picker, a bounded number, a list of choices) through `CommandSpec.native_args`; the adapter writes the
chosen values back as the very text a member would type, so the handler is the same on every platform.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.commands import Choices
from bot.parsing import REST, MemberArg


class _Native(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberOnly(_Native):
    member: MemberArg


class MemberReason(_Native):
    member: MemberArg
    reason: Annotated[str, REST] = ""


class MemberDurationReason(_Native):
    member: MemberArg
    duration: str
    reason: Annotated[str, REST] = ""


class Count(_Native):
    count: Annotated[int, Field(ge=1, le=500)]


class Kinds(_Native):
    kinds: Annotated[str, REST]


class OnOff(_Native):
    choice: Annotated[str | None, Choices(("on", "off"))] = None
