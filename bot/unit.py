"""One event, one unit of work: its key, its writes and the actions it will send commit together.

The transaction opens lazily, at the first write or action, so a plain message that changes nothing but
activity never opens one: its key and activity ride the activity writer's batch (group commit). Once
open, the unit first takes in whatever the batch holds (so reads after it see every earlier message),
and at the end it writes the event key and its actions into the outbox table, commits, and only then
sends. A process killed anywhere before the commit leaves nothing of the event, and its redelivery is
handled in full; killed after it, the outbox still holds the actions and the next start sends them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot import actions as A
from bot import faults
from bot.actioncodec import decode, encode
from bot.clock import to_ms
from storage.db import unit_opener

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

Outgoing = tuple[str, A.Action, str | None]  # (outbox id, action, remember)

T = TypeVar("T")

QUEUED = A.ActionResult(ok=True, extra={"queued": "1"})  # what `ctx.act` answers inside a unit

# Strict: awaiting a thread or the platform while this task holds a write transaction raises instead of
# being logged. The test suite turns it on (tests/conftest.py), so slow work inside a unit fails a test.
_strict = os.environ.get("QUNBOT_STRICT_UNITS", "") == "1"


class LockHeld(RuntimeError):
    """A thread or the network was awaited while a unit of work held the write lock (SQLite's: every
    other group's writes wait meanwhile)."""


@dataclass(slots=True)
class _Queued:
    action: A.Action
    remember: str | None


class UnitOfWork:
    def __init__(
        self,
        app: App,
        key: str,
        at_ms: int,
        *,
        record: bool = True,
        background: bool = False,
        record_idle: bool = True,
    ) -> None:
        self.app = app
        self.background = background  # its sends yield to foreground traffic (bot.outbox)
        self.key = key
        self.record = record  # False: the key only names its outbox rows (a claim row guards the work)
        self.record_idle = record_idle  # False: a unit that never opened did nothing worth a key (a fire)
        self.at_ms = at_ms
        self._stack: AsyncExitStack | None = None
        self._queued: list[_Queued] = []
        self._drained: list[Any] = []
        self._part = 0
        self._after: list[Callable[[], Awaitable[Any]]] = []
        self._nested = 0  # hooks running inside a savepoint of this unit (no checkpoint there)

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    @property
    def touched(self) -> bool:
        """Whether it wrote or acted: open now, or committed a part already (`checkpoint`)."""
        return self._stack is not None or self._part > 0

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

    async def settle(self) -> None:
        """Make every earlier message's batched rows visible to this unit's reads without opening it:
        the batch commits in a transaction of its own, so a handler can read and compute (a chart, a
        report) before its first write takes the write lock."""
        if self._stack is not None:
            return  # it took the batch in when it opened
        token = unit_opener.set(None)
        try:
            await self.app.writer.flush()
        finally:
            unit_opener.reset(token)

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
        self._nested += 1
        try:
            async with self.app.db.transaction():
                yield
        except Exception:
            del self._queued[queued:]
            del self._after[after:]  # a job it armed is not armed: its row went with the savepoint
            raise
        finally:
            self._nested -= 1

    async def checkpoint(self) -> bool:
        """Commit what the unit holds so far (its writes and queued actions, not yet its key), run its
        after-commit steps and send those actions, so the handler can wait for the platform without the
        write lock: `act_now` asks the platform this way (the case is on record before the mute). The
        unit goes on and opens again at its next write; its key commits with its last part, so a kill
        in between redelivers the event to a handler that finds its first part done (handlers are
        idempotent on their cause). False when it cannot: a hook inside a savepoint of the unit."""
        if self._stack is None:
            return True
        if self._nested:
            return False
        token = unit_opener.set(None)
        try:
            pending = await self._commit(final=False)
        finally:
            unit_opener.reset(token)
        after, self._after = self._after, []
        for fn in after:
            try:
                await fn()
            except Exception:
                log.exception("after-commit step of %s failed", self.key)
        await send(self.app, pending, background=self.background)
        return True

    async def commit(self) -> list[Outgoing]:
        """Commit the unit; returns the actions to send now (they are in the outbox table too)."""
        token = unit_opener.set(None)  # finishing: nothing from here on may open it again
        try:
            return await self._commit(final=True)
        finally:
            unit_opener.reset(token)

    async def _commit(self, *, final: bool) -> list[Outgoing]:
        if self._stack is None:
            if not final or not self.record:
                return []
            if self._part == 0:
                # A unit that never opened leaves its key to the batch; if that fills the batch, the
                # writer's own flush commits it in a transaction of its own, not in a unit now closing.
                if self.record_idle:
                    await self.app.writer.mark_processed(self.key, self.at_ms)
                return []
            await self.begin()  # checkpointed: its key must commit for sure, not ride a batch
        await self._take_batch()  # what plain messages left pending rides along: one commit for all
        if self.record and final:
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


def holding(app: App | None = None) -> bool:
    """True while this task holds a write transaction: its unit of work is open, or (given the app) a
    transaction it opened itself. On SQLite that is the database's one write lock."""
    uow = _current.get()
    if uow is not None and uow.is_open:
        return True
    return app is not None and app.db.in_transaction()


def refuse_held(what: str, app: App | None = None) -> None:
    """Called before awaiting a thread or the platform: with the write lock held, every other group's
    writes would wait for it (a chart, an upload, a pin took seconds). Strict (tests): raise; else log."""
    if not holding(app):
        return
    uow = _current.get()
    msg = (
        f"{what} awaited while {'unit ' + uow.key if uow is not None and uow.is_open else 'a transaction'}"
        " holds the write lock: compute before the unit writes, or act after it commits"
    )
    if _strict:
        raise LockHeld(msg)
    log.warning(msg)


_to_thread = asyncio.to_thread


async def _checked_to_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    refuse_held(f"a thread ({getattr(func, '__qualname__', func)!s})")
    return await _to_thread(func, *args, **kwargs)


def set_strict(on: bool) -> None:
    """Strict mode (the test suite): a thread or the platform awaited inside an open unit raises. It also
    watches every `asyncio.to_thread`, not only `off_loop`, so no feature can slip past it."""
    global _strict
    _strict = on
    asyncio.to_thread = _checked_to_thread if on else _to_thread  # type: ignore[assignment]


if _strict:
    set_strict(True)


async def off_loop(app: App, fn: Callable[..., T], /, *args: Any) -> T:
    """`fn(*args)` in a worker thread (a chart, a file), never while this task holds the write lock."""
    refuse_held(f"a thread ({getattr(fn, '__qualname__', fn)!s})", app)
    return await _to_thread(fn, *args)


@asynccontextmanager
async def unit(
    app: App,
    key: str,
    at_ms: int,
    *,
    eager: bool = False,
    record: bool = True,
    background: bool = False,
    record_idle: bool = True,
) -> AsyncIterator[UnitOfWork]:
    """Run a block as one unit of work; after it commits, send what it queued."""
    outer = _current.get()
    if outer is not None and outer.is_open:
        # it would be a savepoint of the outer one: its claim uncommitted, its sends under the lock
        refuse_held(f"unit {key}", app)
    uow = UnitOfWork(app, key, at_ms, record=record, background=background, record_idle=record_idle)
    token = _current.set(uow)
    opener = unit_opener.set(uow.begin)
    try:
        if eager:  # its reads see every earlier message; the write lock waits for its first write
            await uow.settle()
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
        refuse_held(f"{type(action).__name__} sent", app)
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
    means the redelivered event sends it again. An open unit commits what it holds first
    (`UnitOfWork.checkpoint`): the platform is never awaited with the write lock held."""
    uow = _current.get()
    if uow is not None and uow.is_open and not await uow.checkpoint():
        # Inside a hook's savepoint the unit cannot commit part of itself: the call goes out with the
        # lock held, as every act_now did before checkpoints (a known gap: an admin-log button's mute).
        log.info("%s sent holding the write lock of %s (inside a savepoint)", type(action).__name__, uow.key)
    else:
        refuse_held(f"{type(action).__name__} sent now", app)
    faults.hit("send")
    return await app.outbox.deliver(action)


async def send(app: App, outgoing: list[Outgoing], *, background: bool = False) -> None:
    """Deliver committed actions in order; each leaves the outbox table once the platform took it.

    Detached from any unit around the caller (a unit inside a job's): marking a row sent must never
    open the outer unit's transaction, which would then hold the write lock over everything after it
    and leave the rows unmarked until it commits (a kill re-sent every group's digest)."""
    if not outgoing:
        return
    unit_token, opener_token = _current.set(None), unit_opener.set(None)
    try:
        for outbox_id, action, remember in outgoing:
            refuse_held(f"{type(action).__name__} sent", app)
            faults.hit("send")
            result = await app.outbox.deliver(action, background=background)
            faults.hit("sent")
            try:
                if remember:
                    await _remembered(app, outbox_id, remember, result, background)
                else:
                    await app.outbox_repo.sent(outbox_id)
            except Exception:
                log.exception("cannot record that outbox action %s was sent", outbox_id)
    finally:
        unit_opener.reset(opener_token)
        _current.reset(unit_token)


async def _remembered(
    app: App, outbox_id: str, remember: str, result: A.ActionResult, background: bool
) -> None:
    """What the platform answered, "sent", and whatever the answer causes (a campaign post's pin)
    commit together as a unit of their own: the pin is an outbox row sent after that commit, never a
    call made while the transaction holds the write lock, and a kill after it still sends it once."""
    now_ms = to_ms(app.clock.now())
    async with unit(app, f"{outbox_id}>sent", now_ms, record=False, background=background):
        await app.remembered(remember, result)
        await app.outbox_repo.sent(outbox_id)


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
