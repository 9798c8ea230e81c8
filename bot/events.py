"""Neutral events: what adapters turn platform updates into. The core sees nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.text import clean_optional, clean_text

# What a message carries besides text, as the adapters name it (what /lock can forbid).
MESSAGE_KINDS = ("photo", "video", "file", "sticker", "gif", "voice", "forward", "poll")

# Bounds applied by adapters and the app alike: a 100 KB message must never reach the matchers whole.
MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A group is (platform, chat id); the title is informative only."""

    platform: str
    chat_id: str
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", clean_text(self.title))


@dataclass(frozen=True, slots=True)
class UserRef:
    user_id: str
    name: str
    username: str | None = None
    is_bot: bool = False
    language: str | None = None  # the user's client language, when the platform tells it

    def __post_init__(self) -> None:
        # Names are member-controlled: no control characters, NUL or mention markers get past here.
        object.__setattr__(self, "user_id", clean_text(self.user_id))
        object.__setattr__(self, "name", clean_text(self.name))
        object.__setattr__(self, "username", clean_optional(self.username))


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
class Attachment:
    """A file a member attached to a message. `ref` is the platform's handle for downloading it (a
    Telegram file_id, a Discord CDN URL, a console path); the name and type are the sender's claim only."""

    ref: str
    name: str
    size: int | None = None  # bytes, as the platform reports them before download
    mime: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_text(self.name)[:200])
        object.__setattr__(self, "mime", clean_text(self.mime)[:100])


@dataclass(frozen=True, slots=True)
class Replied:
    """The message a message answers, as the platform delivered it with the reply (/report, /warn)."""

    message_id: str
    user: UserRef | None
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    at: datetime | None = None  # when it was sent, where the platform says (a purge's age check)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_text(self.text))


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePosted(Event):
    message_id: str
    text: str
    reply_to: str | None = None
    replied: Replied | None = None
    edited: bool = False
    # Mentions the platform resolved in the text: token as written (e.g. "@alice") -> user.
    mentions: dict[str, UserRef] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()  # files sent with the message (a /filter import list)
    kinds: tuple[str, ...] = ()  # MESSAGE_KINDS it carries (a forwarded photo: photo and forward)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_text(self.text))
        if self.mentions:
            object.__setattr__(self, "mentions", {clean_text(k): v for k, v in self.mentions.items()})


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandInvoked(Event):
    """A native command (a Discord slash command, or a message's context-menu command, which carries the
    message it was used on as `replied`, as a reply would); text commands arrive as MessagePosted."""

    name: str
    args: str = ""
    message_id: str | None = None
    mentions: dict[str, UserRef] = field(default_factory=dict)
    replied: Replied | None = None  # the message a context-menu command was used on
    attachments: tuple[Attachment, ...] = ()  # files given as the command's file option

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_text(self.name))
        object.__setattr__(self, "args", clean_text(self.args))
        if self.mentions:
            object.__setattr__(self, "mentions", {clean_text(k): v for k, v in self.mentions.items()})


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
    direct: bool = False  # pressed in a private chat with the bot: `chat` is that chat, not a group

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", clean_text(self.data))


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectOpened(Event):
    """A user opened a private chat with the bot (Telegram /start): DMs to them can now be delivered.

    `chat` is the private chat, not a group; the app records the fact and greets, nothing more.
    """

    message_id: str | None = None
