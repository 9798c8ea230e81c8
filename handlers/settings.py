"""/settings, /set and /lang: an admin reads and changes this group's settings from the chat."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationError
from rapidfuzz import fuzz, process

from bot.commands import Choices, CommandSpec
from bot.context import Context
from bot.feature import Feature
from bot.i18n import LANGUAGES, normalize_language
from bot.parsing import REST
from config.group_settings import all_keys, allowed_values, conflict_of, get_value
from handlers.points import level_name, thresholds


class SetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    value: Annotated[str, REST]


class LangArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # menus offer our languages; typed, any spelling normalize_language knows (中文, english) is taken
    language: Annotated[str | None, Choices(LANGUAGES)] = None


def show_value(ctx: Context, value: Any) -> str:
    if isinstance(value, bool):
        return ctx.t("settings.on") if value else ctx.t("settings.off")
    return str(value)


def _describe_allowed(ctx: Context, key: str) -> str:
    kind, params = allowed_values(key)
    return ctx.t(f"settings.allowed.{kind}", **params)


class SettingsFeature(Feature):
    name = "settings"
    priority = 800

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("settings", self.show, admin_only=True, aliases=("设置",), feature=self.name),
            CommandSpec("set", self.set, SetArgs, admin_only=True, feature=self.name),
            CommandSpec("lang", self.lang, LangArgs, admin_only=True, aliases=("语言",), feature=self.name),
        ]

    async def show(self, ctx: Context, _args: object) -> None:
        lines = [ctx.t("settings.title", group=ctx.group.title or ctx.group.chat_id)]
        current_section = ""
        for key in all_keys(ctx.app.sections):
            section = key.split(".", 1)[0] if "." in key else ""
            if section != current_section:
                current_section = section
                title = ctx.t(f"settings.section.{section or 'general'}")
                lines.append(f"[{title}]")
            value = get_value(ctx.settings, key)
            if key == "points.level_names" and not value:  # the names in use, not a blank
                value = ",".join(level_name(ctx, i) for i in range(len(thresholds(ctx))))
            lines.append(f"  {key} = {show_value(ctx, value)}")
        lines.append(ctx.t("settings.hint"))
        await ctx.reply("\n".join(lines))

    async def set(self, ctx: Context, args: SetArgs) -> None:
        key = args.key.strip().lower()
        keys = all_keys(ctx.app.sections)
        if key not in keys:
            close = [
                k
                for k, _score, _i in process.extract(key, keys, scorer=fuzz.WRatio, limit=3, score_cutoff=80)
            ]
            text = ctx.t("settings.unknown_key", key=args.key[:64])
            if close:
                text += "\n" + ctx.t("settings.did_you_mean", keys="、".join(close))
            await ctx.reply(text)
            return
        if key == "language":
            await self._set_language(ctx, args.value)
            return
        try:
            settings = await ctx.set_setting(key, args.value.strip())
        except ValidationError as exc:
            if (conflict := conflict_of(exc)) is not None:
                await ctx.reply(ctx.t(f"settings.conflict.{conflict}"))
                return
            await ctx.reply(
                ctx.t(
                    "settings.bad_value", key=key, value=args.value[:64], allowed=_describe_allowed(ctx, key)
                )
            )
            return
        await ctx.reply(ctx.t("settings.changed", key=key, value=show_value(ctx, get_value(settings, key))))

    async def lang(self, ctx: Context, args: LangArgs) -> None:
        if args.language is None:
            await ctx.reply(ctx.t("lang.current", language=ctx.t(f"lang.name.{ctx.lang}")))
            return
        await self._set_language(ctx, args.language)

    async def _set_language(self, ctx: Context, raw: str) -> None:
        language = normalize_language(raw)
        if language is None:
            await ctx.reply(ctx.t("lang.unknown", value=raw[:32], allowed="zh | en"))  # as /lang's usage says
            return
        await ctx.set_setting("language", language)
        await ctx.reply(ctx.t("lang.changed", language=ctx.t(f"lang.name.{language}")))
