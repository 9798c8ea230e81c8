"""Runs the platform adapters that have tokens around one App (one database, one outbox), until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from bot.app import App
from bot.clock import SystemClock
from bot.outbox import Outbox
from config.settings import Settings
from handlers import default_features
from storage.db import open_database

log = logging.getLogger(__name__)


async def run_platforms(settings: Settings) -> int:
    db = await open_database(settings.database_url)
    app = App(db, SystemClock(), Outbox(), default_features(), files_dir=settings.files_dir)
    runners: list[Any] = []
    if settings.telegram_token:
        from adapters.telegram.runner import TelegramRunner

        runners.append(TelegramRunner(app, settings))
    if settings.discord_token:
        from adapters.discord.runner import DiscordRunner

        runners.append(DiscordRunner(app, settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    started: list[Any] = []
    code = 0
    try:
        await app.start()
        for runner in runners:
            started.append(runner)  # stopped in `finally` even if its start fails half way
            try:
                await runner.start()
            except Exception as exc:  # a bad token or no network: say so plainly, no traceback
                print(
                    f"{type(runner).__name__.removesuffix('Runner')} could not start: {exc!r}",
                    file=sys.stderr,
                )
                code = 2
                return code
        await stop.wait()
    finally:
        for runner in reversed(started):
            try:
                await runner.stop()
            except Exception:
                log.exception("stopping %s failed", type(runner).__name__)
        await app.stop()
        await db.close()
    return code


async def discord_sync(settings: Settings) -> int:
    """Register the slash commands globally (`python main.py discord-sync`)."""
    if not settings.discord_token:
        print("discord-sync needs DISCORD_TOKEN", file=sys.stderr)
        return 2
    from adapters.discord.runner import DiscordRunner

    db = await open_database(settings.database_url)
    app = App(db, SystemClock(), Outbox(), default_features())
    runner = DiscordRunner(app, settings)
    try:
        await runner.login()
        count = await runner.adapter.sync_global()
        print(f"registered {count} slash commands globally")
    finally:
        await runner.client.close()
        await db.close()
    return 0
