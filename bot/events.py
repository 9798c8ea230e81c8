"""Neutral events: what adapters turn platform updates into. The core sees nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Bounds applied by adapters and the app alike: a 100 KB message must never reach the matchers whole.
MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A group is (platform, chat id); the title is informative only."""

    platform: str
    chat_id: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class UserRef:
    user_id: str
    name: str
    username: str | None = None
    is_bot: bool = False
    language: str | None = None  # the user's client language, when the platform tells it


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Every event carries a stable key (e.g. tg:<chat>:<message_id>) so a redelivery is recognised."""

    event_key: str
    chat: ChatRef
    user: UserRef
    is_admin: bool  # as the platform reports it for the actor
    at: datetime
    channel: str | None = None  # where inside the chat it happened, where a platform has that (Discord)


@dataclass(frozen=True, slots=True)
class Replied:
    """The message a message answers, as the platform delivered it with the reply (/report, /warn)."""

    message_id: str
    user: UserRef | None
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePosted(Event):
    message_id: str
    text: str
    reply_to: str | None = None
    replied: Replied | None = None
    edited: bool = False
    # Mentions the platform resolved in the text: token as written (e.g. "@alice") -> user.
    mentions: dict[str, UserRef] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandInvoked(Event):
    """A native command (Discord slash command); text commands arrive as MessagePosted."""

    name: str
    args: str = ""
    message_id: str | None = None
    mentions: dict[str, UserRef] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(Event):
    member_count: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft(Event):
    kicked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonPressed(Event):
    message_id: str
    data: str
    callback_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectOpened(Event):
    """A user opened a private chat with the bot (Telegram /start): DMs to them can now be delivered.

    `chat` is the private chat, not a group; the app records the fact and greets, nothing more.
    """

    message_id: str | None = None
