"""Telegram: updates from python-telegram-bot become neutral events; neutral actions become Bot API calls."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    ChatMember,
    ChatMemberAdministrator,
    ChatMemberRestricted,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram import error as tg_error
from telegram.constants import ChatType, ParseMode

from adapters.ordering import ChatLocks
from bot import actions as A
from bot.app import App
from bot.chunks import split_text
from bot.clock import to_ms
from bot.commands import shorten
from bot.events import (
    MAX_TEXT,
    Attachment,
    ButtonPressed,
    ChatRef,
    DirectOpened,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Replied,
    UserRef,
)
from bot.files import FileRefused
from bot.i18n import LANGUAGES, t
from bot.keyboards import Grid, reflow
from bot.markup import split
from bot.outbox import TELEGRAM_LIMITS
from bot.parsing import is_id

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CALLBACK_DATA_BYTES = 64
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
KEYBOARD_LIMIT = Grid(per_row=8, rows=100)  # what the Bot API accepts in one inline keyboard
KEYBOARD_BUTTONS = 100
BUTTON_GRID = Grid(per_row=8, rows=13)  # what features lay a list out in: a phone's screen of rows
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "chat_member", "my_chat_member"]
ADMIN_TTL = 600.0  # seconds an admin list is trusted; a chat_member change drops it sooner
JOIN_WINDOW = 120.0  # a join seen through both update paths within this window is one join
RIGHTS_NOTICE_EVERY = 3600.0
_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
_MEMBER_STATUSES = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
_ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
# What an ordinary member may do, when the group's own defaults cannot be read.
MEMBER_PERMISSIONS = ChatPermissions(
    can_send_messages=True,
    can_send_audios=True,
    can_send_documents=True,
    can_send_photos=True,
    can_send_videos=True,
    can_send_video_notes=True,
    can_send_voice_notes=True,
    can_send_polls=True,
    can_send_other_messages=True,
    can_add_web_page_previews=True,
)
_COMMAND_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
COMMAND_DESCRIPTION_LIMIT = 256  # a BotCommand's description, 1 to 256 characters

T = TypeVar("T")


def user_ref(user: Any) -> UserRef:
    return UserRef(
        user_id=str(user.id),
        name=user.full_name or user.username or str(user.id),
        username=user.username,
        is_bot=bool(user.is_bot),
        language=user.language_code,
    )


def chat_ref(chat: Any) -> ChatRef:
    return ChatRef(PLATFORM, str(chat.id), chat.title or "")


def is_member(member: ChatMember) -> bool:
    if isinstance(member, ChatMemberRestricted):
        return bool(member.is_member)
    return member.status in _MEMBER_STATUSES


def _html(text: str) -> str:
    parts = []
    for piece in split(text):
        if isinstance(piece, str):
            parts.append(html.escape(piece, quote=False))
        elif is_id(piece.user_id):
            parts.append(f'<a href="tg://user?id={piece.user_id}">{html.escape(piece.name, quote=False)}</a>')
        else:
            parts.append(html.escape(piece.name, quote=False))
    return "".join(parts)


def visible(text: str) -> int:
    """How Telegram counts a message against its limits: the text after HTML parsing, in UTF-16 units
    (a mention shows its name)."""
    return sum(
        len((p if isinstance(p, str) else p.name).encode("utf-16-le")) // 2 for p in split(text)
    )


def chunks(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The text as HTML messages of at most `limit` visible characters each, cut at line ends."""
    return [_html(piece) for piece in split_text(text, limit, visible)]


def render(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Handlers write plain text (plus mentions): escaped for HTML parse mode, as one message (an edit,
    a caption) cut with an ellipsis when it passes `limit`."""
    return _html(split_text(text, limit, visible, max_chunks=1)[0])


@dataclass(slots=True)
class _AdminCache:
    ids: frozenset[str]
    fetched: float


class TelegramAdapter:
    """Owns one python-telegram-bot Bot; `on_update` is registered as a TypeHandler callback."""

    platform = PLATFORM
    limits = TELEGRAM_LIMITS
    dm_opt_in = True  # a bot may only write to users who started it
    delete_window = timedelta(hours=48)  # older messages cannot be deleted by a bot
    roles = False  # no roles to give (level rewards and "inactive" are not a thing here)
    button_grid = BUTTON_GRID

    def __init__(self, app: App, bot: Bot, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.bot = bot
        self._monotonic = monotonic
        self._admins: dict[str, _AdminCache] = {}
        self._recent_membership: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._rights_noticed: dict[tuple[str, str], float] = {}
        self._default_permissions: dict[str, ChatPermissions] = {}
        self._chat_lock = ChatLocks()
        self.username = ""
        self.bot_id = ""

    async def start(self) -> None:
        me = await self.bot.get_me()
        self.username, self.bot_id = (me.username or ""), str(me.id)
        await self.publish_commands()

    # --- command menus -------------------------------------------------------------------------------

    async def publish_commands(self) -> None:
        """Member commands for every group chat, member plus admin commands for chat admins, zh and en.
        A command members are refused by default (/stats, unless a group opens it) is in the admins'
        menu only; descriptions over Telegram's 256 characters end at a clause or word, with "…"."""
        specs = [s for s in self.app.commands.all() if set(s.name) <= _COMMAND_NAME_OK and len(s.name) <= 32]
        for lang in (None, *LANGUAGES):
            text_lang = lang or "zh-CN"
            code = None if lang is None else lang.split("-")[0]

            def menu(admin: bool, text_lang: str = text_lang) -> list[BotCommand]:
                return [
                    BotCommand(s.name, shorten(t(text_lang, s.help_key), COMMAND_DESCRIPTION_LIMIT) or s.name)
                    for s in specs
                    if admin or s.for_members
                ]

            try:
                await self.bot.set_my_commands(
                    menu(False), scope=BotCommandScopeAllGroupChats(), language_code=code
                )
                await self.bot.set_my_commands(
                    menu(True), scope=BotCommandScopeAllChatAdministrators(), language_code=code
                )
            except tg_error.TelegramError as exc:
                log.warning("setMyCommands (%s) failed: %s", code, exc)

    # --- updates to events ---------------------------------------------------------------------------

    async def on_update(self, update: object, _context: object = None) -> None:
        """Called by python-telegram-bot for every update; never raises.

        Updates run concurrently across chats but in arrival order within one chat (a /lang followed by
        /help must be answered in that order), through one FIFO lock per chat taken before any await.
        """
        if not isinstance(update, Update):
            return
        chat = update.effective_chat
        async with self._chat_lock(str(chat.id) if chat is not None else ""):
            try:
                for event in await self.events_for(update):
                    await self.app.handle(event)
            except Exception:
                log.exception("cannot handle Telegram update %s", update.update_id)

    async def events_for(self, update: Update) -> list[Event]:
        if update.callback_query is not None:
            return await self._callback(update)
        if update.chat_member is not None:
            return await self._chat_member(update)
        if update.my_chat_member is not None:
            await self._my_chat_member(update)
            return []
        message = update.message or update.edited_message
        if message is None:
            return []
        if message.chat.type == ChatType.PRIVATE:
            return self._private(message)
        if message.chat.type not in _GROUPS:
            return []
        return await self._group_message(message, edited=update.edited_message is not None)

    def _private(self, message: Message) -> list[Event]:
        text = (message.text or "").strip()
        if message.from_user is None or not (text == "/start" or text.startswith(("/start ", "/start@"))):
            return []
        return [
            DirectOpened(
                event_key=f"tg:{message.chat.id}:{message.message_id}",
                chat=ChatRef(PLATFORM, str(message.chat.id)),
                user=user_ref(message.from_user),
                is_admin=False,
                at=message.date,
                message_id=str(message.message_id),
            )
        ]

    async def _group_message(self, message: Message, *, edited: bool) -> list[Event]:
        chat = chat_ref(message.chat)
        events: list[Event] = []
        for newcomer in message.new_chat_members or ():
            if str(newcomer.id) != self.bot_id:
                events.append(self._membership(chat, newcomer, joined=True, at=message.date))
        if message.left_chat_member is not None and str(message.left_chat_member.id) != self.bot_id:
            events.append(self._membership(chat, message.left_chat_member, joined=False, at=message.date))
        text = message.text if message.text is not None else message.caption
        kinds = self._kinds(message)
        if text is None and not kinds:
            return events
        text = text or ""
        user, is_admin = await self._author(message)
        if user is None:
            return events
        text, mentions = self._mentions(message, text)
        text = self._own_command(text[:MAX_TEXT])
        at = (message.edit_date if edited and message.edit_date else message.date) or datetime.now(UTC)
        key = f"tg:{chat.chat_id}:{message.message_id}"
        if edited:
            key += f":e{int(at.timestamp())}"
        original = message.reply_to_message
        reply_to = original.message_id if original else None
        replied = None
        if original is not None:
            author = user_ref(original.from_user) if original.from_user is not None else None
            replied = Replied(
                str(original.message_id),
                author,
                (original.text or original.caption or "")[:MAX_TEXT],
                attachments=self._attachments(original),
                at=original.date,
            )
        events.append(
            MessagePosted(
                event_key=key,
                chat=chat,
                user=user,
                is_admin=is_admin,
                at=at,
                message_id=str(message.message_id),
                text=text,
                reply_to=None if reply_to is None else str(reply_to),
                replied=replied,
                edited=edited,
                mentions=mentions,
                attachments=self._attachments(message),
                kinds=kinds,
                # a forum topic is the chat's "channel": what is sent there goes back into it
                channel=str(message.message_thread_id)
                if message.is_topic_message and message.message_thread_id
                else None,
            )
        )
        return events

    async def _author(self, message: Message) -> tuple[UserRef | None, bool]:
        """Who speaks: a user; an anonymous admin (speaking as the group); or a channel, which is no member."""
        sender_chat = message.sender_chat
        if sender_chat is not None:
            if sender_chat.id == message.chat.id:  # an anonymous admin
                return UserRef(f"chat:{sender_chat.id}", sender_chat.title or "admin"), True
            # a linked or other channel posting in the group: treated like a bot (no points, no commands)
            return UserRef(f"chat:{sender_chat.id}", sender_chat.title or "channel", is_bot=True), False
        if message.from_user is None:
            return None, False
        user = user_ref(message.from_user)
        return user, await self.is_admin(str(message.chat.id), user.user_id)

    @staticmethod
    def _kinds(message: Message) -> tuple[str, ...]:
        """What the message carries besides text (a GIF is an animation, which Telegram also files as a
        document: it counts as a GIF only)."""
        found = []
        if message.photo:
            found.append("photo")
        if message.video or message.video_note:
            found.append("video")
        if message.animation:
            found.append("gif")
        elif message.document:
            found.append("file")
        if message.sticker:
            found.append("sticker")
        if message.voice or message.audio:
            found.append("voice")
        if message.poll:
            found.append("poll")
        if message.forward_origin is not None:
            found.append("forward")
        return tuple(found)

    @staticmethod
    def _attachments(message: Message) -> tuple[Attachment, ...]:
        """A document sent with the message (photos and voice are not files a command reads)."""
        doc = message.document
        if doc is None:
            return ()
        return (Attachment(doc.file_id, doc.file_name or "file", doc.file_size, doc.mime_type or ""),)

    async def fetch_file(self, attachment: Attachment, max_bytes: int) -> bytes:
        """getFile, then the download (the Bot API serves files of up to 20 MB)."""
        try:
            file = await self.bot.get_file(attachment.ref)
        except tg_error.BadRequest as exc:
            raise FileRefused("unavailable") from exc
        except (tg_error.TimedOut, tg_error.NetworkError) as exc:
            raise A.TransientError(str(exc)) from exc
        if file.file_size is not None and file.file_size > max_bytes:
            raise FileRefused("too_big")
        try:
            return bytes(await file.download_as_bytearray())
        except (tg_error.TimedOut, tg_error.NetworkError) as exc:
            raise A.TransientError(str(exc)) from exc

    def _own_command(self, text: str) -> str:
        """`/cmd@ThisBot args` → `/cmd args`; `/cmd@OtherBot` stays, and the core leaves it alone."""
        if not text.startswith("/") or not self.username:
            return text
        head, sep, rest = text.partition(" ")
        name, at, bot_name = head.partition("@")
        if at and bot_name.lower() == self.username.lower():
            return name + sep + rest
        return text

    @staticmethod
    def _mentions(message: Message, text: str) -> tuple[str, dict[str, UserRef]]:
        """Members named by a `text_mention` (how Telegram mentions a user who has no @username: the
        entity carries the user), keyed by the text as written; and the text the core is to read.

        In a slash command the member argument comes first, or after one sub-command word (`/warn Dave
        Smith spam`, `/points give Dave Smith 30`), and a command names one member: the first text
        mention standing there as whole words has its exact span (entity offsets count UTF-16 units)
        replaced by the id form the parser reads as one token, `<@id>`, keyed so too; `resolve_member`
        then finds the member by id, in this group only. Every other text mention (a reason's, a
        saved answer's) stays the readable text it is, and a message that is no command is never
        rewritten, so moderation sees it as sent."""
        if not text:
            return text, {}
        parse = message.parse_entities if message.text is not None else message.parse_caption_entities
        try:
            entities = sorted(parse([MessageEntity.TEXT_MENTION]).items(), key=lambda e: e[0].offset)
        except UnicodeDecodeError:  # offsets that split a character: not Telegram's, and not worth a crash
            return text, {}
        found: dict[str, UserRef] = {}
        target: tuple[int, int, UserRef] | None = None
        command = text.lstrip().startswith(("/", "／"))
        encoded = text.encode("utf-16-le")
        for entity, value in entities:
            if entity.user is None or not value.strip():
                continue
            ref = user_ref(entity.user)
            found[value] = ref
            if not command or target is not None:
                continue
            # the span as indices into `text` (parse refused offsets that split a character)
            start = len(encoded[: entity.offset * 2].decode("utf-16-le"))
            name = value.strip()
            start += len(value) - len(value.lstrip())
            end = start + len(name)
            before = text[:start]
            if (
                name
                and text[start:end] == name
                and before[-1:].isspace()  # whole words: not part of a longer word or a quoted string
                and (end == len(text) or text[end].isspace())
                and len(before.split()) <= 2  # the command, and at most one word after it
            ):
                target = (start, end, ref)
        if target is not None:
            start, end, ref = target
            canonical = f"<@{ref.user_id}>"
            text = text[:start] + canonical + text[end:]
            found[canonical] = ref
        return text, found

    def _membership(self, chat: ChatRef, user: Any, *, joined: bool, at: datetime) -> Event:
        """One join (or leave) is one event, whether the service message, the chat_member update or both came."""
        kind = "join" if joined else "leave"
        now = self._monotonic()
        slot = (chat.chat_id, str(user.id), kind)
        recent = self._recent_membership.get(slot)
        if recent is not None and now - recent[1] < JOIN_WINDOW:
            key = recent[0]
        else:
            key = f"tg:{chat.chat_id}:{kind}:{user.id}:{int(at.timestamp())}"
            self._recent_membership[slot] = (key, now)
            if len(self._recent_membership) > 10_000:
                cutoff = now - JOIN_WINDOW
                self._recent_membership = {k: v for k, v in self._recent_membership.items() if v[1] >= cutoff}
        ref = user_ref(user)
        if joined:
            return MemberJoined(event_key=key, chat=chat, user=ref, is_admin=False, at=at)
        return MemberLeft(event_key=key, chat=chat, user=ref, is_admin=False, at=at)

    async def _chat_member(self, update: Update) -> list[Event]:
        change = update.chat_member
        assert change is not None
        if change.chat.type not in _GROUPS:
            return []
        chat = chat_ref(change.chat)
        old, new = change.old_chat_member, change.new_chat_member
        if old.status in _ADMIN_STATUSES or new.status in _ADMIN_STATUSES:
            self._admins.pop(chat.chat_id, None)  # someone was promoted or demoted
        was, now = is_member(old), is_member(new)
        if str(new.user.id) == self.bot_id or was == now:
            return []
        if now:
            return [self._membership(chat, new.user, joined=True, at=change.date)]
        leave = self._membership(chat, new.user, joined=False, at=change.date)
        assert isinstance(leave, MemberLeft)
        if new.status == ChatMember.BANNED:
            leave = MemberLeft(
                event_key=leave.event_key,
                chat=chat,
                user=leave.user,
                is_admin=False,
                at=leave.at,
                kicked=True,
            )
        return [leave]

    async def _callback(self, update: Update) -> list[Event]:
        query = update.callback_query
        assert query is not None
        message = query.message
        if message is None or query.data is None:
            await self._safe(query.answer())
            return []
        user = user_ref(query.from_user)
        chat_id = str(message.chat.id)
        if message.chat.type == ChatType.PRIVATE:  # a button on a DM ("stop these"): no group, no admin
            return [
                ButtonPressed(
                    event_key=f"tg:cb:{query.id}",
                    chat=ChatRef(PLATFORM, chat_id),
                    user=user,
                    is_admin=False,
                    at=datetime.now(UTC),
                    message_id=str(message.message_id),
                    data=query.data,
                    callback_id=query.id,
                    direct=True,
                )
            ]
        return [
            ButtonPressed(
                event_key=f"tg:cb:{query.id}",
                chat=chat_ref(message.chat),
                user=user,
                is_admin=await self.is_admin(chat_id, user.user_id),
                at=datetime.now(UTC),
                message_id=str(message.message_id),
                data=query.data,
                callback_id=query.id,
            )
        ]

    async def _my_chat_member(self, update: Update) -> None:
        """The bot was added, promoted or demoted: tell the admins plainly which rights it still lacks."""
        change = update.my_chat_member
        assert change is not None
        if change.chat.type not in _GROUPS or not is_member(change.new_chat_member):
            return
        chat = chat_ref(change.chat)
        missing = self._missing_rights(change.new_chat_member)
        if missing:
            await self._rights_notice(chat, missing, force=True)

    @staticmethod
    def _missing_rights(member: ChatMember) -> list[str]:
        if not isinstance(member, ChatMemberAdministrator):
            return ["admin"]
        missing = []
        if not member.can_delete_messages:
            missing.append("delete")
        if not member.can_restrict_members:
            missing.append("restrict")
        return missing

    async def _rights_notice(self, chat: ChatRef, rights: list[str], *, force: bool = False) -> None:
        now = self._monotonic()
        key = (chat.chat_id, ",".join(rights))
        if not force and now - self._rights_noticed.get(key, -RIGHTS_NOTICE_EVERY) < RIGHTS_NOTICE_EVERY:
            return
        self._rights_noticed[key] = now
        lang = await self.app.language_of(chat)
        names = "、".join(t(lang, f"telegram.right.{r}") for r in rights)
        await self.app.outbox.deliver(
            A.Send(chat=chat, text=t(lang, "telegram.missing_rights", rights=names))
        )

    # --- admins --------------------------------------------------------------------------------------

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        return await self.is_admin(chat_id, user_id)

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        """As Telegram says, from getChatAdministrators, cached for a few minutes per chat."""
        cached = self._admins.get(chat_id)
        now = self._monotonic()
        if cached is None or now - cached.fetched > ADMIN_TTL:
            try:
                admins = await self.bot.get_chat_administrators(int(chat_id))
            except tg_error.TelegramError as exc:
                log.warning("getChatAdministrators(%s) failed: %s", chat_id, exc)
                return cached is not None and user_id in cached.ids
            cached = _AdminCache(frozenset(str(a.user.id) for a in admins), now)
            self._admins[chat_id] = cached
        return user_id in cached.ids

    # --- actions to API calls ------------------------------------------------------------------------

    async def _markup(self, buttons: A.Keyboard) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        rows, dropped = reflow(buttons, KEYBOARD_LIMIT)
        while sum(len(r) for r in rows) > KEYBOARD_BUTTONS:
            dropped += len(rows[-1])
            rows = rows[:-1]
        if dropped:
            log.error("%d button(s) past Telegram's keyboard limits dropped: the feature should page", dropped)
        now_ms = to_ms(self.app.clock.now())
        markup = []
        for row in rows:
            markup.append(
                [
                    InlineKeyboardButton(b.label[:64] or "·", url=b.data[len(A.URL_PREFIX) :])
                    if b.data.startswith(A.URL_PREFIX)
                    else InlineKeyboardButton(
                        b.label[:64] or "·",
                        callback_data=await self.app.buttons.shorten(b.data, CALLBACK_DATA_BYTES, now_ms),
                    )
                    for b in row
                ]
            )
        return InlineKeyboardMarkup(markup)

    async def perform(self, action: A.Action) -> A.ActionResult:
        try:
            return await self._perform(action)
        except tg_error.RetryAfter as exc:
            wait = exc._retry_after  # a timedelta in PTB 22; the public property may still be an int
            raise A.RetryAfter(wait.total_seconds() if isinstance(wait, timedelta) else float(wait)) from exc
        except tg_error.BadRequest as exc:
            return await self._bad_request(action, exc)
        except tg_error.Forbidden as exc:
            raise A.PermanentError(A.Failure.FORBIDDEN, exc.message) from exc
        except tg_error.ChatMigrated as exc:
            raise A.PermanentError(A.Failure.NOT_FOUND, f"chat migrated to {exc.new_chat_id}") from exc
        except tg_error.InvalidToken as exc:
            raise A.PermanentError(A.Failure.FORBIDDEN, "invalid token") from exc
        except (tg_error.TimedOut, tg_error.NetworkError) as exc:
            raise A.TransientError(str(exc)) from exc

    async def _bad_request(self, action: A.Action, exc: tg_error.BadRequest) -> A.ActionResult:
        text = exc.message.lower()
        if "message is not modified" in text:
            return A.OK
        if "not enough rights" in text or "admin_required" in text or "administrator" in text:
            right = "delete" if isinstance(action, A.Delete) else "restrict"
            asyncio.get_running_loop().create_task(self._rights_notice(action.chat, [right]))
            raise A.PermanentError(A.Failure.FORBIDDEN, exc.message) from exc
        if "not found" in text or "message to delete" in text or "message_id_invalid" in text:
            raise A.PermanentError(A.Failure.NOT_FOUND, exc.message) from exc
        raise A.PermanentError(A.Failure.BAD_REQUEST, exc.message) from exc

    async def _perform(self, action: A.Action) -> A.ActionResult:
        bot = self.bot
        chat_id = int(action.chat.chat_id)
        match action:
            case A.Send(text=text, buttons=buttons, channel=channel):
                thread = int(channel) if channel and is_id(channel) else None
                return await self._send_text(chat_id, text, buttons, thread=thread)
            case A.Reply(text=text, buttons=buttons, reply_to=reply_to):
                params = None
                if reply_to is not None and is_id(reply_to):
                    params = ReplyParameters(int(reply_to), allow_sending_without_reply=True)
                return await self._send_text(chat_id, text, buttons, reply=params)
            case A.EditMessage(message_id=mid, text=text, buttons=buttons):
                await bot.edit_message_text(
                    render(text),
                    chat_id=chat_id,
                    message_id=int(mid),
                    parse_mode=ParseMode.HTML,
                    reply_markup=await self._markup(buttons),
                )
            case A.Delete(message_id=mid):
                await bot.delete_message(chat_id, int(mid))
            case A.Pin(message_id=mid, pinned=True, notify=notify):
                await bot.pin_chat_message(chat_id, int(mid), disable_notification=not notify)
            case A.Pin(message_id=mid, pinned=False):
                await bot.unpin_chat_message(chat_id, int(mid))
            case A.Mute(user_id=uid, until=until):
                await bot.restrict_chat_member(
                    chat_id,
                    int(uid),
                    ChatPermissions.no_permissions(),
                    until_date=until,
                    use_independent_chat_permissions=True,
                )
            case A.Unmute(user_id=uid):
                await bot.restrict_chat_member(
                    chat_id,
                    int(uid),
                    await self._chat_permissions(chat_id),
                    use_independent_chat_permissions=True,
                )
            case A.Kick(user_id=uid):
                await bot.ban_chat_member(chat_id, int(uid))
                await bot.unban_chat_member(chat_id, int(uid), only_if_banned=True)
            case A.Ban(user_id=uid, until=until, delete_message_days=days):
                await bot.ban_chat_member(chat_id, int(uid), until_date=until, revoke_messages=days > 0)
            case A.Unban(user_id=uid):
                await bot.unban_chat_member(chat_id, int(uid), only_if_banned=True)
            case A.AnswerButton(callback_id=cb, text=text, alert=alert):
                await bot.answer_callback_query(cb, text=text[:200] or None, show_alert=alert)
            case A.DirectMessage(user_id=uid, text=text, buttons=buttons):
                return await self._send_text(int(uid), text, buttons)
            case A.SendFile():
                return await self._send_file(action, chat_id)
            case A.Purge():
                return await self._purge(action, chat_id)
            case A.GrantRole():
                return A.ActionResult(ok=False, failure=A.Failure.UNSUPPORTED, detail="Telegram has no roles")
            case _:
                return A.ActionResult(ok=False, failure=A.Failure.UNSUPPORTED, detail=type(action).__name__)
        return A.OK

    async def _send_text(
        self,
        chat_id: int,
        text: str,
        buttons: A.Keyboard,
        *,
        reply: ReplyParameters | None = None,
        thread: int | None = None,
    ) -> A.ActionResult:
        """One message, or several cut at line ends past Telegram's 4,096 characters: the first answers
        `reply`, the last carries the keyboard; its id is the one returned."""
        parts = chunks(text)
        markup = await self._markup(buttons)
        sent: Message | None = None
        for i, part in enumerate(parts):
            sent = await self.bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if i == len(parts) - 1 else None,
                reply_parameters=reply if i == 0 else None,
                message_thread_id=thread,
            )
        assert sent is not None
        return A.ActionResult(ok=True, message_id=str(sent.message_id))

    async def _purge(self, action: A.Purge, chat_id: int) -> A.ActionResult:
        """Message ids of a group are consecutive, so the run is a range; deleteMessages takes 100 a call
        and skips, without saying so, what it cannot delete (gone, or older than 48 hours)."""
        if action.until_message_id is None or not is_id(action.until_message_id):
            raise A.PermanentError(A.Failure.BAD_REQUEST, "no message to purge up to")
        until = int(action.until_message_id)
        first, capped = until - action.count, False
        if action.from_message_id and is_id(action.from_message_id):
            # a reply's range, capped like a count (a reply to message 1 from 250,001 is not 2,501 calls)
            asked = int(action.from_message_id)
            capped = bool(action.count) and asked < first
            first = max(asked, first if action.count else 0)
        first = max(1, first)
        # One call per Purge: the newest 100 of the range. The rest is handed back (next_until, next_from)
        # for the core to ask again through the outbox, so the rate limiter sees every call.
        start = max(first, until - 99)
        await self.bot.delete_messages(chat_id, list(range(start, until + 1)))
        extra = {"deleted": str(until + 1 - start), "too_old": "0", "unconfirmed": "1", "capped": "1" if capped else "0"}
        if start > first:
            extra |= {"next_until": str(start - 1), "next_from": str(first)}
        return A.ActionResult(ok=True, extra=extra)

    async def _send_file(self, action: A.SendFile, chat_id: int) -> A.ActionResult:
        """sendPhoto (a chart, shown inline) or sendDocument (a CSV), uploaded as multipart."""
        target = int(action.user_id) if action.user_id and is_id(action.user_id) else chat_id
        thread = (
            int(action.channel) if action.channel and is_id(action.channel) and not action.user_id else None
        )
        try:
            data = await asyncio.to_thread(_read, action.path)
        except OSError as exc:
            raise A.PermanentError(A.Failure.NOT_FOUND, f"file {action.filename}: {exc}") from exc
        upload = InputFile(data, filename=action.filename)
        # A caption holds 1,024 characters: the file carries what fits, the rest follows as messages.
        pieces = split_text(action.caption, CAPTION_LIMIT, visible) if action.caption else [""]
        caption = _html(pieces[0]) or None
        rest = "\n".join(pieces[1:])
        send = self.bot.send_photo if action.photo else self.bot.send_document
        sent = await send(
            target, upload, caption=caption, parse_mode=ParseMode.HTML, message_thread_id=thread
        )
        if rest:
            await self._send_text(target, rest, (), thread=thread)
        return A.ActionResult(ok=True, message_id=str(sent.message_id))

    async def _chat_permissions(self, chat_id: int) -> ChatPermissions:
        """The group's default permissions, which an unmuted member gets back."""
        cached = self._default_permissions.get(str(chat_id))
        if cached is None:
            try:
                chat = await self.bot.get_chat(chat_id)
            except (tg_error.BadRequest, tg_error.Forbidden, TypeError, ValueError) as exc:
                log.warning("getChat(%s) failed (%s); restoring plain member rights", chat_id, exc)
                return MEMBER_PERMISSIONS
            cached = chat.permissions or MEMBER_PERMISSIONS
            self._default_permissions[str(chat_id)] = cached
        return cached

    @staticmethod
    async def _safe(call: Awaitable[T]) -> T | None:
        try:
            return await call
        except tg_error.TelegramError as exc:
            log.warning("Telegram call failed: %s", exc)
            return None


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()
