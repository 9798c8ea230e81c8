"""Automatic FAQ answers on a busy group, beside the same stream with them off, in the same run.

    .venv/bin/python bench/faq.py [messages] [--json]

Senders behave like members: 5 groups of 100 members; each group has 200 saved questions with 4
phrasings each (the 20 real entries of tests/data/faq_entries.tsv, then 180 more made from their
words), so 1,000 wordings to match. The clock advances 40 ms per message; a member speaks about every
20 s. Nine messages in ten are real sentences (rules/data/innocent_zh.txt), one in ten a real member's
question from tests/data/faq_questions.tsv. The answers a question gets go out (so the cooldown, the
log row and the reply are all in the figure); nobody is muted or deleted (checked).

Reported: mean µs per message through App.handle with `faq.auto` on, beside the same messages with it off
(a second database, same run); the median question alone (one no entry answers or the cooldown holds
back: the cost of checking), beside the same; and matching one question
against the 1,000 wordings (`QuestionIndex.best`) beside the way the first version did it (each
phrasing re-folded and scored in a Python loop per message).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz

from bench import figures
from bench.dispatch import GROUPS, STEP, ordinary, started_app
from bench.dispatch import make_events as dispatch_events
from bot.clock import FakeClock, to_ms
from bot.events import MessagePosted
from rules.normalize import compact
from rules.questions import QuestionIndex, is_question, question_key
from storage.db import SqliteDatabase
from storage.faq import FaqRepo
from tests.helpers import T0

ENTRIES = 200
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text("utf-8").splitlines()
    return [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]


def entries() -> list[tuple[str, list[str], str]]:
    """(question, phrasings, answer): the real 20, then made-up ones from their words."""
    real = [(q, p.split("|")[:4], a) for q, p, a in rows("faq_entries.tsv")]
    rng = random.Random(3)
    words = sorted({w for q, ps, _ in real for w in [q, *ps] if not w.isascii()})
    made: list[tuple[str, list[str], str]] = []
    seen = {compact(q) for q, _, _ in real}
    while len(real) + len(made) < ENTRIES:
        a, b = rng.sample(words, 2)
        question = f"{a[: len(a) // 2 + 1]}{b[len(b) // 2 :]}第{len(made)}条"
        if compact(question) in seen:
            continue
        seen.add(compact(question))
        made.append((question, [f"{question}{s}" for s in ("吗", "怎么办", "在哪", "如何")], "见公告。"))
    return real + made


def make_events(n: int, seed: int) -> list[MessagePosted]:
    """The dispatch bench's members; one message in ten a real member's question."""
    texts = [t for t in ordinary() if not is_question(t)]
    questions = [r[0] for r in rows("faq_questions.tsv")]

    def line(i: int, k: int) -> str:
        return questions[k % len(questions)] if i % 10 == 9 else texts[k % len(texts)]

    return dispatch_events(n, STEP * 100, seed, line)


async def run(path: str, events: list[MessagePosted], auto: bool) -> tuple[float, float, dict[str, int]]:
    db = await SqliteDatabase.open(path)
    clock = FakeClock(T0)
    app, adapter = await started_app(db, clock)
    repo = FaqRepo(db)
    for g in range(GROUPS):
        group = await app.groups.ensure("bench", f"g{g}", f"G{g}", to_ms(T0))
        if not auto:
            await app.groups.save_overrides(group.id, {"faq": {"auto": "off"}}, "bench", to_ms(T0))
        for question, phrasings, answer in entries():
            new_id = await repo.add(group.id, question, answer, compact(question), "bench", to_ms(T0))
            assert new_id is not None
            for p in phrasings:
                await repo.add_phrasing(group.id, new_id, p)
    for event in events[:50]:  # groups known, entries cached: the steady state is what is measured
        clock.set(event.at)
        await app.handle(event)
    await app.writer.flush()
    questions: list[float] = []
    start = time.perf_counter()
    for event in events[50:]:
        clock.set(event.at)
        t = time.perf_counter()
        await app.handle(event)
        if event.text and is_question(event.text):
            questions.append(time.perf_counter() - t)
    await app.writer.flush()
    total = time.perf_counter() - start
    await app.stop()
    await db.close()
    if adapter.kinds.get("Mute") or adapter.kinds.get("Delete"):
        raise SystemExit(f"the senders were punished, the bench measures nothing: {adapter.kinds}")
    # the median question is one no entry answers or the cooldown holds back (nine in ten here): the
    # cost of checking; the mean also carries the answers' replies
    return total / (len(events) - 50) * 1e6, statistics.median(questions) * 1e6, adapter.kinds


def old_best(key: str, candidates: dict[int, list[str]]) -> tuple[int, float] | None:
    """The first version: every phrasing folded again and scored in a Python loop, per question."""
    top: tuple[int, float] | None = None
    for entry_id, (first, *phrasings) in candidates.items():
        keys = [first, *(question_key(p) for p in phrasings)]
        score = max((fuzz.WRatio(key, k) for k in keys if k), default=0.0)
        if top is None or score > top[1]:
            top = (entry_id, score)
    return top


def matching() -> tuple[float, float]:
    raw = {i: [compact(q), *ps] for i, (q, ps, _) in enumerate(entries())}
    index = QuestionIndex({i: [ks[0], *(question_key(p) for p in ks[1:])] for i, ks in raw.items()})
    keys = [question_key(r[0]) for r in rows("faq_questions.tsv")]
    for key in keys:  # the same answers both ways
        new, old = index.best(key), old_best(key, raw)
        assert new is not None and old is not None and abs(new[1] - old[1]) < 1e-6, (key, new, old)
    t = time.perf_counter()
    for key in keys:
        index.best(key, 85)  # as the handler asks: with the group's threshold as the cutoff
    fast = (time.perf_counter() - t) / len(keys) * 1e6
    t = time.perf_counter()
    for key in keys:
        old_best(key, raw)
    slow = (time.perf_counter() - t) / len(keys) * 1e6
    return fast, slow


async def main() -> None:
    figures.begin()
    args = figures.args()
    n = int(args[0]) if args else 20_000
    events = make_events(n, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        on_msg, on_q, kinds = await run(f"{tmp}/on.db", events, auto=True)
        off_msg, off_q, _ = await run(f"{tmp}/off.db", events, auto=False)
    print(f"faq: {n:,} messages, {n // 10:,} of them questions; answers sent {kinds.get('Reply', 0)} "
          f"(the rest held back by the cooldown or below the threshold)")  # fmt: skip
    print(f"message: {on_msg:.0f} µs with answers on, {off_msg:.0f} µs off; "
          f"a question (median): {on_q:.0f} µs on, {off_q:.0f} µs off")  # fmt: skip
    figures.record(
        "message, FAQ auto-answers on (1 in 10 a question)",
        on_msg,
        "µs",
        baseline=off_msg,
        baseline_name="(faq.auto off)",
        goal="< 1 ms",
    )
    figures.record(
        "a member's question (median), answers on",
        on_q,
        "µs",
        baseline=off_q,
        baseline_name="(faq.auto off)",
    )
    fast, slow = matching()
    print(f"matching one question against {ENTRIES * 5:,} wordings: {fast:.0f} µs; "
          f"re-folded in a Python loop: {slow:.0f} µs")  # fmt: skip
    figures.record(
        "match one question against 1,000 wordings",
        fast,
        "µs",
        baseline=slow,
        baseline_name="(re-folded, Python loop)",
    )
    figures.end("faq")


if __name__ == "__main__":
    asyncio.run(main())
