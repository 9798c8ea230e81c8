"""/help: the commands the caller may use, in the group's language."""

from __future__ import annotations

from bot.commands import CommandSpec
from bot.context import Context
from bot.feature import Feature


def _line(ctx: Context, spec: CommandSpec) -> str:
    names = "/" + spec.name
    extra = [f"/{a}" for a in spec.aliases] + list(spec.triggers)
    if extra:
        names += " (" + ", ".join(extra) + ")"
    return f"{names} — {ctx.t(spec.help_key)}"


class HelpFeature(Feature):
    name = "help"
    priority = 900

    def commands(self) -> list[CommandSpec]:
        return [CommandSpec("help", self.help, triggers=("帮助",), feature=self.name)]

    async def help(self, ctx: Context, _args: object) -> None:
        specs = ctx.app.commands.visible_to(ctx.is_admin)
        member = [s for s in specs if s.for_members]
        admin = [s for s in specs if not s.for_members]
        lines = [ctx.t("help.title")]
        lines += [_line(ctx, s) for s in member]
        if admin:
            lines += ["", ctx.t("help.admin_title")]
            lines += [_line(ctx, s) for s in admin]
        if ctx.chat.platform == "telegram":  # its menu refuses non-Latin command names
            lines += ["", ctx.t("help.telegram_note")]
        await ctx.reply("\n".join(lines), ephemeral=True)
