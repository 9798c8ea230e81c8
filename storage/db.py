"""One `Database` interface over aiosqlite (the embedded default) and asyncpg (scale-out).

SQL is written once, portably, with `?` placeholders; the PostgreSQL backend rewrites them to `$n`.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite

Row = Any  # aiosqlite.Row or asyncpg.Record: both index by name and position


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
    def is_transient(self, exc: BaseException) -> bool:
        """True when trying again may succeed (a lock, a lost connection); False when the data itself is
        at fault (a value the database refuses), which no retry can fix."""


# --- SQLite -----------------------------------------------------------------------------------------------


class _SqliteExec(Executor):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: Any) -> None:
        await self._conn.execute(sql, params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        cur = await self._conn.execute(sql, params)
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, list(rows))

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        cur = await self._conn.execute(sql, params)
        return list(await cur.fetchall())


class SqliteDatabase(Database):
    """One connection in autocommit mode; a lock serialises transactions, as SQLite has one writer anyway."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._exec = _SqliteExec(conn)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        return cls(conn)

    async def execute(self, sql: str, *params: Any) -> None:
        async with self._lock:
            await self._exec.execute(sql, *params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        async with self._lock:
            return await self._exec.execute_rowcount(sql, *params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._lock:
            await self._exec.executemany(sql, rows)

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        async with self._lock:
            return await self._exec.fetchall(sql, *params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._exec
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def close(self) -> None:
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
        await self._conn.execute(to_dollar_params(sql), *params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        status: str = await self._conn.execute(to_dollar_params(sql), *params)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(to_dollar_params(sql), [tuple(r) for r in rows])

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        return list(await self._conn.fetch(to_dollar_params(sql), *params))


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._exec = _PgExec(pool)

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

    async def execute(self, sql: str, *params: Any) -> None:
        await self._exec.execute(sql, *params)

    async def execute_rowcount(self, sql: str, *params: Any) -> int:
        return await self._exec.execute_rowcount(sql, *params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._exec.executemany(sql, rows)

    async def fetchall(self, sql: str, *params: Any) -> list[Row]:
        return await self._exec.fetchall(sql, *params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgExec(conn)

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
