"""Daily check-ins (签到): the day's row, the streak, its reward, make-ups, reminder preferences.

A check-in is one transaction: the streak row is read once, the day's rank comes from an indexed counter
(never a COUNT), the day's row is the lock against a second check-in, and the reward goes through the
ledger (`award`, whose cause "checkin:<group>:<member>:<day>" can never pay twice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from storage.db import Database
from storage.points import Balance, award


class AlreadyCheckedIn(Exception):
    """This member checked in today already: nothing was written."""

    def __init__(self, streak: int) -> None:
        super().__init__(streak)
        self.streak = streak


class MakeupRefused(Exception):
    """A make-up that cannot be done: over the month's limit, or yesterday is already checked in."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "limit" or "not_needed"


@dataclass(frozen=True, slots=True)
class CheckedIn:
    streak: int
    points: int
    rank: int  # number N to check in today
    used_freeze: bool
    balance: Balance  # after the reward
    earned_before: int


@dataclass(frozen=True, slots=True)
class MadeUp:
    streak: int
    used: int  # make-ups this month before this one


@dataclass(frozen=True, slots=True)
class Streak:
    user_id: str
    streak: int


def _days(today: str, *back: int) -> list[str]:
    d = date.fromisoformat(today)
    return [(d - timedelta(days=n)).isoformat() for n in back]


class CheckinRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def check_in(
        self, group_id: int, user_id: str, day: str, at_ms: int, reward: Callable[[int], int]
    ) -> CheckedIn:
        """Record today's check-in and pay `reward(streak)`; AlreadyCheckedIn writes nothing.

        The streak continues from yesterday, or across one missed day when a streak freeze is spent."""
        yesterday, two_days_ago = _days(day, 1, 2)
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT last_day, streak, best FROM checkin_streaks WHERE group_id = ? AND user_id = ?",
                group_id,
                user_id,
            )
            if row is not None and row[0] == day:
                raise AlreadyCheckedIn(int(row[1]))
            streak, used_freeze = 1, False
            if row is not None and row[0] == yesterday:
                streak = int(row[1]) + 1
            elif row is not None and row[0] == two_days_ago:
                # One missed day: a streak freeze bought in the shop keeps the streak alive.
                used_freeze = bool(
                    await tx.execute_rowcount(
                        "UPDATE checkin_prefs SET freezes = freezes - 1 WHERE group_id = ? AND user_id = ? "
                        "AND freezes > 0",
                        group_id,
                        user_id,
                    )
                )
                if used_freeze:
                    streak = int(row[1]) + 1
            best = max(streak, int(row[2]) if row is not None else 0)
            points = reward(streak)
            rank = int(
                await tx.fetchval(
                    "INSERT INTO checkin_day_counts (group_id, day, n) VALUES (?, ?, 1) ON CONFLICT (group_id, day) "
                    "DO UPDATE SET n = checkin_day_counts.n + 1 RETURNING n",
                    group_id,
                    day,
                )
            )
            # The day's row is the lock: a concurrent check-in inserts nothing and rolls all of this back.
            if not await tx.execute_rowcount(
                "INSERT INTO checkins (group_id, user_id, day, at, streak, points, rank) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, day, user_id) DO NOTHING",
                group_id,
                user_id,
                day,
                at_ms,
                streak,
                points,
                rank,
            ):
                raise AlreadyCheckedIn(await self._streak_on(group_id, user_id, day))
            await tx.execute(
                "INSERT INTO checkin_streaks (group_id, user_id, last_day, streak, best) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, user_id) DO UPDATE SET last_day = excluded.last_day, "
                "streak = excluded.streak, best = excluded.best",
                group_id,
                user_id,
                day,
                streak,
                best,
            )
            paid = await award(
                tx,
                group_id,
                user_id,
                points,
                reason="checkin",
                source_key=f"checkin:{group_id}:{user_id}:{day}",
                actor=user_id,
                at_ms=at_ms,
                day=day,
            )
            if paid is None:  # the ledger has this day's check-in although its row was gone: pay nothing
                raise AlreadyCheckedIn(streak)
        return CheckedIn(streak, points, rank, used_freeze, paid, paid.earned - max(points, 0))

    async def _streak_on(self, group_id: int, user_id: str, day: str) -> int:
        value = await self._db.fetchval(
            "SELECT streak FROM checkins WHERE group_id = ? AND day = ? AND user_id = ?",
            group_id,
            day,
            user_id,
        )
        return int(value or 1)

    async def make_up(
        self, group_id: int, user_id: str, today: str, at_ms: int, *, per_month: int, cost: int
    ) -> MadeUp:
        """补签: check in for yesterday, paying `cost`; the streak joins up (and today's grows with it).

        MakeupRefused or InsufficientPoints write nothing."""
        yesterday, before = _days(today, 1, 2)
        async with self._db.transaction() as tx:
            used = int(
                await tx.fetchval(
                    "SELECT COUNT(*) FROM checkins WHERE group_id = ? AND user_id = ? AND makeup = 1 AND day LIKE ?",
                    group_id,
                    user_id,
                    today[:7] + "%",
                )
            )
            if used >= per_month:
                raise MakeupRefused("limit")
            prior = await tx.fetchval(
                "SELECT streak FROM checkins WHERE group_id = ? AND user_id = ? AND day = ?",
                group_id,
                user_id,
                before,
            )
            streak = int(prior or 0) + 1
            if not await tx.execute_rowcount(
                "INSERT INTO checkins (group_id, user_id, day, at, streak, points, rank, makeup) "
                "VALUES (?, ?, ?, ?, ?, 0, 0, 1) ON CONFLICT (group_id, day, user_id) DO NOTHING",
                group_id,
                user_id,
                yesterday,
                at_ms,
                streak,
            ):
                raise MakeupRefused("not_needed")
            if cost:
                await award(
                    tx,
                    group_id,
                    user_id,
                    -cost,
                    reason="makeup",
                    actor=user_id,
                    source_key=f"makeup:{group_id}:{user_id}:{yesterday}",
                    at_ms=at_ms,
                    day=today,
                )
            last_day = yesterday
            if await tx.execute_rowcount(  # already checked in today: today's streak grows with it
                "UPDATE checkins SET streak = ? WHERE group_id = ? AND user_id = ? AND day = ?",
                streak + 1,
                group_id,
                user_id,
                today,
            ):
                streak, last_day = streak + 1, today
            await tx.execute(
                "INSERT INTO checkin_streaks (group_id, user_id, last_day, streak, best) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, user_id) DO UPDATE SET last_day = excluded.last_day, "
                "streak = excluded.streak, best = CASE WHEN excluded.best > checkin_streaks.best "
                "THEN excluded.best ELSE checkin_streaks.best END",
                group_id,
                user_id,
                last_day,
                streak,
                streak,
            )
        return MadeUp(streak, used)

    async def current_streak(self, group_id: int, user_id: str, today: str) -> int:
        """The streak still alive today (checked in today or yesterday), else 0."""
        row = await self._db.fetchone(
            "SELECT streak, last_day FROM checkin_streaks WHERE group_id = ? AND user_id = ?",
            group_id,
            user_id,
        )
        if row is None or row[1] < _days(today, 1)[0]:
            return 0
        return int(row[0])

    async def count_on(self, group_id: int, day: str) -> int:
        found = await self._db.fetchval(
            "SELECT n FROM checkin_day_counts WHERE group_id = ? AND day = ?", group_id, day
        )
        return 0 if found is None else int(found)

    async def best_streak(self, group_id: int, user_id: str) -> int:
        found = await self._db.fetchval(
            "SELECT best FROM checkin_streaks WHERE group_id = ? AND user_id = ?", group_id, user_id
        )
        return 0 if found is None else int(found)

    async def set_remind(self, group_id: int, user_id: str, on: bool) -> None:
        await self._db.execute(
            "INSERT INTO checkin_prefs (group_id, user_id, remind) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id, user_id) DO UPDATE SET remind = excluded.remind",
            group_id,
            user_id,
            int(on),
        )

    async def groups_with_reminders(self) -> list[int]:
        rows = await self._db.fetchall("SELECT DISTINCT group_id FROM checkin_prefs WHERE remind = 1")
        return [int(r[0]) for r in rows]

    async def at_risk(self, group_id: int, today: str, min_streak: int) -> list[Streak]:
        """Members who asked for reminders, checked in yesterday but not yet today, on a streak worth saving."""
        rows = await self._db.fetchall(
            "SELECT s.user_id, s.streak FROM checkin_streaks s JOIN checkin_prefs p "
            "ON p.group_id = s.group_id AND p.user_id = s.user_id "
            "WHERE s.group_id = ? AND p.remind = 1 AND s.last_day = ? AND s.streak >= ? ORDER BY s.user_id",
            group_id,
            _days(today, 1)[0],
            min_streak,
        )
        return [Streak(r[0], int(r[1])) for r in rows]

    async def board(self, group_id: int, today: str, limit: int) -> list[Streak]:
        """The longest streaks still alive, of members still in the group."""
        rows = await self._db.fetchall(
            "SELECT s.user_id, s.streak FROM checkin_streaks s WHERE s.group_id = ? AND s.last_day >= ? "
            "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.group_id = s.group_id AND m.user_id = s.user_id "
            "AND m.left_at IS NOT NULL) ORDER BY s.streak DESC, s.user_id LIMIT ?",
            group_id,
            _days(today, 1)[0],
            limit,
        )
        return [Streak(r[0], int(r[1])) for r in rows]
