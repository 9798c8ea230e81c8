"""Dormant-member recall (沉默召回): who is due a nudge, the nudges and the hold-out's would-be nudges,
returns, opt-outs, the clean-up of lost members, and the figures that say whether nudging works.

A nudge row is unique per (group, member, group day) and is written in the scan's unit of work with
the DM or group message it causes, so a scan run twice, or killed and run again, nudges nobody twice.
`recall_state` keeps each member's place in their current episode (how many nudges, when the next may
go) so the daily selection is one walk of the members index beside a primary-key probe.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database

ARMS = ("dm", "group", "holdout")
LIVE = ("queued", "sent", "held")  # a row a return can still settle (a failed DM reached nobody)
# silent, not lost, joined before the cut, no opt-out, and nothing of this episode or a nudge due by now
DUE_SQL = (
    "SELECT m.user_id, m.name, m.last_seen_at, s.episode, s.nudges, s.last_at FROM members m "
    "LEFT JOIN recall_state s ON s.group_id = m.group_id AND s.user_id = m.user_id "
    "WHERE m.group_id = ? AND m.last_seen_at < ? AND m.last_seen_at >= ? "
    "AND m.left_at IS NULL AND m.is_bot = 0 AND COALESCE(m.joined_at, 0) < ? "
    "AND (s.episode IS NULL OR s.episode <> m.last_seen_at OR s.due_at <= ?) "
    "AND NOT EXISTS (SELECT 1 FROM recall_optout o WHERE o.group_id = m.group_id AND o.user_id = m.user_id) "
    "ORDER BY m.last_seen_at DESC LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class Due:
    """A silent member whose next nudge may go now."""

    user_id: str
    name: str
    last_seen_ms: int  # names the episode
    nudges: int  # already in this episode
    last_at: int | None  # the latest nudge (or would-be nudge) of this episode


@dataclass(frozen=True, slots=True)
class NewNudge:
    user_id: str
    episode: int
    arm: str
    status: str


@dataclass(frozen=True, slots=True)
class Settled:
    """What a member's first activity after their nudges settled."""

    nudge_ids: list[int]
    episode: int
    reached: bool  # at least one settled row actually reached them (not the hold-out's)
    nudged_at: int  # the latest of them


@dataclass(frozen=True, slots=True)
class ArmFigures:
    settled: int  # rows whose return window closed, or that returned
    returned: int
    pending: int  # still inside their window, not back yet

    @property
    def rate(self) -> float | None:
        return None if self.settled == 0 else self.returned / self.settled


@dataclass(frozen=True, slots=True)
class RecallStats:
    dm: ArmFigures
    group: ArmFigures
    holdout: ArmFigures
    failed: int  # DMs the platform refused
    gifts: int
    gift_points: int

    @property
    def nudged(self) -> ArmFigures:
        return ArmFigures(
            self.dm.settled + self.group.settled,
            self.dm.returned + self.group.returned,
            self.dm.pending + self.group.pending,
        )

    @property
    def uplift_points(self) -> float | None:
        """Return rate of the nudged minus the hold-out's, in percentage points."""
        a, b = self.nudged.rate, self.holdout.rate
        return None if a is None or b is None else (a - b) * 100


@dataclass(frozen=True, slots=True)
class LastNudge:
    day: str
    arm: str
    status: str
    returned_at: int | None


class RecallRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- the daily selection -------------------------------------------------------------------------

    async def due(
        self,
        group_id: int,
        *,
        now_ms: int,
        silent_before: int,
        lost_before: int,
        joined_before: int,
        limit: int,
    ) -> list[Due]:
        """Silent members (quiet since before `silent_before`, not yet lost) who joined before
        `joined_before`, have not opted out, and whose episode has no nudge yet or a next one due by now.
        The most recently silent first: they are the likeliest to come back."""
        rows = await self._db.fetchall(
            DUE_SQL,
            group_id,
            silent_before,
            lost_before,
            joined_before,
            now_ms,
            limit,
        )
        out = []
        for r in rows:
            same = r[3] is not None and int(r[3]) == int(r[2])  # a nudge of this very episode
            out.append(Due(r[0], r[1], int(r[2]), int(r[4]) if same else 0, int(r[5]) if same else None))
        return out

    async def start_scan(self, group_id: int, day: str, at_ms: int, silent_before: int) -> bool:
        """False when this group's scan of `day` already ran (a restart, a second fire)."""
        async with self._db.transaction() as tx:  # a write: it must join the scan's unit
            row = await tx.fetchone(
                "INSERT INTO recall_scans (group_id, day, at, silent_before) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (group_id, day) DO NOTHING RETURNING day",
                group_id,
                day,
                at_ms,
                silent_before,
            )
        return row is not None

    async def scanned(self, group_id: int, day: str) -> bool:
        found = await self._db.fetchval(
            "SELECT 1 FROM recall_scans WHERE group_id = ? AND day = ?", group_id, day
        )
        return found is not None

    async def last_scan(self, group_id: int) -> tuple[str, int] | None:
        row = await self._db.fetchone(
            "SELECT day, at FROM recall_scans WHERE group_id = ? ORDER BY day DESC LIMIT 1", group_id
        )
        return None if row is None else (row[0], int(row[1]))

    async def record(
        self,
        group_id: int,
        day: str,
        at_ms: int,
        nudges: list[NewNudge],
        *,
        every_ms: int,
        max_per_episode: int,
    ) -> dict[str, int]:
        """Write the day's nudges and move each member's episode state on; returns the new rows' ids by
        member (a member already nudged this day is left out)."""
        ids: dict[str, int] = {}
        async with self._db.transaction() as tx:
            for n in nudges:
                row = await tx.fetchone(
                    "INSERT INTO recall_nudges (group_id, user_id, day, episode, arm, status, nudged_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, user_id, day) DO NOTHING RETURNING id",
                    group_id,
                    n.user_id,
                    day,
                    n.episode,
                    n.arm,
                    n.status,
                    at_ms,
                )
                if row is not None:
                    ids[n.user_id] = int(row[0])
            await tx.executemany(
                "INSERT INTO recall_state (group_id, user_id, episode, nudges, last_at, due_at) "
                "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (group_id, user_id) DO UPDATE SET "
                "nudges = CASE WHEN recall_state.episode = excluded.episode THEN recall_state.nudges + 1 ELSE 1 END, "
                "episode = excluded.episode, last_at = excluded.last_at, "
                "due_at = CASE WHEN (CASE WHEN recall_state.episode = excluded.episode "
                "THEN recall_state.nudges + 1 ELSE 1 END) >= ? THEN NULL ELSE excluded.due_at END",
                [
                    (group_id, n.user_id, n.episode, at_ms, None if max_per_episode <= 1 else at_ms + every_ms,
                     max_per_episode)
                    for n in nudges
                    if n.user_id in ids
                ],
            )  # fmt: skip
        return ids

    async def delivered(self, nudge_id: int, ok: bool) -> tuple[int, str, str] | None:
        """A DM's fate. A refused one reached nobody: it is counted apart, and the member's episode gets
        that nudge back (due again at once, so the next scan tries the group instead)."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE recall_nudges SET status = ? WHERE id = ? AND status = 'queued' "
                "RETURNING group_id, user_id, episode",
                "sent" if ok else "failed",
                nudge_id,
            )
            if row is None or ok:
                return None if row is None else (int(row[0]), row[1], "sent")
            await tx.execute(
                "UPDATE recall_state SET nudges = nudges - 1, due_at = 0, last_at = 0 "
                "WHERE group_id = ? AND user_id = ? AND episode = ? AND nudges > 0",
                int(row[0]),
                row[1],
                int(row[2]),
            )
            return int(row[0]), row[1], "failed"

    # --- returns -------------------------------------------------------------------------------------

    async def open_members(self, since_ms: int) -> list[tuple[int, str]]:
        """(group, member) pairs with a nudge a return could still settle (loaded at start)."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT group_id, user_id FROM recall_nudges "
            "WHERE returned_at IS NULL AND nudged_at >= ? AND status IN ('queued', 'sent', 'held')",
            since_ms,
        )
        return [(int(r[0]), r[1]) for r in rows]

    async def settle(self, group_id: int, user_id: str, at_ms: int, window_ms: int) -> Settled | None:
        """The member is active again at `at_ms`: every live nudge of theirs within the return window
        counts as returned. None when there is none (already settled, or too late)."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "UPDATE recall_nudges SET returned_at = ? WHERE group_id = ? AND user_id = ? "
                "AND returned_at IS NULL AND nudged_at >= ? AND nudged_at <= ? AND status IN ('queued', 'sent', 'held') "
                "RETURNING id, episode, arm, nudged_at",
                at_ms,
                group_id,
                user_id,
                at_ms - window_ms,
                at_ms,
            )
        if not rows:
            return None
        latest = max(rows, key=lambda r: int(r[3]))
        return Settled(
            [int(r[0]) for r in rows],
            int(latest[1]),
            any(r[2] != "holdout" for r in rows),
            int(latest[3]),
        )

    async def set_gift(self, nudge_ids: list[int], points: int) -> None:
        await self._db.execute(
            f"UPDATE recall_nudges SET gift = ? WHERE id IN ({', '.join('?' * len(nudge_ids))})",
            points,
            *nudge_ids,
        )

    # --- opting out ----------------------------------------------------------------------------------

    async def opt_out(self, group_id: int, user_id: str, at_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO recall_optout (group_id, user_id, at) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id, user_id) DO NOTHING",
            group_id,
            user_id,
            at_ms,
        )

    async def opt_in(self, group_id: int, user_id: str) -> None:
        await self._db.execute(
            "DELETE FROM recall_optout WHERE group_id = ? AND user_id = ?", group_id, user_id
        )

    async def opted_out(self, group_id: int, user_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT 1 FROM recall_optout WHERE group_id = ? AND user_id = ?", group_id, user_id
        )
        return found is not None

    async def last_nudge(self, group_id: int, user_id: str) -> LastNudge | None:
        row = await self._db.fetchone(
            "SELECT day, arm, status, returned_at FROM recall_nudges WHERE group_id = ? AND user_id = ? "
            "ORDER BY nudged_at DESC LIMIT 1",
            group_id,
            user_id,
        )
        return None if row is None else LastNudge(row[0], row[1], row[2], row[3])

    # --- lost members --------------------------------------------------------------------------------

    async def lost_unnoticed(self, group_id: int, lost_before: int, limit: int) -> list[tuple[str, str, int]]:
        """Lost members (quiet since before `lost_before`) not yet told about the clean-up this episode."""
        rows = await self._db.fetchall(
            "SELECT m.user_id, m.name, m.last_seen_at FROM members m WHERE m.group_id = ? "
            "AND m.last_seen_at < ? AND m.left_at IS NULL AND m.is_bot = 0 "
            "AND NOT EXISTS (SELECT 1 FROM recall_lost l WHERE l.group_id = m.group_id "
            "AND l.user_id = m.user_id AND l.episode = m.last_seen_at) "
            "ORDER BY m.last_seen_at LIMIT ?",
            group_id,
            lost_before,
            limit,
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def notice_lost(self, group_id: int, members: list[tuple[str, int]], at_ms: int) -> None:
        await self._db.executemany(
            "INSERT INTO recall_lost (group_id, user_id, episode, noticed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, user_id, episode) DO NOTHING",
            [(group_id, u, e, at_ms) for u, e in members],
        )

    async def lost_ready(self, group_id: int, noticed_before: int, limit: int) -> list[tuple[str, str, int]]:
        """Members told at least a grace period ago, still in that same silence, not yet acted on."""
        rows = await self._db.fetchall(
            "SELECT l.user_id, m.name, l.episode FROM recall_lost l JOIN members m "
            "ON m.group_id = l.group_id AND m.user_id = l.user_id "
            "WHERE l.group_id = ? AND l.noticed_at <= ? AND l.listed_at IS NULL AND l.done IS NULL "
            "AND m.last_seen_at = l.episode AND m.left_at IS NULL ORDER BY l.noticed_at, l.user_id LIMIT ?",
            group_id,
            noticed_before,
            limit,
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def lost_listed(self, group_id: int, members: list[tuple[str, int]], at_ms: int) -> None:
        await self._db.executemany(
            "UPDATE recall_lost SET listed_at = ? WHERE group_id = ? AND user_id = ? AND episode = ?",
            [(at_ms, group_id, u, e) for u, e in members],
        )

    async def lost_done(self, group_id: int, members: list[tuple[str, int]], done: str) -> list[str]:
        """Mark listed members acted on; returns those still in the same silence (the ones to act on)."""
        out: list[str] = []
        async with self._db.transaction() as tx:
            for user_id, episode in members:
                row = await tx.fetchone(
                    "UPDATE recall_lost SET done = ? WHERE group_id = ? AND user_id = ? AND episode = ? "
                    "AND done IS NULL AND EXISTS (SELECT 1 FROM members m WHERE m.group_id = recall_lost.group_id "
                    "AND m.user_id = recall_lost.user_id AND m.last_seen_at = recall_lost.episode "
                    "AND m.left_at IS NULL) RETURNING user_id",
                    done,
                    group_id,
                    user_id,
                    episode,
                )
                if row is not None:
                    out.append(row[0])
        return out

    # --- figures -------------------------------------------------------------------------------------

    async def stats(self, group_id: int, since_ms: int, now_ms: int, window_ms: int) -> RecallStats:
        """Nudges from `since_ms` on. A row counts once it is settled: the member came back, or the
        return window closed without them; rows still inside their window are reported as pending, so a
        scan of this morning does not drag today's rate down."""
        rows = await self._db.fetchall(
            "SELECT arm, status, "
            "SUM(CASE WHEN returned_at IS NOT NULL THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN returned_at IS NULL AND nudged_at > ? THEN 1 ELSE 0 END), "
            "COUNT(*), SUM(CASE WHEN gift > 0 THEN 1 ELSE 0 END), COALESCE(SUM(gift), 0) "
            "FROM recall_nudges WHERE group_id = ? AND nudged_at >= ? GROUP BY arm, status",
            now_ms - window_ms,
            group_id,
            since_ms,
        )
        figures = {arm: [0, 0, 0] for arm in ARMS}
        failed = gifts = gift_points = 0
        for arm, status, returned, pending, total, gifted, points in rows:
            gifts += int(gifted or 0)
            gift_points += int(points or 0)
            if status == "failed":
                failed += int(total)
                continue
            f = figures.setdefault(arm, [0, 0, 0])
            f[0] += int(total) - int(pending or 0)
            f[1] += int(returned or 0)
            f[2] += int(pending or 0)
        return RecallStats(
            *(ArmFigures(*figures[arm]) for arm in ARMS), failed=failed, gifts=gifts, gift_points=gift_points
        )
