"""Dormant-member recall (沉默召回): a daily scan nudges silent members, personally and within limits;
those who come back get a return gift (回归礼包); a hold-out that is deliberately left alone says
whether the nudges work.

One scan is one unit of work: its nudge rows (unique per member and day), the state of each member's
episode, the DMs and the one group message commit together and go out after the commit, in the
background lane of the outbox (commands elsewhere are answered first). A restart during a scan nudges
nobody twice: the rows are written before anything is sent, the scan of a day runs once, and the
outbox sends what was committed and not yet sent.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot import unit
from bot.actions import Button, keyboard
from bot.clock import to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, Event
from bot.feature import Feature, JobFunc
from bot.markup import mention
from bot.parsing import REST, parse_int
from bot.text import placeholder_problem
from config.group_settings import in_quiet
from handlers.lifecycle import DAY_MS, cuts
from handlers.points import pay
from storage.jobs import JobRecord
from storage.recall import Due, NewNudge, RecallRepo, RecallStats
from storage.welcome import GroupTexts

if TYPE_CHECKING:
    from bot.app import App

DM_PLACEHOLDERS = ("name", "group", "days", "missed", "gift")
GROUP_PLACEHOLDERS = ("mentions", "group", "missed", "gift")
MAX_TEMPLATE = 1000
WEEK_MS = 7 * DAY_MS
OPEN_WINDOW_MS = 30 * DAY_MS  # the longest return window a group may set
LOST_LIST = 50  # members per kick confirmation
WINDOWS = {"7d": 7, "30d": 30, "90d": 90, "all": None}


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


def in_holdout(group_id: int, user_id: str, episode: int, percent: int) -> bool:
    """Stable across restarts and processes: a hash of (group, member, episode), not a random draw."""
    digest = hashlib.blake2b(f"{group_id}:{user_id}:{episode}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < percent


def fill(template: str, allowed: tuple[str, ...], **values: str) -> str:
    """The template with its placeholders filled; an empty one leaves no blank line behind."""
    text = template.format_map({k: values.get(k, "") for k in allowed})
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def job_id(group_id: int) -> str:
    return f"recall:{group_id}"


class RecallFeature(Feature):
    name = "recall"
    settings_section = "recall"
    button_prefix = "recall"
    priority = 95

    def __init__(self) -> None:
        self._open: set[tuple[int, str]] = set()  # members whose nudge a return may still settle

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "recall", self.recall_cmd, Args, aliases=("召回",), admin_only=True, feature=self.name
            )
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"scan": self.scan_job}

    async def on_start(self, app: App) -> None:
        since = to_ms(app.clock.now()) - OPEN_WINDOW_MS
        self._open = set(await RecallRepo(app.db).open_members(since))
        # A scan killed before its commit, or missed while the bot was down, runs once now: a cron job
        # re-armed at start would wait for tomorrow. (A scan that committed is not run again.)
        for jid in app.scheduler.job_ids():
            ref = jid.removeprefix("recall:")
            group_id = parse_int(ref, 1) if ref != jid else None
            ctx = None if group_id is None else await app.context_for_group(group_id)
            if ctx is None or not ctx.settings.recall.enabled:
                continue
            s, local = ctx.settings.recall, ctx.now().astimezone(ctx.zone)
            late = local.hour >= s.hour and not in_quiet(s.quiet, local.hour, local.minute)
            if late and not await RecallRepo(app.db).scanned(ctx.group.id, ctx.today()):
                run_at = {"run_at": ctx.now().isoformat()}
                await app.scheduler.add(
                    JobRecord(f"{jid}:late", f"{self.name}.scan", "date", run_at, ctx.group.id)
                )

    # --- settings follow-up --------------------------------------------------------------------------

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name == "settings.changed" and (data["key"].startswith("recall.") or data["key"] == "timezone"):
            await self.arm(ctx)
        elif name == "remind.changed":  # /remind off: no check-in reminders, and no recall nudges either
            repo = RecallRepo(ctx.app.db)
            if data["on"]:
                await repo.opt_in(ctx.group.id, data["user_id"])
            else:
                await repo.opt_out(ctx.group.id, data["user_id"], ctx.now_ms())

    async def arm(self, ctx: Context) -> None:
        """The group's daily scan at its hour, in its timezone; none while recall is off."""
        s = ctx.settings.recall
        if not s.enabled:
            await ctx.app.scheduler.remove(job_id(ctx.group.id))
            return
        trigger = {"hour": s.hour, "minute": 0, "timezone": ctx.settings.timezone}
        await ctx.app.scheduler.add(
            JobRecord(job_id(ctx.group.id), f"{self.name}.scan", "cron", trigger, ctx.group.id)
        )

    # --- the daily scan ------------------------------------------------------------------------------

    async def scan_job(self, app: App, ctx: Context | None, _job: JobRecord) -> None:
        if ctx is not None:
            await self.scan(ctx)

    async def scan(self, ctx: Context) -> int:
        """Nudge the silent members due today; returns how many were nudged (DM or group)."""
        s, app, gid = ctx.settings.recall, ctx.app, ctx.group.id
        local = ctx.now().astimezone(ctx.zone)
        if not s.enabled or in_quiet(s.quiet, local.hour, local.minute):
            return 0  # a late fire after downtime never lands in quiet hours
        repo, day, c, now = RecallRepo(app.db), ctx.today(), cuts(ctx), ctx.now_ms()
        if await repo.scanned(gid, day):
            return 0
        # every earlier message counted, but this unit must not hold the write lock while the
        # platform is asked who the admins are
        await ctx.settle_apart()
        due = await repo.due(
            gid,
            now_ms=now,
            silent_before=c.silent_before,
            lost_before=c.lost_before,
            joined_before=c.new_since,
            limit=s.max_per_day,
        )
        # Admins are never nudged: asked of the platform before anything is written (no lock held).
        due = [d for d in due if not await app.outbox.is_admin(ctx.chat, d.user_id)]
        held = [d for d in due if in_holdout(gid, d.user_id, d.last_seen_ms, s.holdout_percent)]
        nudged = [d for d in due if d not in held]
        by_dm = await app.dms.may_dm(app.outbox, ctx.group.platform, [d.user_id for d in nudged])
        dms = [d for d in nudged if d.user_id in by_dm]
        in_group = [
            d
            for d in nudged
            if d.user_id not in by_dm
            and (d.last_at is None or now - d.last_at >= WEEK_MS)  # not twice a week
        ][: s.mentions_per_message]
        texts = {d.user_id: await self.dm_text(ctx, d) for d in dms}  # reads only, before the unit writes
        group_text = await self.group_text(ctx, in_group) if in_group else None
        lost = await self.lost_to_notice(ctx)
        if not await repo.start_scan(gid, day, now, c.silent_before):
            return 0
        rows = (
            [NewNudge(d.user_id, d.last_seen_ms, "holdout", "held") for d in held]
            + [NewNudge(d.user_id, d.last_seen_ms, "dm", "queued") for d in dms]
            + [NewNudge(d.user_id, d.last_seen_ms, "group", "sent") for d in in_group]
        )
        ids = await repo.record(
            gid, day, now, rows, every_ms=s.every_days * DAY_MS, max_per_episode=s.max_per_episode
        )
        stop = keyboard([Button(ctx.t("recall.stop_button"), f"recall:stop:{gid}")])
        for d in dms:
            if d.user_id in ids:
                await ctx.act(
                    A.DirectMessage(chat=ctx.chat, user_id=d.user_id, text=texts[d.user_id], buttons=stop),
                    remember=f"{self.name}:{ids[d.user_id]}",
                )
        if group_text is not None and any(d.user_id in ids for d in in_group):
            await ctx.send(group_text, keyboard([Button(ctx.t("recall.stop_button"), "recall:stop")]))
        await self.lost(ctx, lost)
        opened = {(gid, u) for u in ids}
        uow = unit.current()
        if uow is not None:  # a rollback must not leave members in the set
            uow.after_commit(lambda: self._remember(opened))
        else:
            await self._remember(opened)
        return sum(1 for d in (*dms, *in_group) if d.user_id in ids)

    async def _remember(self, opened: set[tuple[int, str]]) -> None:
        self._open |= opened

    async def on_sent(self, app: App, payload: str, result: A.ActionResult) -> None:
        """A nudge DM's fate: sent, or refused (counted apart; the member is tried in the group next)."""
        nudge_id = parse_int(payload, 1)
        if nudge_id is None:
            return
        fate = await RecallRepo(app.db).delivered(nudge_id, result.ok)
        if fate is not None and fate[2] == "failed":
            group = await app.groups.by_id(fate[0])
            if group is not None and result.failure == A.Failure.FORBIDDEN:
                await app.dms.refused(group.platform, fate[1], to_ms(app.clock.now()))

    # --- what a nudge says ---------------------------------------------------------------------------

    async def missed(self, ctx: Context, user_id: str | None, since_ms: int) -> str:
        """What happened while they were away, told by the features that know (needs, the shop,
        check-ins; campaigns once they exist), a line each."""
        lines: list[str] = []
        await ctx.app.emit(ctx, "recall.missed", user_id=user_id, since_ms=since_ms, lines=lines)
        return "\n".join([ctx.t("recall.missed_intro"), *lines[:5]]) if lines else ""

    def gift_line(self, ctx: Context) -> str:
        points = ctx.settings.recall.gift_points
        return (
            ctx.t("recall.gift_line", points=points, days=ctx.settings.recall.return_days) if points else ""
        )

    async def dm_text(self, ctx: Context, d: Due) -> str:
        template = await GroupTexts(ctx.app.db).get(ctx.group.id, "recall_dm") or ctx.t("recall.dm_default")
        return fill(
            template,
            DM_PLACEHOLDERS,
            name=d.name or d.user_id,
            group=ctx.group.title or ctx.group.chat_id,
            days=str(max(1, (ctx.now_ms() - d.last_seen_ms) // DAY_MS)),
            missed=await self.missed(ctx, d.user_id, d.last_seen_ms),
            gift=self.gift_line(ctx),
        )

    async def group_text(self, ctx: Context, members: list[Due]) -> str:
        template = await GroupTexts(ctx.app.db).get(ctx.group.id, "recall_group") or ctx.t(
            "recall.group_default"
        )
        since = ctx.now_ms() - ctx.settings.lifecycle.silent_days * DAY_MS
        return fill(
            template,
            GROUP_PLACEHOLDERS,
            mentions=" ".join(mention(d.user_id, d.name or d.user_id) for d in members),
            group=ctx.group.title or ctx.group.chat_id,
            missed=await self.missed(ctx, None, since),
            gift=self.gift_line(ctx),
        )

    # --- coming back ---------------------------------------------------------------------------------

    async def on_active(self, ctx: Context, event: Event) -> None:
        key = (ctx.group.id, event.user.user_id)
        if key not in self._open:  # the hot path: one set look-up per event
            return
        self._open.discard(key)
        s = ctx.settings.recall
        at = to_ms(ctx.event_time())
        settled = await RecallRepo(ctx.app.db).settle(
            ctx.group.id, event.user.user_id, at, s.return_days * DAY_MS
        )
        if settled is None or not settled.reached:
            return  # too late to count, or the hold-out (nobody told them anything)
        name = event.user.name or event.user.user_id
        if s.gift_points:
            paid = await pay(
                ctx,
                event.user.user_id,
                s.gift_points,
                reason="recall-gift",
                source_key=f"recall-gift:{ctx.group.id}:{event.user.user_id}:{settled.episode}",
            )
            if paid.paid:
                await RecallRepo(ctx.app.db).set_gift(settled.nudge_ids, s.gift_points)
                ctx.postscript(
                    ctx.t("recall.welcome_back_gift", name=name, points=s.gift_points, balance=paid.balance)
                )
                return
        ctx.postscript(ctx.t("recall.welcome_back", name=name))

    # --- opting out ----------------------------------------------------------------------------------

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        if kind == "stop":
            await RecallRepo(ctx.app.db).opt_out(ctx.group.id, event.user.user_id, ctx.now_ms())
            await ctx.answer_button(ctx.t("recall.stopped"), alert=True)
        elif kind in ("k", "c"):
            await self.confirm_kick(ctx, event, kind == "k", rest)
        else:
            await ctx.answer_button(ctx.t("common.button_expired"))

    async def on_direct_button(self, app: App, event: ButtonPressed, payload: str) -> None:
        """ "Stop these" under a DM: the group is in the payload; the presser opts themselves out."""
        kind, _, ref = payload.partition(":")
        group_id = parse_int(ref, 1)
        ctx = None if kind != "stop" or group_id is None else await app.context_for_group(group_id)
        if ctx is None:
            await app.answer_direct(event, "")
            return
        await RecallRepo(app.db).opt_out(group_id, event.user.user_id, ctx.now_ms())  # type: ignore[arg-type]
        await app.answer_direct(event, ctx.t("recall.stopped"))

    # --- lost members (流失): notice first, then a role, or a kick an admin confirms ------------------

    def cleaning(self, ctx: Context) -> bool:
        s = ctx.settings.recall
        if s.lost_action == "role":
            return ctx.app.outbox.has_roles(ctx.group.platform)
        return s.lost_action == "kick"

    async def lost_to_notice(self, ctx: Context) -> list[tuple[str, str, int]]:
        """Lost members to tell today (admins left out, asked of the platform before the scan writes)."""
        if not self.cleaning(ctx):
            return []
        s, app = ctx.settings.recall, ctx.app
        found = await RecallRepo(app.db).lost_unnoticed(
            ctx.group.id, cuts(ctx).lost_before, s.mentions_per_message + 20
        )
        return [m for m in found if not await app.outbox.is_admin(ctx.chat, m[0])][: s.mentions_per_message]

    async def lost(self, ctx: Context, fresh: list[tuple[str, str, int]]) -> None:
        """The clean-up's two steps: act on those told a grace period ago; tell today's lost."""
        if not self.cleaning(ctx):
            return
        s, app, gid = ctx.settings.recall, ctx.app, ctx.group.id
        repo, now = RecallRepo(app.db), ctx.now_ms()
        ready = await repo.lost_ready(gid, now - s.lost_grace_days * DAY_MS, LOST_LIST)
        if ready:
            pairs = [(u, e) for u, _n, e in ready]
            if s.lost_action == "role":
                for user_id in await repo.lost_done(gid, pairs, "role"):
                    await ctx.grant_role(user_id, s.lost_role)
            else:
                await repo.lost_listed(gid, pairs, now)
                names = ctx.join(n or u for u, n, _e in ready)
                ref = ";".join(f"{u},{e}" for u, e in pairs)
                # In full: the adapter stores a payload longer than its platform allows (shortened here
                # as well, the press would resolve to a reference instead of this list).
                buttons = keyboard(
                    [
                        Button(ctx.t("recall.kick_confirm"), f"recall:k:{gid}:{ref}"),
                        Button(ctx.t("recall.kick_cancel"), f"recall:c:{gid}:{ref}"),
                    ]
                )
                text = ctx.t(
                    "recall.kick_list", count=len(ready), names=names, days=ctx.settings.lifecycle.lost_days
                )
                await app.emit(ctx, "admins.notice", text=text, buttons=buttons)
        if fresh:
            await repo.notice_lost(gid, [(u, e) for u, _n, e in fresh], now)
            who = " ".join(mention(u, n or u) for u, n, _e in fresh)
            key = "recall.lost_notice_role" if s.lost_action == "role" else "recall.lost_notice_kick"
            await ctx.send(ctx.t(key, mentions=who, days=s.lost_grace_days, role=s.lost_role))

    async def confirm_kick(self, ctx: Context, event: ButtonPressed, confirmed: bool, rest: str) -> None:
        ref, _, listed = rest.partition(":")
        group_id = parse_int(ref, 1)
        target = None if group_id is None else await ctx.app.context_for_group(group_id)
        if target is None:
            await ctx.answer_button(ctx.t("common.button_expired"))
            return
        # The list may be pressed in the admin log: the presser must be an admin of the group it acts on.
        if not await ctx.app.outbox.is_admin(target.chat, event.user.user_id):
            await ctx.answer_button(ctx.t("recall.admins_only"), alert=True)
            return
        pairs = []
        for item in listed.split(";"):
            user_id, _, episode = item.partition(",")
            ep = parse_int(episode, 0)
            if user_id and ep is not None:
                pairs.append((user_id, ep))
        repo = RecallRepo(ctx.app.db)
        if not confirmed:
            await repo.lost_done(target.group.id, pairs, "cancelled")
            await ctx.answer_button(ctx.t("recall.kick_cancelled"))
            await ctx.edit(event.message_id, ctx.t("recall.kick_cancelled_by", who=event.user.name))
            return
        gone = await repo.lost_done(target.group.id, pairs, "kicked")
        for user_id in gone:
            await ctx.act(A.Kick(chat=target.chat, user_id=user_id))
        await ctx.answer_button(ctx.t("recall.kicked", count=len(gone)))
        await ctx.edit(
            event.message_id,
            ctx.t("recall.kicked_by", count=len(gone), skipped=len(pairs) - len(gone), who=event.user.name),
        )

    # --- /recall -------------------------------------------------------------------------------------

    async def recall_cmd(self, ctx: Context, args: Args) -> None:
        words = args.rest.split()
        head = words[0].lower() if words else ""
        if head in ("", "status", "状态"):
            await self.status(ctx)
        elif head in ("on", "off", "开", "关"):
            value = "on" if head in ("on", "开") else "off"
            await ctx.set_setting("recall.enabled", value)
            await ctx.reply(ctx.t(f"recall.turned_{value}", hour=ctx.settings.recall.hour))
        elif head in ("stats", "统计"):
            window = words[1].lower() if len(words) > 1 else "30d"
            if window not in WINDOWS:
                await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.recall.usage")), ephemeral=True)
                return
            await self.stats(ctx, window)
        elif head in ("template", "模板"):
            await self.template(ctx, words[1].lower() if len(words) > 1 else "", args.rest)
        elif head in ("preview", "预览"):
            assert ctx.event is not None
            me = Due(ctx.event.user.user_id, ctx.event.user.name, ctx.now_ms() - 10 * DAY_MS, 0, None)
            text = await self.dm_text(ctx, me)
            await ctx.reply(ctx.t("recall.preview", text=text))
        else:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.recall.usage")), ephemeral=True)

    async def status(self, ctx: Context) -> None:
        s = ctx.settings.recall
        last = await RecallRepo(ctx.app.db).last_scan(ctx.group.id)
        lines = [
            ctx.t("recall.status_on" if s.enabled else "recall.status_off", hour=s.hour, quiet=s.quiet),
            ctx.t(
                "recall.status_rules",
                every=s.every_days,
                cap=s.max_per_episode,
                holdout=s.holdout_percent,
                gift=s.gift_points,
                days=s.return_days,
            ),
        ]
        if s.enabled and (nxt := ctx.app.scheduler.next_fire(job_id(ctx.group.id))) is not None:
            lines.append(
                ctx.t("recall.status_next", when=nxt.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M"))
            )
        if last is not None:
            lines.append(ctx.t("recall.status_last", day=last[0]))
        lines.append(ctx.t("recall.status_hint"))
        await ctx.reply("\n".join(lines))

    async def stats(self, ctx: Context, window: str) -> None:
        days = WINDOWS[window]
        since = 0 if days is None else to_ms(ctx.now() - timedelta(days=days))
        window_ms = ctx.settings.recall.return_days * DAY_MS
        st = await RecallRepo(ctx.app.db).stats(ctx.group.id, since, ctx.now_ms(), window_ms)
        await ctx.reply(self.stats_text(ctx, st, window))

    def stats_text(self, ctx: Context, st: RecallStats, window: str) -> str:
        def rate(returned: int, settled: int) -> str:
            return "—" if settled == 0 else f"{returned * 100 / settled:.1f}%"

        n, h = st.nudged, st.holdout
        lines = [
            ctx.t("recall.stats_title", window=ctx.t(f"recall.window.{window}"), days=ctx.settings.recall.return_days),
            ctx.t("recall.stats_nudged", returned=n.returned, settled=n.settled, rate=rate(n.returned, n.settled)),
            ctx.t("recall.stats_dm", returned=st.dm.returned, settled=st.dm.settled, rate=rate(st.dm.returned, st.dm.settled)),
            ctx.t("recall.stats_group", returned=st.group.returned, settled=st.group.settled,
                  rate=rate(st.group.returned, st.group.settled)),
            ctx.t("recall.stats_holdout", returned=h.returned, settled=h.settled, rate=rate(h.returned, h.settled)),
        ]  # fmt: skip
        uplift = st.uplift_points
        lines.append(
            ctx.t("recall.stats_uplift", uplift=f"{uplift:+.1f}")
            if uplift is not None
            else ctx.t("recall.stats_uplift_none")
        )
        lines.append(ctx.t("recall.stats_more", failed=st.failed, gifts=st.gifts, points=st.gift_points,
                           pending=n.pending + h.pending))  # fmt: skip
        return "\n".join(lines)

    async def template(self, ctx: Context, kind: str, rest: str) -> None:
        assert ctx.event is not None
        if kind not in ("dm", "group"):
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.recall.usage")), ephemeral=True)
            return
        allowed = DM_PLACEHOLDERS if kind == "dm" else GROUP_PLACEHOLDERS
        store, key = GroupTexts(ctx.app.db), f"recall_{kind}"
        text = rest.strip().split(None, 2)[2] if len(rest.split(None, 2)) > 2 else ""
        if not text:
            current = await store.get(ctx.group.id, key)
            shown = current or ctx.t(f"recall.{kind}_default")
            await ctx.reply(
                ctx.t(
                    "recall.template_show" if current else "recall.template_default",
                    template=shown,
                    allowed=" ".join("{" + p + "}" for p in allowed),
                )
            )
            return
        if text.lower() in ("reset", "重置"):
            await store.delete(ctx.group.id, key)
            await ctx.reply(ctx.t("recall.template_reset"))
            return
        if len(text) > MAX_TEMPLATE:
            await ctx.reply(ctx.t("welcome.too_long", limit=MAX_TEMPLATE))
            return
        if kind == "group" and "{mentions}" not in text:
            await ctx.reply(ctx.t("recall.template_needs_mentions"))
            return
        bad = placeholder_problem(text, allowed)
        if bad is not None:
            await ctx.reply(
                ctx.t(
                    "welcome.bad_placeholder",
                    placeholder=bad[:40],
                    allowed=" ".join("{" + p + "}" for p in allowed),
                )
            )
            return
        await store.set(ctx.group.id, key, text, ctx.event.user.user_id, ctx.now_ms())
        await ctx.reply(ctx.t("recall.template_saved"))
