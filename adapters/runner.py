"""Runs the platform adapters that have tokens around one App, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot.app import App
from bot.clock import SystemClock
from bot.outbox import Outbox
from config.settings import Settings
from handlers import default_features
from storage.db import open_database

log = logging.getLogger(__name__)


async def run_platforms(settings: Settings) -> int:
    if settings.discord_token and not settings.telegram_token:
        print(
            "The Discord adapter is not part of this build yet; unset DISCORD_TOKEN or set TELEGRAM_TOKEN.",
            file=sys.stderr,
        )
        return 2
    if settings.discord_token:
        log.warning(
            "DISCORD_TOKEN is set but the Discord adapter is not part of this build yet; running Telegram"
        )
    db = await open_database(settings.database_url)
    outbox = Outbox()
    app = App(db, SystemClock(), outbox, default_features())
    from adapters.telegram.runner import TelegramRunner

    runner = TelegramRunner(app, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        await runner.start()
        await stop.wait()
    finally:
        await runner.stop()
        await app.stop()
        await db.close()
    return 0
