"""The real bot against the platform fakes: an App with the production features (or those given) and a
platform runner, for tests that drive whole conversations (tests/test_parity.py).

`Handled` records every event the App has finished: the adapters call `app.handle` and the App sends an
event's actions before it returns, so "the event's key is handled" means "its answer went out". A test
waits for that instead of sleeping, and knows which calls each command caused.

The outbox's rate limits are lifted (`unlimited`): a test that sends sixty commands to one group would
otherwise wait three seconds a message under Telegram's 20 a minute; tests/test_outbox.py covers them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.discord.adapter import make_client
from adapters.discord.runner import DiscordRunner
from adapters.telegram.runner import TelegramRunner
from bot.app import App
from bot.clock import FakeClock
from bot.events import Event
from bot.feature import Feature
from bot.outbox import Outbox, RateLimits
from config.settings import Settings
from handlers import default_features
from storage.db import Database
from tests.fakes import discord_api as D
from tests.fakes.telegram_api import FakeBotApi


class Handled:
    """Wraps `app.handle` (the adapters look it up on each call) to record the keys of finished events."""

    def __init__(self, app: App) -> None:
        self.keys: list[str] = []
        self._changed = asyncio.Event()
        inner = app.handle

        async def handle(event: Event) -> None:
            try:
                await inner(event)
            finally:
                self.keys.append(event.event_key)
                self._changed.set()

        app.handle = handle  # type: ignore[method-assign]

    async def wait(self, wanted: Callable[[str], bool], within: float = 15.0) -> str | None:
        """The first finished event whose key `wanted` accepts; None when none finishes within `within`."""
        try:
            async with asyncio.timeout(within):
                while True:
                    found = next((k for k in self.keys if wanted(k)), None)
                    if found is not None:
                        return found
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return None


def _app(db: Database, clock: FakeClock, features: Sequence[Feature] | None) -> App:
    chosen = list(features) if features is not None else default_features()
    return App(db, clock, Outbox(backoff=0.05), chosen, manual_scheduler=True)


def unlimited(app: App, adapter: Any) -> None:
    """Register the adapter again without rate limits (its lane is built from `limits` when registered)."""
    adapter.limits = RateLimits()
    app.outbox.register(adapter)


class TelegramBot:
    """App + TelegramRunner polling the fake Bot API."""

    def __init__(self, fake: FakeBotApi, db: Database, features: Sequence[Feature] | None = None) -> None:
        self.fake, self.db, self.features = fake, db, features
        self.clock = FakeClock(datetime.now(UTC))

    async def start(self) -> None:
        self.app = _app(self.db, self.clock, self.features)
        self.handled = Handled(self.app)
        settings = Settings(telegram_token=self.fake.token, telegram_api_base_url=self.fake.base_url)
        self.runner = TelegramRunner(self.app, settings)
        unlimited(self.app, self.runner.adapter)
        await self.app.start()
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.app.stop()


class DiscordBot:
    """App + discord.py's client fed gateway payloads, its HTTP client talking to the fake REST API
    (the caller points `discord.http.Route.BASE` at the fake first)."""

    def __init__(
        self,
        fake: D.FakeDiscordApi,
        db: Database,
        members: Sequence[dict[str, Any]],
        features: Sequence[Feature] | None = None,
    ) -> None:
        self.fake, self.db, self.members, self.features = fake, db, list(members), features
        self.clock = FakeClock(datetime.now(UTC))
        self.done: list[int] = []  # ids of messages and interactions whose adapter handler returned
        self._done_changed = asyncio.Event()

    async def start(self) -> None:
        self.app = _app(self.db, self.clock, self.features)
        self.handled = Handled(self.app)
        self.client = make_client(guild_ready_timeout=0.05)
        self.runner = DiscordRunner(self.app, Settings(discord_token="fake-token"), self.client)
        unlimited(self.app, self.runner.adapter)
        for name in ("on_message", "on_interaction"):
            self._track(name)
        await self.app.start()
        await self.runner.login()
        self.state = self.client._connection
        self.state.parse_ready(D.ready())
        self.state.parse_guild_create(D.guild(self.members))
        await asyncio.sleep(0.2)  # guild_ready_timeout passes; on_ready fires

    async def stop(self) -> None:
        await self.runner.stop()
        await self.app.stop()

    def _track(self, name: str) -> None:
        """Record when the adapter's handler of a message or interaction returns: after the App's work,
        the adapter still closes an interaction (a deferral resolved), so the App's end is not enough."""
        inner = getattr(self.client, name)

        async def tracked(obj: Any) -> None:
            try:
                await inner(obj)
            finally:
                self.done.append(int(obj.id))
                self._done_changed.set()

        setattr(self.client, name, tracked)

    async def finished(self, object_id: int, within: float = 15.0) -> bool:
        """Whether the adapter finished with this message or interaction within `within` seconds."""
        try:
            async with asyncio.timeout(within):
                while object_id not in self.done:
                    self._done_changed.clear()
                    await self._done_changed.wait()
        except TimeoutError:
            return False
        return True

    def post(self, author: dict[str, Any], content: str, roles: list[int] | None = None) -> int:
        mid = D.now_snowflake()  # discord.py dates a message by its id: this one is from now
        self.state.parse_message_create(D.message(mid, author, content, roles=roles))
        return mid

    def interact(self, payload: dict[str, Any]) -> int:
        """Deliver an interaction to discord.py, its three seconds counted from now; returns its id."""
        self.state.parse_interaction_create(self.fake.delivered(payload))
        return int(payload["id"])
