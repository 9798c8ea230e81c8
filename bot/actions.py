"""Neutral actions: what handlers ask for. Adapters turn them into platform API calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.events import ChatRef

URL_PREFIX = "url:"  # a Button whose data starts so is a link: it opens the URL and reaches no handler


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str  # short callback payload (Telegram allows 64 bytes); longer state is stored and referenced


Keyboard = tuple[tuple[Button, ...], ...]


def keyboard(*rows: list[Button] | tuple[Button, ...]) -> Keyboard:
    return tuple(tuple(r) for r in rows)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    chat: ChatRef


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(Action):
    text: str
    buttons: Keyboard = ()
    channel: str | None = (
        None  # a channel of the chat (Discord: the mod-log channel); None: the adapter picks
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply(Action):
    """An answer to one event. `event_key` lets an adapter answer natively (a Discord interaction)."""

    text: str
    reply_to: str | None
    event_key: str
    buttons: Keyboard = ()
    ephemeral: bool = False  # only the caller needs to see it, where the platform can do that


@dataclass(frozen=True, slots=True, kw_only=True)
class EditMessage(Action):
    message_id: str
    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete(Action):
    message_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Pin(Action):
    """Pin a message (quietly, unless `notify`: Telegram tells the members then), or unpin it."""

    message_id: str
    pinned: bool = True
    notify: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Purge(Action):
    """Delete a run of recent messages: from `from_message_id` up to `until_message_id` (both included),
    or the `count` messages before `until_message_id` and it. Adapters do it natively (Telegram:
    deleteMessages over the id range; Discord: the channel's history, bulk-deleted) and answer with
    `extra`: "deleted" (what was asked to go) and "too_old" (what the platform's window kept)."""

    until_message_id: str | None  # None: up to the latest (a Discord slash command has no message)
    from_message_id: str | None = None
    count: int = 0
    channel: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Mute(Action):
    user_id: str
    until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmute(Action):
    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Kick(Action):
    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ban(Action):
    user_id: str
    until: datetime | None = None
    delete_message_days: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Unban(Action):
    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantRole(Action):
    user_id: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RestrictKinds(Action):
    """The group's whole lock state, for platforms whose own permissions can refuse some kinds to
    members (Discord channel overrides): `kinds` locked, `exempt` the trusted members who may still
    post them. Idempotent: the adapter makes the platform match it, so resending is always safe.
    Deletion (handlers/locks.py) still enforces every kind on every platform."""

    kinds: tuple[str, ...]
    exempt: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerButton(Action):
    """The answer to a press. Where the platform shows it as a private message (Discord), `buttons`
    go with it; where it is a toast (Telegram), they cannot."""

    callback_id: str
    text: str = ""
    alert: bool = False
    buttons: Keyboard = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectMessage(Action):
    """A private message; `chat` names the group it concerns (its platform routes it). `fallback` is
    sent instead when the platform refuses the DM (the member never opened a chat with the bot, or
    closed DMs): actions go out after their event commits, so a handler cannot wait to see the refusal."""

    user_id: str
    text: str
    buttons: Keyboard = ()
    fallback: Send | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendFile(Action):
    """A file (a chart, a CSV export) with a caption. `path` names a file the app wrote under its files
    folder: the outbox stores the action, not the bytes, so a restart still finds it. `photo` asks for
    an inline picture where the platform has one (Telegram sendPhoto); `user_id` makes it a DM, with
    `fallback` sent instead when the platform refuses that DM."""

    path: str
    filename: str
    caption: str = ""
    photo: bool = False
    user_id: str | None = None
    channel: str | None = None
    fallback: SendFile | None = None


class Failure(StrEnum):
    """Why an action did not happen: facts handlers can act on, never exceptions."""

    FORBIDDEN = "forbidden"  # the bot lacks the right, or the user blocked the bot / closed DMs
    NOT_FOUND = "not_found"  # message, member or chat is gone
    BAD_REQUEST = "bad_request"
    RATE_LIMITED = "rate_limited"  # retries exhausted
    UNAVAILABLE = "unavailable"  # network or server errors, retries exhausted
    NO_ADAPTER = "no_adapter"
    UNSUPPORTED = "unsupported"  # the platform has no such thing (roles on Telegram)
    INTERNAL = "internal"  # the adapter itself failed (a bug): logged with its traceback


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message_id: str | None = None
    failure: Failure | None = None
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


OK = ActionResult(ok=True)


class RetryAfter(Exception):
    """Raised by an adapter when the platform answered 429: the outbox waits and retries."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class TransientError(Exception):
    """Raised by an adapter for network errors and 5xx: the outbox retries with backoff."""


class PermanentError(Exception):
    """Raised by an adapter for errors retrying cannot fix; reported back as a Failure."""

    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
