"""Test doubles: a recording adapter (an errbot-style push/pop fake) and event builders."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import count
from zoneinfo import ZoneInfo

from bot import actions as A
from bot.app import App
from bot.clock import FakeClock
from bot.events import ChatRef, MessagePosted, UserRef
from bot.feature import Feature
from bot.outbox import Outbox, RateLimits
from handlers import default_features
from storage.db import Database

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)
PLATFORM = "test"


class RecordingAdapter:
    """Records every action; can be told to fail the next calls in given ways."""

    platform = PLATFORM

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self.actions: list[A.Action] = []
        self.failures: list[Exception] = []
        self.attempts = 0
        self._ids = count(10_000)

    async def perform(self, action: A.Action) -> A.ActionResult:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.actions.append(action)
        return A.ActionResult(ok=True, message_id=str(next(self._ids)))

    def texts(self) -> list[str]:
        return [a.text for a in self.actions if isinstance(a, A.Send | A.Reply | A.DirectMessage)]

    def pop_texts(self) -> list[str]:
        out = self.texts()
        self.actions.clear()
        return out


class Harness:
    """An App on a given database with a fake clock and a recording adapter."""

    def __init__(self, db: Database, features: Iterable[Feature] | None = None, start: datetime = T0) -> None:
        self.db = db
        self.clock = FakeClock(start)
        self.adapter = RecordingAdapter()
        self.outbox = Outbox(sleep=_no_sleep)
        self.outbox.register(self.adapter)
        self._features = list(features) if features is not None else default_features()
        self.app = App(db, self.clock, self.outbox, self._features, manual_scheduler=True)
        self._ids = count(1)

    async def start(self) -> Harness:
        await self.app.start()
        return self

    async def restart(self) -> None:
        await self.app.stop()
        self.app = App(self.db, self.clock, self.outbox, self._features, manual_scheduler=True)
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    def chat(self, chat_id: str = "g1") -> ChatRef:
        return ChatRef(PLATFORM, chat_id, f"Group {chat_id}")

    def message(
        self, user: str, text: str, *, chat_id: str = "g1", admin: bool = False, key: str | None = None
    ) -> MessagePosted:
        mid = str(next(self._ids))
        return MessagePosted(
            event_key=key or f"t:{chat_id}:{mid}",
            chat=self.chat(chat_id),
            user=UserRef(user, user, user),
            is_admin=admin,
            at=self.clock.now(),
            message_id=mid,
            text=text,
        )

    async def say(self, user: str, text: str, **kw: object) -> list[str]:
        await self.app.handle(self.message(user, text, **kw))  # type: ignore[arg-type]
        return self.adapter.pop_texts()


async def _no_sleep(_seconds: float) -> None:
    return None
