"""Runs the platform adapters that have tokens. The Telegram and Discord adapters arrive with their issues."""

from __future__ import annotations

import sys

from config.settings import Settings


async def run_platforms(settings: Settings) -> int:
    missing = []
    if settings.telegram_token:
        missing.append("Telegram")
    if settings.discord_token:
        missing.append("Discord")
    print(
        f"The {' and '.join(missing)} adapter is not part of this build yet. "
        "Unset the token(s) to run the console bot, or update Qunbot.",
        file=sys.stderr,
    )
    return 2
