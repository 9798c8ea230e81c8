"""Welcomes: templates, bursts greeted together, clean-up of the previous greeting, DMs, goodbyes, rules."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.actions import ActionResult, Button, keyboard
from bot.clock import from_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, MemberJoined, MemberLeft
from bot.feature import Feature, JobFunc
from bot.markup import clean_name, mention
from bot.parsing import REST
from bot.text import placeholder_problem
from storage.jobs import JobRecord
from storage.welcome import GroupTexts, WelcomeRepo

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

PLACEHOLDERS = ("mention", "name", "group", "count", "rules")
MAX_TEMPLATE = 1000
MAX_RULES = 3000
BURST_QUIET = timedelta(seconds=10)  # greet once nobody else joined for this long…
BURST_MAX = timedelta(seconds=60)  # …or when the first of them has waited this long
BURST_NAMES = 3  # names spelled out in a combined greeting
STALE_GREETING = timedelta(hours=1)  # newcomers queued longer ago than this (downtime) are not greeted


def template_problem(template: str) -> str | None:
    """The first placeholder a welcome template may not use, or None."""
    return placeholder_problem(template, PLACEHOLDERS)


def fill(template: str, **values: str) -> str:
    return template.format_map({k: values.get(k, "") for k in PLACEHOLDERS})


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str | None = None
    text: Annotated[str, REST] = ""


def repo(ctx: Context) -> WelcomeRepo:
    return WelcomeRepo(ctx.app.db)


def texts(ctx: Context) -> GroupTexts:
    return GroupTexts(ctx.app.db)


async def rules_text(ctx: Context) -> str | None:
    return await texts(ctx).get(ctx.group.id, "rules")


class WelcomeFeature(Feature):
    name = "welcome"
    settings_section = "welcome"
    button_prefix = "welcome"
    priority = 40

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "welcome", self.welcome_cmd, Args, admin_only=True, aliases=("欢迎",), feature=self.name
            ),
            CommandSpec("rules", self.rules_cmd, Args, triggers=("群规",), feature=self.name),
            CommandSpec("goodbye", self.goodbye_cmd, Args, admin_only=True, feature=self.name),
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"flush": self.flush}

    # --- joining and leaving -------------------------------------------------------------------------

    async def on_join(self, ctx: Context, event: MemberJoined) -> None:
        if event.user.is_bot or ctx.settings.welcome.verify != "off":
            return  # verification greets after the newcomer passes
        await self.queue(ctx, event.user.user_id, event.user.name)

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name == "welcome.verified":
            await self.queue(ctx, data["user_id"], data["name"])

    async def queue(self, ctx: Context, user_id: str, name: str) -> None:
        """Greet soon, together with whoever else joins meanwhile (a raid or an import becomes one message)."""
        if not ctx.settings.welcome.enabled:
            return
        welcome = repo(ctx)
        await welcome.queue(ctx.group.id, user_id, clean_name(name), ctx.now_ms())
        fresh_since = ctx.now_ms() - int(STALE_GREETING.total_seconds() * 1000)
        first = from_ms(await welcome.first_queued_ms(ctx.group.id, fresh_since) or ctx.now_ms())
        run_at = min(first + BURST_MAX, ctx.now() + BURST_QUIET)
        await ctx.app.scheduler.add(
            JobRecord(
                f"welcome:{ctx.group.id}",
                f"{self.name}.flush",
                "date",
                {"run_at": run_at.isoformat()},
                ctx.group.id,
            )
        )

    async def on_leave(self, ctx: Context, event: MemberLeft) -> None:
        await repo(ctx).unqueue(ctx.group.id, event.user.user_id)
        if not ctx.settings.welcome.goodbye or event.user.is_bot:
            return
        template = await texts(ctx).get(ctx.group.id, "goodbye") or ctx.t("welcome.goodbye_default")
        await ctx.send(
            fill(
                template,
                name=clean_name(event.user.name),
                mention=clean_name(event.user.name),
                group=ctx.group.title,
                count=str(await ctx.app.members.count_active(ctx.group.id)),
            )
        )

    # --- greeting ------------------------------------------------------------------------------------

    async def render_one(self, ctx: Context, user_id: str, name: str) -> str:
        template = await texts(ctx).get(ctx.group.id, "welcome") or ctx.t("welcome.default")
        rules = await rules_text(ctx)
        return fill(
            template,
            mention=mention(user_id, name),
            name=clean_name(name),
            group=ctx.group.title,
            count=str(await ctx.app.members.count_active(ctx.group.id)),
            rules=rules if rules else "/rules",
        )

    async def buttons(self, ctx: Context) -> tuple[tuple[Button, ...], ...]:
        row = [Button(ctx.t("welcome.button_tasks"), "welcome:tasks")]
        if await rules_text(ctx):
            row.insert(0, Button(ctx.t("welcome.button_rules"), "welcome:rules"))
        return keyboard(row)

    async def flush(self, app: App, ctx: Context | None, _job: JobRecord) -> None:
        if ctx is None:
            return
        fresh_since = ctx.now_ms() - int(STALE_GREETING.total_seconds() * 1000)
        people, stale = await repo(ctx).take_queue(ctx.group.id, fresh_since)
        if stale:  # joined long ago (the bot was down): a greeting now would be odd, so they are skipped
            log.info("group %s: %d stale greeting(s) skipped", ctx.group.id, stale)
        s = ctx.settings.welcome
        if not people or not s.enabled:
            return
        if s.send_in_dm:
            # Each greeting goes by DM; where the platform refuses it (never opened a chat with the bot,
            # closed DMs), that member's own greeting is posted in the group instead.
            buttons = await self.buttons(ctx)
            for user_id, name in people:
                text = await self.render_one(ctx, user_id, name)
                fallback = A.Send(chat=ctx.chat, text=text, buttons=buttons)
                await ctx.dm(user_id, text, buttons, fallback=fallback)
            return
        if len(people) == 1:
            text = await self.render_one(ctx, *people[0])
        else:
            names = "、".join(mention(uid, name) for uid, name in people[:BURST_NAMES])
            key = "welcome.burst_more" if len(people) > BURST_NAMES else "welcome.burst"
            text = ctx.t(key, names=names, count=len(people), group=ctx.group.title)
        if s.clean:
            previous = await repo(ctx).last_message(ctx.group.id)
            if previous:
                await ctx.delete(previous)
        await ctx.send(text, await self.buttons(ctx), remember=f"{self.name}:{ctx.group.id}")

    async def on_sent(self, app: App, payload: str, result: ActionResult) -> None:
        """The greeting's message id: with `welcome.clean`, the next greeting deletes it."""
        if result.ok and result.message_id:
            await WelcomeRepo(app.db).set_last_message(int(payload), result.message_id)

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        if payload == "rules":
            rules = await rules_text(ctx) or ctx.t("welcome.no_rules")
            await ctx.answer_button(rules if len(rules) <= 190 else rules[:180] + "… /rules", alert=True)
            async with ctx.gathering() as consequences:  # a task done, a level reached: one message
                await ctx.app.emit(ctx, "rules.viewed", user_id=event.user.user_id)
            if consequences:
                await ctx.send("\n".join(consequences))
        elif payload == "tasks":
            await ctx.app.emit(ctx, "onboarding.show", user_id=event.user.user_id, via_button=True)
        else:
            await ctx.answer_button(ctx.t("common.button_expired"))

    # --- commands ------------------------------------------------------------------------------------

    async def welcome_cmd(self, ctx: Context, args: Args) -> None:
        action = (args.action or "").lower()
        if action == "set":
            await self._set_template(ctx, "welcome", args.text)
        elif action == "show":
            custom = await texts(ctx).get(ctx.group.id, "welcome")
            await ctx.reply(
                ctx.t(
                    "welcome.show_custom" if custom else "welcome.show_default",
                    template=custom or ctx.t("welcome.default"),
                )
            )
        elif action == "test":
            assert ctx.event is not None
            await ctx.reply(
                await self.render_one(ctx, ctx.event.user.user_id, ctx.event.user.name),
                await self.buttons(ctx),
            )
        elif action == "reset":
            await texts(ctx).delete(ctx.group.id, "welcome")
            await ctx.reply(ctx.t("welcome.reset"))
        elif action in ("on", "off") and not args.text:
            await ctx.set_setting("welcome.enabled", action)
            await ctx.reply(ctx.t(f"welcome.turned_{action}"))
        elif action in ("clean", "dm") and args.text.lower() in ("on", "off"):
            key = "welcome.clean" if action == "clean" else "welcome.send_in_dm"
            await ctx.set_setting(key, args.text.lower())
            await ctx.reply(ctx.t(f"welcome.{action}_{args.text.lower()}"))
        else:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.welcome.usage")), ephemeral=True)

    async def _set_template(self, ctx: Context, kind: str, text: str) -> None:
        text = text.strip()
        if not text:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t(f"cmd.{kind}.usage")), ephemeral=True)
            return
        if len(text) > MAX_TEMPLATE:
            await ctx.reply(ctx.t("welcome.too_long", limit=MAX_TEMPLATE))
            return
        bad = template_problem(text)
        if bad is not None:
            await ctx.reply(
                ctx.t(
                    "welcome.bad_placeholder",
                    placeholder=bad[:40],
                    allowed=" ".join("{" + p + "}" for p in PLACEHOLDERS),
                )
            )
            return
        assert ctx.event is not None
        await texts(ctx).set(ctx.group.id, kind, text, ctx.event.user.user_id, ctx.now_ms())
        await ctx.reply(ctx.t(f"welcome.{kind}_saved"))

    async def rules_cmd(self, ctx: Context, args: Args) -> None:
        action = (args.action or "").lower()
        if action == "set":
            if not ctx.is_admin:
                await ctx.reply(ctx.t("common.admin_only", name="rules set"), ephemeral=True)
                return
            text = args.text.strip()
            if not text:
                await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.rules.usage")), ephemeral=True)
            elif len(text) > MAX_RULES:
                await ctx.reply(ctx.t("welcome.too_long", limit=MAX_RULES))
            else:
                assert ctx.event is not None
                await texts(ctx).set(ctx.group.id, "rules", text, ctx.event.user.user_id, ctx.now_ms())
                await ctx.reply(ctx.t("welcome.rules_saved"))
            return
        if action:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.rules.usage")), ephemeral=True)
            return
        rules = await rules_text(ctx)
        await ctx.reply(ctx.t("welcome.rules", rules=rules) if rules else ctx.t("welcome.no_rules"))
        if ctx.event is not None:
            await ctx.app.emit(ctx, "rules.viewed", user_id=ctx.event.user.user_id)

    async def goodbye_cmd(self, ctx: Context, args: Args) -> None:
        action = (args.action or "").lower()
        if action == "set":
            before = await texts(ctx).get(ctx.group.id, "goodbye")
            await self._set_template(ctx, "goodbye", args.text)
            if await texts(ctx).get(ctx.group.id, "goodbye") != before:
                await ctx.set_setting("welcome.goodbye", "on")
        elif action in ("on", "off") and not args.text:
            await ctx.set_setting("welcome.goodbye", action)
            await ctx.reply(ctx.t(f"welcome.goodbye_{action}"))
        else:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.goodbye.usage")), ephemeral=True)
