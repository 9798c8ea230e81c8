"""Discord: discord.py events become neutral events; neutral actions become Discord API calls.

A group is a guild. Messages go to the channel of the event being answered; messages that answer no
event (scheduled ones, notices) go to the guild's last active channel, else its system channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord

from adapters.discord.commands import (
    MESSAGE_COMMAND,
    attachment_ids,
    command_payloads,
    invoked,
    options_to_args,
)
from adapters.discord.locks import PermissionLocks, enforced, manageable
from adapters.discord.render import chunks, flat, render
from adapters.ordering import ChatLocks
from bot import actions as A
from bot.app import App
from bot.clock import to_ms
from bot.events import (
    MAX_TEXT,
    Attachment,
    ButtonPressed,
    ChatRef,
    CommandInvoked,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Replied,
    UserRef,
)
from bot.files import FileRefused
from bot.i18n import t
from bot.keyboards import Grid, reflow
from bot.markup import mentioned_ids
from bot.outbox import DISCORD_LIMITS
from bot.parsing import is_id
from storage.syncs import SyncRepo

log = logging.getLogger(__name__)

PLATFORM = "discord"
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
BUTTON_GRID = Grid(per_row=5, rows=5)  # a message's action rows, and buttons in one
MAX_TIMEOUT = timedelta(days=28)
PURGE_MAX = 500  # messages one /purge may take (the core caps it the same)
BULK_WINDOW = timedelta(days=14) - timedelta(minutes=5)  # Discord bulk-deletes younger messages only
PRESS_USABLE = timedelta(minutes=14)  # an interaction's token lasts 15 minutes
DEFER_AFTER = 2.0  # seconds; Discord wants an interaction answered within 3
_REMEMBERED = 5_000
NO_MENTIONS = discord.AllowedMentions.none()


def intents() -> discord.Intents:
    """Guilds, members (privileged) and message content (privileged)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.members = True
    wanted.guild_messages = True
    wanted.message_content = True
    return wanted


def make_client(shards: int | None = None, **options: Any) -> discord.Client:
    # Qunbot never joins voice: skip discord.py's warnings about the voice libraries it does not need.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    if shards:
        return discord.AutoShardedClient(intents=intents(), shard_count=shards, **options)
    return discord.Client(intents=intents(), **options)


def user_ref(user: discord.abc.User, *, webhook: bool = False, locale: object = None) -> UserRef:
    """A member as the core sees them; `locale` is the client's language, which Discord sends with an
    interaction only (a user object carries none)."""
    locale = locale or getattr(user, "locale", None)
    return UserRef(
        user_id=str(user.id),
        name=user.display_name,
        username=user.name,
        is_bot=bool(user.bot) or webhook,
        language=str(locale) if locale else None,
    )


def is_admin(member: Any) -> bool:
    perms = getattr(member, "guild_permissions", None)
    return bool(perms and (perms.administrator or perms.manage_guild))


def attachments_of(message: discord.Message) -> tuple[Attachment, ...]:
    return tuple(Attachment(a.url, a.filename, a.size, a.content_type or "") for a in message.attachments)


def attachment_of(raw: dict[str, Any]) -> Attachment:
    """An attachment as an interaction's resolved data gives it (a file option, a message's files)."""
    size = raw.get("size")
    return Attachment(
        str(raw.get("url", "")),
        str(raw.get("filename", "")),
        size if isinstance(size, int) else None,
        str(raw.get("content_type") or ""),
    )


def replied_of(raw: dict[str, Any], members: dict[str, Any]) -> Replied | None:
    """The message a message command was used on, from the interaction's resolved data (raw JSON:
    discord.py builds no Message for it outside its own command tree)."""
    mid, author = str(raw.get("id", "")), raw.get("author") or {}
    if not is_id(mid):
        return None
    user = None
    if is_id(str(author.get("id", ""))):
        nick = (members.get(str(author["id"])) or {}).get("nick")
        username = str(author.get("username") or "")
        user = UserRef(
            user_id=str(author["id"]),
            name=str(nick or author.get("global_name") or username),
            username=username or None,
            is_bot=bool(author.get("bot")) or raw.get("webhook_id") is not None,
        )
    files = [a for a in raw.get("attachments") or [] if isinstance(a, dict)]
    return Replied(
        mid,
        user,
        str(raw.get("content") or "")[:MAX_TEXT],
        attachments=tuple(attachment_of(a) for a in files),
        at=discord.utils.snowflake_time(int(mid)),
    )


def kinds_of(message: discord.Message) -> tuple[str, ...]:
    """What a message carries besides text, from its attachments' types, stickers, poll and reference."""
    found: set[str] = set()
    for a in message.attachments:
        kind = (a.content_type or "").split("/", 1)[0]
        if (a.content_type or "").startswith("image/gif"):
            found.add("gif")
        elif kind == "image":
            found.add("photo")
        elif kind == "video":
            found.add("video")
        elif kind == "audio":
            found.add("voice")
        else:
            found.add("file")
    if message.stickers:
        found.add("sticker")
    if getattr(message, "poll", None) is not None:
        found.add("poll")
    reference = message.reference
    if reference is not None and getattr(reference, "type", None) == discord.MessageReferenceType.forward:
        found.add("forward")
    return tuple(sorted(found))


def allowed(text: str) -> discord.AllowedMentions:
    """Only the members a message names on purpose may be pinged; never @everyone, @here or roles."""
    ids = [int(i) for i in mentioned_ids(text) if is_id(i)]
    if not ids:
        return NO_MENTIONS
    return discord.AllowedMentions(
        everyone=False, roles=False, replied_user=False, users=[discord.Object(i) for i in ids]
    )


class _Pending:
    """An interaction waiting for its answer; the lock keeps the auto-defer and the answer from racing.

    A command's automatic deferral is always ephemeral (a "thinking…" only the caller sees), so a slow
    private answer stays private; a public answer after it is posted in the channel and the private
    "thinking…" is removed. `answered` says the caller got something; `deferred` that the loading
    message is still waiting to be replaced."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.lock = asyncio.Lock()
        self.deferred = False
        self.answered = False
        # a press's "original" is the pressed message until the press is answered with a message of
        # its own (a private answer): from then on editing @original would edit that answer instead
        self.owns_message = interaction.type is discord.InteractionType.component


class _Remembered(OrderedDict[str, Any]):
    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _REMEMBERED:
            self.popitem(last=False)


class DiscordAdapter:
    platform = PLATFORM
    private_answers = True  # a component interaction can be answered ephemerally
    limits = DISCORD_LIMITS
    dm_opt_in = False  # DMs are tried; a member with closed DMs makes the API answer 403
    button_grid = BUTTON_GRID

    def __init__(self, app: App, client: discord.Client) -> None:
        self.app = app
        self.client = client
        self._pending: _Remembered = _Remembered()  # event key -> _Pending
        # message id -> the latest press on it: an edit of that message goes through the press (it may
        # be a private message, which only the interaction can reach)
        self._pressed: _Remembered = _Remembered()
        self._channels: _Remembered = _Remembered()  # message id -> channel id
        self._home: dict[str, int] = {}  # guild id -> last active channel id
        self._guild_lock = ChatLocks()
        self._locks = PermissionLocks()
        self.defer_after = DEFER_AFTER
        for name in (
            "on_ready",
            "on_guild_join",
            "on_message",
            "on_raw_message_edit",
            "on_member_join",
            "on_raw_member_remove",
            "on_interaction",
        ):
            setattr(client, name, getattr(self, name))

    # --- slash commands ------------------------------------------------------------------------------

    def _digest(self) -> tuple[list[dict[str, Any]], str]:
        payloads = command_payloads(self.app.commands)
        return payloads, hashlib.sha256(json.dumps(payloads, sort_keys=True).encode()).hexdigest()

    async def sync_guild(self, guild_id: int, *, force: bool = False) -> bool:
        """Register the slash commands in a guild when they differ from the last registration there
        (stored as a digest), so a restart spends none of Discord's command-creation limit; True when
        something was sent."""
        app_id = self.client.application_id
        if app_id is None:
            return False
        payloads, digest = self._digest()
        scope = f"discord:guild:{guild_id}"
        syncs = SyncRepo(self.app.db)
        if not force and await syncs.digest(scope) == digest:
            log.debug("slash commands of guild %s unchanged", guild_id)
            return False
        try:
            await self.client.http.bulk_upsert_guild_commands(app_id, guild_id, payloads)
        except discord.HTTPException as exc:
            log.warning("cannot sync slash commands to guild %s: %s", guild_id, exc)
            return False
        await syncs.synced(scope, digest, to_ms(self.app.clock.now()))
        log.info("synced %d slash commands to guild %s", len(payloads), guild_id)
        return True

    async def sync_global(self) -> int:
        app_id = self.client.application_id
        assert app_id is not None, "log in first"
        payloads, digest = self._digest()
        await self.client.http.bulk_upsert_global_commands(app_id, payloads)
        await SyncRepo(self.app.db).synced("discord:global", digest, to_ms(self.app.clock.now()))
        return len(payloads)

    # --- events --------------------------------------------------------------------------------------

    async def on_ready(self) -> None:
        log.info("Discord ready as %s in %d guild(s)", self.client.user, len(self.client.guilds))
        # An operator who invited the bot before starting it must see the commands: sync every guild
        # whose registration is missing or stale (on_ready also runs after a reconnect: unchanged ones
        # cost one database read).
        for guild in list(self.client.guilds):
            await self.sync_guild(guild.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.sync_guild(guild.id, force=True)  # a guild that removed the bot dropped its commands

    async def _deliver(self, guild_id: int, event: Event) -> None:
        async with self._guild_lock(str(guild_id)):
            await self.app.handle(event)

    def _chat(self, guild: discord.Guild) -> ChatRef:
        return ChatRef(PLATFORM, str(guild.id), guild.name or "")

    async def on_message(self, message: discord.Message) -> None:
        await self._message(message, edited=False)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if "content" in payload.data:  # embeds resolving also count as edits; only text matters
            await self._message(payload.message, edited=True)

    async def _message(self, message: discord.Message, *, edited: bool) -> None:
        guild = message.guild
        if guild is None or (self.client.user is not None and message.author.id == self.client.user.id):
            return
        self._channels.remember(str(message.id), message.channel.id)
        self._home[str(guild.id)] = message.channel.id
        at = (message.edited_at if edited and message.edited_at else message.created_at) or datetime.now(UTC)
        key = f"dc:{message.id}" + (f":e{int(at.timestamp() * 1000)}" if edited else "")
        mentions = {f"<@{u.id}>": user_ref(u) for u in message.mentions}
        mentions.update({f"<@!{u.id}>": user_ref(u) for u in message.mentions})
        reply_to = message.reference.message_id if message.reference else None
        resolved = message.reference.resolved if message.reference else None
        replied = (
            Replied(
                str(resolved.id),
                user_ref(resolved.author),
                resolved.content[:MAX_TEXT],
                attachments=attachments_of(resolved),
                at=resolved.created_at,
            )
            if isinstance(resolved, discord.Message)
            else None
        )
        event = MessagePosted(
            event_key=key,
            chat=self._chat(guild),
            user=user_ref(message.author, webhook=message.webhook_id is not None),
            is_admin=is_admin(message.author),
            at=at,
            message_id=str(message.id),
            text=message.content[:MAX_TEXT],
            reply_to=None if reply_to is None else str(reply_to),
            replied=replied,
            edited=edited,
            mentions=mentions,
            attachments=attachments_of(message),
            kinds=kinds_of(message),
            channel=str(message.channel.id),
        )
        await self._deliver(guild.id, event)

    async def on_member_join(self, member: discord.Member) -> None:
        joined = member.joined_at or datetime.now(UTC)
        event = MemberJoined(
            event_key=f"dc:join:{member.guild.id}:{member.id}:{int(joined.timestamp())}",
            chat=self._chat(member.guild),
            user=user_ref(member),
            is_admin=False,
            at=joined,
            member_count=member.guild.member_count,
        )
        await self._deliver(member.guild.id, event)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        guild = self.client.get_guild(payload.guild_id)
        now = datetime.now(UTC)
        joined = getattr(payload.user, "joined_at", None)
        stamp = int((joined or now).timestamp())
        chat = self._chat(guild) if guild is not None else ChatRef(PLATFORM, str(payload.guild_id))
        event = MemberLeft(
            event_key=f"dc:leave:{payload.guild_id}:{payload.user.id}:{stamp}",
            chat=chat,
            user=user_ref(payload.user),
            is_admin=False,
            at=now,
        )
        await self._deliver(payload.guild_id, event)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        if interaction.data is None:
            return
        if guild is None:
            if interaction.type is discord.InteractionType.component:
                await self._direct_component(interaction)
            return
        if interaction.channel_id is not None:
            self._home[str(guild.id)] = interaction.channel_id
        admin = is_admin(interaction.user) or bool(
            interaction.permissions.administrator or interaction.permissions.manage_guild
        )
        user = user_ref(interaction.user, locale=interaction.locale)
        key = f"dc:i:{interaction.id}"
        event: Event
        common: dict[str, Any] = {
            "event_key": key,
            "chat": self._chat(guild),
            "user": user,
            "is_admin": admin,
            "at": interaction.created_at,
            "channel": None if interaction.channel_id is None else str(interaction.channel_id),
        }
        if interaction.type is discord.InteractionType.application_command:
            event = self._command(dict(interaction.data), common)
        elif interaction.type is discord.InteractionType.component:
            custom_id = str(interaction.data.get("custom_id", ""))
            message = interaction.message
            event = ButtonPressed(
                **common,
                message_id=str(message.id) if message else "",
                data=custom_id,
                callback_id=str(interaction.id),
            )
        else:
            return
        pending = _Pending(interaction)
        self._pending.remember(key, pending)
        component = isinstance(event, ButtonPressed)
        if component and interaction.message is not None:
            self._pressed.remember(str(interaction.message.id), pending)
        deferral = asyncio.create_task(self._defer_later(pending, component=component))
        try:
            await self._deliver(guild.id, event)
        finally:
            deferral.cancel()
            await self._close(pending, event.chat, component=component)

    def _command(self, data: dict[str, Any], common: dict[str, Any]) -> CommandInvoked:
        """A slash command: its options as the argument text, its file option as attachments. A message
        command (Apps → Pin): the message it was used on as `replied`, as a reply would carry it."""
        spec = invoked(self.app.commands, data)
        name = spec.name if spec is not None else str(data.get("name", ""))
        resolved = data.get("resolved") or {}
        if data.get("type") == MESSAGE_COMMAND:
            target = str(data.get("target_id", ""))
            raw = (resolved.get("messages") or {}).get(target)
            replied = replied_of(raw, resolved.get("members") or {}) if isinstance(raw, dict) else None
            if replied is not None and is_id(str(raw.get("channel_id", ""))):
                self._channels.remember(replied.message_id, int(raw["channel_id"]))
            return CommandInvoked(**common, name=name, replied=replied)
        options = [o for o in data.get("options", []) if isinstance(o, dict)]
        files = resolved.get("attachments") or {}
        attachments = tuple(
            attachment_of(files[i]) for i in attachment_ids(spec, options) if isinstance(files.get(i), dict)
        )
        return CommandInvoked(
            **common, name=name, args=options_to_args(spec, options), attachments=attachments
        )

    async def _direct_component(self, interaction: discord.Interaction) -> None:
        """A button on a DM ("stop these"): the core reads the group from its payload."""
        assert interaction.data is not None
        key = f"dc:i:{interaction.id}"
        message = interaction.message
        event = ButtonPressed(
            event_key=key,
            chat=ChatRef(PLATFORM, f"dm:{interaction.user.id}"),
            user=user_ref(interaction.user, locale=interaction.locale),
            is_admin=False,
            at=interaction.created_at,
            message_id=str(message.id) if message else "",
            data=str(interaction.data.get("custom_id", "")),
            callback_id=str(interaction.id),
            direct=True,
        )
        pending = _Pending(interaction)
        self._pending.remember(key, pending)
        if message is not None:
            self._pressed.remember(str(message.id), pending)
        deferral = asyncio.create_task(self._defer_later(pending, component=True))
        try:
            async with self._guild_lock(f"dm:{interaction.user.id}"):
                await self.app.handle(event)
        finally:
            deferral.cancel()
            await self._close(pending, None, component=True)

    async def _defer_later(self, pending: _Pending, *, component: bool) -> None:
        """Acknowledge within Discord's three seconds if the core has not answered within two: a press
        silently (the message stays as it is), a command with a "thinking…" only the caller sees, so
        that a slow private answer (/me, a refusal) is not forced public by the first follow-up."""
        await asyncio.sleep(self.defer_after)
        # Once under way the deferral finishes even if the event ends meanwhile: a request cut off
        # mid-flight would leave nobody knowing whether Discord took it.
        await asyncio.shield(self._defer_now(pending, component=component))

    @staticmethod
    async def _defer_now(pending: _Pending, *, component: bool) -> None:
        async with pending.lock:
            response = pending.interaction.response
            if not response.is_done():
                with contextlib.suppress(discord.HTTPException):
                    if component:
                        await response.defer()
                    else:
                        await response.defer(thinking=True, ephemeral=True)
                        pending.deferred = True

    # --- actions to API calls ------------------------------------------------------------------------

    async def perform(self, action: A.Action) -> A.ActionResult:
        try:
            return await self._perform(action)
        except discord.RateLimited as exc:
            raise A.RetryAfter(exc.retry_after) from exc
        except discord.Forbidden as exc:
            raise A.PermanentError(A.Failure.FORBIDDEN, exc.text or str(exc)) from exc
        except discord.NotFound as exc:
            raise A.PermanentError(A.Failure.NOT_FOUND, exc.text or str(exc)) from exc
        except discord.HTTPException as exc:
            if exc.status >= 500:
                raise A.TransientError(str(exc)) from exc
            raise A.PermanentError(A.Failure.BAD_REQUEST, exc.text or str(exc)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise A.TransientError(str(exc)) from exc

    async def _view(self, buttons: A.Keyboard) -> discord.ui.View | None:
        if not buttons:
            return None
        rows, dropped = reflow(buttons, BUTTON_GRID)
        if dropped:
            log.error("%d button(s) past Discord's %d rows dropped: the feature should page", dropped, 5)
        view = discord.ui.View(timeout=None)
        now_ms = to_ms(self.app.clock.now())
        for row_no, row in enumerate(rows):
            for b in row:
                label = b.label[:LABEL_LIMIT] or "·"
                if b.data.startswith(A.URL_PREFIX):  # a link opens in the browser; no interaction
                    url = b.data[len(A.URL_PREFIX) :]
                    view.add_item(discord.ui.Button(label=label, url=url, row=row_no))
                    continue
                custom_id = await self.app.buttons.shorten(b.data, CUSTOM_ID_LIMIT, now_ms)
                view.add_item(discord.ui.Button(label=label, custom_id=custom_id, row=row_no))
        return view

    def _guild(self, chat: ChatRef) -> discord.Guild:
        guild = self.client.get_guild(int(chat.chat_id))
        if guild is None:
            raise A.PermanentError(A.Failure.NOT_FOUND, f"not in guild {chat.chat_id}")
        return guild

    def _channel(self, chat: ChatRef, message_id: str | None = None) -> discord.PartialMessageable:
        channel_id = self._channels.get(message_id) if message_id else None
        if channel_id is None:
            channel_id = self._home.get(chat.chat_id)
        if channel_id is None:
            guild = self._guild(chat)
            channel = guild.system_channel or next(
                (c for c in guild.text_channels if c.permissions_for(guild.me).send_messages), None
            )
            if channel is None:
                raise A.PermanentError(A.Failure.NOT_FOUND, f"no channel to speak in guild {chat.chat_id}")
            channel_id = channel.id
        return self.client.get_partial_messageable(channel_id, guild_id=int(chat.chat_id))

    async def _send(
        self,
        channel: discord.abc.Messageable,
        text: str,
        buttons: A.Keyboard,
        reference: discord.MessageReference | None = None,
    ) -> A.ActionResult:
        """One message, or several cut at line ends when the text passes Discord's 2,000 characters:
        the first answers `reference`, the last carries the buttons; its id is the one returned."""
        parts = chunks(text)
        view = await self._view(buttons)
        mentions = allowed(text)
        sent: discord.Message | None = None
        for i, part in enumerate(parts):
            kwargs: dict[str, Any] = {"allowed_mentions": mentions}
            if view is not None and i == len(parts) - 1:
                kwargs["view"] = view
            if reference is not None and i == 0:
                kwargs["reference"] = reference
            sent = await channel.send(part, **kwargs)
            self._channels.remember(str(sent.id), sent.channel.id)
        assert sent is not None
        return A.ActionResult(ok=True, message_id=str(sent.id))

    async def _respond(
        self, pending: _Pending, text: str, buttons: A.Keyboard, ephemeral: bool
    ) -> A.ActionResult:
        """An answer to an interaction: its response, the private "thinking…" replaced, or a follow-up."""
        async with pending.lock:
            interaction = pending.interaction
            parts = chunks(text)
            view = await self._view(buttons)
            mentions = allowed(text)

            def extra(i: int) -> dict[str, Any]:
                kwargs: dict[str, Any] = {"allowed_mentions": mentions}
                if view is not None and i == len(parts) - 1:
                    kwargs["view"] = view
                return kwargs

            message_id: str | None = None
            first = 0
            if not interaction.response.is_done():
                callback = await interaction.response.send_message(parts[0], ephemeral=ephemeral, **extra(0))
                pending.answered, pending.owns_message, first = True, False, 1
                message_id = None if callback.message_id is None else str(callback.message_id)
            elif pending.deferred and not pending.answered:
                pending.answered = True
                if not ephemeral:  # the private "thinking…" cannot turn public: post, then remove it
                    channel = self._interaction_channel(interaction)
                    result = await self._send(channel, text, buttons)
                    with contextlib.suppress(discord.HTTPException):
                        await interaction.delete_original_response()
                    pending.deferred = False
                    return result
                edited = await interaction.edit_original_response(
                    content=parts[0], **{k: v for k, v in extra(0).items() if k != "allowed_mentions"}
                )
                pending.deferred, first = False, 1
                message_id = str(edited.id)
            for i in range(first, len(parts)):
                sent = await interaction.followup.send(parts[i], wait=True, ephemeral=ephemeral, **extra(i))
                pending.answered = True
                message_id = str(sent.id)
            return A.ActionResult(ok=True, message_id=message_id)

    def _fresh_press(self, message_id: str) -> bool:
        """A press on this message whose interaction can still be used (Discord: 15 minutes)."""
        pending = self._pressed.get(message_id)
        return (
            pending is not None
            and pending.owns_message
            and datetime.now(UTC) - pending.interaction.created_at < PRESS_USABLE
        )

    async def _edit_pressed(self, pending: _Pending, text: str, buttons: A.Keyboard) -> A.ActionResult:
        """Edit the message a button was pressed on through the press itself: as its answer (an update of
        the message) while unanswered, else through the interaction's webhook. This reaches a private
        (ephemeral) message too, which the channel's endpoint cannot: a used private menu goes away."""
        async with pending.lock:
            interaction = pending.interaction
            view = await self._view(buttons)
            if not interaction.response.is_done():
                await interaction.response.edit_message(content=flat(text), view=view)
            else:
                await interaction.edit_original_response(content=flat(text), view=view)
            return A.OK

    def _interaction_channel(self, interaction: discord.Interaction) -> discord.abc.Messageable:
        if interaction.channel_id is None or interaction.guild_id is None:
            raise A.PermanentError(A.Failure.NOT_FOUND, "interaction without a channel")
        return self.client.get_partial_messageable(interaction.channel_id, guild_id=interaction.guild_id)

    async def _close(self, pending: _Pending, chat: ChatRef | None, *, component: bool) -> None:
        """Whatever the core did, an interaction is answered once: the core answers every command and
        press itself (bot/app.py), so this only catches a failure on the way (the event crashed, the
        answer was refused): the caller is told privately rather than left with "did not respond"."""
        async with pending.lock:
            interaction = pending.interaction
            try:
                if component:
                    if not interaction.response.is_done():
                        await interaction.response.defer()
                    return
                if pending.answered:
                    return
                lang = await self.app.language_of(chat) if chat is not None else "zh-CN"
                text = render(t(lang, "common.internal_error"))
                if pending.deferred:
                    await interaction.edit_original_response(content=text)
                elif not interaction.response.is_done():
                    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
                    pending.owns_message = False
                pending.answered = True
            except discord.HTTPException as exc:
                log.warning("cannot close interaction %s: %s", interaction.id, exc)

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        if not (is_id(chat_id) and is_id(user_id)):
            return False
        guild = self.client.get_guild(int(chat_id))
        if guild is None:
            return False
        try:
            return is_admin(await self._member(guild, user_id))
        except discord.NotFound:
            return False

    async def _member(self, guild: discord.Guild, user_id: str) -> discord.Member:
        return guild.get_member(int(user_id)) or await guild.fetch_member(int(user_id))

    async def _perform(self, action: A.Action) -> A.ActionResult:
        match action:
            case A.Send(text=text, buttons=buttons, channel=channel_id) if channel_id and is_id(channel_id):
                channel = self.client.get_partial_messageable(
                    int(channel_id), guild_id=int(action.chat.chat_id)
                )
                return await self._send(channel, text, buttons)
            case A.Send(text=text, buttons=buttons):
                return await self._send(self._channel(action.chat), text, buttons)
            case A.Reply(text=text, buttons=buttons, reply_to=reply_to, event_key=key, ephemeral=ephemeral):
                pending = self._pending.get(key)
                if pending is not None:
                    return await self._respond(pending, text, buttons, ephemeral)
                channel = self._channel(action.chat, reply_to)
                reference = None
                if reply_to and is_id(reply_to):
                    reference = discord.MessageReference(
                        message_id=int(reply_to),
                        channel_id=channel.id,
                        guild_id=int(action.chat.chat_id),
                        fail_if_not_exists=False,
                    )
                return await self._send(channel, text, buttons, reference)
            case A.EditMessage(message_id=mid, text=text, buttons=buttons) if self._fresh_press(mid):
                return await self._edit_pressed(self._pressed[mid], text, buttons)
            case A.EditMessage(message_id=mid, text=text, buttons=buttons):
                message = self._channel(action.chat, mid).get_partial_message(int(mid))
                await message.edit(  # an edit stays one message: cut, with an ellipsis, if it must be
                    content=flat(text), view=await self._view(buttons), allowed_mentions=NO_MENTIONS
                )
            case A.Delete(message_id=mid):
                await self._channel(action.chat, mid).get_partial_message(int(mid)).delete()
            case A.Pin(message_id=mid, pinned=pinned):
                message = self._channel(action.chat, mid).get_partial_message(int(mid))
                await (message.pin() if pinned else message.unpin())
            case A.Mute(user_id=uid, until=until):
                now = datetime.now(UTC)
                member = await self._member(self._guild(action.chat), uid)
                await member.timeout(min(until, now + MAX_TIMEOUT - timedelta(minutes=1)))
            case A.Unmute(user_id=uid):
                member = await self._member(self._guild(action.chat), uid)
                await member.timeout(None)
            case A.Kick(user_id=uid):
                await self._guild(action.chat).kick(discord.Object(int(uid)))
            case A.Ban(user_id=uid, delete_message_days=days):
                await self._guild(action.chat).ban(
                    discord.Object(int(uid)), delete_message_seconds=max(0, min(days, 7)) * 86400
                )
            case A.Unban(user_id=uid):
                await self._guild(action.chat).unban(discord.Object(int(uid)))
            case A.GrantRole(user_id=uid, role=role_ref):
                return await self._grant_role(action, uid, role_ref)
            case A.AnswerButton(callback_id=cb, text=text, buttons=buttons):
                pending = self._pending.get(f"dc:i:{cb}")
                if pending is None:
                    raise A.PermanentError(A.Failure.NOT_FOUND, "interaction expired")
                if not text:
                    async with pending.lock:
                        if not pending.interaction.response.is_done():
                            await pending.interaction.response.defer()
                    return A.OK
                return await self._respond(pending, text, buttons, True)
            case A.DirectMessage(user_id=uid, text=text, buttons=buttons):
                user = self.client.get_user(int(uid)) or await self.client.fetch_user(int(uid))
                return await self._send(user, text, buttons)
            case A.SendFile():
                return await self._send_file(action)
            case A.Purge():
                return await self._purge(action)
            case A.RestrictKinds(kinds=kinds, exempt=exempt):
                return await self._restrict(action, frozenset(kinds), frozenset(exempt))
            case _:
                return A.ActionResult(ok=False, failure=A.Failure.UNSUPPORTED, detail=type(action).__name__)
        return A.OK

    async def _purge(self, action: A.Purge) -> A.ActionResult:
        """The channel's history from the first message (or the last `count`) to `until`, bulk-deleted
        100 at a time; Discord bulk-deletes only messages younger than 14 days: older ones stay, counted."""
        until = int(action.until_message_id) if action.until_message_id else None
        channel = (
            self.client.get_partial_messageable(int(action.channel), guild_id=int(action.chat.chat_id))
            if action.channel and is_id(action.channel)
            else self._channel(action.chat, action.until_message_id)
        )
        last = discord.Object(until + 1) if until else None  # a slash command has no message of its own
        if action.from_message_id and is_id(action.from_message_id):
            start = discord.Object(int(action.from_message_id) - 1)
            found = [m.id async for m in channel.history(limit=PURGE_MAX, after=start, before=last)]
        else:
            found = [
                m.id async for m in channel.history(limit=action.count + (1 if until else 0), before=last)
            ]
        ids = sorted(found)[-PURGE_MAX - 1 :]
        cutoff = discord.utils.time_snowflake(datetime.now(UTC) - BULK_WINDOW)
        young = [i for i in ids if i > cutoff]
        for start_at in range(0, len(young), 100):
            chunk = young[start_at : start_at + 100]
            if len(chunk) == 1:
                await self.client.http.delete_message(channel.id, chunk[0])
            else:
                await self.client.http.delete_messages(channel.id, chunk)
        return A.ActionResult(
            ok=True, extra={"deleted": str(len(young)), "too_old": str(len(ids) - len(young))}
        )

    async def _send_file(self, action: A.SendFile) -> A.ActionResult:
        """A message with one attachment (multipart upload); a DM when `user_id` is set."""
        target: discord.abc.Messageable
        if action.user_id and is_id(action.user_id):
            uid = int(action.user_id)
            target = self.client.get_user(uid) or await self.client.fetch_user(uid)
        elif action.channel and is_id(action.channel):
            target = self.client.get_partial_messageable(
                int(action.channel), guild_id=int(action.chat.chat_id)
            )
        else:
            target = self._channel(action.chat)
        try:
            data = await asyncio.to_thread(_read, action.path)
        except OSError as exc:
            raise A.PermanentError(A.Failure.NOT_FOUND, f"file {action.filename}: {exc}") from exc
        upload = discord.File(io.BytesIO(data), filename=action.filename)
        sent = await target.send(
            flat(action.caption) if action.caption else None,
            file=upload,
            allowed_mentions=allowed(action.caption),
        )
        self._channels.remember(str(sent.id), sent.channel.id)
        return A.ActionResult(ok=True, message_id=str(sent.id))

    async def fetch_file(self, attachment: Attachment, max_bytes: int) -> bytes:
        """The attachment from Discord's CDN (its URL came in the message payload, not from a member)."""
        if attachment.size is not None and attachment.size > max_bytes:
            raise FileRefused("too_big")
        try:
            return await self.client.http.get_from_cdn(attachment.ref)
        except discord.NotFound as exc:
            raise FileRefused("unavailable") from exc
        except (discord.DiscordServerError, aiohttp.ClientError, TimeoutError) as exc:
            raise A.TransientError(str(exc)) from exc

    def permission_kinds(self, locked: frozenset[str], chat_id: str | None = None) -> frozenset[str]:
        """The locked kinds channel permissions refuse here. Asked about one group (for /lock's reply),
        none unless the bot may manage some text channel's permissions there, as the sync itself checks:
        a lock must not claim what the platform will not do."""
        kinds = enforced(locked)
        if chat_id is None or not kinds:
            return kinds
        guild = self.client.get_guild(int(chat_id)) if is_id(chat_id) else None
        return kinds if guild is not None and manageable(guild) else frozenset()

    async def _restrict(
        self, action: A.RestrictKinds, locked: frozenset[str], exempt: frozenset[str]
    ) -> A.ActionResult:
        guild = self._guild(action.chat)
        try:
            try:
                done, skipped = await self._locks.sync(guild, locked, exempt)
            except discord.NotFound:  # the trusted role was deleted under us: once more, afresh
                self._locks.forget(guild.id)
                done, skipped = await self._locks.sync(guild, locked, exempt)
        except discord.Forbidden as exc:
            done, skipped = 0, 1
            log.warning("lock permissions refused in %s: %s", guild.id, exc)
        if skipped and not done and enforced(locked):
            await self._no_rights_notice(action.chat, "lacking:" + ",".join(sorted(enforced(locked))))
            raise A.PermanentError(A.Failure.FORBIDDEN, "no channel whose permissions the bot may manage")
        await self._no_rights_notice(action.chat, None)
        return A.ActionResult(ok=True, extra={"channels": str(done), "skipped": str(skipped)})

    async def _no_rights_notice(self, chat: ChatRef, state: str | None) -> None:
        """Say "I lack Manage Roles" once per state (the kinds a lock could not have refused by
        permission), not on every /trust that re-syncs the same state; stored, so a restart does not
        repeat it either. `None`: the rights are there (or nothing needs them), so a later loss is told."""
        scope = f"discord:lock-rights:{chat.chat_id}"
        syncs = SyncRepo(self.app.db)
        if await syncs.digest(scope) == state:
            return
        if state is None:
            await syncs.forget(scope)
            return
        lang = await self.app.language_of(chat)
        await self._send(self._channel(chat), t(lang, "discord.lock_no_rights"), ())
        await syncs.synced(scope, state, to_ms(self.app.clock.now()))

    async def _grant_role(self, action: A.GrantRole, user_id: str, role_ref: str) -> A.ActionResult:
        guild = self._guild(action.chat)
        role = (
            guild.get_role(int(role_ref))
            if is_id(role_ref)
            else discord.utils.get(guild.roles, name=role_ref)
        )
        if role is None:
            raise A.PermanentError(A.Failure.NOT_FOUND, f"no role {role_ref}")
        if role >= guild.me.top_role:
            lang = await self.app.language_of(action.chat)
            await self._send(self._channel(action.chat), t(lang, "discord.role_too_high", role=role.name), ())
            raise A.PermanentError(A.Failure.FORBIDDEN, f"role {role.name} is not below the bot's top role")
        member = await self._member(guild, user_id)
        await member.add_roles(role)
        return A.OK


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()
