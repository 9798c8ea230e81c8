"""Logs the discord.py client in and keeps its gateway connection running beside the other adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from adapters.discord.adapter import DiscordAdapter, make_client
from bot.app import App
from config.settings import Settings

log = logging.getLogger(__name__)


class DiscordRunner:
    def __init__(self, app: App, settings: Settings, client: discord.Client | None = None) -> None:
        assert settings.discord_token
        self.settings = settings
        self.client = client or make_client(settings.discord_shards)
        self.adapter = DiscordAdapter(app, self.client)
        app.outbox.register(self.adapter)
        self._task: asyncio.Task[None] | None = None

    async def login(self) -> None:
        assert self.settings.discord_token
        await self.client.login(self.settings.discord_token)

    async def start(self) -> None:
        await self.login()
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
