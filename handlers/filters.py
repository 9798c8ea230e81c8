"""/filter: an admin's word list, from the chat. add · remove · list · test · import · export · except · shadow.

`/filter add 加微信 mute 2h` · `/filter add regex:v\\s*x\\d+` · `/filter add fuzzy:casino ban` ·
`/filter import` followed by lines (one term a line, or CSV: term,kind,action,category).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.context import Context
from bot.parsing import format_duration, parse_duration, parse_int, tokenize
from rules.engine import ACTIONS, KINDS, BadRule, Rule, validate
from rules.lists import export_csv, export_text, parse_import
from rules.normalize import compact
from storage.moderation import ModerationRepo

if TYPE_CHECKING:
    from handlers.moderation import ModerationFeature

PAGE = 30
MAX_RULES = 50_000  # per group
EXPORT_CHUNK = 3500  # characters per message (Telegram allows 4,096, Discord 2,000: the adapter splits)
EXPORT_MESSAGES = 5
ERRORS_SHOWN = 10
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$")


def clean_domain(value: str) -> str | None:
    host = value.strip().lower().split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
    return host if _DOMAIN.match(host) else None


def _label(rule: Rule) -> str:
    return rule.pattern if rule.kind == "literal" else f"{rule.kind}:{rule.pattern}"


def _describe(ctx: Context, rule: Rule) -> str:
    action = ctx.t(f"mod.action.{rule.action}")
    if rule.action == "mute" and rule.mute_seconds:
        action += " " + format_duration(timedelta(seconds=rule.mute_seconds))
    extras = []
    if rule.category:
        extras.append(f"#{rule.category}")
    if rule.exceptions:
        extras.append(ctx.t("filter.except_list", terms="、".join(rule.exceptions)))
    if rule.shadow:
        extras.append("👁 " + ctx.t("mod.log.shadow"))
    return f"#{rule.id} {_label(rule)} → {action}" + (" · " + " · ".join(extras) if extras else "")


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
    action, mute_seconds, shadow, category = "warn", 0, False, ""
    for tok in tokens[1:]:
        word = tok.text.strip()
        low = word.lower()
        if low in ACTIONS:
            action = low
        elif low in ("shadow", "影子", "试运行"):
            shadow = True
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
        await ctx.reply(ctx.t("filter.bad_term", term=term[:60], reason=str(exc)), ephemeral=True)
        return
    repo = ModerationRepo(ctx.app.db)
    if len((await feature.group_rules(ctx)).rules) >= MAX_RULES:
        await ctx.reply(ctx.t("filter.too_many", max=MAX_RULES), ephemeral=True)
        return
    rule = Rule(0, kind, pattern, action, category, mute_seconds, (), shadow)  # type: ignore[arg-type]
    assert ctx.event is not None
    added = await repo.add_rules(ctx.group.id, [rule], ctx.event.user.user_id, ctx.now_ms())
    feature.invalidate(ctx.group.id)
    stored = await repo.find_rule(ctx.group.id, pattern)
    if not added or stored is None:
        await ctx.reply(ctx.t("filter.exists", term=pattern[:60]))
        return
    text = ctx.t("filter.added", rule=_describe(ctx, stored))
    if await feature.log_target(ctx) is None:
        text += "\n" + ctx.t("mod.log.hint_set")
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
    feature.invalidate(ctx.group.id)
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
    default_action = first.strip().lower() if first.strip().lower() in ACTIONS else "warn"
    if not body.strip() and first.strip() and first.strip().lower() not in ACTIONS:
        body = first  # "/filter import a" on one line
    if not body.strip():
        await ctx.reply(ctx.t("filter.import_how"), ephemeral=True)
        return
    parsed, errors = parse_import(body, default_action)
    current = len((await feature.group_rules(ctx)).rules)
    room = max(0, MAX_RULES - current)
    rules = [Rule(0, p.kind, p.pattern, p.action, p.category) for p in parsed[:room]]  # type: ignore[arg-type]
    assert ctx.event is not None
    added = await ModerationRepo(ctx.app.db).add_rules(
        ctx.group.id, rules, ctx.event.user.user_id, ctx.now_ms()
    )
    feature.invalidate(ctx.group.id)
    lines = [ctx.t("filter.imported", added=added, skipped=len(rules) - added, errors=len(errors))]
    for e in errors[:ERRORS_SHOWN]:
        lines.append(ctx.t("filter.import_error", line=e.line, text=e.text, reason=e.reason))
    if len(errors) > ERRORS_SHOWN:
        lines.append(ctx.t("filter.import_more_errors", count=len(errors) - ERRORS_SHOWN))
    if len(parsed) > room:
        lines.append(ctx.t("filter.too_many", max=MAX_RULES))
    await ctx.reply("\n".join(lines))


async def _export(feature: ModerationFeature, ctx: Context, rest: str) -> None:
    rules = (await feature.group_rules(ctx)).rules.rules
    if not rules:
        await ctx.reply(ctx.t("filter.empty"))
        return
    as_csv = rest.strip().lower() == "csv" or any(r.kind != "literal" or r.action != "warn" for r in rules)
    body = export_csv(rules) if as_csv else export_text(rules)
    chunks: list[str] = []
    current = ""
    for line in body.splitlines():
        if len(current) + len(line) + 1 > EXPORT_CHUNK:
            chunks.append(current)
            current = ""
        current += line + "\n"
    if current:
        chunks.append(current)
    for chunk in chunks[:EXPORT_MESSAGES]:
        await ctx.reply(chunk.rstrip("\n"))
    if len(chunks) > EXPORT_MESSAGES:
        await ctx.reply(ctx.t("filter.export_cut", shown=EXPORT_MESSAGES, total=len(chunks)))


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
    feature.invalidate(ctx.group.id)
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
    feature.invalidate(ctx.group.id)
    await ctx.reply(ctx.t("filter.updated", rule=_describe(ctx, updated)))
