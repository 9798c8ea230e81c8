"""Needs voting at scale, beside simple baselines in the same run.

    .venv/bin/python bench/needs.py [needs] [votes] [--json]

1. A group with `needs` needs (default 10,000) and `votes` votes (default 500,000), a third of them
   answered: `/needs top` and `/needs stats all` through App.handle (the whole command), and the board
   read beside the baseline of counting votes from the vote rows.
2. The duplicate check of one new need against 2,000 open needs (normalising them all, rapidfuzz's
   extractOne) beside a Python loop over the same pairs. Goal: under 20 ms.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.dispatch import CountingAdapter, ordinary
from bench.points import timed
from bot.app import App
from bot.clock import FakeClock, to_ms
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import Outbox
from handlers import default_features
from handlers.needs import most_similar, similarity, similarity_key
from storage.db import SqliteDatabase
from storage.needs import NeedsRepo
from tests.helpers import T0


async def fill(db: SqliteDatabase, gid: int, needs: int, votes: int) -> None:
    rng = random.Random(3)
    texts = ordinary()
    t0 = to_ms(T0) - 90 * 86_400_000
    rows = []
    for i in range(needs):
        created = t0 + rng.randrange(85 * 86_400_000)
        answered = rng.random() < 0.33
        status = rng.choice(("accepted", "done", "declined")) if answered else "open"
        first = created + rng.randrange(96 * 3_600_000) if answered else None
        rows.append((gid, f"m{rng.randrange(5000)}", texts[i % len(texts)], status, created, "2026-10-01", first,
                     first if status in ("done", "declined") else None, f"bench:{i}"))  # fmt: skip
    await db.executemany(
        "INSERT INTO needs (group_id, user_id, text, status, created_at, day, first_response_at, closed_at, "
        "source_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    ids = [int(r[0]) for r in await db.fetchall("SELECT id FROM needs WHERE group_id = ?", gid)]
    per = votes // len(ids)
    batch = []
    for need_id in ids:
        for v in rng.sample(range(20_000), per):
            batch.append((need_id, f"v{v}", 0))
        if len(batch) >= 50_000:
            await db.executemany("INSERT INTO need_votes (need_id, user_id, at) VALUES (?, ?, ?)", batch)
            batch.clear()
    await db.executemany("INSERT INTO need_votes (need_id, user_id, at) VALUES (?, ?, ?)", batch)
    await db.execute(
        "UPDATE needs SET votes = (SELECT COUNT(*) FROM need_votes WHERE need_id = needs.id) WHERE group_id = ?",
        gid,
    )


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


async def board(needs: int, votes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/needs.db")
        clock = FakeClock(T0)
        outbox = Outbox()
        outbox.register(CountingAdapter())
        app = App(db, clock, outbox, default_features(), manual_scheduler=True)
        await app.start()
        group = await app.groups.ensure("bench", "g", "G", to_ms(T0))
        start = time.perf_counter()
        await fill(db, group.id, needs, votes)
        print(f"filled {needs:,} needs and {votes:,} votes in {time.perf_counter() - start:.1f}s")
        chat, n = ChatRef("bench", "g", "G"), 0

        async def ask(text: str) -> None:
            nonlocal n
            n += 1
            clock.advance(timedelta(seconds=1))
            await app.handle(
                MessagePosted(
                    event_key=f"ask:{n}",
                    chat=chat,
                    user=UserRef(f"asker{n}", f"Asker {n}"),  # a different member each time: no repeats
                    is_admin=False,
                    at=clock.now(),
                    message_id=f"a{n}",
                    text=text,
                )
            )

        await ask("/needs top")
        top = await timed(10)(lambda: ask("/needs top"))
        stats = await timed(5)(lambda: ask("/needs stats all"))
        read = await timed(10)(lambda: NeedsRepo(db).browse(group.id, "top", "", 10, 0))
        base = await timed(3)(
            lambda: db.fetchall(
                "SELECT n.id, COUNT(v.user_id) AS c FROM needs n LEFT JOIN need_votes v ON v.need_id = n.id "
                "WHERE n.group_id = ? AND n.status NOT IN ('done', 'declined', 'duplicate') "
                "GROUP BY n.id ORDER BY c DESC LIMIT 10",
                group.id,
            ),
        )
        await app.stop()
        await db.close()
    print(f"/needs top, whole command      : {top:8.2f} ms")
    print(f"/needs top board read          : {read:8.2f} ms   (baseline, counting vote rows: {base:.1f} ms)")
    print(f"/needs stats all, whole command: {stats:8.2f} ms")
    figures.record("/needs top whole command", top, "ms")
    figures.record("/needs top board read", read, "ms", baseline=base, baseline_name="counting vote rows")
    figures.record("/needs stats all whole command", stats, "ms")


def duplicates(open_needs: int = 2000) -> None:
    texts = ordinary()
    rng = random.Random(9)
    candidates = [(i, texts[rng.randrange(len(texts))] + f" 第{i}条") for i in range(open_needs)]
    new = "希望群里每周办一次线上分享会，大家轮流讲"

    def cold() -> None:  # after a start: every open need's key computed afresh
        similarity_key.cache_clear()
        most_similar(new, candidates, 80)

    first = best_of(5, cold)
    warm = best_of(5, lambda: most_similar(new, candidates, 80))  # the keys cached by earlier checks

    def loop() -> None:
        similarity_key.cache_clear()
        key = similarity_key(new)
        best = max((similarity(key, similarity_key(t)), i) for i, t in candidates)
        assert best is not None

    base = best_of(3, loop)
    print(
        f"duplicate check, {open_needs:,} open   : {first:8.2f} ms first after a start, {warm:.2f} ms warm "
        f"(baseline, Python loop: {base:.1f} ms)"
    )
    figures.record(
        f"duplicate check vs {open_needs:,} open needs, cold",
        first,
        "ms",
        baseline=base,
        baseline_name="Python loop",
        goal="< 20 ms",
    )
    figures.record(f"duplicate check vs {open_needs:,} open needs, warm", warm, "ms", baseline=base)


async def main() -> None:
    figures.begin()
    argv = figures.args()
    needs = int(argv[0]) if argv else 10_000
    votes = int(argv[1]) if len(argv) > 1 else 500_000
    await board(needs, votes)
    duplicates()
    figures.end("needs")


if __name__ == "__main__":
    asyncio.run(main())
