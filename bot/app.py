"""The app: dispatches one neutral event through dedup, activity, hooks and commands; runs scheduled jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import actions as A
from bot.clock import Clock, to_ms
from bot.commands import CommandRegistry, CommandSpec, UsageError, bind_args
from bot.context import Context
from bot.events import (
    MAX_TEXT,
    ButtonPressed,
    ChatRef,
    CommandInvoked,
    DirectOpened,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
)
from bot.feature import Feature, JobFunc
from bot.files import FileStore
from bot.i18n import DEFAULT_LANGUAGE, normalize_language, t
from bot.outbox import Outbox
from bot.presses import PressLimiter
from bot.scheduler import Scheduler
from bot.unit import act, guarded_call, resend, unit
from config.group_settings import GroupSettings, from_overrides
from storage.activity import ActivityWriter
from storage.buttons import ButtonStore, DmRegistry
from storage.db import Database
from storage.groups import GroupRepo
from storage.jobs import JobRecord, JobRepo
from storage.members import MemberRepo
from storage.migrate import migrate
from storage.outbox import OutboxRepo
from storage.processed import ProcessedEvents

log = logging.getLogger(__name__)

PROCESSED_EVENTS_KEPT = timedelta(days=7)
UNIT_ATTEMPTS = 3  # an event's unit is run again after a transient database failure (a deadlock)


class App:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        outbox: Outbox,
        features: Iterable[Feature],
        *,
        manual_scheduler: bool = False,
        writer_interval: float = 0.25,
        files_dir: str | Path | FileStore | None = None,
    ) -> None:
        self.db = db
        # charts and exports, kept until the outbox has sent them
        self.files = files_dir if isinstance(files_dir, FileStore) else FileStore(files_dir)
        self.clock = clock
        self.outbox = outbox
        self.features = sorted(features, key=lambda f: f.priority)
        self.groups: GroupRepo[GroupSettings] = GroupRepo(db, from_overrides)
        self.members = MemberRepo(db)
        self.processed = ProcessedEvents(db)
        self.writer = ActivityWriter(db, interval=writer_interval)
        self.jobs = JobRepo(db)
        self.outbox_repo = OutboxRepo(db)
        self.buttons = ButtonStore(db)
        self.dms = DmRegistry(db)
        self.scheduler = Scheduler(self.jobs, clock, self._run_job, manual=manual_scheduler)
        self.commands = CommandRegistry()
        self._job_funcs: dict[str, JobFunc] = {}
        self._buttons: dict[str, Feature] = {}
        self.presses = PressLimiter()  # per (group, member): a flood of presses does no work (bot/presses.py)
        # Per hook, the features that implement it: most hooks are the base class's no-op, and a plain
        # message must not pay for twenty calls that do nothing.
        self._hooked: dict[str, list[Feature]] = {
            hook: [f for f in self.features if getattr(type(f), hook) is not getattr(Feature, hook)]
            for hook in ("on_message", "on_join", "on_leave", "on_signal", "on_active")
        }
        for feature in self.features:
            for spec in feature.commands():
                self.commands.add(spec)
            for short, func in feature.jobs().items():
                self._job_funcs[f"{feature.name}.{short}"] = func
            if feature.button_prefix:
                self._buttons[feature.button_prefix] = feature

    @property
    def sections(self) -> list[str]:
        """Settings sections of the features this build runs (what /settings shows and /set accepts)."""
        return [f.settings_section for f in self.features if f.settings_section]

    async def start(self) -> None:
        await migrate(self.db, now_ms=to_ms(self.clock.now()))
        await self.processed.begin(to_ms(self.clock.now()))
        await self.scheduler.load()
        for feature in self.features:
            await feature.on_start(self)
        await resend(self)
        self.writer.start()
        self.scheduler.start()
        if self.scheduler.manual:
            await self.scheduler.run_due()

    async def stop(self) -> None:
        self.scheduler.shutdown()
        await self.writer.stop()

    async def language_of(self, chat: ChatRef) -> str:
        """The language a group is spoken to in (adapters use it for their own notices)."""
        group = await self.groups.ensure(chat.platform, chat.chat_id, chat.title, to_ms(self.clock.now()))
        return (await self.groups.settings(group.id)).language

    # --- contexts ------------------------------------------------------------------------------------

    async def context_for_group(self, group_id: int) -> Context | None:
        group = await self.groups.by_id(group_id)
        if group is None:
            return None
        return Context(self, group, await self.groups.settings(group.id))

    # --- dispatch ------------------------------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        """Never raises: one bad event or handler must not stop the adapter."""
        try:
            await self._handle(event)
        except Exception:
            log.exception("failed to handle %s", event.event_key)

    async def _handle(self, event: Event) -> None:
        now_ms = to_ms(event.at)
        if await self.processed.seen(event.event_key, now_ms):
            log.debug("duplicate event %s dropped", event.event_key)
            return
        if not isinstance(event, DirectOpened) and not (isinstance(event, ButtonPressed) and event.direct):
            # The group's row commits before the unit, on its own: the activity writer flushes its batch
            # (this event's rows among them) on another connection, which on PostgreSQL cannot see a
            # group still inside an open unit; its rows would be refused and dropped. A unit that rolls
            # back leaves the group, which is harmless: it exists.
            await self.groups.ensure(event.chat.platform, event.chat.chat_id, event.chat.title, now_ms)
        # A plain message opens its transaction only if it writes or acts; anything else is a unit from
        # the start (its first reads then see every earlier message's batched rows).
        eager = not isinstance(event, MessagePosted)
        for attempt in range(UNIT_ATTEMPTS):
            try:
                async with unit(self, event.event_key, now_ms, eager=eager):
                    await self._dispatch(event, now_ms, again=attempt > 0)
                return
            except Exception as exc:
                self.processed.forget(event.event_key)
                self.groups.forget(event.chat.platform, event.chat.chat_id)
                # PostgreSQL may pick this unit as a deadlock's victim (two units upserting the same hot
                # rows in different orders): it rolled back whole, so it is run again, as PostgreSQL advises.
                if attempt + 1 == UNIT_ATTEMPTS or not self.db.is_transient(exc):
                    raise
                log.warning("unit of %s rolled back (%s); running it again", event.event_key, exc)

    async def _dispatch(self, event: Event, now_ms: int, *, again: bool = False) -> None:
        if isinstance(event, DirectOpened):
            await self._on_direct_opened(event, now_ms)
            return
        if isinstance(event, ButtonPressed) and event.direct:
            await self._on_direct_button(event)
            return
        group = await self.groups.ensure(event.chat.platform, event.chat.chat_id, event.chat.title, now_ms)
        ctx = Context(self, group, await self.groups.settings(group.id), event)
        if not again or isinstance(event, MemberJoined | MemberLeft):
            # a run again finds its activity still pending in the batch (the rollback put it back);
            # a join or leave is written in the unit itself and was rolled back with it
            await self._record_activity(ctx, event)
        if event.user.is_bot:
            return
        if not isinstance(event, MemberJoined | MemberLeft):
            for feature in self._hooked["on_active"]:
                try:
                    await guarded_call(feature.on_active, ctx, event)
                except Exception:
                    log.exception("%s.on_active failed on %s", feature.name, event.event_key)
        await self._route(ctx, event)
        await ctx.flush_postscripts()
        await ctx.close_answer()

    async def _route(self, ctx: Context, event: Event) -> None:
        if isinstance(event, MessagePosted):
            await self._on_message(ctx, event)
        elif isinstance(event, CommandInvoked):
            # Moderated as the same command typed would be (that one passes the message hooks first).
            if await self._screened(ctx, event):
                return
            spec = self.commands.get(event.name)
            await self._run_command(ctx, spec, event.name, event.args)
        elif isinstance(event, MemberJoined):
            await self._each(ctx, "on_join", event)
        elif isinstance(event, MemberLeft):
            await self._each(ctx, "on_leave", event)
        elif isinstance(event, ButtonPressed):
            await self._on_button(ctx, event)

    async def _screened(self, ctx: Context, event: CommandInvoked) -> bool:
        """A native command whose arguments moderation refuses is not run; a check that fails holds it."""
        if not event.args.strip():
            return False
        try:
            return await guarded_call(lambda: ctx.screen(event.args, enforce=True)) is not None
        except Exception:
            log.exception("moderation of /%s failed on %s", event.name, event.event_key)
            await ctx.reply(ctx.t("common.internal_error"), ephemeral=True)
            return True

    async def _record_activity(self, ctx: Context, event: Event) -> None:
        user, gid, at_ms = event.user, ctx.group.id, to_ms(event.at)
        if isinstance(event, MemberJoined):
            await self.members.record_join(
                gid, user.user_id, user.name, user.username, user.is_bot, at_ms, ctx.today()
            )
        elif isinstance(event, MemberLeft):
            await self.members.record_leave(gid, user.user_id, at_ms, ctx.today())
        else:
            # a slash command is a message of its own on Discord (a typed command is one on Telegram)
            posted = (isinstance(event, MessagePosted) and not event.edited) or isinstance(
                event, CommandInvoked
            )
            local = event.at.astimezone(ctx.zone) if posted else None
            await self.writer.touch(
                gid,
                user.user_id,
                name=user.name,
                username=user.username,
                is_bot=user.is_bot,
                at_ms=at_ms,
                day=local.date().isoformat() if local else None,
                hour=local.hour if local else None,
            )

    async def _each(self, ctx: Context, hook: str, event: Event) -> None:
        for feature in self._hooked[hook]:
            try:
                await guarded_call(getattr(feature, hook), ctx, event)
            except Exception:
                log.exception("%s.%s failed on %s", feature.name, hook, event.event_key)

    async def _on_message(self, ctx: Context, event: MessagePosted) -> None:
        for feature in self._hooked["on_message"]:
            try:
                if await guarded_call(feature.on_message, ctx, event):
                    return
            except Exception:
                log.exception("%s.on_message failed on %s", feature.name, event.event_key)
        if event.edited:
            return
        match = self.commands.match(event.text[:MAX_TEXT])
        if match is not None:
            await self._run_command(ctx, match.spec, match.name, match.args)

    async def _run_command(self, ctx: Context, spec: CommandSpec | None, name: str, args: str) -> None:
        if spec is None:
            close = self.commands.suggest(name, ctx.is_admin)
            text = ctx.t("common.unknown_command", name=name)
            if close:
                text = ctx.t("common.unknown_command_close", name=name, close=close)
            await ctx.reply(text, ephemeral=True)
            return
        if spec.admin_only and not ctx.is_admin:
            await ctx.reply(ctx.t("common.admin_only", name=spec.name), ephemeral=True)
            return
        try:
            parsed = bind_args(spec, args)
        except UsageError:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t(spec.usage_key)), ephemeral=True)
            return
        try:
            await guarded_call(spec.func, ctx, parsed)
        except Exception:
            log.exception("command /%s failed", spec.name)
            await ctx.reply(ctx.t("common.internal_error"), ephemeral=True)

    async def _on_direct_opened(self, event: DirectOpened, now_ms: int) -> None:
        """Not a group event: remember the user can get DMs, and say what the bot is for."""
        await self.dms.opened(event.chat.platform, event.user.user_id, now_ms)
        lang = normalize_language(event.user.language or "") or DEFAULT_LANGUAGE
        await act(
            self,
            A.Reply(
                chat=event.chat,
                text=t(lang, "common.dm_welcome"),
                reply_to=event.message_id,
                event_key=event.event_key,
            ),
        )

    async def _on_direct_button(self, event: ButtonPressed) -> None:
        """A button in a private chat: its feature decides which group it concerns from the payload."""
        data = await self.buttons.resolve(event.data)
        prefix, _, payload = (data or "").partition(":")
        feature = self._buttons.get(prefix)
        if feature is None:
            await self.answer_direct(
                event,
                t(normalize_language(event.user.language or "") or DEFAULT_LANGUAGE, "common.button_expired"),
            )
            return
        await feature.on_direct_button(self, event, payload)

    async def answer_direct(self, event: ButtonPressed, text: str) -> None:
        await act(self, A.AnswerButton(chat=event.chat, callback_id=event.callback_id, text=text))

    async def _on_button(self, ctx: Context, event: ButtonPressed) -> None:
        if self.outbox.chat_limited(ctx.chat.platform) and not self.presses.allow(ctx.group.id, event.user.user_id):
            # too fast: answered privately (no slot of the group's budget), nothing else is done
            await ctx.answer_button(ctx.t("common.too_fast"))
            return
        data = await self.buttons.resolve(event.data)
        prefix, _, payload = (data or "").partition(":")
        feature = self._buttons.get(prefix)
        if feature is None:
            await ctx.answer_button(ctx.t("common.button_expired"))
            return
        try:
            await guarded_call(feature.on_button, ctx, event, payload)
        except Exception:
            log.exception("%s.on_button failed on %s", feature.name, event.event_key)
            await ctx.answer_button(ctx.t("common.internal_error"))

    async def emit(self, ctx: Context, signal: str, /, **data: Any) -> None:
        """Tell every feature a fact; one feature failing does not stop the others."""
        for feature in self._hooked["on_signal"]:
            try:
                await guarded_call(feature.on_signal, ctx, signal, data)
            except Exception:
                log.exception("%s.on_signal(%s) failed", feature.name, signal)

    def has_feature(self, name: str) -> bool:
        return any(f.name == name for f in self.features)

    # --- jobs ----------------------------------------------------------------------------------------

    async def _run_job(self, job: JobRecord, at: object) -> None:
        func = self._job_funcs.get(job.kind)
        if func is None:
            log.error("job %s has unknown kind %s", job.id, job.kind)
            return
        at_ms = to_ms(at) if isinstance(at, datetime) else to_ms(self.clock.now())
        # A fire is an event: its key (the job and the time it stands for) commits with what it did,
        # and a fire already recorded is not run again. A one-off's own row is its record: it is
        # deleted in the same unit as the job's writes and actions, so a kill between that commit and
        # the scheduler's clean-up cannot run it again after the restart (an export made twice, a
        # reminder sent three times). Only the one action in flight at a kill may go out twice.
        key = f"job:{job.id}:{at_ms}"
        one_off = job.trigger_type == "date"
        if not one_off and await self.processed.seen(key):
            log.info("fire %s was handled already; not run again", key)
            return
        try:
            async with unit(self, key, at_ms, background=True, record_idle=False) as uow:
                ctx = None
                if job.group_id is not None:
                    ctx = await self.context_for_group(job.group_id)
                    if ctx is None:
                        log.warning("job %s belongs to a group that is gone", job.id)
                        return
                await func(self, ctx, job)
                if one_off and uow.touched:
                    await self.jobs.delete(job.id)
        except BaseException:
            self.processed.forget(key)
            raise

    async def remembered(self, remember: str, result: A.ActionResult) -> None:
        """The platform's answer to an action a feature asked to hear about (a message id to keep)."""
        name, _, payload = remember.partition(":")
        for feature in self.features:
            if feature.name == name:
                await feature.on_sent(self, payload, result)
                return
