"""Resident memory (RSS, as the OS counts it: the Rust automaton included) of a bot serving many groups.

    .venv/bin/python bench/memory.py [messages] [--json]

1. 1,000 groups × 100 members, default features, SQLite: RSS after the bot started (the baseline) and
   after `messages` plain messages (default 200,000) from members who behave like members (the clock
   advances 40 ms a message, each from a random member of a random group, real sentences, nobody muted).
2. One 10,000-term word list: RSS grown per list, from 5 groups each loading a list of its own (measured
   first, in a fresh process, so memory freed by part 1 cannot hide it).

RSS figures are read from /proc/self/status after a garbage collection; they include the allocator's
retained pages, so they are what an operator's `top` shows.
"""

from __future__ import annotations

import asyncio
import gc
import random
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.dispatch import innocent_rules, ordinary, started_app
from bot.app import App
from bot.clock import FakeClock, to_ms
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import Outbox
from handlers import default_features
from handlers.moderation import ModerationFeature
from storage.db import SqliteDatabase
from storage.moderation import ModerationRepo
from tests.helpers import T0

GROUPS, MEMBERS, STEP, LISTS = 1000, 100, timedelta(milliseconds=40), 5


def rss_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def groups_and_messages(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/mem.db")
        clock = FakeClock(T0)
        app, adapter = await started_app(db, clock)
        rng = random.Random(5)
        texts = ordinary()
        chats = [ChatRef("bench", f"g{g}", f"G{g}") for g in range(GROUPS)]
        start = rss_mb()
        said: dict[tuple[int, int], int] = {}
        for i in range(n):
            g, m = rng.randrange(GROUPS), rng.randrange(MEMBERS)
            k = said[(g, m)] = said.get((g, m), rng.randrange(len(texts))) + 1
            clock.advance(STEP)
            await app.handle(
                MessagePosted(
                    event_key=f"mem:{i}",
                    chat=chats[g],
                    user=UserRef(f"u{g}-{m}", f"成员{m}"),
                    is_admin=False,
                    at=clock.now(),
                    message_id=str(i),
                    text=texts[k % len(texts)],
                )
            )
        await app.writer.flush()
        end = rss_mb()
        await app.stop()
        await db.close()
    if adapter.kinds.get("Mute") or adapter.kinds.get("Delete"):
        raise SystemExit(f"the senders were punished, the bench measures nothing: {adapter.kinds}")
    return start, end


async def word_lists() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/lists.db")
        app = App(db, FakeClock(T0), Outbox(), default_features(), manual_scheduler=True)
        await app.start()
        mod = next(f for f in app.features if isinstance(f, ModerationFeature))
        rules = innocent_rules(10_000)
        ids = []
        for g in range(LISTS):
            group = await app.groups.ensure("bench", f"w{g}", f"W{g}", to_ms(T0))
            # each group's own list: the same terms with a suffix of its own, so nothing is shared
            own = [replace(r, pattern=f"{r.pattern}{g}") for r in rules]
            await ModerationRepo(db).add_rules(group.id, own, "bench", to_ms(T0))
            ids.append(group.id)
        del rules
        before = rss_mb()
        for gid in ids:
            ctx = await app.context_for_group(gid)
            assert ctx is not None
            await mod.group_rules(ctx)
        after = rss_mb()
        await app.stop()
        await db.close()
    return before, after


def part(name: str, *args: str) -> list[float]:
    """Each measurement in a process of its own: memory one part freed would hide the next one's."""
    out = subprocess.run(
        [sys.executable, __file__, "--part", name, *args], capture_output=True, text=True, check=True
    )
    return [float(x) for x in out.stdout.split()]


async def run_part(name: str, args: list[str]) -> None:
    values = await (word_lists() if name == "lists" else groups_and_messages(int(args[0])))
    print(*values)


def main() -> None:
    if "--part" in sys.argv:
        i = sys.argv.index("--part")
        asyncio.run(run_part(sys.argv[i + 1], sys.argv[i + 2 :]))
        return
    figures.begin()
    argv = figures.args()
    n = int(argv[0]) if argv else 200_000
    before, after = part("lists")
    per_list = (after - before) / LISTS
    print(f"10,000-term word list: {per_list:.1f} MB RSS each ({LISTS} lists: {before:.1f} → {after:.1f} MB)")
    figures.record("RSS per 10,000-term word list", per_list, "MB", goal="≤ 5 MB")
    start, end = part("messages", str(n))
    print(
        f"{GROUPS:,} groups × {MEMBERS} members, {n:,} messages: RSS {start:.1f} MB at start, {end:.1f} MB after"
    )
    figures.record(
        f"RSS after {n:,} messages, {GROUPS:,} groups × {MEMBERS}",
        end,
        "MB",
        baseline=start,
        baseline_name="RSS of the started bot",
        goal="≤ 150 MB",
    )
    figures.end("memory")


if __name__ == "__main__":
    main()
