"""The community health digest's figures (社群健康度报告), one indexed query per section.

Every figure is read from aggregates the bot keeps anyway: messages per member and group day
(`activity_daily`), messages per group day and hour (`activity_hourly`), joins and leaves
(`membership_events`), check-ins, the points ledger (by group day), moderation cases (by time), needs,
nudges and campaign posts. No message body is kept for it, and no raw event is scanned: a period is a
range of an index.

A `Period` is whole days of the group's calendar: `first`..`last` (ISO days, inclusive) and the epoch-ms
bounds of those days in the group's timezone, so a message at 23:59 and one at 00:01 group time fall
on the days (and hours) the group lived them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.db import Database

DAY_MS = 86_400_000
CASE_KINDS = ("word", "link", "flood", "report", "other")  # "flood" counts repeats; "other": the rest
CASE_ACTIONS = ("warn", "mute", "kick", "ban")


@dataclass(frozen=True, slots=True)
class Period:
    first: str  # ISO day, group time, inclusive
    last: str
    start_ms: int
    end_ms: int  # exclusive: the first instant after `last` in the group's timezone
    zone: str

    @classmethod
    def of_days(cls, first: date, days: int, zone: str) -> Period:
        tz = ZoneInfo(zone)
        last = first + timedelta(days=days - 1)
        start = datetime.combine(first, time(0), tz)
        end = datetime.combine(last + timedelta(days=1), time(0), tz)
        return cls(first.isoformat(), last.isoformat(), _ms(start), _ms(end), zone)

    @classmethod
    def ending(cls, last: date, days: int, zone: str) -> Period:
        return cls.of_days(last - timedelta(days=days - 1), days, zone)

    @property
    def days(self) -> int:
        return (date.fromisoformat(self.last) - date.fromisoformat(self.first)).days + 1

    def before(self) -> Period:
        """The period of the same length just before this one (week-over-week figures)."""
        return Period.of_days(
            date.fromisoformat(self.first) - timedelta(days=self.days), self.days, self.zone
        )

    def day_list(self) -> list[str]:
        first = date.fromisoformat(self.first)
        return [(first + timedelta(days=i)).isoformat() for i in range(self.days)]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class MemberFigures:
    total: int  # members now (not bots, not gone)
    joined: int
    left: int

    @property
    def at_start(self) -> int:
        return self.total - self.joined + self.left

    @property
    def leave_rate(self) -> float | None:
        base = self.at_start
        return self.left / base if base > 0 else None

    @property
    def net(self) -> int:
        return self.joined - self.left


@dataclass(frozen=True, slots=True)
class ActivityFigures:
    messages: int
    active: int  # members who posted in the period
    dau: dict[str, int]  # day -> members who posted that day
    by_day: dict[str, int]  # day -> messages
    mau: int  # members who posted in the 30 days ending with the period
    heat: list[list[int]] = field(default_factory=list)  # [weekday 0=Mon][hour] -> messages

    @property
    def dau_avg(self) -> float:
        return sum(self.dau.values()) / len(self.dau) if self.dau else 0.0

    @property
    def stickiness(self) -> float | None:
        return self.dau_avg / self.mau if self.mau else None

    def peak_hours(self, n: int = 3) -> list[int]:
        totals = [sum(self.heat[d][h] for d in range(7)) for h in range(24)] if self.heat else []
        ranked = sorted((h for h in range(24) if totals and totals[h]), key=lambda h: (-totals[h], h))
        return ranked[:n]

    @property
    def busiest_day(self) -> tuple[str, int] | None:
        if not self.by_day or not max(self.by_day.values()):
            return None
        day = max(sorted(self.by_day), key=lambda d: self.by_day[d])
        return day, self.by_day[day]


@dataclass(frozen=True, slots=True)
class RitualFigures:
    checkins: int
    checkers: int  # members who checked in at least once
    avg_streak: float | None  # the best streak each checker reached in the period, averaged
    issued: int  # points earned (levels and boards count these)
    spent: int  # points spent, less refunds
    top: list[tuple[str, str, int]]  # (user id, name, points earned in the period)


@dataclass(frozen=True, slots=True)
class NewcomerFigures:
    joined_before: int  # joined in the period before
    retained: int  # of those, posted in this period
    verified: int
    verify_failed: int
    joined: int  # joined in this period (onboarding)
    onboarded: int  # of those, finished every task

    @property
    def retention(self) -> float | None:
        return self.retained / self.joined_before if self.joined_before else None

    @property
    def pass_rate(self) -> float | None:
        n = self.verified + self.verify_failed
        return self.verified / n if n else None

    @property
    def onboarding_rate(self) -> float | None:
        return self.onboarded / self.joined if self.joined else None


@dataclass(frozen=True, slots=True)
class OrderFigures:
    by_kind: dict[str, int]
    by_action: dict[str, int]
    reports: int
    reports_handled: int

    @property
    def cases(self) -> int:
        return sum(self.by_kind.values())


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    sent: int
    failed: int
    presses: int


def _kind(kind: str) -> str:
    if kind == "repeat":
        return "flood"
    return kind if kind in CASE_KINDS else "other"


class DigestRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- members -------------------------------------------------------------------------------------

    async def members_now(self, group_id: int) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM members WHERE group_id = ? AND is_bot = 0 AND left_at IS NULL", group_id
            )
        )

    async def joins_leaves(self, group_id: int, p: Period) -> tuple[int, int]:
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN kind = 'join' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN kind = 'leave' THEN 1 ELSE 0 END), 0) "
            "FROM membership_events WHERE group_id = ? AND at >= ? AND at < ?",
            group_id,
            p.start_ms,
            p.end_ms,
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def members(self, group_id: int, p: Period, total_at_end: int) -> MemberFigures:
        joined, left = await self.joins_leaves(group_id, p)
        return MemberFigures(total_at_end, joined, left)

    async def daily_joins_leaves(self, group_id: int, p: Period) -> dict[str, tuple[int, int]]:
        """Per group day: (joins, leaves); for the daily chart."""
        rows = await self._db.fetchall(
            "SELECT kind, at FROM membership_events WHERE group_id = ? AND at >= ? AND at < ?",
            group_id,
            p.start_ms,
            p.end_ms,
        )
        out = {d: [0, 0] for d in p.day_list()}
        zone = ZoneInfo(p.zone)
        for kind, at in rows:
            day = datetime.fromtimestamp(int(at) / 1000, zone).date().isoformat()
            if day in out:
                out[day][0 if kind == "join" else 1] += 1
        return {d: (j, left) for d, (j, left) in out.items()}

    # --- activity ------------------------------------------------------------------------------------

    async def activity(self, group_id: int, p: Period, *, mau_days: int | None = 30) -> ActivityFigures:
        """`mau_days=None` skips the monthly figure (the week before needs none: it is not shown)."""
        hourly = await self._db.fetchall(
            "SELECT day, hour, messages FROM activity_hourly WHERE group_id = ? AND day >= ? AND day <= ?",
            group_id,
            p.first,
            p.last,
        )
        heat = [[0] * 24 for _ in range(7)]
        by_day = dict.fromkeys(p.day_list(), 0)
        for day, hour, n in hourly:
            heat[date.fromisoformat(day).weekday()][int(hour)] += int(n)
            by_day[day] = by_day.get(day, 0) + int(n)
        dau = await self.daily_active(group_id, p)
        active = await self._distinct_posters(group_id, p.first, p.last)
        mau = 0
        if mau_days is not None:
            mau_first = (date.fromisoformat(p.last) - timedelta(days=mau_days - 1)).isoformat()
            mau = await self._distinct_posters(group_id, mau_first, p.last)
        return ActivityFigures(sum(by_day.values()), active, dau, by_day, mau, heat)

    async def daily_active(self, group_id: int, p: Period) -> dict[str, int]:
        out = dict.fromkeys(p.day_list(), 0)
        for day, n in await self._db.fetchall(
            "SELECT day, COUNT(*) FROM activity_daily WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY day",
            group_id,
            p.first,
            p.last,
        ):
            out[day] = int(n)
        return out

    async def _distinct_posters(self, group_id: int, first: str, last: str) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COUNT(DISTINCT user_id) FROM activity_daily WHERE group_id = ? AND day >= ? AND day <= ?",
                group_id,
                first,
                last,
            )
        )

    # --- rituals -------------------------------------------------------------------------------------

    async def rituals(self, group_id: int, p: Period, top: int = 5) -> RitualFigures:
        row = await self._db.fetchone(
            "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM checkins WHERE group_id = ? AND day >= ? AND day <= ?",
            group_id,
            p.first,
            p.last,
        )
        assert row is not None
        checkins, checkers = int(row[0]), int(row[1])
        avg = await self._db.fetchval(
            "SELECT AVG(best) FROM (SELECT MAX(streak) AS best FROM checkins "
            "WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY user_id) AS s",
            group_id,
            p.first,
            p.last,
        )
        money = await self._db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN kind = 'earn' THEN delta ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN kind IN ('spend', 'refund') THEN delta ELSE 0 END), 0) "
            "FROM points_ledger WHERE group_id = ? AND day >= ? AND day <= ?",
            group_id,
            p.first,
            p.last,
        )
        assert money is not None
        leaders = []
        if top:  # summed first, named after: the join touches `top` rows, not the week's ledger
            leaders = await self._db.fetchall(
                "SELECT t.user_id, COALESCE(m.name, ''), t.earned FROM (SELECT user_id, SUM(delta) AS earned "
                "FROM points_ledger WHERE group_id = ? AND day >= ? AND day <= ? AND kind = 'earn' "
                "GROUP BY user_id HAVING SUM(delta) > 0 ORDER BY earned DESC, user_id LIMIT ?) AS t "
                "LEFT JOIN members m ON m.group_id = ? AND m.user_id = t.user_id ORDER BY t.earned DESC, t.user_id",
                group_id,
                p.first,
                p.last,
                top,
                group_id,
            )
        return RitualFigures(
            checkins,
            checkers,
            None if avg is None else float(avg),
            int(money[0]),
            -int(money[1]),
            [(str(u), str(n), int(e)) for u, n, e in leaders],
        )

    # --- newcomers -----------------------------------------------------------------------------------

    async def newcomers(self, group_id: int, p: Period, tasks: int) -> NewcomerFigures:
        prev = p.before()
        joined_before = await self._joined(group_id, prev)
        retained = int(
            await self._db.fetchval(
                "SELECT COUNT(DISTINCT e.user_id) FROM membership_events e "
                "WHERE e.group_id = ? AND e.kind = 'join' AND e.at >= ? AND e.at < ? AND e.user_id IN "
                "(SELECT a.user_id FROM activity_daily a WHERE a.group_id = ? AND a.day >= ? AND a.day <= ?)",
                group_id,
                prev.start_ms,
                prev.end_ms,
                group_id,
                p.first,
                p.last,
            )
        )
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN status = 'passed' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN status NOT IN ('passed', 'open', 'left') THEN 1 ELSE 0 END), 0) "
            "FROM verifications WHERE group_id = ? AND created_at >= ? AND created_at < ?",
            group_id,
            p.start_ms,
            p.end_ms,
        )
        assert row is not None
        joined = await self._joined(group_id, p)
        onboarded = 0
        if tasks:
            onboarded = int(
                await self._db.fetchval(
                    "SELECT COUNT(*) FROM (SELECT o.user_id FROM onboarding_progress o "
                    "WHERE o.group_id = ? AND o.user_id IN (SELECT e.user_id FROM membership_events e "
                    "WHERE e.group_id = ? AND e.kind = 'join' AND e.at >= ? AND e.at < ?) "
                    "GROUP BY o.user_id HAVING COUNT(*) >= ?) AS done",
                    group_id,
                    group_id,
                    p.start_ms,
                    p.end_ms,
                    tasks,
                )
            )
        return NewcomerFigures(joined_before, retained, int(row[0]), int(row[1]), joined, onboarded)

    async def _joined(self, group_id: int, p: Period) -> int:
        """Members who joined in the period (one who joined twice counts once)."""
        return int(
            await self._db.fetchval(
                "SELECT COUNT(DISTINCT user_id) FROM membership_events "
                "WHERE group_id = ? AND kind = 'join' AND at >= ? AND at < ?",
                group_id,
                p.start_ms,
                p.end_ms,
            )
        )

    # --- order ---------------------------------------------------------------------------------------

    async def order(self, group_id: int, p: Period) -> OrderFigures:
        rows = await self._db.fetchall(
            "SELECT kind, action, COUNT(*), COALESCE(SUM(CASE WHEN undone_at IS NOT NULL THEN 1 ELSE 0 END), 0) "
            "FROM mod_cases WHERE group_id = ? AND at >= ? AND at < ? AND shadow = 0 GROUP BY kind, action",
            group_id,
            p.start_ms,
            p.end_ms,
        )
        by_kind = dict.fromkeys(CASE_KINDS, 0)
        by_action = dict.fromkeys(CASE_ACTIONS, 0)
        reports = handled = 0
        for kind, action, n, decided in rows:
            by_kind[_kind(str(kind))] += int(n)
            if action in by_action:
                by_action[action] += int(n)
            if action == "report":
                reports += int(n)
                handled += int(decided)
        return OrderFigures(by_kind, by_action, reports, handled)

    # --- campaigns -----------------------------------------------------------------------------------

    async def campaigns(self, group_id: int, p: Period) -> CampaignFigures:
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN cp.status = 'sent' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN cp.status = 'failed' THEN 1 ELSE 0 END), 0), COALESCE(SUM(cp.presses), 0) "
            "FROM campaign_posts cp JOIN campaigns c ON c.id = cp.campaign_id "
            "WHERE c.group_id = ? AND cp.fired_at >= ? AND cp.fired_at < ?",
            group_id,
            p.start_ms,
            p.end_ms,
        )
        assert row is not None
        return CampaignFigures(int(row[0]), int(row[1]), int(row[2]))

    # --- sent digests --------------------------------------------------------------------------------

    async def claim(self, group_id: int, period: str, now_ms: int) -> bool:
        """Mark the digest of `period` sent, inside the caller's unit: False if it was already."""
        return bool(
            await self._db.execute_rowcount(
                "INSERT INTO digests (group_id, period, sent_at) VALUES (?, ?, ?) "
                "ON CONFLICT (group_id, period) DO NOTHING",
                group_id,
                period,
                now_ms,
            )
        )

    async def sent(self, group_id: int, period: str) -> bool:
        return (
            await self._db.fetchone(
                "SELECT 1 FROM digests WHERE group_id = ? AND period = ?", group_id, period
            )
        ) is not None
