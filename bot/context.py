"""The context a handler works through: its group, settings, clock, storage, and the actions it may take."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot import actions as A
from bot import unit
from bot.clock import local_day, to_ms
from bot.events import Attachment, ButtonPressed, ChatRef, CommandInvoked, Event, MessagePosted, Replied
from bot.files import FileRefused, decode_text
from bot.i18n import t
from bot.parsing import Mention
from bot.text import clean_text
from config.group_settings import GroupSettings, apply_override
from storage.groups import Group
from storage.members import Member

if TYPE_CHECKING:
    from bot.app import App


class Context:
    """Bound to one group, and to the event being handled (None for a scheduled job)."""

    def __init__(self, app: App, group: Group, settings: GroupSettings, event: Event | None = None) -> None:
        self.app = app
        self.group = group
        self.settings = settings
        self.event = event
        self.chat = event.chat if event is not None else ChatRef(group.platform, group.chat_id, group.title)
        self._gathered: list[str] | None = None
        self._postscripts: list[str] = []
        self.answered = False  # the event's caller got an answer (a reply to it, or a press answered)

    # --- reading -------------------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        return self.settings.language

    def t(self, key: str, /, **params: Any) -> str:
        return t(self.lang, key, **params)

    def join(self, items: Iterable[str]) -> str:
        """A list as the group's language writes one (、 in Chinese, a comma in English)."""
        return self.t("common.sep").join(items)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)  # ZoneInfo caches instances itself

    def now(self) -> datetime:
        return self.app.clock.now()

    def now_ms(self) -> int:
        return to_ms(self.app.clock.now())

    def event_time(self) -> datetime:
        """When the event being handled happened (now, for a scheduled job). Never later than now: a
        platform clock running ahead cannot move an action into tomorrow."""
        now = self.now()
        return now if self.event is None else min(self.event.at, now)

    def today(self) -> str:
        """The group's calendar day of the event, ISO formatted (check-ins, quotas, boards). The event's own
        time, not the processing time: "签到" sent at 23:59:59 and handled after midnight (a backlog, a
        restart) belongs to the day it was sent, and a redelivery of it lands on that same day."""
        return local_day(self.event_time(), self.settings.timezone).isoformat()

    @property
    def is_admin(self) -> bool:
        return bool(self.event and self.event.is_admin)

    async def resolve_member(self, mention: Mention) -> Member | None:
        """A typed @mention or id to a member of this group only (never another group's)."""
        members = self.app.members
        await self.settle()  # a member who just spoke may still be in the pending batch
        if isinstance(self.event, MessagePosted | CommandInvoked):
            known = self.event.mentions.get(mention.raw)
            if known is not None:
                return await members.get(self.group.id, known.user_id)
        if mention.user_id is not None:
            return await members.get(self.group.id, mention.user_id)
        if mention.username is not None:
            return await members.find(self.group.id, mention.username)
        return None

    def named(self, raw: str) -> str:
        """How a member reference the caller typed reads back: the display name a platform mention
        carries (a Telegram member without a @username arrives as `<@id>`), else the text as typed."""
        ev = self.event
        known = ev.mentions.get(raw) if isinstance(ev, MessagePosted | CommandInvoked) else None
        return (known.name if known is not None else raw)[:40]

    async def screen(self, text: str, *, enforce: bool = False) -> str | None:
        """Why moderation refuses `text` by the event's author (None: it may be shown). Member text the
        bot shows again passes here whatever the command's form: the app screens a native command's
        arguments before routing (`enforce`: a case, the ladder and a notice, as the typed command
        would get), and features screen what they store from elsewhere (a replied message's text, a
        button's payload). Admins and trusted members are exempt, as for messages."""
        for feature in self.app.features:
            check = getattr(feature, "screen_text", None)
            if check is not None and (reason := await check(self, text, enforce=enforce)):
                return str(reason)
        return None

    # --- changing settings ---------------------------------------------------------------------------

    async def set_setting(self, key: str, raw: str) -> GroupSettings:
        """Validate and store one setting for this group; raises pydantic's ValidationError on a bad value."""
        overrides = await self.app.groups.overrides(self.group.id)
        settings, merged = apply_override(overrides, key, raw)
        actor = self.event.user.user_id if self.event else "system"
        await self.app.groups.save_overrides(self.group.id, merged, actor, self.now_ms())
        self.settings = settings
        await self.app.emit(self, "settings.changed", key=key)  # a feature re-arms what depends on it
        return settings

    # --- acting --------------------------------------------------------------------------------------

    async def settle(self) -> None:
        """Make every earlier message's batched rows visible to the reads that follow: inside a unit,
        open its transaction (which takes the batch in); outside one, flush the batch."""
        uow = unit.current()
        if uow is not None:
            await uow.begin()
        else:
            await self.app.writer.flush()

    async def settle_apart(self) -> None:
        """Like `settle`, but the batch is written in a transaction of its own and this unit is not
        opened: for a job that must see every earlier message, then ask the platform something (who
        is an admin) before it writes, without holding the write lock meanwhile."""
        uow = unit.current()
        if uow is not None:
            await uow.settle()
        else:
            await self.app.writer.flush()

    async def act(self, action: A.Action, *, remember: str | None = None) -> A.ActionResult:
        """Every action passes here. Inside an event's unit of work it is queued, committed with the
        event and sent after the commit (the answer is then `unit.QUEUED`); `remember` routes the
        platform's real answer to a feature's `on_sent`."""
        self._note_answer(action)
        return await unit.act(self.app, action, remember)

    async def act_now(self, action: A.Action) -> A.ActionResult:
        """For the rare handler that must see the platform's answer before going on: sent before the
        commit, so only for actions harmless to repeat (see unit.act_now)."""
        self._note_answer(action)
        return await unit.act_now(self.app, action)

    def _note_answer(self, action: A.Action) -> None:
        ev = self.event
        if isinstance(action, A.Reply) and ev is not None and action.event_key == ev.event_key:
            self.answered = True
        elif isinstance(action, A.AnswerButton) and isinstance(ev, ButtonPressed):
            self.answered = self.answered or action.callback_id == ev.callback_id

    async def close_answer(self) -> None:
        """An event that must be answered exactly once (a slash command, a button press: Discord shows
        "the application did not respond" otherwise, Telegram a spinning button) gets a closing answer
        when no handler gave one: a silent acknowledgement of a press, a private "done" for a command
        whose work was all actions (a deletion, a pin)."""
        if self.answered:
            return
        if isinstance(self.event, ButtonPressed):
            await self.answer_button()
        elif isinstance(self.event, CommandInvoked):
            await self.reply(self.t("common.done"), ephemeral=True)

    def postscript(self, text: str) -> None:
        """A line for the member about this very action (welcome back, and your gift): it rides in the
        action's first reply to everyone, or goes out alone once the event is handled if nothing replied."""
        self._postscripts.append(text)

    async def flush_postscripts(self) -> None:
        if self._postscripts:
            text, self._postscripts = "\n".join(self._postscripts), []
            await self.reply(text)

    async def reply(
        self,
        text: str,
        buttons: A.Keyboard = (),
        *,
        ephemeral: bool = False,
        remember: str | None = None,
    ) -> A.ActionResult:
        if self._postscripts and not ephemeral:
            text, self._postscripts = "\n".join([text, *self._postscripts]), []
        ev = self.event
        if isinstance(ev, MessagePosted | CommandInvoked):
            return await self.act(
                A.Reply(
                    chat=self.chat,
                    text=text,
                    reply_to=ev.message_id,
                    event_key=ev.event_key,
                    buttons=buttons,
                    ephemeral=ephemeral,
                ),
                remember=remember,
            )
        return await self.send(text, buttons, remember=remember)

    async def send(
        self, text: str, buttons: A.Keyboard = (), *, remember: str | None = None
    ) -> A.ActionResult:
        """A message to the whole group. The first one a native command sends is its answer (a Discord
        interaction must be answered, and a result posted beside it would leave it unanswered)."""
        if isinstance(self.event, CommandInvoked) and not self.answered:
            return await self.reply(text, buttons, remember=remember)
        if self._postscripts and self.event is not None:
            text, self._postscripts = "\n".join([text, *self._postscripts]), []
        return await self.act(A.Send(chat=self.chat, text=text, buttons=buttons), remember=remember)

    @asynccontextmanager
    async def gathering(self) -> AsyncIterator[list[str]]:
        """While open, `announce` collects instead of sending: the consequences of one member action (a
        task done, a level, a badge) ride in that action's own reply. One action, one message."""
        outer = self._gathered
        self._gathered = gathered = []
        try:
            yield gathered
        finally:
            self._gathered = outer

    async def announce(self, text: str) -> None:
        """A consequence of the current action: folded into its reply when the action gathers them,
        else a reply of its own (a message of its own for a button or a job)."""
        if self._gathered is not None:
            self._gathered.append(text)
        elif isinstance(self.event, MessagePosted | CommandInvoked):
            await self.reply(text)
        else:
            await self.send(text)

    async def edit(self, message_id: str, text: str, buttons: A.Keyboard = ()) -> A.ActionResult:
        return await self.act(
            A.EditMessage(chat=self.chat, message_id=message_id, text=text, buttons=buttons)
        )

    async def delete(self, message_id: str) -> A.ActionResult:
        return await self.act(A.Delete(chat=self.chat, message_id=message_id))

    async def mute(self, user_id: str, until: datetime) -> A.ActionResult:
        return await self.act(A.Mute(chat=self.chat, user_id=user_id, until=until))

    async def unmute(self, user_id: str) -> A.ActionResult:
        return await self.act(A.Unmute(chat=self.chat, user_id=user_id))

    async def kick(self, user_id: str) -> A.ActionResult:
        return await self.act(A.Kick(chat=self.chat, user_id=user_id))

    async def ban(
        self, user_id: str, until: datetime | None = None, *, delete_message_days: int = 0
    ) -> A.ActionResult:
        return await self.act(
            A.Ban(chat=self.chat, user_id=user_id, until=until, delete_message_days=delete_message_days)
        )

    async def unban(self, user_id: str) -> A.ActionResult:
        return await self.act(A.Unban(chat=self.chat, user_id=user_id))

    async def grant_role(self, user_id: str, role: str) -> A.ActionResult:
        return await self.act(A.GrantRole(chat=self.chat, user_id=user_id, role=role))

    async def dm(
        self, user_id: str, text: str, buttons: A.Keyboard = (), *, fallback: A.Send | None = None
    ) -> A.ActionResult:
        """A DM; `fallback` goes out instead if the platform refuses it."""
        return await self.act(
            A.DirectMessage(chat=self.chat, user_id=user_id, text=text, buttons=buttons, fallback=fallback)
        )

    async def send_file(
        self,
        path: str,
        filename: str,
        caption: str = "",
        *,
        photo: bool = False,
        chat: ChatRef | None = None,
        channel: str | None = None,
        user_id: str | None = None,
        fallback: A.SendFile | None = None,
        remember: str | None = None,
    ) -> A.ActionResult:
        """A file the app wrote under `app.files`: into this chat (the event's channel), another chat (the
        admin log), or as a DM to `user_id` with `fallback` where the platform refuses it; `remember`
        routes the platform's answer to a feature's `on_sent`."""
        if chat is None and channel is None and self.event is not None:
            channel = self.event.channel
        return await self.act(
            A.SendFile(
                chat=chat or self.chat,
                path=path,
                filename=filename,
                caption=caption,
                photo=photo,
                user_id=user_id,
                channel=channel,
                fallback=fallback,
            ),
            remember=remember,
        )

    def replied(self) -> Replied | None:
        """The message the command is about: the one a message replies to, or the one a context-menu
        command was used on. Every handler asks here, so both reach the same code."""
        ev = self.event
        return ev.replied if isinstance(ev, MessagePosted | CommandInvoked) else None

    def attachments(self) -> tuple[Attachment, ...]:
        """Files on the message (or given as the command's file option), else on the message it is about."""
        ev = self.event
        if not isinstance(ev, MessagePosted | CommandInvoked):
            return ()
        if ev.attachments:
            return ev.attachments
        replied = self.replied()
        return replied.attachments if replied is not None else ()

    async def read_file(self, attachment: Attachment, max_bytes: int) -> bytes:
        """Download a member's file (FileRefused when too big or unavailable)."""
        return await self.app.outbox.fetch_file(self.chat.platform, attachment, max_bytes)

    async def read_text_attachment(self, suffixes: tuple[str, ...], max_bytes: int) -> str | None:
        """The UTF-8 text of the first file on this message (or the one it replies to), if its name ends
        in one of `suffixes`; else None, after answering why in the member's language."""
        file = self.attachments()[0]
        suffix = file.name.lower().rsplit(".", 1)[-1] if "." in file.name else ""
        name = file.name[:60]
        if suffix not in suffixes:
            await self.reply(
                self.t("files.type", name=name, suffixes=" / ".join(f".{x}" for x in suffixes)),
                ephemeral=True,
            )
            return None
        try:
            # cleaned as an event's text is: a file must not smuggle in the markers of a mention
            return clean_text(decode_text(await self.read_file(file, max_bytes)))
        except FileRefused as exc:
            await self.reply(
                self.t(f"files.{exc.reason}", name=name, mb=max_bytes // 1_000_000), ephemeral=True
            )
            return None

    async def answer_button(
        self, text: str = "", *, alert: bool = False, buttons: A.Keyboard = ()
    ) -> A.ActionResult:
        if not isinstance(self.event, ButtonPressed):
            raise TypeError("answer_button needs a button event")
        return await self.act(
            A.AnswerButton(
                chat=self.chat, callback_id=self.event.callback_id, text=text, alert=alert, buttons=buttons
            )
        )
