"""/filter: an admin's word list, from the chat. add · remove · list · test · import · export · except ·
shadow · allow · pinyin.

`/filter add 加微信 mute 2h` · `/filter add regex:v\\s*x\\d+` · `/filter add fuzzy:casino ban` ·
`/filter import` followed by lines (a term a line, `term,category`, or CSV: term,kind,action,category) ·
`/filter allow 方法论` · `/filter pinyin 办证 shadow`.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.actions import Button, keyboard
from bot.context import Context
from bot.i18n import duration
from bot.parsing import parse_duration, parse_int, tokenize
from rules import segment
from rules.engine import ACTIONS, KINDS, PINYIN_MODES, BadRule, Rule, validate
from rules.lists import (
    LINT_FREQ,
    LineError,
    Lint,
    Parsed,
    export_csv,
    export_text,
    lint,
    parse_import,
    shipped_allow,
)
from rules.normalize import compact
from storage.counters import Counters
from storage.moderation import ModerationRepo

if TYPE_CHECKING:
    from handlers.moderation import ModerationFeature

PAGE = 30
MAX_RULES = 100_000  # per group: a 64,000-term lexicon fits with room (≈9 MB of matcher per 10,000 terms)
LINT_SHOWN = 12
HELD_MAX = 2000  # risky terms kept behind an "add them anyway" button at most
EXPORT_CHUNK = 3500  # characters a list may have to be shown as a message; longer ones go as a file
ERRORS_SHOWN = 10
MAX_FILE = 5_000_000  # bytes of an uploaded word list: the 64,000-term lexicon is 0.9 MB
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$")


def clean_domain(value: str) -> str | None:
    host = value.strip().lower().split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
    return host if _DOMAIN.match(host) else None


def _label(rule: Rule) -> str:
    return rule.pattern if rule.kind == "literal" else f"{rule.kind}:{rule.pattern}"


def _describe(ctx: Context, rule: Rule) -> str:
    action = ctx.t(f"mod.action.{rule.action}")
    if rule.action == "mute" and rule.mute_seconds:
        action += " " + duration(ctx.lang, timedelta(seconds=rule.mute_seconds))
    extras = []
    if rule.category:
        extras.append(f"#{rule.category}")
    if rule.exceptions:
        extras.append(ctx.t("filter.except_list", terms="、".join(rule.exceptions)))
    if rule.shadow:
        extras.append("👁 " + ctx.t("mod.log.shadow"))
    if rule.pinyin:
        extras.append(ctx.t("filter.pinyin_tag", mode=ctx.t(f"filter.pinyin_mode.{rule.pinyin}")))
    return f"#{rule.id} {_label(rule)} → {action}" + (" · " + " · ".join(extras) if extras else "")


def bad_rule_text(ctx: Context, code: str, params: dict[str, object]) -> str:
    """An engine or parser refusal in the admin's language."""
    if code == "regex":
        detail = str(params.get("detail", ""))
        known = ctx.t(f"filter.err.regex_kind.{detail.split(' (')[0].replace(' ', '_')}")
        reason = known if not known.startswith("filter.err.") else detail
        position = params.get("position")
        return ctx.t("filter.err.regex", reason=reason, position=(position or 0) + 1)
    return ctx.t(f"filter.err.{code}", **params)


def _term_and_kind(raw: str) -> tuple[str, str]:
    head, sep, tail = raw.partition(":")
    if sep and head.lower() in KINDS and tail:
        return head.lower(), tail
    return "literal", raw


async def run(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    tokens = tokenize(rest.split("\n", 1)[0])
    sub = tokens[0].text.lower() if tokens else ""
    after = rest[tokens[0].end :] if tokens else ""
    handlers = {
        "add": _add,
        "remove": _remove,
        "rm": _remove,
        "del": _remove,
        "list": _list,
        "test": _test,
        "import": _import,
        "export": _export,
        "except": _except,
        "shadow": _shadow,
        "allow": _allow,
        "pinyin": _pinyin,
    }
    handler = handlers.get(sub)
    if handler is None:
        await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.filter.usage")), ephemeral=True)
        return
    await handler(feature, ctx, after)


async def _add(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    if "\n" in rest.strip():  # several lines pasted after /filter add: an import
        await _import(feature, ctx, rest)
        return
    tokens = tokenize(rest)
    usage = ctx.t("common.usage", usage=ctx.t("cmd.filter.usage"))
    if not tokens:
        await ctx.reply(usage, ephemeral=True)
        return
    kind, term = _term_and_kind(tokens[0].text)
    action, mute_seconds, shadow, category, pinyin = "warn", 0, False, "", ""
    for tok in tokens[1:]:
        word = tok.text.strip()
        low = word.lower()
        if low in ACTIONS:
            action = low
        elif low in ("shadow", "影子", "试运行"):
            shadow = True
        elif low in ("pinyin", "拼音", "谐音"):
            pinyin = "shadow"  # by sound, logged only until an admin says /filter pinyin <term> on
        elif word.startswith("#") and len(word) > 1:
            category = word[1:41]
        else:
            try:
                mute_seconds = int(parse_duration(word).total_seconds())
            except ValueError:
                await ctx.reply(ctx.t("filter.bad_option", option=word[:40]) + "\n" + usage, ephemeral=True)
                return
    if mute_seconds and action != "mute":
        action = "mute"
    try:
        pattern = validate(kind, term)
    except BadRule as exc:
        reason = bad_rule_text(ctx, exc.code, exc.params)
        await ctx.reply(ctx.t("filter.bad_term", term=term[:60], reason=reason), ephemeral=True)
        return
    repo = ModerationRepo(ctx.app.db)
    if await repo.rule_count(ctx.group.id) >= MAX_RULES:
        await ctx.reply(ctx.t("filter.too_many", max=MAX_RULES, dropped=1), ephemeral=True)
        return
    rule = Rule(0, kind, pattern, action, category, mute_seconds, (), shadow, pinyin)  # type: ignore[arg-type]
    assert ctx.event is not None
    added = await repo.add_rules(ctx.group.id, [rule], ctx.event.user.user_id, ctx.now_ms())
    await feature.reload(ctx)
    stored = await repo.find_rule(ctx.group.id, pattern)
    if not added or stored is None:
        await ctx.reply(ctx.t("filter.exists", term=pattern[:60]))
        return
    text = ctx.t("filter.added", rule=_describe(ctx, stored))
    if (
        await feature.log_target(ctx) is None
        and await Counters(ctx.app.db).reserve(f"hint.modlog.{ctx.group.id}", 1) == 1
    ):
        text += "\n" + ctx.t("mod.log.hint_set")  # once per group: a tip repeated is noise
    await ctx.reply(text)


async def _find(ctx: Context, ref: str) -> Rule | None:
    """By `#id` or pattern; a `regex:`/`fuzzy:` prefix is dropped, as patterns are stored without it."""
    return await ModerationRepo(ctx.app.db).find_rule(ctx.group.id, _term_and_kind(ref.strip())[1])


async def _remove(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    tokens = tokenize(rest)
    if not tokens:
        await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.filter.usage")), ephemeral=True)
        return
    removed, missing = [], []
    repo = ModerationRepo(ctx.app.db)
    for tok in tokens:
        rule = await _find(ctx, tok.text)
        if rule is None:
            missing.append(tok.text[:40])
            continue
        await repo.remove_rule(ctx.group.id, rule.id)
        removed.append(_label(rule))
    await feature.reload(ctx)
    lines = []
    if removed:
        lines.append(ctx.t("filter.removed", terms="、".join(removed)))
    if missing:
        lines.append(ctx.t("filter.not_found", terms="、".join(missing)))
    await ctx.reply("\n".join(lines))


async def _list(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    tokens = tokenize(rest)
    page = (parse_int(tokens[0].text, 1, 100_000) if tokens else None) or 1
    rules = (await feature.group_rules(ctx)).rules.rules
    if not rules:
        await ctx.reply(ctx.t("filter.empty"))
        return
    pages = (len(rules) + PAGE - 1) // PAGE
    page = max(1, min(page, pages))
    shown = rules[(page - 1) * PAGE : page * PAGE]
    lines = [ctx.t("filter.list_title", count=len(rules), page=page, pages=pages)]
    lines += [_describe(ctx, r) for r in shown]
    if ctx.settings.moderation.shadow:
        lines.append("👁 " + ctx.t("filter.list_shadow"))
    if page < pages:
        lines.append(ctx.t("filter.list_more", next=page + 1))
    await ctx.reply("\n".join(lines))


async def _test(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    text = rest.strip()
    if not text:
        await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.filter.usage")), ephemeral=True)
        return
    assert ctx.event is not None
    findings = await feature.inspect(ctx, ctx.event.user.user_id, text, edited=True, track=False)
    lines = [ctx.t("filter.test_normalized", text=compact(text)[:200] or "—")]
    if not findings:
        lines.append(ctx.t("filter.test_clean"))
        await ctx.reply("\n".join(lines))
        return
    for f in findings:
        tag = "👁 " if f.shadow else ""
        lines.append(
            ctx.t(
                "filter.test_hit",
                reason=f.reason,
                excerpt=f.excerpt[:80],
                action=tag + ctx.t(f"mod.action.{f.action}"),
            )
        )
    live = [f for f in findings if not f.shadow and f.action != "off"]
    if live:
        decision = feature.decide(live)
        lines.append(ctx.t("filter.test_outcome", action=ctx.t(f"mod.action.{decision.action}")))
    else:
        lines.append(ctx.t("filter.test_shadow_only"))
    await ctx.reply("\n".join(lines))


async def _import(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    first, _, body = rest.partition("\n")
    options = {w.lower() for w in first.split()}
    default_action = next((a for a in ACTIONS if a in options), "warn")
    force = bool(options & {"force", "强制"})
    if not body.strip() and first.strip() and not options <= {*ACTIONS, "force", "强制"}:
        body = first  # "/filter import a" on one line
    if not body.strip() and ctx.attachments():
        text = await ctx.read_text_attachment(("txt", "csv"), MAX_FILE)
        if text is None:
            return
        body = text
    if not body.strip():
        await ctx.reply(ctx.t("filter.import_how"), ephemeral=True)
        return
    parsed, errors = parse_import(body, default_action)
    found = [] if force else await asyncio.to_thread(_lint, parsed)
    risky = {f.term for f in found}
    held = [p for p in parsed if p.pattern in risky]
    await import_rows(feature, ctx, [p for p in parsed if p.pattern not in risky], errors, held, found)


def _lint(parsed: list[Parsed]) -> list[Lint]:
    """The terms to ask about before they go live (in a worker thread: jieba's dictionary, a scan)."""
    return lint(parsed, segment.common_words(LINT_FREQ))


async def import_rows(
    feature: ModerationFeature,
    ctx: Context,
    parsed: list[Parsed],
    errors: list[LineError],
    held: list[Parsed] | None = None,
    found: list[Lint] | None = None,
) -> None:
    """Store parsed rows (what a paste, a file or the "add them anyway" button brings) and say what
    happened: added, already there, refused by line, dropped past the cap, held back for a look."""
    repo = ModerationRepo(ctx.app.db)
    room = max(0, MAX_RULES - await repo.rule_count(ctx.group.id))
    rules = [Rule(0, p.kind, p.pattern, p.action, p.category) for p in parsed[:room]]  # type: ignore[arg-type]
    assert ctx.event is not None
    added = await repo.add_rules(ctx.group.id, rules, ctx.event.user.user_id, ctx.now_ms())
    await feature.reload(ctx)
    lines = [ctx.t("filter.imported", added=added, skipped=len(rules) - added, errors=len(errors))]
    for e in errors[:ERRORS_SHOWN]:
        lines.append(
            ctx.t(
                "filter.import_error", line=e.line, text=e.text, reason=bad_rule_text(ctx, e.code, e.params)
            )
        )
    if len(errors) > ERRORS_SHOWN:
        lines.append(ctx.t("filter.import_more_errors", count=len(errors) - ERRORS_SHOWN))
    if len(parsed) > room:
        lines.append(ctx.t("filter.too_many", max=MAX_RULES, dropped=len(parsed) - room))
    buttons: tuple = ()
    if held:
        found = found or []
        lines.append(ctx.t("filter.lint_title", count=len(held)))
        for f in found[:LINT_SHOWN]:
            lines.append("• " + ctx.t(f"filter.lint.{f.code}", term=f.term[:40], detail=f.detail[:40]))
        if len(found) > LINT_SHOWN:
            lines.append(ctx.t("filter.import_more_errors", count=len(found) - LINT_SHOWN))
        payload = json.dumps(
            [[p.kind, p.pattern, p.action, p.category] for p in held[:HELD_MAX]], ensure_ascii=False
        )
        buttons = keyboard(
            [Button(ctx.t("filter.lint_add", count=min(len(held), HELD_MAX)), f"mod:addall:{payload}")]
        )
        lines.append(ctx.t("filter.lint_hint"))
    await ctx.reply("\n".join(lines), buttons)


async def add_held(feature: ModerationFeature, ctx: Context, payload: str) -> str:
    """The "add them anyway" button of an import: the held-back terms, as they were parsed."""
    try:
        rows = [Parsed(str(k), str(p), str(a), str(c)) for k, p, a, c in json.loads(payload)]
    except (ValueError, TypeError):
        return ctx.t("common.button_expired")
    valid = []
    for row in rows:
        try:
            valid.append(replace(row, pattern=validate(row.kind, row.pattern)))
        except BadRule:
            continue
    repo = ModerationRepo(ctx.app.db)
    room = max(0, MAX_RULES - await repo.rule_count(ctx.group.id))
    rules = [
        Rule(0, p.kind, p.pattern, p.action if p.action in ACTIONS else "warn", p.category)
        for p in valid[:room]
    ]  # type: ignore[arg-type]
    assert ctx.event is not None
    added = await repo.add_rules(ctx.group.id, rules, ctx.event.user.user_id, ctx.now_ms())
    await feature.reload(ctx)
    return ctx.t("filter.lint_added", added=added)


async def _export(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    rules = (await feature.group_rules(ctx)).rules.rules
    if not rules:
        await ctx.reply(ctx.t("filter.empty"))
        return
    options = {w.lower() for w in rest.split()}
    as_csv = "csv" in options or any(r.kind != "literal" or r.action != "warn" for r in rules)
    body = export_csv(rules) if as_csv else export_text(rules)
    if len(body) > EXPORT_CHUNK or options & {"file", "文件"}:
        # a long list is one file, not a wall of messages; /filter import reads it back as it is
        suffix = ".csv" if as_csv else ".txt"
        path = ctx.app.files.new_path(f"filter-{ctx.group.id}", suffix)
        await asyncio.to_thread(path.write_bytes, body.encode("utf-8-sig"))
        await ctx.send_file(
            str(path), f"qunbot-filter-{ctx.today()}{suffix}", ctx.t("filter.export_file", count=len(rules))
        )
        return
    await ctx.reply(body.rstrip("\n"))


async def _except(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    tokens = tokenize(rest)
    if len(tokens) < 2:
        await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.filter.usage")), ephemeral=True)
        return
    rule = await _find(ctx, tokens[0].text)
    if rule is None or rule.kind != "literal":
        await ctx.reply(ctx.t("filter.not_found", terms=tokens[0].text[:40]), ephemeral=True)
        return
    exceptions = [t.text.strip()[:40] for t in tokens[1:] if t.text.strip()]
    if not all(compact(rule.pattern) in compact(e) for e in exceptions):
        await ctx.reply(ctx.t("filter.bad_exception", term=rule.pattern), ephemeral=True)
        return
    updated = replace(rule, exceptions=tuple(dict.fromkeys((*rule.exceptions, *exceptions)))[:20])
    await ModerationRepo(ctx.app.db).update_rule(ctx.group.id, updated)
    await feature.reload(ctx)
    await ctx.reply(ctx.t("filter.updated", rule=_describe(ctx, updated)))


async def _shadow(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    tokens = tokenize(rest)
    if not tokens or tokens[0].text.lower() not in ("on", "off"):
        await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.filter.usage")), ephemeral=True)
        return
    on = tokens[0].text.lower() == "on"
    if len(tokens) == 1:  # the whole list
        await ctx.set_setting("moderation.shadow", "on" if on else "off")
        await ctx.reply(ctx.t("filter.shadow_list_on" if on else "filter.shadow_list_off"))
        return
    rule = await _find(ctx, tokens[1].text)
    if rule is None:
        await ctx.reply(ctx.t("filter.not_found", terms=tokens[1].text[:40]), ephemeral=True)
        return
    updated = replace(rule, shadow=on)
    await ModerationRepo(ctx.app.db).update_rule(ctx.group.id, updated)
    await feature.reload(ctx)
    await ctx.reply(ctx.t("filter.updated", rule=_describe(ctx, updated)))


async def _allow(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    """`/filter allow <word…>` · `/filter allow remove <word…>` · `/filter allow list`: words a hit inside
    of does not count (方法论 keeps 法论 from firing), starting from the shipped common words."""
    tokens = [t.text.strip() for t in tokenize(rest) if t.text.strip()]
    usage = ctx.t("common.usage", usage=ctx.t("cmd.filter.usage"))
    sub = tokens[0].lower() if tokens else "list"
    repo = ModerationRepo(ctx.app.db)
    assert ctx.event is not None
    if sub in ("list", "列表"):
        own = await repo.allow_rows(ctx.group.id)
        added = sorted(w for w, ok in own.items() if ok)
        removed = sorted(w for w, ok in own.items() if not ok)
        lines = [ctx.t("filter.allow_title", shipped=len(shipped_allow()) - len(removed), own=len(added))]
        if added:
            lines.append("、".join(added[:100]))
        if removed:
            lines.append(ctx.t("filter.allow_removed_list", words="、".join(removed[:50])))
        await ctx.reply("\n".join(lines))
        return
    take_out = sub in ("remove", "rm", "del", "删除")
    words = [w[:40] for w in (tokens[1:] if take_out else tokens)]
    words = [w for w in words if len(compact(w)) >= 2]
    if not words:
        await ctx.reply(usage, ephemeral=True)
        return
    await repo.set_allowed(ctx.group.id, words, not take_out, ctx.event.user.user_id, ctx.now_ms())
    await feature.reload(ctx)
    key = "filter.allow_removed" if take_out else "filter.allow_added"
    await ctx.reply(ctx.t(key, words="、".join(words)))


async def _pinyin(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    """`/filter pinyin on|shadow|off` for the whole list, or `/filter pinyin <term> on|shadow|off|list`
    for one rule (its own mode wins over the list's)."""
    tokens = [t.text.strip() for t in tokenize(rest) if t.text.strip()]
    usage = ctx.t("common.usage", usage=ctx.t("cmd.filter.usage"))
    if not tokens:
        mode = ctx.settings.moderation.pinyin
        await ctx.reply(ctx.t("filter.pinyin_list", mode=ctx.t(f"filter.pinyin_mode.{mode}")) + "\n" + usage)
        return
    if len(tokens) == 1 and tokens[0].lower() in PINYIN_MODES:
        mode = tokens[0].lower()
        await ctx.set_setting("moderation.pinyin", mode)
        await feature.reload(ctx)
        await ctx.reply(ctx.t("filter.pinyin_list", mode=ctx.t(f"filter.pinyin_mode.{mode}")))
        return
    mode = tokens[-1].lower() if len(tokens) >= 2 else ""
    if mode not in (*PINYIN_MODES, "list", "default", "默认"):
        await ctx.reply(usage, ephemeral=True)
        return
    rule = await _find(ctx, tokens[0])
    if rule is None or rule.kind != "literal":
        await ctx.reply(ctx.t("filter.not_found", terms=tokens[0][:40]), ephemeral=True)
        return
    updated = replace(rule, pinyin="" if mode in ("list", "default", "默认") else mode)
    await ModerationRepo(ctx.app.db).update_rule(ctx.group.id, updated)
    await feature.reload(ctx)
    await ctx.reply(ctx.t("filter.updated", rule=_describe(ctx, updated)))
