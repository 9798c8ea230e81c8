"""One `Database` interface over SQLite (the embedded default) and asyncpg (scale-out).

SQL is written once, portably, with `?` placeholders; the PostgreSQL backend rewrites them to `$n`.

A transaction is bound to the task that opened it (a context variable): every repository call made
inside `async with db.transaction()` — or inside the unit of work an event runs in — joins it, without
being handed an executor. A nested `transaction()` is a savepoint.

SQLite statements run inline, on the event loop's thread, under one lock: a hop to aiosqlite's worker
thread costs 110–150 µs on a small machine while a typical statement here costs 5–30 µs, so a check-in
of twenty statements spent most of its time travelling. aiosqlite still opens and closes the
connection (and owns it), and the lock keeps its thread and ours from ever using it at once.

Inline, the connection never waits for SQLite's write lock (its busy timeout is 0): another process or
connection holding it (a backup, a migration, a second bot) would stall the whole event loop for up to
the timeout. A statement or BEGIN / COMMIT refused with SQLITE_BUSY is tried again after an
`asyncio.sleep`, under the lock, on SQLite's own back-off schedule, for up to `busy_budget` seconds;
then the "database is locked" error is raised as before, and `is_transient` takes it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite

from bot import faults

Row = Any  # aiosqlite.Row or asyncpg.Record: both index by name and position

Opener = Callable[[], Awaitable[None]]
# Set by a unit of work (bot/unit.py) while it runs: the first write made outside a transaction opens
# the unit's transaction, so the write commits with the event's key and actions, never on its own.
unit_opener: ContextVar[Opener | None] = ContextVar("unit_opener", default=None)


class Executor(ABC):
    """What a repository needs: the database itself, or one open transaction."""

    @abstractmethod
    async def execute(self, sql: str, *params: Any) -> None: ...

    @abstractmethod
    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        """Execute and return how many rows changed (conditional updates: spending, stock)."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    async def fetchall(self, sql: str, *params: Any) -> list[Row]: ...

    async def fetchone(self, sql: str, *params: Any) -> Row | None:
        rows = await self.fetchall(sql, *params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *params: Any) -> Any:
        row = await self.fetchone(sql, *params)
        return None if row is None else row[0]


class Database(Executor):
    dialect: str

    @abstractmethod
    def transaction(self) -> Any:
        """`async with db.transaction() as tx:` — everything on tx commits together or not at all."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def in_transaction(self) -> bool:
        """True inside a transaction this task opened (repositories then join it)."""

    @abstractmethod
    def is_transient(self, exc: BaseException) -> bool:
        """True when trying again may succeed (a lock, a lost connection); False when the data itself is
        at fault (a value the database refuses), which no retry can fix."""


# --- SQLite -----------------------------------------------------------------------------------------------

BUSY_BUDGET = 5.0  # seconds a statement may wait for the write lock (what busy_timeout=5000 allowed)
# SQLite's own busy handler's pauses (sqliteDefaultBusyCallback), then its last one over and over
_BUSY_PAUSES = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY and its extended codes: another connection holds a lock this statement needs."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


class _SqliteExec(Executor):
    """Runs statements on the raw sqlite3 connection, synchronously (see the module docstring)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    async def execute(self, sql: str, *params: Any) -> None:
        faults.hit("sql")
        self._raw.execute(sql, params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        faults.hit("sql")
        return self._raw.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        faults.hit("sql")
        self._raw.executemany(sql, rows)

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        return self._raw.execute(sql, params).fetchall()

    async def fetchone(self, sql: str, *params: Any) -> Row | None:
        return self._raw.execute(sql, params).fetchone()


class SqliteDatabase(Database):
    """One connection in autocommit mode; a lock serialises transactions, as SQLite has one writer anyway.

    A statement outside any transaction runs at once when no other task holds one open, and waits for
    the lock otherwise (it must not land inside another task's transaction). One refused with
    SQLITE_BUSY waits for SQLite's lock holding ours (`_patiently`), so our statements keep their order.

    Inside a transaction nothing waits: BEGIN IMMEDIATE took the write lock and, in WAL mode, the read
    snapshot too, so a statement there has no lock left to wait for. Should one still be refused (a
    rollback-journal database), the error is raised and the whole transaction rolled back, as SQLite
    advises: retrying that one statement is not safe (a unit of work is run again, bot/app.py)."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, raw: sqlite3.Connection) -> None:
        self._conn = conn
        self._raw = raw
        self._exec = _SqliteExec(raw)
        self._lock = asyncio.Lock()
        self.busy_budget = BUSY_BUDGET
        self._tx: ContextVar[tuple[_SqliteExec, list[int]] | None] = ContextVar("sqlite_tx", default=None)

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
        conn.row_factory = aiosqlite.Row
        # in aiosqlite's thread, where waiting for a lock (switching to WAL) stalls nothing
        busy_ms = int(BUSY_BUDGET * 1000)
        for pragma in (f"busy_timeout={busy_ms}", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        raw = conn._conn  # the sqlite3 connection aiosqlite opened; used only under our lock
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA busy_timeout=0")  # inline from here on: never wait on the loop's thread
        return cls(conn, raw)

    async def _patiently(self, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """`await call(*args)`, tried again after a pause while SQLite answers SQLITE_BUSY, for up to
        `busy_budget` seconds; the caller holds the lock. Only for what is safe to repeat after BUSY:
        BEGIN, COMMIT (the transaction stays open) and a statement outside any transaction that
        changed nothing (`executemany` outside one commits row by row: once a row is in, it stops)."""
        deadline: float | None = None
        for pause in itertools.chain(_BUSY_PAUSES, itertools.repeat(_BUSY_PAUSES[-1])):
            changes = self._raw.total_changes
            try:
                return await call(*args)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or self._raw.total_changes != changes:
                    raise
                now = asyncio.get_running_loop().time()
                if deadline is None:
                    deadline = now + self.busy_budget
                if now >= deadline:
                    raise
            await asyncio.sleep(min(pause, deadline - now))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _statement(self, sql: str) -> None:
        self._raw.execute(sql)

    def _try(self, sql: str) -> bool:
        """Run `sql` inline (the usual case, without a coroutine's cost); False when refused with BUSY."""
        try:
            self._raw.execute(sql)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            return False
        return True

    async def _run(self, method: str, sql: str, *args: Any) -> Any:
        bound = self._tx.get()
        if bound is None and not method.startswith("fetch") and (opener := unit_opener.get()) is not None:
            await opener()
            bound = self._tx.get()
        if bound is not None:  # this task's transaction: it holds the write lock, nothing to wait for
            return await getattr(bound[0], method)(sql, *args)
        if method == "executemany" and not isinstance(args[0], list | tuple):
            args = (list(args[0]),)  # a second attempt must see the rows the first one consumed
        if not self._lock.locked():
            changes = self._raw.total_changes
            try:
                return await getattr(self._exec, method)(sql, *args)  # nothing awaits in between: atomic
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or self._raw.total_changes != changes:
                    raise
            # refused: another connection holds SQLite's lock; wait below, never blocking the loop
        async with self._lock:
            return await self._patiently(getattr(self._exec, method), sql, *args)

    async def execute(self, sql: str, *params: Any) -> None:
        await self._run("execute", sql, *params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        return int(await self._run("execute_rowcount", sql, *params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._run("executemany", sql, rows)

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        return list(await self._run("fetchall", sql, *params))

    async def fetchone(self, sql: str, *params: Any) -> Row | None:
        return await self._run("fetchone", sql, *params)

    def in_transaction(self) -> bool:
        return self._tx.get() is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        bound = self._tx.get()
        if bound is None and (opener := unit_opener.get()) is not None:
            await opener()
            bound = self._tx.get()
        if bound is not None:  # nested: a savepoint inside this task's transaction
            ex, depth = bound
            depth[0] += 1
            name = f"sp{depth[0]}"
            self._raw.execute(f"SAVEPOINT {name}")
            try:
                yield ex
            except BaseException:
                self._raw.execute(f"ROLLBACK TO {name}")
                self._raw.execute(f"RELEASE {name}")
                raise
            else:
                self._raw.execute(f"RELEASE {name}")
            finally:
                depth[0] -= 1
            return
        async with self._lock:
            faults.hit("begin")
            if not self._try("BEGIN IMMEDIATE"):
                await self._patiently(self._statement, "BEGIN IMMEDIATE")
            token = self._tx.set((self._exec, [0]))
            try:
                yield self._exec
            except BaseException:
                with suppress(sqlite3.OperationalError):  # an error may have ended it already
                    self._raw.execute("ROLLBACK")
                raise
            else:
                faults.hit("commit")
                try:
                    # a refused COMMIT leaves the transaction open: try again; given up, roll it
                    # back, so the connection holds no lock once ours is released
                    if not self._try("COMMIT"):
                        await self._patiently(self._statement, "COMMIT")
                except BaseException:
                    with suppress(sqlite3.OperationalError):
                        self._raw.execute("ROLLBACK")
                    raise
                faults.hit("committed")
            finally:
                self._tx.reset(token)

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    def is_transient(self, exc: BaseException) -> bool:
        # "database is locked", "disk I/O error": the operation, not the row, failed
        return isinstance(exc, sqlite3.OperationalError | OSError | TimeoutError)


# --- PostgreSQL ---------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?")


@lru_cache(maxsize=1024)
def to_dollar_params(sql: str) -> str:
    """Rewrite `?` placeholders (outside string literals) to asyncpg's `$1, $2, …`."""
    counter = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal counter
        if m.group(0) != "?":
            return m.group(0)
        counter += 1
        return f"${counter}"

    return _PLACEHOLDER.sub(repl, sql)


class _PgExec(Executor):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: Any) -> None:
        faults.hit("sql")
        await self._conn.execute(to_dollar_params(sql), *params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        faults.hit("sql")
        status: str = await self._conn.execute(to_dollar_params(sql), *params)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        faults.hit("sql")
        await self._conn.executemany(to_dollar_params(sql), [tuple(r) for r in rows])

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        return list(await self._conn.fetch(to_dollar_params(sql), *params))


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._exec = _PgExec(pool)
        self._tx: ContextVar[_PgExec | None] = ContextVar("pg_tx", default=None)

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> PostgresDatabase:
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "PostgreSQL needs the 'postgres' extra: pip install 'qunbot[postgres]'"
            ) from exc
        settings = {"search_path": schema} if schema else None
        pool = await asyncpg.create_pool(url, min_size=1, max_size=10, server_settings=settings)
        return cls(pool)

    def _on(self) -> _PgExec:
        return self._tx.get() or self._exec

    async def _writer(self) -> _PgExec:
        bound = self._tx.get()
        if bound is None and (opener := unit_opener.get()) is not None:
            await opener()
            bound = self._tx.get()
        return bound or self._exec

    async def execute(self, sql: str, *params: Any) -> None:
        await (await self._writer()).execute(sql, *params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        return await (await self._writer()).execute_rowcount(sql, *params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await (await self._writer()).executemany(sql, rows)

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        return await self._on().fetchall(sql, *params)

    def in_transaction(self) -> bool:
        return self._tx.get() is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        bound = self._tx.get()
        if bound is None and (opener := unit_opener.get()) is not None:
            await opener()
            bound = self._tx.get()
        if bound is not None:  # nested: asyncpg makes it a savepoint
            async with bound._conn.transaction():
                yield bound
            return
        async with self._pool.acquire() as conn:
            faults.hit("begin")
            tx = conn.transaction()
            await tx.start()
            ex = _PgExec(conn)
            token = self._tx.set(ex)
            try:
                yield ex
            except BaseException:
                await tx.rollback()
                raise
            else:
                faults.hit("commit")
                await tx.commit()
                faults.hit("committed")
            finally:
                self._tx.reset(token)

    async def close(self) -> None:
        await self._pool.close()

    def is_transient(self, exc: BaseException) -> bool:
        import asyncpg

        return isinstance(
            exc,
            asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.exceptions.TooManyConnectionsError
            | asyncpg.exceptions.CannotConnectNowError
            | asyncpg.exceptions.DeadlockDetectedError
            | asyncpg.exceptions.SerializationError
            | asyncpg.exceptions.QueryCanceledError
            | OSError
            | TimeoutError,
        )


async def open_database(url: str, *, pg_schema: str | None = None) -> Database:
    """`sqlite:///relative.db`, `sqlite:////absolute.db`, `sqlite:///:memory:` or `postgresql://…`."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path
        return await SqliteDatabase.open(path or ":memory:")
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.open(url, schema=pg_schema)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://user@host:port/db"
    )
