"""Keyword moderation (关键词过滤) and order: word lists, link/ad/flood detectors, the punishment ladder
(warn → mute → kick/ban), member reports, and the admin log with undo buttons.

Runs first among the hooks (priority 10): a message it removes stops there, so it earns no points and
runs no command. The matching itself is `rules/` (pure); this module decides and acts. Each action is a
case, recorded before anything is said or done, and idempotent on the message that caused it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.actions import Button, Keyboard, keyboard
from bot.clock import from_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, ChatRef, CommandInvoked, MessagePosted, UserRef
from bot.feature import Feature
from bot.i18n import duration, t
from bot.markup import clean_name, mention
from bot.native import MemberDurationReason, MemberOnly, MemberReason
from bot.parsing import REST, parse_duration, parse_int, parse_mention, tokenize
from bot.unit import current as current_unit
from handlers import filters
from handlers.trust import is_trusted
from rules import detectors
from rules.engine import SEVERITY, Rule, RuleHit, RuleSet
from rules.ladder import Rung, next_rung, parse_ladder, step_for
from rules.lists import shipped_allow
from storage.members import Member
from storage.moderation import Case, LogTarget, ModerationRepo, NewCase

log = logging.getLogger(__name__)

EXCERPT = 120  # characters of the offending message kept in a case and shown to admins
REPEAT_WINDOW_MS = 10 * 60 * 1000
CASES_SHOWN = 10
FAILURE_NOTICE_EVERY_MS = 10 * 60 * 1000  # a failing check is reported to admins at most this often
_MEMORY = 50_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason to act on a message: a rule hit or a detector."""

    action: str
    reason: str  # shown to admins and, briefly, to the member
    excerpt: str
    rule_id: int | None = None
    mute_seconds: int = 0
    shadow: bool = False
    kind: str = "manual"  # what found it, for the digest: word | link | flood | repeat | contact | mentions


@dataclass
class GroupRules:
    """What the hot path needs of a group, built once and dropped when an admin changes it."""

    rules: RuleSet
    domains: frozenset[str] = field(default_factory=frozenset)


NATIVE = {
    "warn": MemberReason,
    "kick": MemberReason,
    "ban": MemberReason,
    "mute": MemberDurationReason,
    "warns": MemberOnly,
    "unwarn": MemberOnly,
    "unmute": MemberOnly,
    "unban": MemberOnly,
}


@dataclass(frozen=True, slots=True)
class Written:
    """Member text moderation judges: a message, or a native command's arguments (no message to delete:
    `message_id` None), so both meet the same rules, cases and ladder."""

    user: UserRef
    text: str
    event_key: str
    message_id: str | None = None
    edited: bool = False
    command: bool = False  # a refused native command: the member's notice says it was not run


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


def excerpt_of(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= EXCERPT else one_line[: EXCERPT - 1] + "…"


class ModerationFeature(Feature):
    name = "moderation"
    settings_section = "moderation"
    priority = 10
    button_prefix = "mod"

    def __init__(self) -> None:
        self._cache: dict[int, GroupRules] = {}
        self._gen: dict[int, int] = {}  # bumped on every change to a group's rules
        self._built_gen: dict[int, int] = {}  # the generation each cached build saw
        self._building: dict[int, asyncio.Future[GroupRules]] = {}
        # Compiled rule sets by what they were compiled from: the many groups with the same lists (most
        # have only the shipped defaults) share one build instead of ~375 KB of automata each.
        self._shared: weakref.WeakValueDictionary[tuple[Any, ...], RuleSet] = weakref.WeakValueDictionary()
        self._flood = detectors.FloodTracker(8, 10_000, 3, REPEAT_WINDOW_MS)
        self._last_report: OrderedDict[tuple[int, str], int] = OrderedDict()
        self._links = LinkCodes()
        self.check_failures = 0  # checks that raised: each held its message and was counted here
        self._failure_notes: dict[int, tuple[int, int]] = {}  # group -> (last notice ms, failures since)

    def commands(self) -> list[CommandSpec]:
        admin = {
            "filter": (self.filter_cmd, "过滤"),
            "warn": (self.warn_cmd, "警告"),
            "warns": (self.warns_cmd, "警告记录"),
            "unwarn": (self.unwarn_cmd, "撤销警告"),
            "mute": (self.mute_cmd, "禁言"),
            "unmute": (self.unmute_cmd, "解除禁言"),
            "kick": (self.kick_cmd, "踢出"),
            "ban": (self.ban_cmd, "封禁"),
            "unban": (self.unban_cmd, "解封"),
            "modlog": (self.modlog_cmd, "管理日志"),
            "flood": (self.flood_cmd, "刷屏"),
            "links": (self.links_cmd, "链接"),
        }
        specs = [
            CommandSpec(
                name,
                func,
                Args,
                admin_only=True,
                aliases=(alias,),
                feature=self.name,
                file="file" if name == "filter" else None,  # /filter import reads a list file
                native_args=NATIVE.get(name),  # a member picker and its reason where Discord offers one
            )
            for name, (func, alias) in admin.items()
        ]
        report = CommandSpec(
            "report", self.report_cmd, Args, aliases=("举报",), feature=self.name, target="message"
        )
        return [*specs, report]

    # --- the group's compiled rules ------------------------------------------------------------------

    async def group_rules(self, ctx: Context) -> GroupRules:
        """The group's compiled rules. A rebuild (after a change, or when the settings it was built with
        changed) runs in a worker thread; until it is ready, messages are checked with the previous build,
        so a 64,000-term list never stalls the loop. Only the first build of a group is waited for."""
        gid = ctx.group.id
        cached = self._cache.get(gid)
        fresh = (
            cached is not None
            and self._built_gen.get(gid) == self._gen.get(gid, 0)
            and cached.rules.options[1:] == self._options(ctx)
        )
        if fresh and cached is not None:
            return cached
        task = self._building.get(gid)
        if task is None:
            # The inputs are read here, in the caller's task (inside its unit of work, if any, so an
            # admin's uncommitted change is seen); only the compiling runs elsewhere, in a thread.
            gen = self._gen.get(gid, 0)
            repo = ModerationRepo(ctx.app.db)
            rules, allow, domains = (
                await repo.rules(gid),
                await self.allowed_words(ctx),
                await repo.domains(gid),
            )
            task = self._building.get(gid)  # another caller may have started one meanwhile
            if task is None:
                task = asyncio.get_running_loop().create_task(
                    self._build(gid, gen, rules, allow, domains, self._options(ctx)),
                    context=contextvars.Context(),  # no unit of work or transaction leaks into it
                )
                self._building[gid] = task
                task.add_done_callback(lambda _t, gid=gid: self._building.pop(gid, None))
        if cached is not None:
            return cached
        return await asyncio.shield(task)

    async def reload(self, ctx: Context) -> None:
        """After an admin's change: the next build is waited for, so their next command sees it. Inside
        a unit of work the wait comes after the commit: compiling a 64,000-term list must not hold the
        transaction (and every other event's writes) for seconds."""
        self.invalidate(ctx.group.id)
        uow = current_unit()
        if uow is not None:
            uow.after_commit(lambda: self._wait_fresh(ctx))
        else:
            await self._wait_fresh(ctx)

    async def _wait_fresh(self, ctx: Context) -> None:
        while True:
            task = self._building.get(ctx.group.id)
            if task is not None:
                await asyncio.shield(task)
                continue
            await self.group_rules(ctx)
            if self._built_gen.get(ctx.group.id) == self._gen.get(ctx.group.id, 0):
                return

    def invalidate(self, group_id: int) -> None:
        self._gen[group_id] = self._gen.get(group_id, 0) + 1

    def _options(self, ctx: Context) -> tuple[int, str]:
        """The settings a build depends on: a change of them rebuilds the group's rules."""
        s = ctx.settings.moderation
        return s.segment_chars, s.pinyin

    async def _build(
        self,
        gid: int,
        gen: int,
        rules: list[Rule],
        allow: set[str],
        domains: Any,
        options: tuple[int, str],
    ) -> GroupRules:
        segment_max, pinyin = options
        allowed = tuple(sorted(allow))
        key = (tuple(rules), allowed, segment_max, pinyin)
        ruleset = self._shared.get(key)
        if ruleset is None:
            ruleset = await asyncio.to_thread(
                RuleSet, rules, allow=allowed, segment_max=segment_max, pinyin=pinyin
            )
            self._shared[key] = ruleset
        state = GroupRules(ruleset, domains)
        self._cache[gid] = state
        self._built_gen[gid] = gen
        return state

    async def allowed_words(self, ctx: Context) -> set[str]:
        """The shipped common words (rules/data/common_words.txt) with the group's own changes."""
        own = await ModerationRepo(ctx.app.db).allow_rows(ctx.group.id)
        words = set(shipped_allow()) | {w for w, ok in own.items() if ok}
        return words - {w for w, ok in own.items() if not ok}

    # --- the hook ------------------------------------------------------------------------------------

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        return await self.moderate(
            ctx, Written(event.user, event.text, event.event_key, event.message_id, event.edited)
        )

    async def screen_text(self, ctx: Context, text: str, *, enforce: bool = False) -> str | None:
        """Why `text`, written by the event's author, may not be shown again (None: it may). Reached
        through `Context.screen` by everything a member writes that the bot shows again, whatever the
        command's form. `enforce` (a native command's arguments, before routing) treats it as the same
        command typed: a case, the ladder, the member's notice; without it (text a feature stores) the
        text is only refused, the member having been judged on what they sent already."""
        if not text.strip():
            return None
        event = ctx.event
        assert event is not None
        if enforce:
            name = event.name if isinstance(event, CommandInvoked) else ""
            said = Written(event.user, f"/{name} {text}".strip(), event.event_key, command=True)
            if not await self.moderate(ctx, said, track=False):
                return None
            return ctx.t("mod.told.command")
        s = ctx.settings.moderation
        if not s.enabled or ctx.is_admin or event.user.is_bot:
            return None
        try:
            findings = await self.inspect(ctx, event.user.user_id, text, track=False)
            live = [f for f in findings if not f.shadow and f.action not in ("off", "alert")]
            if not live or await self._trusted(ctx, event.user.user_id):
                return None
        except Exception:
            log.exception("moderation check of stored text failed on %s", event.event_key)
            self.check_failures += 1
            return ctx.t("mod.reason.unchecked")  # never fails open
        return self.decide(live).reason

    async def moderate(self, ctx: Context, said: Written, *, track: bool = True) -> bool:
        """Judge member text and act on it; True when it must go no further (removed, or held because
        the check failed)."""
        s = ctx.settings.moderation
        if not s.enabled or ctx.is_admin or said.user.is_bot:
            return False
        try:
            findings = await self.inspect(ctx, said.user.user_id, said.text, edited=said.edited, track=track)
            if not findings or await self._trusted(ctx, said.user.user_id):
                return False
        except Exception:
            # A check that failed must never mean "allowed": hold the message (no points, no command)
            # and tell the admins, at most once per interval per group.
            log.exception("moderation check failed on %s", said.event_key)
            if said.command:  # its caller's answer first: the admins' notice must not become it
                await ctx.reply(ctx.t("mod.told.unchecked"), ephemeral=True)
            await self._check_failed(ctx, said)
            return True
        for shadow in (f for f in findings if f.shadow):
            await self._note(ctx, said, shadow, shadow=True)
        live = [f for f in findings if not f.shadow and f.action != "off"]
        if not live:
            return False
        decision = self.decide(live)
        if decision.action == "alert":
            await self._note(ctx, said, decision, shadow=False)
            return False
        await self.enforce(
            ctx, said.user, decision, message_id=said.message_id, source_key=said.event_key, command=said.command
        )
        return True

    async def _check_failed(self, ctx: Context, event: Written) -> None:
        self.check_failures += 1
        now = ctx.now_ms()
        last, count = self._failure_notes.get(ctx.group.id, (None, 0))
        if last is not None and now - last < FAILURE_NOTICE_EVERY_MS:
            self._failure_notes[ctx.group.id] = (last, count + 1)
            return
        self._failure_notes[ctx.group.id] = (now, 0)
        text = ctx.t(
            "mod.log.check_failed",
            mention=mention(event.user.user_id, event.user.name),
            message=event.message_id or "—",
            excerpt=excerpt_of(event.text),
            since=ctx.t("mod.log.check_failed_more", count=count + 1) if count else "",
        )
        try:
            await self.log(ctx, text, fallback_here=True)
        except Exception:
            log.exception("cannot report the failed moderation check to the admins")

    @staticmethod
    def decide(live: list[Finding]) -> Finding:
        """The harshest finding decides (a longer mute wins between two mutes)."""
        return max(live, key=lambda f: (SEVERITY[f.action], f.mute_seconds))

    async def inspect(
        self, ctx: Context, user_id: str, text: str, *, edited: bool = False, track: bool = True
    ) -> list[Finding]:
        """Everything wrong with a message, by the group's settings; nothing is done here. `track` feeds the
        flood and repeat windows (off for `/filter test`)."""
        s = ctx.settings.moderation
        found: list[Finding] = []
        state = await self.group_rules(ctx)
        for hit in state.rules.check(text):
            found.append(self._from_rule(ctx, hit))
        links = detectors.links(text, state.domains)
        if links:
            found += await self._link_findings(ctx, user_id, links)
        if s.contacts != "off":
            for c in detectors.contacts(text)[:1]:
                found.append(Finding(s.contacts, ctx.t("mod.reason.contact"), c.text, kind="contact"))
        if s.mass_mentions and detectors.mention_count(text) >= s.mass_mentions:
            found.append(Finding("warn", ctx.t("mod.reason.mentions"), excerpt_of(text), kind="mentions"))
        if track and not edited:
            gid, uid, at = ctx.group.id, user_id, ctx.now_ms()
            if s.flood_messages and self._flood.flooding(
                gid, uid, at, max_messages=s.flood_messages, window_ms=s.flood_seconds * 1000
            ):
                found.append(
                    Finding(
                        "mute",
                        ctx.t("mod.reason.flood"),
                        excerpt_of(text),
                        mute_seconds=s.flood_mute_minutes * 60,
                        kind="flood",
                    )
                )
            if s.repeats and self._flood.repeating(gid, uid, text, at, max_repeats=s.repeats):
                found.append(Finding("delete", ctx.t("mod.reason.repeat"), excerpt_of(text), kind="repeat"))
        return found

    def _from_rule(self, ctx: Context, hit: RuleHit) -> Finding:
        rule = hit.rule
        label = rule.category or rule.pattern
        reason = ctx.t(
            "mod.reason.rule_sound" if hit.by_sound else "mod.reason.rule", term=label[:40], id=rule.id
        )
        return Finding(
            rule.action,
            reason,
            hit.excerpt,
            rule.id,
            rule.mute_seconds,
            rule.shadow or hit.shadow or ctx.settings.moderation.shadow,
            kind="word",
        )

    async def _link_findings(self, ctx: Context, user_id: str, links: list[detectors.Found]) -> list[Finding]:
        s = ctx.settings.moderation
        out = []
        invite = next((f for f in links if f.kind == "invite"), None)
        if invite is not None and s.invites != "off":
            out.append(Finding(s.invites, ctx.t("mod.reason.invite"), invite.text, kind="link"))
        plain = next((f for f in links if f.kind == "link"), None)
        if plain is not None and s.links != "off":
            out.append(Finding(s.links, ctx.t("mod.reason.link"), plain.text, kind="link"))
        if s.newcomer_links != "off" and s.newcomer_hours:
            member = await ctx.app.members.get(ctx.group.id, user_id)
            joined = member.joined_ms if member else None
            if joined is not None and ctx.now_ms() - joined < s.newcomer_hours * 3_600_000:
                out.append(
                    Finding(
                        s.newcomer_links,
                        ctx.t("mod.reason.newcomer_link", hours=s.newcomer_hours),
                        links[0].text,
                        kind="link",
                    )
                )
        return out

    async def _trusted(self, ctx: Context, user_id: str) -> bool:
        """Members an admin trusted (/trust) or at the trusted level are exempt (read only when something
        was found)."""
        return await is_trusted(ctx, user_id)

    # --- acting --------------------------------------------------------------------------------------

    async def enforce(
        self,
        ctx: Context,
        user: UserRef,
        finding: Finding,
        *,
        message_id: str | None,
        source_key: str,
        actor: str = "auto",
        command: bool = False,
    ) -> Case | None:
        """Delete the message (if any), record the case, climb the ladder, act, tell the member and the log.
        `command`: what was judged is a native command's arguments, refused (the notice says so).

        None when this source was handled already (a redelivered message does not warn twice)."""
        s = ctx.settings.moderation
        repo = ModerationRepo(ctx.app.db)
        now = ctx.now_ms()
        action = finding.action
        counts_warning = action == "warn"
        case = await repo.record(
            NewCase(
                ctx.group.id,
                user.user_id,
                clean_name(user.name),
                action,
                finding.reason,
                actor,
                now,
                rule_id=finding.rule_id,
                kind=finding.kind,
                excerpt=excerpt_of(finding.excerpt),
                message_id=message_id,
                source_key=source_key,
            ),
            warn=counts_warning,
        )
        if case is None:
            return None
        if message_id is not None and action != "alert":
            await ctx.delete(message_id)
        until_ms: int | None = None
        warnings = 0
        if counts_warning:
            warnings = len(
                await repo.live_warnings(ctx.group.id, user.user_id, now - s.warn_expiry_days * 86_400_000)
            )
            rung = step_for(warnings, parse_ladder(s.ladder))
            action = rung.step
            if rung.mute_for is not None:
                until_ms = now + int(rung.mute_for.total_seconds() * 1000)
        elif action == "mute":
            until_ms = now + (finding.mute_seconds or s.mute_minutes * 60) * 1000
        if action != finding.action or until_ms is not None:
            await repo.set_case_action(case.id, action, until_ms)
            case = replace(case, action=action, until_ms=until_ms)
        result = await self._punish(ctx, user.user_id, action, until_ms)
        target = await self.log_target(ctx)
        if (
            target is not None
            and target.chat_id == ctx.group.chat_id
            and target.channel in (None, ctx.event.channel if ctx.event else None)
        ):
            # The log is this very chat: one message, the member's notice with the case's undo buttons.
            await self._tell_member(
                ctx,
                user,
                case,
                warnings,
                failed=not result,
                buttons=self.undo_buttons(ctx, case, warned=warnings > 0),
                command=command,
            )
        else:
            await self._tell_member(ctx, user, case, warnings, failed=not result, command=command)
            await self.log_case(ctx, case, warnings=warnings)
        return case

    async def _punish(self, ctx: Context, user_id: str, action: str, until_ms: int | None) -> bool:
        # The member's notice says whether it worked, so these go out now (the unit so far commits
        # first: the case is on record before the platform is asked).
        if action == "mute" and until_ms is not None:
            return (await ctx.act_now(A.Mute(chat=ctx.chat, user_id=user_id, until=from_ms(until_ms)))).ok
        if action in ("kick", "ban"):
            punish = A.Kick if action == "kick" else A.Ban
            done = (await ctx.act_now(punish(chat=ctx.chat, user_id=user_id))).ok
            if done:  # gone now: member counts and boards must not wait for the platform to say so
                await ctx.app.members.record_leave(ctx.group.id, user_id, ctx.now_ms(), ctx.today())
            return done
        return True

    def _step_text(self, lang: str, case: Case) -> str:
        if case.action == "mute" and case.until_ms is not None:
            return t(
                lang,
                "mod.step.mute",
                duration=duration(lang, timedelta(milliseconds=case.until_ms - case.at_ms)),
            )
        return t(lang, f"mod.step.{case.action}")

    async def _tell_member(
        self,
        ctx: Context,
        user: UserRef,
        case: Case,
        warnings: int,
        *,
        failed: bool,
        buttons: Keyboard = (),
        command: bool = False,
    ) -> None:
        # Posted in the group, so in the group's language: the reason (a rule's words, a detector's
        # text) is in it already, and a member's English client must not make the notice half English.
        lang = ctx.lang
        who = mention(user.user_id, user.name)
        if case.action == "delete":
            told = "mod.told.command_refused" if command else "mod.told.deleted"
            text = t(lang, told, mention=who, reason=case.reason)
            command = False  # said already
        else:
            text = t(
                lang, "mod.told.action", mention=who, step=self._step_text(lang, case), reason=case.reason
            )
            if case.action == "warn" and warnings:
                upcoming = next_rung(warnings, parse_ladder(ctx.settings.moderation.ladder))
                text += "\n" + (
                    t(
                        lang,
                        "mod.told.next",
                        count=warnings,
                        next=upcoming.warnings,
                        step=rung_text(lang, upcoming),
                    )
                    if upcoming
                    else t(lang, "mod.told.count", count=warnings)
                )
        if failed:
            text += "\n" + t(lang, "mod.told.failed")
        if command:
            text += "\n" + t(lang, "mod.told.command")
        await ctx.send(text, buttons)

    # --- the admin log -------------------------------------------------------------------------------

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name == "admins.notice":  # another feature's word for the admins (a redemption to hand over)
            await self.log(ctx, str(data.get("text", "")), data.get("buttons", ()), fallback_here=True)

    async def log_target(self, ctx: Context) -> LogTarget | None:
        return await ModerationRepo(ctx.app.db).log_target(ctx.group.id)

    async def log(
        self, ctx: Context, text: str, buttons: Keyboard = (), *, fallback_here: bool = False
    ) -> None:
        """Post to the group's admin log; without one, in the group itself only when an admin must decide."""
        target = await self.log_target(ctx)
        if target is None:
            if fallback_here:
                # a message of its own, never a native command's answer (nor carrying a member's postscript)
                await ctx.act(A.Send(chat=ctx.chat, text=text, buttons=buttons))
            return
        chat = ChatRef(ctx.group.platform, target.chat_id)
        await ctx.act(A.Send(chat=chat, text=text, buttons=buttons, channel=target.channel))

    def case_text(self, ctx: Context, case: Case, *, warnings: int = 0) -> str:
        actor = ctx.t("mod.log.auto") if case.actor == "auto" else case.actor
        lines = [
            ctx.t(
                "mod.log.case",
                id=case.id,
                group=ctx.group.title or ctx.group.chat_id,
                mention=mention(case.user_id, case.user_name or case.user_id),
                step=("👁 " + ctx.t("mod.log.shadow") + " " if case.shadow else "")
                + self._step_text(ctx.lang, case),
            ),
            ctx.t("mod.log.reason", reason=case.reason),
        ]
        if case.excerpt:
            lines.append(f"“{case.excerpt}”")
        if warnings:
            lines.append(ctx.t("mod.log.warnings", count=warnings))
        lines.append(
            ctx.t(
                "mod.log.by", actor=actor, at=from_ms(case.at_ms).astimezone(ctx.zone).strftime("%m-%d %H:%M")
            )
        )
        return "\n".join(lines)

    def undo_buttons(self, ctx: Context, case: Case, *, warned: bool) -> Keyboard:
        row: list[Button] = []
        if case.action == "mute":
            row.append(Button(ctx.t("mod.button.unmute"), f"mod:{case.id}:undo"))
        elif case.action == "ban":
            row.append(Button(ctx.t("mod.button.unban"), f"mod:{case.id}:undo"))
        if warned:  # the case counted a warning (a warn, or a step the ladder reached from one)
            row.append(Button(ctx.t("mod.button.unwarn"), f"mod:{case.id}:unwarn"))
        return keyboard(row) if row else ()

    def review_buttons(self, ctx: Context, case: Case) -> Keyboard:
        return keyboard(
            [
                Button(ctx.t("mod.button.delete"), f"mod:{case.id}:delete"),
                Button(ctx.t("mod.button.warn"), f"mod:{case.id}:warn"),
                Button(ctx.t("mod.button.mute"), f"mod:{case.id}:mute"),
                Button(ctx.t("mod.button.dismiss"), f"mod:{case.id}:dismiss"),
            ]
        )

    async def log_case(self, ctx: Context, case: Case, *, warnings: int = 0) -> None:
        buttons = self.undo_buttons(ctx, case, warned=warnings > 0)
        await self.log(ctx, self.case_text(ctx, case, warnings=warnings), buttons)

    async def _note(self, ctx: Context, event: Written, finding: Finding, *, shadow: bool) -> None:
        """A case that acts on nothing: shadow mode (what would have happened) or an alert (关键词预警),
        which leaves the message and gives admins the buttons to decide."""
        case = await ModerationRepo(ctx.app.db).record(
            NewCase(
                ctx.group.id,
                event.user.user_id,
                clean_name(event.user.name),
                finding.action if shadow else "alert",
                finding.reason,
                "auto",
                ctx.now_ms(),
                rule_id=finding.rule_id,
                kind=finding.kind,
                # a rule's hit is its own context; a detector's alert shows the admins the whole message
                excerpt=excerpt_of(finding.excerpt if shadow or finding.rule_id else event.text),
                message_id=event.message_id,
                shadow=shadow,
                source_key=f"{event.event_key}:shadow:{finding.rule_id}" if shadow else event.event_key,
            ),
            warn=False,
        )
        if case is not None:
            # Like reports: without a log chat, admins still hear of it in the group itself.
            await self.log(
                ctx,
                self.case_text(ctx, case),
                () if shadow else self.review_buttons(ctx, case),
                fallback_here=True,
            )

    # --- buttons in the log --------------------------------------------------------------------------

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        if payload.startswith("addall:"):  # an import's held-back terms: "add them anyway"
            if not event.is_admin:
                await ctx.answer_button(ctx.t("mod.admins_only_button"), alert=True)
                return
            done = await filters.add_held(self, ctx, payload.removeprefix("addall:"))
            await ctx.answer_button(done)
            await ctx.edit(event.message_id, done)
            return
        case_ref, _, op = payload.partition(":")
        case_id = parse_int(case_ref, 1)
        case = await ModerationRepo(ctx.app.db).case_by_id(case_id) if case_id is not None else None
        if case is None:
            await ctx.answer_button(ctx.t("common.button_expired"))
            return
        if not event.is_admin or not await self._may_act(ctx, case, event.user.user_id):
            await ctx.answer_button(ctx.t("mod.admins_only_button"), alert=True)
            return
        home = ctx if case.group_id == ctx.group.id else await ctx.app.context_for_group(case.group_id)
        if home is None:
            await ctx.answer_button(ctx.t("common.button_expired"))
            return
        home.event = event  # the actor is the presser
        done = await self.apply(home, case, op, event.user.user_id)
        await ctx.answer_button(done)
        await ctx.edit(event.message_id, self.case_text(home, case) + "\n" + done)

    async def _may_act(self, ctx: Context, case: Case, user_id: str) -> bool:
        """A press counts in the case's own group; in the admin chat that group logs to, only from someone
        the platform says is an admin of the case's own group (an admin of the log chat alone is not)."""
        if case.group_id == ctx.group.id:
            return True
        target = await ModerationRepo(ctx.app.db).log_target(case.group_id)
        home = await ctx.app.groups.by_id(case.group_id)
        return (
            target is not None
            and home is not None
            and home.platform == ctx.group.platform
            and target.chat_id == ctx.group.chat_id
            and await ctx.app.outbox.is_admin(ChatRef(home.platform, home.chat_id), user_id)
        )

    async def apply(self, ctx: Context, case: Case, op: str, actor: str) -> str:
        """An admin's decision on a case, from a button or a command; returns what was done, to show."""
        repo = ModerationRepo(ctx.app.db)
        now = ctx.now_ms()
        if op in ("undo", "unwarn", "dismiss", "delete", "warn", "mute") and case.undone_ms is not None:
            return ctx.t("mod.done.already")
        if op == "undo":
            if not await repo.mark_undone(case.id, actor, now):
                return ctx.t("mod.done.already")
            await repo.revoke_warning(ctx.group.id, case.user_id, actor, now, case_id=case.id)
            if case.action == "mute":
                await ctx.unmute(case.user_id)
                return ctx.t("mod.done.unmuted", id=case.id)
            if case.action == "ban":
                await ctx.unban(case.user_id)
                return ctx.t("mod.done.unbanned", id=case.id)
            return ctx.t("mod.done.unwarned", id=case.id)
        if op == "unwarn":
            if not await repo.revoke_warning(ctx.group.id, case.user_id, actor, now, case_id=case.id):
                return ctx.t("mod.done.no_warning")
            return ctx.t("mod.done.unwarned", id=case.id)
        if op in ("delete", "warn", "mute", "dismiss"):
            if case.action in ("alert", "report") and not await repo.mark_undone(case.id, actor, now):
                return ctx.t("mod.done.already")
            if case.action == "report" and case.message_id:
                await repo.decide_report(ctx.group.id, case.message_id, op, actor, now)
            if op == "dismiss":
                return ctx.t("mod.done.dismissed", id=case.id)
            if case.message_id:
                await ctx.delete(case.message_id)
            if op == "delete":
                return ctx.t("mod.done.deleted", id=case.id)
            finding = Finding(op, case.reason, case.excerpt, case.rule_id)
            user = UserRef(case.user_id, case.user_name or case.user_id)
            new = await self.enforce(
                ctx, user, finding, message_id=None, source_key=f"case:{case.id}:{op}", actor=actor
            )
            return ctx.t(
                "mod.done.acted", id=new.id if new else case.id, step=self._step_text(ctx.lang, new or case)
            )
        return ctx.t("common.button_expired")

    # --- commands: punishments -----------------------------------------------------------------------

    async def _target_or_say(
        self, ctx: Context, rest: str, usage: str
    ) -> tuple[UserRef | None, str, str | None]:
        """`_target`, answering for the admin when there is none: the member named was not found, or the
        usage when nobody was named."""
        user, remaining, replied = await self._target(ctx, rest)
        if user is None:
            tokens = tokenize(rest)
            named = tokens[0].text if tokens and tokens[0].text.startswith("@") else None
            text = (
                ctx.t("common.member_not_found", who=ctx.named(named))
                if named
                else ctx.t("common.usage", usage=ctx.t(usage))
            )
            await ctx.reply(text, ephemeral=True)
        return user, remaining, replied

    async def _target(self, ctx: Context, rest: str) -> tuple[UserRef | None, str, str | None]:
        """The member a command is about: an @mention or id first, else the author of the replied message.
        Returns (member, the rest of the arguments, the replied message id)."""
        tokens = tokenize(rest)
        if tokens:
            try:
                ref = parse_mention(tokens[0].text)
            except ValueError:
                ref = None
            if ref is not None:
                member: Member | None = await ctx.resolve_member(ref)
                remaining = rest[tokens[0].end :].strip()
                if member is not None:
                    return UserRef(member.user_id, member.name, member.username), remaining, None
                if ref.user_id is not None:
                    return UserRef(ref.user_id, ref.user_id), remaining, None
                return None, remaining, None
        replied = ctx.replied()
        if replied is not None and replied.user is not None:
            return replied.user, rest.strip(), replied.message_id
        return None, rest.strip(), None

    async def _manual(self, ctx: Context, args: Args, action: str, usage: str) -> None:
        user, rest, replied = await self._target_or_say(ctx, args.rest, usage)
        if user is None:
            return
        assert ctx.event is not None
        if user.user_id == ctx.event.user.user_id:
            await ctx.reply(ctx.t("mod.not_yourself"), ephemeral=True)
            return
        mute_seconds = 0
        if action == "mute":
            head, _, reason_rest = rest.partition(" ")
            try:
                mute_seconds = int(parse_duration(head).total_seconds())
            except ValueError:
                await ctx.reply(ctx.t("common.usage", usage=ctx.t(usage)), ephemeral=True)
                return
            rest = reason_rest
        reason = rest.strip()[:200] or ctx.t("mod.reason.manual")
        excerpt = ""
        if (about := ctx.replied()) is not None and replied:
            excerpt = about.text
        case = await self.enforce(
            ctx,
            user,
            Finding(action, reason, excerpt, mute_seconds=mute_seconds),
            message_id=replied,
            source_key=f"{ctx.event.event_key}:mod",
            actor=ctx.event.user.name,
        )
        if case is None:
            return  # a redelivered command: handled already
        # the member's notice in the group is the answer: no second "recorded" message

    async def warn_cmd(self, ctx: Context, args: Args) -> None:
        await self._manual(ctx, args, "warn", "cmd.warn.usage")

    async def mute_cmd(self, ctx: Context, args: Args) -> None:
        await self._manual(ctx, args, "mute", "cmd.mute.usage")

    async def kick_cmd(self, ctx: Context, args: Args) -> None:
        await self._manual(ctx, args, "kick", "cmd.kick.usage")

    async def ban_cmd(self, ctx: Context, args: Args) -> None:
        await self._manual(ctx, args, "ban", "cmd.ban.usage")

    async def _lift(self, ctx: Context, args: Args, what: str) -> None:
        user, _rest, _ = await self._target_or_say(ctx, args.rest, f"cmd.{what}.usage")
        if user is None:
            return
        assert ctx.event is not None
        repo = ModerationRepo(ctx.app.db)
        lift = A.Unmute if what == "unmute" else A.Unban
        result = await ctx.act_now(lift(chat=ctx.chat, user_id=user.user_id))
        case = await repo.record(
            NewCase(
                ctx.group.id,
                user.user_id,
                clean_name(user.name),
                what,
                ctx.t("mod.reason.manual"),
                ctx.event.user.name,
                ctx.now_ms(),
                source_key=f"{ctx.event.event_key}:mod",
            ),
            warn=False,
        )
        text = ctx.t(
            "mod.done.unmuted_member" if what == "unmute" else "mod.done.unbanned_member",
            mention=mention(user.user_id, user.name),
        )
        if not result.ok:
            text += "\n" + ctx.t("mod.told.failed")
        await ctx.reply(text)
        if case is not None:
            await self.log_case(ctx, case)

    async def unmute_cmd(self, ctx: Context, args: Args) -> None:
        await self._lift(ctx, args, "unmute")

    async def unban_cmd(self, ctx: Context, args: Args) -> None:
        await self._lift(ctx, args, "unban")

    async def warns_cmd(self, ctx: Context, args: Args) -> None:
        user, _rest, _ = await self._target_or_say(ctx, args.rest, "cmd.warns.usage")
        if user is None:
            return
        repo = ModerationRepo(ctx.app.db)
        s = ctx.settings.moderation
        live = await repo.live_warnings(
            ctx.group.id, user.user_id, ctx.now_ms() - s.warn_expiry_days * 86_400_000
        )
        lines = [
            ctx.t(
                "mod.warns.title",
                mention=mention(user.user_id, user.name),
                count=len(live),
                days=s.warn_expiry_days,
            )
        ]
        for case in await repo.recent_cases(ctx.group.id, CASES_SHOWN, user.user_id):
            lines.append(self._case_line(ctx, case))
        await ctx.reply("\n".join(lines))

    async def unwarn_cmd(self, ctx: Context, args: Args) -> None:
        user, _rest, _ = await self._target_or_say(ctx, args.rest, "cmd.unwarn.usage")
        if user is None:
            return
        assert ctx.event is not None
        repo = ModerationRepo(ctx.app.db)
        if not await repo.revoke_warning(ctx.group.id, user.user_id, ctx.event.user.name, ctx.now_ms()):
            await ctx.reply(ctx.t("mod.done.no_warning"))
            return
        s = ctx.settings.moderation
        live = await repo.live_warnings(
            ctx.group.id, user.user_id, ctx.now_ms() - s.warn_expiry_days * 86_400_000
        )
        await ctx.reply(
            ctx.t("mod.unwarned_member", mention=mention(user.user_id, user.name), count=len(live))
        )

    def _case_line(self, ctx: Context, case: Case) -> str:
        at = from_ms(case.at_ms).astimezone(ctx.zone).strftime("%m-%d %H:%M")
        step = ("👁 " if case.shadow else "") + self._step_text(ctx.lang, case)
        undone = " ↩" if case.undone_ms is not None else ""
        return f"#{case.id} {at} {case.user_name or case.user_id} · {step}{undone} · {case.reason}"

    # --- commands: the log, flood, links -------------------------------------------------------------

    async def modlog_cmd(self, ctx: Context, args: Args) -> None:
        tokens = [tok.text for tok in tokenize(args.rest)]
        sub = tokens[0].lower() if tokens else ""
        assert ctx.event is not None
        repo = ModerationRepo(ctx.app.db)
        if sub == "set":
            code = next((tok for tok in tokens[1:] if tok.lower() != "here"), None)
            await self._set_log(ctx, code)
        elif sub == "link":
            await self._issue_link_code(ctx)
        elif sub == "off":
            await repo.set_log_target(ctx.group.id, None, ctx.event.user.user_id, ctx.now_ms())
            await ctx.reply(ctx.t("mod.log.off"))
        elif sub == "" or parse_int(sub) is not None:
            limit = min(parse_int(sub, 1) or CASES_SHOWN, 50)
            cases = await repo.recent_cases(ctx.group.id, limit)
            if not cases:
                await ctx.reply(ctx.t("mod.log.empty"))
                return
            target = await repo.log_target(ctx.group.id)
            lines = [ctx.t("mod.log.title", count=len(cases))]
            lines += [self._case_line(ctx, c) for c in cases]
            if target is None:
                lines.append(ctx.t("mod.log.hint_set"))
            await ctx.reply("\n".join(lines))
        else:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.modlog.usage")), ephemeral=True)

    async def _issue_link_code(self, ctx: Context) -> None:
        """The code goes to the asking admin by DM only: on Telegram an "ephemeral" reply is an ordinary
        group message every member reads, and whoever holds the code could take over the log."""
        assert ctx.event is not None
        admin = ctx.event.user.user_id
        code = self._links.issue(ctx.group.id, ctx.now_ms())
        sent = await ctx.act_now(
            A.DirectMessage(
                chat=ctx.chat,
                user_id=admin,
                text=ctx.t("mod.log.link_code", group=ctx.group.title or ctx.group.chat_id, code=code),
            )
        )
        if sent.ok:
            await ctx.reply(ctx.t("mod.log.link_sent"), ephemeral=True)
        else:
            self._links.revoke(code)
            await ctx.reply(ctx.t("mod.log.link_no_dm"), ephemeral=True)

    async def _set_log(self, ctx: Context, code: str | None) -> None:
        """`/modlog set here` logs this group here; with a code from `/modlog link`, another group logs here."""
        assert ctx.event is not None
        repo = ModerationRepo(ctx.app.db)
        target = LogTarget(ctx.group.chat_id, ctx.event.channel)
        group_id = ctx.group.id
        if code is not None:
            linked = self._links.redeem(code, ctx.now_ms())  # single use: a failed attempt burns it too
            home = await ctx.app.groups.by_id(linked) if linked is not None else None
            if home is None or home.platform != ctx.group.platform:
                await ctx.reply(ctx.t("mod.log.bad_code"), ephemeral=True)
                return
            # Admin here is not enough: the redeemer must be an admin of the code's group, asked of the
            # platform now (a leaked code must not hand a group's log and undo buttons to a stranger).
            if not await ctx.app.outbox.is_admin(
                ChatRef(home.platform, home.chat_id), ctx.event.user.user_id
            ):
                await ctx.reply(
                    ctx.t("mod.log.not_admin_there", group=home.title or home.chat_id), ephemeral=True
                )
                return
            group_id = home.id
        await repo.set_log_target(group_id, target, ctx.event.user.user_id, ctx.now_ms())
        await ctx.reply(ctx.t("mod.log.set"))

    async def flood_cmd(self, ctx: Context, args: Args) -> None:
        tokens = [tok.text for tok in tokenize(args.rest)]
        if tokens and tokens[0].lower() in ("off", "关", "关闭"):
            await ctx.set_setting("moderation.flood_messages", "0")
            await ctx.reply(ctx.t("mod.flood.off"))
            return
        if len(tokens) == 2 and all(parse_int(x) is not None for x in tokens):
            # "/flood 3 10": more than 3 messages in 10 s is flooding; the 4th is muted, 3 pass
            n, seconds = parse_int(tokens[0], 1, 100), parse_int(tokens[1], 1, 3600)
            if n is None or seconds is None:
                await ctx.reply(ctx.t("mod.flood.bad"), ephemeral=True)
                return
            await ctx.set_setting("moderation.flood_messages", str(n))
            await ctx.set_setting("moderation.flood_seconds", str(seconds))
            await ctx.reply(
                ctx.t(
                    "mod.flood.set",
                    n=n,
                    next=n + 1,
                    seconds=seconds,
                    minutes=ctx.settings.moderation.flood_mute_minutes,
                )
            )
            return
        if not tokens:
            s = ctx.settings.moderation
            await ctx.reply(
                ctx.t(
                    "mod.flood.current",
                    n=s.flood_messages,
                    next=s.flood_messages + 1,
                    seconds=s.flood_seconds,
                    minutes=s.flood_mute_minutes,
                )
                if s.flood_messages
                else ctx.t("mod.flood.off")
            )
            return
        await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.flood.usage")), ephemeral=True)

    async def links_cmd(self, ctx: Context, args: Args) -> None:
        tokens = [tok.text for tok in tokenize(args.rest)]
        repo = ModerationRepo(ctx.app.db)
        sub = tokens[0].lower() if tokens else ""
        if sub in ("allow", "deny") and len(tokens) == 2:
            domain = filters.clean_domain(tokens[1])
            if domain is None:
                await ctx.reply(ctx.t("mod.links.bad_domain", domain=tokens[1][:64]), ephemeral=True)
                return
            if sub == "allow":
                await repo.allow_domain(ctx.group.id, domain)
            else:
                await repo.deny_domain(ctx.group.id, domain)
            await self.reload(ctx)
            await ctx.reply(
                ctx.t("mod.links.allowed" if sub == "allow" else "mod.links.denied", domain=domain)
            )
        elif not tokens:
            s = ctx.settings.moderation
            domains = sorted(await repo.domains(ctx.group.id))
            await ctx.reply(
                ctx.t(
                    "mod.links.current",
                    links=s.links,
                    invites=s.invites,
                    newcomer=s.newcomer_links,
                    domains=", ".join(domains) or "—",
                )
            )
        else:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.links.usage")), ephemeral=True)

    async def filter_cmd(self, ctx: Context, args: Args) -> None:
        await filters.run(self, ctx, args.rest)

    # --- reports -------------------------------------------------------------------------------------

    async def report_cmd(self, ctx: Context, args: Args) -> None:
        event = ctx.event
        assert event is not None
        replied = ctx.replied()
        if replied is None or replied.user is None:
            await ctx.reply(ctx.t("mod.report.reply_needed"), ephemeral=True)
            return
        reporter = event.user.user_id
        if replied.user.user_id == reporter or replied.user.is_bot:
            await ctx.reply(ctx.t("mod.report.not_that"), ephemeral=True)
            return
        s = ctx.settings.moderation
        key, now = (ctx.group.id, reporter), ctx.now_ms()
        last = self._last_report.get(key)
        if last is not None and now - last < s.report_cooldown_seconds * 1000:
            await ctx.reply(ctx.t("mod.report.slow_down", seconds=s.report_cooldown_seconds), ephemeral=True)
            return
        self._last_report[key] = now
        self._last_report.move_to_end(key)
        if len(self._last_report) > _MEMORY:
            self._last_report.popitem(last=False)
        repo = ModerationRepo(ctx.app.db)
        target = replied.user
        reason = args.rest.strip()[:200]
        count = await repo.add_report(
            ctx.group.id,
            replied.message_id,
            reporter,
            target.user_id,
            clean_name(target.name),
            excerpt_of(replied.text),
            reason,
            now,
        )
        await ctx.reply(ctx.t("mod.report.thanks"), ephemeral=True)
        if await repo.report_decided(ctx.group.id, replied.message_id):
            return  # an admin already decided: nothing more to tell them
        if count == 1 or count == s.report_threshold:
            hidden = count >= s.report_threshold
            if hidden:
                await ctx.delete(replied.message_id)
            case = await repo.record(
                NewCase(
                    ctx.group.id,
                    target.user_id,
                    clean_name(target.name),
                    "report",
                    ctx.t("mod.reason.report", count=count, reason=reason or "—"),
                    event.user.name,
                    now,
                    excerpt=excerpt_of(replied.text),
                    message_id=replied.message_id,
                    source_key=f"report:{ctx.group.id}:{replied.message_id}:{count}",
                    kind="report",
                ),
                warn=False,
            )
            if case is not None:
                text = self.case_text(ctx, case) + ("\n" + ctx.t("mod.report.hidden") if hidden else "")
                await self.log(ctx, text, self.review_buttons(ctx, case), fallback_here=True)


def rung_text(lang: str, rung: Rung) -> str:
    if rung.mute_for is not None:
        return t(lang, "mod.step.mute", duration=duration(lang, rung.mute_for))
    return t(lang, f"mod.step.{rung.step}")


class LinkCodes:
    """One-time codes linking a group to an admin chat for its log (`/modlog link`, sent to the admin by
    DM, then `/modlog set here <code>` there). Single use, valid ten minutes, in memory: a restart only
    means asking for a new code."""

    TTL_MS = 10 * 60 * 1000

    def __init__(self) -> None:
        self._codes: dict[str, tuple[int, int]] = {}

    def issue(self, group_id: int, now_ms: int) -> str:
        self._codes = {c: v for c, v in self._codes.items() if v[1] > now_ms}
        code = "QB-" + secrets.token_hex(4).upper()
        self._codes[code] = (group_id, now_ms + self.TTL_MS)
        return code

    def revoke(self, code: str) -> None:
        self._codes.pop(code, None)

    def redeem(self, code: str, now_ms: int) -> int | None:
        found = self._codes.pop(code.strip().upper(), None)
        if found is None or found[1] <= now_ms:
            return None
        return found[0]
