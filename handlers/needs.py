"""Needs voting (需求投票): members submit and upvote needs; admins answer within a deadline; the bot
reports how fast the team answers and how many needs close the loop.

Everything one press or command does is one unit of work: the vote or status change, its history, its
points (ledger causes unique per need and member), the deadline jobs and the card edit commit together;
the card edit and notices go out after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process

from bot import actions as A
from bot.actions import Button, Keyboard, keyboard
from bot.clock import from_ms, to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed
from bot.feature import Feature, JobFunc
from bot.i18n import duration
from bot.markup import mention
from bot.parsing import REST, parse_int
from handlers.points import pay
from rules.normalize import compact
from storage.jobs import JobRecord
from storage.needs import FINAL, STATUSES, Need, NeedsRepo, NeedStats

if TYPE_CHECKING:
    from bot.app import App

PAGE = 10
DOUBLE_TAP_MS = 2_000  # a second press this soon after one's own vote is the same press
EXCERPT = 60
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# What admins may type for a status, in both languages.
STATUS_WORDS: dict[str, str] = {
    **{s: s for s in STATUSES},
    "待处理": "open",
    "reopen": "open",
    "受理": "accepted",
    "已受理": "accepted",
    "accept": "accepted",
    "排期": "planned",
    "已排期": "planned",
    "plan": "planned",
    "进行中": "progress",
    "in-progress": "progress",
    "doing": "progress",
    "完成": "done",
    "已完成": "done",
    "拒绝": "declined",
    "已拒绝": "declined",
    "decline": "declined",
    "重复": "duplicate",
    "dup": "duplicate",
}
VIEWS = {"top": "top", "new": "new", "open": "open", "mine": "mine", "done": "done", "热门": "top",
         "最新": "new", "待处理": "open", "我的": "mine", "已完成": "done"}  # fmt: skip
# The statuses the admins' menu offers (declining or marking a duplicate needs words: /need).
MENU_ROWS = (("accepted", "planned", "progress"), ("done", "open"))
MENU_STATUSES = frozenset(st for row in MENU_ROWS for st in row)
DATE = re.compile(r"^(?:([0-9]{4})-)?([0-9]{1,2})-([0-9]{1,2})$")


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


@lru_cache(maxsize=20_000)
def similarity_key(text: str) -> str:
    """What two needs are compared by: moderation's normalisation (width, case, traditional →
    simplified), letters and digits only for Chinese; words for other languages. Cached: each
    submission compares against every open need, and their texts do not change."""
    if CJK.search(text):
        return compact(text)
    return " ".join(w for w in map(compact, text.split()) if w)


def _scorer(text: str) -> Callable[..., float]:
    """Chinese compares characters (a ratio over the compacted strings); other text compares words
    (token sort ratio: word order does not matter, but every word does — a token *set* ratio scores
    "pin the group rules" and "translate the group rules" 92, tests/data/need_pairs.tsv)."""
    return fuzz.ratio if CJK.search(text) else fuzz.token_sort_ratio


def similarity(a: str, b: str) -> float:
    """0–100, by the scorer of the language `a` or `b` is in."""
    return _scorer(a + b)(a, b)


def most_similar(text: str, candidates: list[tuple[int, str]], threshold: int) -> tuple[int, float] | None:
    """The open need most like `text`, at or above `threshold`, by rapidfuzz's C loop over them all."""
    if not candidates:
        return None
    keys = [similarity_key(t) for _, t in candidates]
    best = process.extractOne(similarity_key(text), keys, scorer=_scorer(text), score_cutoff=threshold)
    if best is None:
        return None
    return candidates[best[2]][0], float(best[1])


def excerpt(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= EXCERPT else one[: EXCERPT - 1] + "…"


def _job_ids(group_id: int, need_id: int) -> tuple[str, str]:
    return f"needs:{group_id}:{need_id}:half", f"needs:{group_id}:{need_id}:due"


class NeedsFeature(Feature):
    name = "needs"
    settings_section = "needs"
    button_prefix = "needs"
    priority = 80

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("need", self.need_cmd, Args, aliases=("需求", "提需求"), feature=self.name),
            CommandSpec(
                "needs", self.needs_cmd, Args, aliases=("需求榜",), triggers=("需求投票",), feature=self.name
            ),
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"half": self.deadline_job, "due": self.deadline_job}

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name != "recall.missed" or not ctx.settings.needs.enabled:
            return
        # A recall nudge: what the group asked for while they were away, and news of their own needs.
        repo, user_id = NeedsRepo(ctx.app.db), data["user_id"]
        if user_id is not None:
            for need in await repo.changed_for(ctx.group.id, user_id, data["since_ms"], 2):
                status = self.status_name(ctx, need.status)
                data["lines"].append(
                    ctx.t("needs.missed_changed", id=need.id, text=excerpt(need.text), status=status)
                )
        found, total = await repo.new_since(ctx.group.id, data["since_ms"], 2)
        if found:
            top = ("；" if ctx.lang == "zh-CN" else "; ").join(
                f"#{n.id} {excerpt(n.text)} ({n.votes})" for n in found
            )
            data["lines"].append(ctx.t("needs.missed_new", count=total, top=top))

    # --- texts ---------------------------------------------------------------------------------------

    def status_name(self, ctx: Context, status: str) -> str:
        return ctx.t(f"needs.status.{status}")

    def age(self, ctx: Context, at_ms: int) -> str:
        return duration(ctx.lang, timedelta(milliseconds=max(0, ctx.now_ms() - at_ms)))

    async def card(self, ctx: Context, need: Need) -> tuple[str, Keyboard]:
        member = await ctx.app.members.get(ctx.group.id, need.user_id)
        who = mention(need.user_id, member.name if member else need.user_id)
        status = self.status_name(ctx, need.status)
        if need.status == "planned" and need.planned_for:
            status += f" · {need.planned_for}"
        if need.status == "duplicate" and need.duplicate_of:
            status += f" → #{need.duplicate_of}"
        lines = [
            ctx.t("needs.card_title", id=need.id, status=status),
            need.text,
            ctx.t("needs.card_meta", who=who, votes=need.votes, age=self.age(ctx, need.created_at)),
        ]
        if need.reply:
            lines.append(ctx.t("needs.card_reply", reply=need.reply))
        if need.status in FINAL:
            return "\n".join(lines), ()
        buttons = keyboard(
            [
                Button(ctx.t("needs.vote_button", votes=need.votes), f"needs:v:{need.id}"),
                Button(ctx.t("needs.respond_button"), f"needs:r:{need.id}"),
            ]
        )
        return "\n".join(lines), buttons

    def line(self, ctx: Context, need: Need) -> str:
        return ctx.t(
            "needs.line",
            id=need.id,
            votes=need.votes,
            status=self.status_name(ctx, need.status),
            age=self.age(ctx, need.created_at),
            text=excerpt(need.text),
        )

    # --- /need ---------------------------------------------------------------------------------------

    async def need_cmd(self, ctx: Context, args: Args) -> None:
        assert ctx.event is not None
        if not ctx.settings.needs.enabled:
            await ctx.reply(ctx.t("needs.disabled"), ephemeral=True)
            return
        rest = args.rest.strip()
        head, _, tail = rest.partition(" ")
        need_id = parse_int(head.removeprefix("#"), 1) if head else None
        if need_id is not None and (not tail or tail.split()[0].lower() in STATUS_WORDS):
            if not tail:
                await self.show(ctx, need_id)
            else:
                await self.respond_cmd(ctx, need_id, tail.strip())
            return
        event, replied = ctx.event, ctx.replied()
        if not rest and replied is not None and replied.text:
            # Replying /need to a message files its text as the sender's own need: who asked is who
            # sent the command (their quota, their name on the card), never the replied message's author.
            await self.submit(ctx, replied.text, event.user.user_id, event.user.name)
            return
        if not rest:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.need.usage")), ephemeral=True)
            return
        await self.submit(ctx, rest, event.user.user_id, event.user.name)

    async def show(self, ctx: Context, need_id: int) -> None:
        need = await NeedsRepo(ctx.app.db).get(ctx.group.id, need_id)
        if need is None:
            await ctx.reply(ctx.t("needs.not_found", id=need_id), ephemeral=True)
            return
        text, buttons = await self.card(ctx, need)
        await ctx.reply(text, buttons)

    async def submit(
        self, ctx: Context, text: str, user_id: str, name: str, *, checked: bool = False
    ) -> bool:
        """Submit, or offer the similar need first; False when refused (the refusal already told, to
        the submitter alone: "submit anyway" is a press, whose reply would be a group message)."""
        s, repo = ctx.settings.needs, NeedsRepo(ctx.app.db)
        text = text.strip()
        if len(text) < s.min_length or len(text) > s.max_length:
            await self.refuse(ctx, ctx.t("needs.length", min=s.min_length, max=s.max_length))
            return False
        if await repo.submitted_on(ctx.group.id, user_id, ctx.today()) >= s.per_day:
            await self.refuse(ctx, ctx.t("needs.per_day", limit=s.per_day))
            return False
        refused = await self.screen(ctx, text)
        if refused:
            await self.refuse(ctx, ctx.t("needs.refused", reason=refused))
            return False
        if not checked:
            like = most_similar(text, await repo.open_texts(ctx.group.id), s.similar)
            if like is not None:
                await self.suggest(ctx, like[0], text, user_id)
                return True
        await self.create(ctx, text, user_id, name)
        return True

    async def screen(self, ctx: Context, text: str) -> str | None:
        """The reason moderation refuses this text on a card, if it does (`Context.screen`: typed and
        native commands were judged already; this catches a replied message's text and a "submit
        anyway" press), judged as written by the event's author."""
        return await ctx.screen(text)

    async def suggest(self, ctx: Context, like_id: int, text: str, user_id: str) -> None:
        assert ctx.event is not None
        like = await NeedsRepo(ctx.app.db).get(ctx.group.id, like_id)
        assert like is not None
        # The text rides in the payload in full: the adapter stores it when it is longer than its
        # platform allows (shortened here too, the press would resolve to a reference, not to this).
        buttons = keyboard(
            [
                Button(ctx.t("needs.vote_for", id=like_id), f"needs:d:{like_id}:{user_id}"),
                Button(ctx.t("needs.submit_anyway"), f"needs:n:{user_id}:{text}"),
            ]
        )
        await ctx.reply(
            ctx.t("needs.similar", id=like_id, text=excerpt(like.text), votes=like.votes), buttons
        )

    async def create(self, ctx: Context, text: str, user_id: str, name: str) -> None:
        assert ctx.event is not None
        s, repo, gid = ctx.settings.needs, NeedsRepo(ctx.app.db), ctx.group.id
        need = await repo.submit(
            gid, user_id, text, at_ms=ctx.now_ms(), day=ctx.today(), source_key=f"need:{ctx.event.event_key}"
        )
        if need is None:
            return  # a redelivery of a submission already made
        if s.self_vote:
            await repo.vote(gid, need.id, user_id, ctx.now_ms(), 0)
            need = await repo.get(gid, need.id) or need
        if s.submit_points:
            await pay(
                ctx,
                user_id,
                s.submit_points,
                reason="need",
                source_key=f"need-submit:{gid}:{user_id}:{ctx.today()}",
            )
        due = from_ms(need.created_at) + timedelta(hours=s.response_hours)
        half = from_ms(need.created_at) + timedelta(hours=s.response_hours / 2)
        for job_id, at, kind in zip(_job_ids(gid, need.id), (half, due), ("half", "due"), strict=True):
            await ctx.app.scheduler.add(
                JobRecord(
                    job_id, f"{self.name}.{kind}", "date", {"run_at": at.isoformat()}, gid, {"need": need.id}
                )
            )
        text_, buttons = await self.card(ctx, need)
        channel = await repo.channel(gid)
        remember = f"{self.name}:{gid}:{need.id}"
        if channel:
            await ctx.act(
                A.Send(chat=ctx.chat, text=text_, buttons=buttons, channel=channel), remember=remember
            )
            await ctx.reply(ctx.t("needs.posted_in_channel", id=need.id), ephemeral=True)
        else:
            await ctx.send(text_, buttons, remember=remember)

    async def on_sent(self, app: App, payload: str, result: A.ActionResult) -> None:
        head, _, rest = payload.partition(":")
        if head == "dm":  # a status notice's DM: a refusal is remembered, so the next one goes to the group
            platform, _, user_id = rest.partition(":")
            await app.dms.learn(platform, user_id, result, to_ms(app.clock.now()))
            return
        if result.ok and result.message_id:
            await NeedsRepo(app.db).set_card(int(head), int(rest), result.message_id)

    # --- buttons -------------------------------------------------------------------------------------

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        if kind == "v" and (need_id := parse_int(rest, 1)) is not None:
            await self.vote(ctx, event, need_id)
        elif kind == "d":  # "vote for #n instead" on a duplicate suggestion: the submitter's alone
            ref, _, owner = rest.partition(":")
            need_id = parse_int(ref, 1)
            if owner != event.user.user_id or need_id is None:
                await ctx.answer_button(ctx.t("needs.not_yours"), alert=True)
                return
            await self.vote(ctx, event, need_id, edit_pressed=False)
        elif kind == "n":
            owner, _, text = rest.partition(":")
            if owner != event.user.user_id:
                await ctx.answer_button(ctx.t("needs.not_yours"), alert=True)
                return
            if await self.submit(ctx, text, owner, event.user.name, checked=True):
                await ctx.answer_button()
        elif kind == "b":  # "the needs board" under a campaign post: the top open needs, to the presser
            found, _total = await NeedsRepo(ctx.app.db).browse(ctx.group.id, "top", event.user.user_id, 3, 0)
            lines = [f"#{n.id} {excerpt(n.text)} ({n.votes})" for n in found] or [ctx.t("needs.list_empty")]
            await ctx.answer_button("\n".join(lines)[:190] + "\n/needs", alert=True)
        elif kind in ("r", "s", "c"):
            await self.menu_press(ctx, event, kind, rest)
        else:
            await ctx.answer_button(ctx.t("common.button_expired"))

    async def vote(
        self, ctx: Context, event: ButtonPressed, need_id: int, *, edit_pressed: bool = True
    ) -> None:
        s, repo, gid, user_id = ctx.settings.needs, NeedsRepo(ctx.app.db), ctx.group.id, event.user.user_id
        member = await ctx.app.members.get(gid, user_id)
        since = None if member is None else (member.joined_ms or member.first_seen_ms)
        if since is None or ctx.now_ms() - since < s.min_member_hours * 3_600_000:
            await ctx.answer_button(ctx.t("needs.too_new", hours=s.min_member_hours), alert=True)
            return
        voted = await repo.vote(gid, need_id, user_id, ctx.now_ms(), DOUBLE_TAP_MS)
        if voted is None:
            await ctx.answer_button(ctx.t("needs.closed_or_gone"), alert=True)
            return
        if not voted.changed:  # a double tap: the card already shows this; no edit in the group's budget
            await ctx.answer_button(ctx.t("needs.voted", id=need_id, votes=voted.votes))
            return
        need = await repo.get(gid, need_id)
        assert need is not None
        if voted.counted:  # a newcomer's onboarding task, among others
            await ctx.app.emit(ctx, "needs.upvoted", user_id=user_id, need=need_id)
        if (
            voted.counted
            and s.vote_points
            and user_id != need.user_id
            and need.vote_points_paid < s.vote_points_cap
        ):
            # once per voter (a vote withdrawn and cast again pays nothing more), up to the cap per need
            paid = await pay(
                ctx,
                need.user_id,
                s.vote_points,
                reason="need-vote",
                source_key=f"need-vote:{need_id}:{user_id}",
            )
            if paid.paid:
                await repo.pay_vote_points(need_id, s.vote_points_cap)
        await ctx.answer_button(
            ctx.t("needs.voted" if voted.counted else "needs.unvoted", id=need_id, votes=voted.votes)
        )
        await self.refresh(ctx, need, event.message_id if edit_pressed else None)

    async def refresh(self, ctx: Context, need: Need, pressed: str | None = None) -> None:
        """Edit the card (and the message pressed, if another copy of it): no new message per vote."""
        text, buttons = await self.card(ctx, need)
        for message_id in dict.fromkeys(m for m in (need.card_message_id, pressed) if m):
            await ctx.edit(message_id, text, buttons)

    async def menu_press(self, ctx: Context, event: ButtonPressed, kind: str, rest: str) -> None:
        """The admins' status menu: "r" opens it, "s:<status>" chooses, "c" goes back to the card. It is
        the pressing admin's alone: where the platform answers a press privately (Discord), it is that
        answer; elsewhere (Telegram, where a reply is a group message every member reads) the pressed
        card shows it in place and is a card again once a status is chosen or Back is pressed. Anyone
        else pressing any of these gets a private alert, never a group message."""
        ref, _, status = rest.partition(":")
        need_id = parse_int(ref, 1)
        if not ctx.is_admin:
            await ctx.answer_button(ctx.t("needs.admins_only"), alert=True)
            return
        need = None if need_id is None else await NeedsRepo(ctx.app.db).get(ctx.group.id, need_id)
        if need is None or (kind == "s" and status not in MENU_STATUSES):
            await ctx.answer_button(ctx.t("common.button_expired"), alert=True)
            return
        private = ctx.app.outbox.private_answers(ctx.chat.platform)
        in_place = None if private else event.message_id or None  # the card showing the menu
        if kind == "c":
            await ctx.answer_button()
            await self.refresh(ctx, need, in_place)
        elif kind == "s":
            changed = await self.respond(ctx, need.id, status, pressed=in_place)
            if changed is not None:
                done = ctx.t("needs.changed", id=changed.id, status=self.status_name(ctx, changed.status))
                if private:  # the private menu becomes the confirmation: used, it offers nothing more
                    await ctx.edit(event.message_id, done)
                else:
                    await ctx.answer_button(done)
        elif need.status in FINAL:  # closed since the card was posted: nothing to choose
            await ctx.answer_button(ctx.t("needs.closed_or_gone"), alert=True)
            await self.refresh(ctx, need, in_place)
        else:
            rows = [
                [Button(self.status_name(ctx, st), f"needs:s:{need.id}:{st}") for st in group]
                for group in MENU_ROWS
            ]
            menu = ctx.t("needs.respond_menu", id=need.id)
            if in_place is None:
                await ctx.answer_button(menu, buttons=keyboard(*rows))
                return
            await ctx.answer_button()
            card, _ = await self.card(ctx, need)
            back = [Button(ctx.t("needs.back_button"), f"needs:c:{need.id}")]
            await ctx.edit(in_place, f"{card}\n\n{menu}", keyboard(*rows, back))

    # --- responding ----------------------------------------------------------------------------------

    async def respond_cmd(self, ctx: Context, need_id: int, rest: str) -> None:
        if not ctx.is_admin:
            await ctx.reply(ctx.t("common.admin_only", name="need"), ephemeral=True)
            return
        word, _, reply = rest.partition(" ")
        status = STATUS_WORDS[word.lower()]
        reply = reply.strip()
        planned_for = duplicate_of = None
        if status == "planned" and reply:
            first, _, after = reply.partition(" ")
            if m := DATE.match(first):
                year = int(m.group(1) or date.fromisoformat(ctx.today()).year)
                try:
                    planned_for = date(year, int(m.group(2)), int(m.group(3))).isoformat()
                except ValueError:
                    await ctx.reply(ctx.t("needs.bad_date", date=first), ephemeral=True)
                    return
                reply = after.strip()
        if status == "declined" and not reply:
            await ctx.reply(ctx.t("needs.reason_required"), ephemeral=True)
            return
        if status == "duplicate":
            first, _, after = reply.partition(" ")
            duplicate_of = parse_int(first.removeprefix("#"), 1)
            target = (
                None if duplicate_of is None else await NeedsRepo(ctx.app.db).get(ctx.group.id, duplicate_of)
            )
            if target is None or duplicate_of == need_id or target.status in FINAL:
                await ctx.reply(ctx.t("needs.duplicate_usage"), ephemeral=True)
                return
            reply = after.strip()
        await self.respond(ctx, need_id, status, reply or None, planned_for, duplicate_of)

    async def refuse(self, ctx: Context, text: str) -> None:
        """A refusal only the actor sees: an alert for a press (a reply to one would be a group message
        on Telegram), an ephemeral reply to a command."""
        if isinstance(ctx.event, ButtonPressed):
            await ctx.answer_button(text, alert=True)
        else:
            await ctx.reply(text, ephemeral=True)

    async def respond(
        self,
        ctx: Context,
        need_id: int,
        status: str,
        reply: str | None = None,
        planned_for: str | None = None,
        duplicate_of: int | None = None,
        *,
        pressed: str | None = None,
    ) -> Need | None:
        """Change a need's status; `pressed` is another message showing it (the card the menu was
        shown in) to become the card again. The need as it is now, or None when refused."""
        assert ctx.event is not None
        if not ctx.is_admin:
            await self.refuse(ctx, ctx.t("common.admin_only", name="need"))
            return None
        if status in ("declined", "duplicate") and (not reply and duplicate_of is None):
            await self.refuse(ctx, ctx.t("needs.reason_required"))
            return None
        s, repo, gid = ctx.settings.needs, NeedsRepo(ctx.app.db), ctx.group.id
        need = await repo.change(
            gid,
            need_id,
            status,
            actor=ctx.event.user.user_id,
            at_ms=ctx.now_ms(),
            reply=reply,
            planned_for=planned_for,
            duplicate_of=duplicate_of,
        )
        if need is None:
            await self.refuse(ctx, ctx.t("needs.not_found", id=need_id))
            return None
        for job_id in _job_ids(gid, need_id):  # answered: no reminder, no overdue alert
            await ctx.app.scheduler.remove(job_id)
        if status == "accepted" and s.accepted_points:
            await pay(
                ctx,
                need.user_id,
                s.accepted_points,
                reason="need-accepted",
                source_key=f"need-accepted:{need_id}",
            )
        await self.refresh(ctx, need, pressed)
        if duplicate_of is not None:
            target = await repo.get(gid, duplicate_of)
            if target is not None:
                await self.refresh(ctx, target)
        await self.tell(ctx, need)
        return need

    async def tell(self, ctx: Context, need: Need) -> None:
        """The submitter and every voter hear of the change: by DM where the platform lets the bot try
        one (`DmRegistry.may_dm`: on Telegram after /start, on Discord unless refused before), else
        together in one group message (the submitter mentioned, the others counted). A DM the platform
        refuses is remembered; the submitter's then becomes a group message naming them (a voter's
        needs none: the group message below says what changed)."""
        voters = await NeedsRepo(ctx.app.db).voters(need.id)
        people = list(dict.fromkeys([need.user_id, *voters]))
        platform = ctx.group.platform
        reachable = await ctx.app.dms.may_dm(ctx.app.outbox, platform, people)
        status = self.status_name(ctx, need.status)
        detail = ctx.t("needs.card_reply", reply=need.reply) if need.reply else ""
        dm_text = ctx.t(
            "needs.told_dm", id=need.id, text=excerpt(need.text), status=status, group=ctx.group.title
        )
        member = await ctx.app.members.get(ctx.group.id, need.user_id)
        who = mention(need.user_id, member.name if member else need.user_id)
        told_submitter = ctx.t("needs.told_submitter", id=need.id, status=status, who=who)
        in_group = [u for u in people if u not in reachable]
        for user_id in people:
            if user_id not in reachable:
                continue
            fallback = None
            if user_id == need.user_id:
                fallback = A.Send(
                    chat=ctx.chat,
                    text="\n".join(x for x in (told_submitter, detail) if x),
                    channel=ctx.event.channel if ctx.event else None,
                )
            await ctx.act(
                A.DirectMessage(
                    chat=ctx.chat,
                    user_id=user_id,
                    text="\n".join(x for x in (dm_text, detail) if x),
                    fallback=fallback,
                ),
                remember=f"{self.name}:dm:{platform}:{user_id}",
            )
        parts = [ctx.t("needs.changed", id=need.id, status=status)]
        if need.user_id in in_group:  # the submitter cannot be written to: mentioned here
            parts = [told_submitter]
        if others := len(in_group) - int(need.user_id in in_group):
            parts.append(ctx.t("needs.told_voters", others=others))
        head = " ".join(parts)
        await ctx.reply("\n".join(x for x in (head, detail) if x))

    # --- the deadline --------------------------------------------------------------------------------

    async def deadline_job(self, app: App, ctx: Context | None, job: JobRecord) -> None:
        if ctx is None:
            return
        need = await NeedsRepo(app.db).get(ctx.group.id, int(job.payload["need"]))
        if need is None or need.first_response_at is not None or need.status != "open":
            return
        hours = ctx.settings.needs.response_hours
        overdue = job.kind.endswith(".due")
        key = "needs.overdue" if overdue else "needs.half_time"
        text = ctx.t(key, id=need.id, text=excerpt(need.text), votes=need.votes, hours=hours)
        buttons = keyboard([Button(ctx.t("needs.respond_button"), f"needs:r:{need.id}")])
        await app.emit(ctx, "admins.notice", text=text, buttons=buttons)

    # --- /needs --------------------------------------------------------------------------------------

    async def needs_cmd(self, ctx: Context, args: Args) -> None:
        assert ctx.event is not None
        words = args.rest.split()
        head = words[0].lower() if words else "top"
        if head == "stats":
            await self.stats(ctx, words[1].lower() if len(words) > 1 else "30d")
            return
        if head == "channel":
            await self.channel(ctx, words[1].lower() if len(words) > 1 else "")
            return
        page = 1
        if (number := parse_int(head, 1)) is not None:
            view, page = "top", number
        else:
            view = VIEWS.get(head, "")
            if len(words) > 1:
                page = parse_int(words[1], 1) or 0
        if not view or not 1 <= page <= 1000:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.needs.usage")), ephemeral=True)
            return
        found, total = await NeedsRepo(ctx.app.db).browse(
            ctx.group.id,
            view,
            ctx.event.user.user_id,
            PAGE,
            (page - 1) * PAGE,  # type: ignore[arg-type]
        )
        title = ctx.t("needs.list_title", view=ctx.t(f"needs.view.{view}"))
        if not found:
            await ctx.reply(title + "\n" + ctx.t("needs.list_empty"))
            return
        pages = -(-total // PAGE)
        lines = [title, *(self.line(ctx, n) for n in found)]
        if pages > 1:
            lines.append(ctx.t("needs.list_page", page=page, pages=pages, view=view, next=page % pages + 1))
        await ctx.reply("\n".join(lines))

    async def channel(self, ctx: Context, choice: str) -> None:
        assert ctx.event is not None
        if not ctx.is_admin:
            await ctx.reply(ctx.t("common.admin_only", name="needs channel"), ephemeral=True)
            return
        repo = NeedsRepo(ctx.app.db)
        if choice == "here":
            if not ctx.event.channel:
                await ctx.reply(ctx.t("needs.channel_not_here"), ephemeral=True)
                return
            await repo.set_channel(ctx.group.id, ctx.event.channel)
            await ctx.reply(ctx.t("needs.channel_set"))
        elif choice == "off":
            await repo.set_channel(ctx.group.id, None)
            await ctx.reply(ctx.t("needs.channel_off"))
        else:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.needs.usage")), ephemeral=True)

    async def stats(self, ctx: Context, window: str) -> None:
        days = {"7d": 7, "30d": 30, "all": None}
        if window not in days:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.needs.usage")), ephemeral=True)
            return
        span = days[window]
        since = 0 if span is None else to_ms(ctx.now() - timedelta(days=span))
        hours = ctx.settings.needs.response_hours
        st = await NeedsRepo(ctx.app.db).stats(ctx.group.id, since, ctx.now_ms(), hours * 3_600_000)
        await ctx.reply(self.stats_text(ctx, st, window, hours))

    def stats_text(self, ctx: Context, st: NeedStats, window: str, hours: int) -> str:
        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x * 100:.0f}%"

        def wait(ms: int | None) -> str:
            return "—" if ms is None else duration(ctx.lang, timedelta(milliseconds=ms))

        lines = [
            ctx.t("needs.stats_title", window=ctx.t(f"needs.window.{window}")),
            ctx.t("needs.stats_counts", submitted=st.submitted, responded=st.responded),
            ctx.t("needs.stats_times", median=wait(st.median_response_ms), p90=wait(st.p90_response_ms)),
            ctx.t("needs.stats_rates", hours=hours, within=pct(st.within_deadline), closed=pct(st.closed)),
            ctx.t("needs.stats_loop", rate=pct(st.closed_loop)),
            ctx.t("needs.stats_now", open=st.open_now, overdue=st.overdue_now),
        ]
        if st.top_open:
            lines.append(ctx.t("needs.stats_top"))
            lines += [self.line(ctx, n) for n in st.top_open]
        return "\n".join(lines)
