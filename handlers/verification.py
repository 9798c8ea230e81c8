"""Newcomer verification (入群验证): muted on join until they press the right button, kicked otherwise.

The deadline is a row in the database and a scheduled job; a bot restarted mid-challenge still kicks on
time (or at start, if the deadline passed while it was down) or lets the member in.
"""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.actions import ActionResult, Button, keyboard
from bot.clock import from_ms, to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, MemberJoined, MemberLeft
from bot.feature import Feature, JobFunc
from bot.markup import clean_name, mention
from bot.parsing import Integer
from handlers.trust import is_trusted
from storage.jobs import JobRecord
from storage.welcome import Challenge, WelcomeRepo

if TYPE_CHECKING:
    from bot.app import App

MUTE_SLACK = timedelta(days=1)  # muted past the deadline, so a bot that is down never lets anyone through


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class VerifyArgs(BaseModel):
    """Typed so menus offer the modes and bound the minutes as `welcome.verify_minutes` is bounded."""

    model_config = ConfigDict(extra="forbid")
    mode: Annotated[Literal["off", "button", "math"] | None, BeforeValidator(_lower)] = None
    minutes: Annotated[Integer, Field(ge=1, le=60)] | None = None


def _job_id(group_id: int, user_id: str) -> str:
    return f"verify:{group_id}:{user_id}"


def math_challenge(seed: str) -> tuple[str, str, list[str]]:
    """A small sum and four answers, chosen from the event key so a replayed script is the same."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    answer = a + b
    options = {answer}
    while len(options) < 4:
        options.add(rng.randint(4, 18))
    shuffled = sorted(options)
    rng.shuffle(shuffled)
    return f"{a} + {b}", str(answer), [str(o) for o in shuffled]


class VerificationFeature(Feature):
    name = "verification"
    button_prefix = "verify"
    priority = 30

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "verify", self.verify_cmd, VerifyArgs, admin_only=True, aliases=("验证",), feature=self.name
            )
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"timeout": self.timeout}

    async def on_start(self, app: App) -> None:
        """Deadlines that passed while the bot was down are enforced now."""
        for challenge in await WelcomeRepo(app.db).overdue(to_ms(app.clock.now())):
            ctx = await app.context_for_group(challenge.group_id)
            if ctx is not None:
                await self.fail(ctx, challenge, "timeout")

    # --- the challenge -------------------------------------------------------------------------------

    async def on_join(self, ctx: Context, event: MemberJoined) -> None:
        s = ctx.settings.welcome
        if s.verify == "off" or event.user.is_bot:
            return
        user = event.user
        if await is_trusted(ctx, user.user_id):
            # A trusted member (/trust, or the trusted level) who comes back is not a stranger: no
            # challenge, no mute.
            await ctx.app.emit(ctx, "welcome.verified", user_id=user.user_id, name=clean_name(user.name))
            return
        deadline = ctx.now() + timedelta(minutes=s.verify_minutes)
        name = clean_name(user.name)
        if s.verify == "math":
            question, answer, options = math_challenge(event.event_key)
            text = ctx.t(
                "verify.math",
                mention=mention(user.user_id, name),
                question=question,
                minutes=s.verify_minutes,
                tries=s.verify_tries,
            )
            buttons = keyboard([Button(o, f"verify:{user.user_id}:{o}") for o in options])
        else:
            answer = "ok"
            text = ctx.t("verify.button", mention=mention(user.user_id, name), minutes=s.verify_minutes)
            buttons = keyboard([Button(ctx.t("verify.button_label"), f"verify:{user.user_id}:ok")])
        repo = WelcomeRepo(ctx.app.db)
        await repo.open_challenge(
            Challenge(
                ctx.group.id,
                user.user_id,
                name,
                s.verify,
                answer,
                s.verify_tries,
                None,
                to_ms(deadline),
                "open",
            ),
            ctx.now_ms(),
        )
        await ctx.app.scheduler.add(
            JobRecord(
                _job_id(ctx.group.id, user.user_id),
                f"{self.name}.timeout",
                "date",
                {"run_at": deadline.isoformat()},
                ctx.group.id,
                {"user_id": user.user_id},
            )
        )
        await ctx.mute(user.user_id, deadline + MUTE_SLACK)
        await ctx.send(text, buttons, remember=f"{self.name}:{ctx.group.id}:{user.user_id}")

    async def on_sent(self, app: App, payload: str, result: ActionResult) -> None:
        """The challenge's message id, to delete it once the member answers or times out."""
        group_id, _, user_id = payload.partition(":")
        if result.ok and result.message_id:
            await WelcomeRepo(app.db).set_challenge_message(int(group_id), user_id, result.message_id)

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        user_id, _, choice = payload.rpartition(":")
        if event.user.user_id != user_id:
            await ctx.answer_button(ctx.t("verify.not_yours"), alert=True)
            return
        repo = WelcomeRepo(ctx.app.db)
        challenge = await repo.challenge(ctx.group.id, user_id)
        if challenge is None or challenge.status != "open":
            await ctx.answer_button(ctx.t("common.button_expired"))
            return
        if choice == challenge.answer:
            await self.passed(ctx, challenge)
            return
        left = await repo.wrong_answer(ctx.group.id, user_id)
        if left > 0:
            await ctx.answer_button(ctx.t("verify.wrong", left=left), alert=True)
        else:
            await ctx.answer_button(ctx.t("verify.failed_answer"), alert=True)
            await self.fail(ctx, challenge, "wrong")

    async def passed(self, ctx: Context, challenge: Challenge) -> None:
        repo = WelcomeRepo(ctx.app.db)
        if not await repo.close_challenge(ctx.group.id, challenge.user_id, "passed"):
            return
        await ctx.app.scheduler.remove(_job_id(ctx.group.id, challenge.user_id))
        await ctx.unmute(challenge.user_id)
        await ctx.answer_button(ctx.t("verify.passed"))
        if challenge.message_id:
            await ctx.delete(challenge.message_id)
        await ctx.app.emit(ctx, "welcome.verified", user_id=challenge.user_id, name=challenge.name)

    async def fail(self, ctx: Context, challenge: Challenge, why: str) -> None:
        """Removed, not banned: a real person can come back and try again."""
        repo = WelcomeRepo(ctx.app.db)
        if not await repo.close_challenge(ctx.group.id, challenge.user_id, why):
            return
        await ctx.app.scheduler.remove(_job_id(ctx.group.id, challenge.user_id))
        if challenge.message_id:
            await ctx.delete(challenge.message_id)
        await ctx.kick(challenge.user_id)

    async def timeout(self, app: App, ctx: Context | None, job: JobRecord) -> None:
        if ctx is None:
            return
        challenge = await WelcomeRepo(app.db).challenge(ctx.group.id, str(job.payload.get("user_id")))
        if (
            challenge is not None
            and challenge.status == "open"
            and from_ms(challenge.deadline_ms) <= ctx.now()
        ):
            await self.fail(ctx, challenge, "timeout")

    async def on_leave(self, ctx: Context, event: MemberLeft) -> None:
        repo = WelcomeRepo(ctx.app.db)
        challenge = await repo.challenge(ctx.group.id, event.user.user_id)
        if challenge is not None and challenge.status == "open":
            await repo.close_challenge(ctx.group.id, event.user.user_id, "left")
            await ctx.app.scheduler.remove(_job_id(ctx.group.id, event.user.user_id))
            if challenge.message_id:
                await ctx.delete(challenge.message_id)

    # --- /verify -------------------------------------------------------------------------------------

    async def verify_cmd(self, ctx: Context, args: VerifyArgs) -> None:
        mode = (args.mode or "").lower()
        if not mode:  # what it is now, and how to change it
            w = ctx.settings.welcome
            await ctx.reply(
                ctx.t("verify.current", mode=ctx.t(f"verify.mode.{w.verify}"), minutes=w.verify_minutes)
                + "\n"
                + ctx.t("common.usage", usage=ctx.t("cmd.verify.usage"))
            )
            return
        if mode not in ("off", "button", "math"):
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.verify.usage")), ephemeral=True)
            return
        if args.minutes is not None:  # 1 to 60: the model bounds it, so a menu can too
            await ctx.set_setting("welcome.verify_minutes", str(args.minutes))
        await ctx.set_setting("welcome.verify", mode)
        if mode == "off":
            await ctx.reply(ctx.t("verify.turned_off"))
        else:
            await ctx.reply(
                ctx.t(
                    f"verify.turned_on_{mode}",
                    minutes=ctx.settings.welcome.verify_minutes,
                    tries=ctx.settings.welcome.verify_tries,
                )
            )
