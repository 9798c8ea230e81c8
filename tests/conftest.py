"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from bot import unit
from storage.db import Database, SqliteDatabase, open_database

# A thread or the platform awaited while a unit of work holds the write lock fails the test (bot/unit.py);
# QUNBOT_STRICT_UNITS=0 turns it off (to measure what the lock costs instead).
unit.set_strict(os.environ.get("QUNBOT_STRICT_UNITS", "1") != "0")

PG_URL = os.environ.get("QUNBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_pg_ok: bool | None = None


async def _pg_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            import asyncpg

            conn = await asyncpg.connect(PG_URL, timeout=3)
            await conn.close()
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


async def _pg_database() -> tuple[Database, str]:
    if not await _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {PG_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.close()
    return await open_database(PG_URL, pg_schema=schema), schema


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """An empty database of each kind (not migrated)."""
    if request.param == "sqlite":
        database: Database = await SqliteDatabase.open(str(tmp_path / "test.db"))
        yield database
        await database.close()
    else:
        database, schema = await _pg_database()
        yield database
        await database.close()
        await _drop_schema(schema)


@pytest.fixture
async def sqlite_db(tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    database = await SqliteDatabase.open(str(tmp_path / "test.db"))
    yield database
    await database.close()
