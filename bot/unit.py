"""One event, one unit of work: its key, its writes and the actions it will send commit together.

The transaction opens lazily, at the first write or action, so a plain message that changes nothing but
activity never opens one: its key and activity ride the activity writer's batch (group commit). Once
open, the unit first takes in whatever the batch holds (so reads after it see every earlier message),
and at the end it writes the event key and its actions into the outbox table, commits, and only then
sends. A process killed anywhere before the commit leaves nothing of the event, and its redelivery is
handled in full; killed after it, the outbox still holds the actions and the next start sends them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot import actions as A
from bot import faults
from bot.actioncodec import decode, encode
from storage.db import unit_opener

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

Outgoing = tuple[str, A.Action, str | None]  # (outbox id, action, remember)

T = TypeVar("T")

QUEUED = A.ActionResult(ok=True, extra={"queued": "1"})  # what `ctx.act` answers inside a unit


@dataclass(slots=True)
class _Queued:
    action: A.Action
    remember: str | None


class UnitOfWork:
    def __init__(
        self, app: App, key: str, at_ms: int, *, record: bool = True, background: bool = False
    ) -> None:
        self.app = app
        self.background = background  # its sends yield to foreground traffic (bot.outbox)
        self.key = key
        self.record = record  # False: a scheduled fire, whose key only names its outbox rows
        self.at_ms = at_ms
        self._stack: AsyncExitStack | None = None
        self._queued: list[_Queued] = []
        self._drained: list[Any] = []
        self._part = 0
        self._after: list[Callable[[], Awaitable[Any]]] = []

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    async def begin(self) -> None:
        if self._stack is not None:
            return
        stack = AsyncExitStack()
        token = unit_opener.set(None)
        try:
            await stack.enter_async_context(self.app.db.transaction())
        finally:
            unit_opener.reset(token)
        self._stack = stack
        await self._take_batch()

    async def _take_batch(self) -> None:
        """Write the activity batch inside this transaction (a savepoint: a row the database refuses
        must not fail the event; the writer keeps it and isolates it in its own flush)."""
        rows = self.app.writer.take()
        if not rows:
            return
        try:
            async with self.app.db.transaction():
                await self.app.writer.write(rows)
        except Exception:
            log.warning("activity batch not written with %s; the writer keeps it", self.key, exc_info=True)
            self.app.writer.requeue(rows)
        else:
            self._drained += rows

    def after_commit(self, fn: Callable[[], Awaitable[Any]]) -> None:
        """Run `fn` once the unit has committed, before its actions are sent: in-memory effects of the
        writes (a rebuilt word list) that must neither hold the transaction open nor outlive a rollback."""
        self._after.append(fn)

    def add(self, action: A.Action, remember: str | None) -> None:
        assert self._stack is not None, "begin() first"
        self._queued.append(_Queued(action, remember))

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Around one feature's hook: when it fails, what it wrote and queued is undone and the others'
        work stands (a savepoint when the unit is open; the whole unit when the hook opened it)."""
        was_open, queued, after = self.is_open, len(self._queued), len(self._after)
        if not was_open:
            try:
                yield
            except Exception:
                del self._queued[queued:]
                await self.rollback()
                raise
            return
        try:
            async with self.app.db.transaction():
                yield
        except Exception:
            del self._queued[queued:]
            del self._after[after:]  # a job it armed is not armed: its row went with the savepoint
            raise

    async def commit(self) -> list[Outgoing]:
        """Commit the unit; returns the actions to send now (they are in the outbox table too)."""
        token = unit_opener.set(None)  # finishing: nothing from here on may open it again
        try:
            return await self._commit()
        finally:
            unit_opener.reset(token)

    async def _commit(self) -> list[Outgoing]:
        if self._stack is None:
            # A unit that never opened leaves its key to the batch; if that fills the batch, the
            # writer's own flush commits it in a transaction of its own, not in a unit now closing.
            if self.record and self._part == 0:
                await self.app.writer.mark_processed(self.key, self.at_ms)
            return []
        await self._take_batch()  # what plain messages left pending rides along: one commit for all
        if self.record and self._part == 0:
            await self.app.processed.record(self.key, self.at_ms)
        rows = [
            (f"{self.key}#{self._part}.{i}", encode(q.action), q.remember) for i, q in enumerate(self._queued)
        ]
        if rows:
            await self.app.outbox_repo.add(rows, self.at_ms)
        stack, self._stack = self._stack, None
        await stack.aclose()
        queued, self._queued, self._drained = self._queued, [], []
        self._part += 1
        return [(row[0], q.action, q.remember) for row, q in zip(rows, queued, strict=True)]

    async def rollback(self, exc: BaseException | None = None) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            err = exc or RuntimeError("unit rolled back")
            await stack.__aexit__(type(err), err, err.__traceback__)
        self._after.clear()
        if self._drained:
            self.app.writer.requeue(self._drained)
        self._queued, self._drained = [], []


_current: ContextVar[UnitOfWork | None] = ContextVar("unit_of_work", default=None)


def current() -> UnitOfWork | None:
    return _current.get()


@asynccontextmanager
async def unit(
    app: App, key: str, at_ms: int, *, eager: bool = False, record: bool = True, background: bool = False
) -> AsyncIterator[UnitOfWork]:
    """Run a block as one unit of work; after it commits, send what it queued."""
    uow = UnitOfWork(app, key, at_ms, record=record, background=background)
    token = _current.set(uow)
    opener = unit_opener.set(uow.begin)
    try:
        if eager:
            await uow.begin()
        try:
            yield uow
            pending = await uow.commit()
        except BaseException as exc:
            # a failure while committing (the last batch, the outbox rows, the commit itself) must end
            # the transaction too: left open, it would hold its connection and locks for good
            await uow.rollback(exc)
            raise
    finally:
        unit_opener.reset(opener)
        _current.reset(token)
    for fn in uow._after:
        try:
            await fn()
        except Exception:
            log.exception("after-commit step of %s failed", key)
    await send(app, pending, background=background)


async def guarded_call(fn: Callable[..., Awaitable[T]], /, *args: Any) -> T:
    """`fn(*args)` as one feature's hook: `UnitOfWork.guard` without a context manager's cost on the path
    every plain message takes (the unit is usually not open there, and then this is a plain call)."""
    uow = _current.get()
    if uow is None:
        return await fn(*args)
    if uow.is_open:
        async with uow.guard():
            return await fn(*args)
    try:
        return await fn(*args)
    except Exception:
        if uow.is_open:  # the hook opened the unit and then failed: nothing of it stands
            await uow.rollback()
        raise


async def act(app: App, action: A.Action, remember: str | None = None) -> A.ActionResult:
    """Queue an action in the current unit (sent after its commit), or send it now outside any."""
    uow = _current.get()
    if uow is None:
        result = await app.outbox.deliver(action)
        if remember:
            await app.remembered(remember, result)
        return result
    await uow.begin()
    uow.add(action, remember)
    return QUEUED


async def act_now(app: App, action: A.Action) -> A.ActionResult:
    """Send at once, before the unit commits, and return the platform's answer: for a handler that must
    know it (did the mute work? did the DM get through?). Only for actions that are harmless to repeat —
    the platform applies a mute, kick, ban, lift or role idempotently — since a kill before the commit
    means the redelivered event sends it again."""
    faults.hit("send")
    return await app.outbox.deliver(action)


async def send(app: App, outgoing: list[Outgoing], *, background: bool = False) -> None:
    """Deliver committed actions in order; each leaves the outbox table once the platform took it."""
    for outbox_id, action, remember in outgoing:
        faults.hit("send")
        result = await app.outbox.deliver(action, background=background)
        faults.hit("sent")
        try:
            if remember:  # what the platform answered and "sent" commit together
                async with app.db.transaction():
                    await app.remembered(remember, result)
                    await app.outbox_repo.sent(outbox_id)
            else:
                await app.outbox_repo.sent(outbox_id)
        except Exception:
            log.exception("cannot record that outbox action %s was sent", outbox_id)


async def resend(app: App) -> int:
    """At start: send what an earlier process committed and did not live to send (at least once)."""
    total = 0
    while batch := await app.outbox_repo.pending():
        outgoing: list[Outgoing] = []
        for item in batch:
            try:
                outgoing.append((item.id, decode(item.action), item.remember))
            except Exception:
                log.exception("outbox row %s cannot be read; dropped", item.id)
                await app.outbox_repo.sent(item.id)
        await send(app, outgoing)
        total += len(batch)
    if total:
        log.info("sent %d action(s) committed before the last stop", total)
    return total
