"""Moderation storage: rules, cases, warnings, allowed domains, the admin-log target and reports.
Every query is scoped by group."""

from __future__ import annotations

from dataclasses import dataclass

from bot.parsing import parse_int
from rules.engine import Rule
from storage.db import Database, Row

_RULE_COLUMNS = "id, kind, pattern, action, category, mute_seconds, exceptions, shadow, pinyin"
_CASE_COLUMNS = (
    "id, group_id, user_id, user_name, action, reason, rule_id, excerpt, message_id, actor, until_at, "
    "shadow, at, undone_at"
)
_EXCEPTION_SEP = "\x1f"


def _rule(row: Row) -> Rule:
    exceptions = tuple(e for e in row["exceptions"].split(_EXCEPTION_SEP) if e)
    return Rule(
        int(row["id"]),
        row["kind"],
        row["pattern"],
        row["action"],
        row["category"],
        int(row["mute_seconds"]),
        exceptions,
        bool(row["shadow"]),
        row["pinyin"],
    )


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    group_id: int
    user_id: str
    user_name: str
    action: str
    reason: str
    rule_id: int | None
    excerpt: str
    message_id: str | None
    actor: str
    until_ms: int | None
    shadow: bool
    at_ms: int
    undone_ms: int | None

    @classmethod
    def from_row(cls, row: Row) -> Case:
        return cls(
            int(row["id"]),
            int(row["group_id"]),
            row["user_id"],
            row["user_name"],
            row["action"],
            row["reason"],
            None if row["rule_id"] is None else int(row["rule_id"]),
            row["excerpt"],
            row["message_id"],
            row["actor"],
            None if row["until_at"] is None else int(row["until_at"]),
            bool(row["shadow"]),
            int(row["at"]),
            None if row["undone_at"] is None else int(row["undone_at"]),
        )


@dataclass(frozen=True, slots=True)
class NewCase:
    group_id: int
    user_id: str
    user_name: str
    action: str
    reason: str
    actor: str
    at_ms: int
    rule_id: int | None = None
    excerpt: str = ""
    message_id: str | None = None
    until_ms: int | None = None
    shadow: bool = False
    source_key: str | None = None
    kind: str = "manual"  # word | link | flood | repeat | contact | mentions | report | manual


@dataclass(frozen=True, slots=True)
class LogTarget:
    chat_id: str
    channel: str | None


class ModerationRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- rules ---------------------------------------------------------------------------------------

    async def rules(self, group_id: int) -> list[Rule]:
        rows = await self._db.fetchall(
            f"SELECT {_RULE_COLUMNS} FROM mod_rules WHERE group_id = ? ORDER BY id", group_id
        )
        return [_rule(r) for r in rows]

    async def add_rules(self, group_id: int, rules: list[Rule], actor: str, now_ms: int) -> int:
        """Insert rules (ids ignored), skipping ones the group already has; returns how many were new.
        One statement per 1,000 rules: a 64,000-term lexicon is 64 round trips, not 64,000."""
        before = await self.rule_count(group_id)
        async with self._db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO mod_rules (group_id, kind, pattern, action, category, mute_seconds, exceptions, "
                "shadow, pinyin, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, kind, pattern) DO NOTHING",
                [
                    (
                        group_id,
                        r.kind,
                        r.pattern,
                        r.action,
                        r.category,
                        r.mute_seconds,
                        _EXCEPTION_SEP.join(r.exceptions),
                        int(r.shadow),
                        r.pinyin,
                        actor,
                        now_ms,
                    )
                    for r in rules
                ],
            )
        return await self.rule_count(group_id) - before

    async def rule_count(self, group_id: int) -> int:
        return int(await self._db.fetchval("SELECT COUNT(*) FROM mod_rules WHERE group_id = ?", group_id))

    # --- the allow-list ------------------------------------------------------------------------------

    async def allow_rows(self, group_id: int) -> dict[str, bool]:
        """The group's own entries: word → allowed (False: a shipped word taken out)."""
        rows = await self._db.fetchall("SELECT word, allowed FROM mod_allow WHERE group_id = ?", group_id)
        return {r["word"]: bool(r["allowed"]) for r in rows}

    async def set_allowed(
        self, group_id: int, words: list[str], allowed: bool, actor: str, now_ms: int
    ) -> None:
        await self._db.executemany(
            "INSERT INTO mod_allow (group_id, word, allowed, added_by, added_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (group_id, word) DO UPDATE SET allowed = excluded.allowed, "
            "added_by = excluded.added_by, added_at = excluded.added_at",
            [(group_id, w, int(allowed), actor, now_ms) for w in words],
        )

    async def find_rule(self, group_id: int, ref: str) -> Rule | None:
        """By `#id` (or a bare number that is no term) or by pattern."""
        ref = ref.strip()
        row = await self._db.fetchone(
            f"SELECT {_RULE_COLUMNS} FROM mod_rules WHERE group_id = ? AND pattern = ? ORDER BY id LIMIT 1",
            group_id,
            ref,
        )
        number = parse_int(ref.removeprefix("#"), 1)
        if row is None and number is not None:
            row = await self._db.fetchone(
                f"SELECT {_RULE_COLUMNS} FROM mod_rules WHERE group_id = ? AND id = ?", group_id, number
            )
        return None if row is None else _rule(row)

    async def remove_rule(self, group_id: int, rule_id: int) -> None:
        await self._db.execute("DELETE FROM mod_rules WHERE group_id = ? AND id = ?", group_id, rule_id)

    async def update_rule(self, group_id: int, rule: Rule) -> None:
        await self._db.execute(
            "UPDATE mod_rules SET action = ?, mute_seconds = ?, exceptions = ?, shadow = ?, category = ?, "
            "pinyin = ? WHERE group_id = ? AND id = ?",
            rule.action,
            rule.mute_seconds,
            _EXCEPTION_SEP.join(rule.exceptions),
            int(rule.shadow),
            rule.category,
            rule.pinyin,
            group_id,
            rule.id,
        )

    # --- cases and warnings --------------------------------------------------------------------------

    async def record(self, case: NewCase, *, warn: bool) -> Case | None:
        """Record a case (and a warning with it), in one transaction; None when its source was recorded
        already (a redelivery)."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO mod_cases (group_id, user_id, user_name, action, reason, rule_id, excerpt, message_id, "
                "actor, until_at, shadow, source_key, at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (source_key) DO NOTHING RETURNING {_CASE_COLUMNS}",
                case.group_id,
                case.user_id,
                case.user_name,
                case.action,
                case.reason,
                case.rule_id,
                case.excerpt,
                case.message_id,
                case.actor,
                case.until_ms,
                int(case.shadow),
                case.source_key,
                case.at_ms,
                case.kind,
            )
            if row is None:
                return None
            recorded = Case.from_row(row)
            if warn:
                await tx.execute(
                    "INSERT INTO mod_warnings (group_id, user_id, case_id, at) VALUES (?, ?, ?, ?)",
                    case.group_id,
                    case.user_id,
                    recorded.id,
                    case.at_ms,
                )
        return recorded

    async def set_case_action(self, case_id: int, action: str, until_ms: int | None) -> None:
        """The ladder decides the final step after the warning is counted."""
        await self._db.execute(
            "UPDATE mod_cases SET action = ?, until_at = ? WHERE id = ?", action, until_ms, case_id
        )

    async def case(self, group_id: int, case_id: int) -> Case | None:
        row = await self._db.fetchone(
            f"SELECT {_CASE_COLUMNS} FROM mod_cases WHERE group_id = ? AND id = ?", group_id, case_id
        )
        return None if row is None else Case.from_row(row)

    async def case_by_id(self, case_id: int) -> Case | None:
        row = await self._db.fetchone(f"SELECT {_CASE_COLUMNS} FROM mod_cases WHERE id = ?", case_id)
        return None if row is None else Case.from_row(row)

    async def recent_cases(self, group_id: int, limit: int, user_id: str | None = None) -> list[Case]:
        if user_id is None:
            rows = await self._db.fetchall(
                f"SELECT {_CASE_COLUMNS} FROM mod_cases WHERE group_id = ? ORDER BY id DESC LIMIT ?",
                group_id,
                limit,
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT {_CASE_COLUMNS} FROM mod_cases WHERE group_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
                group_id,
                user_id,
                limit,
            )
        return [Case.from_row(r) for r in rows]

    async def mark_undone(self, case_id: int, actor: str, now_ms: int) -> bool:
        """Once: two admins pressing undo together undo it once."""
        return bool(
            await self._db.execute_rowcount(
                "UPDATE mod_cases SET undone_at = ?, undone_by = ? WHERE id = ? AND undone_at IS NULL",
                now_ms,
                actor,
                case_id,
            )
        )

    async def live_warnings(self, group_id: int, user_id: str, since_ms: int) -> list[int]:
        """Ids of a member's warnings issued after `since_ms` and not revoked, oldest first."""
        rows = await self._db.fetchall(
            "SELECT id FROM mod_warnings WHERE group_id = ? AND user_id = ? AND at > ? AND revoked_at IS NULL "
            "ORDER BY id",
            group_id,
            user_id,
            since_ms,
        )
        return [int(r[0]) for r in rows]

    async def revoke_warning(
        self, group_id: int, user_id: str, actor: str, now_ms: int, case_id: int | None = None
    ) -> bool:
        """Revoke the warning of a case, or else the member's newest live one."""
        if case_id is not None:
            target = await self._db.fetchval(
                "SELECT id FROM mod_warnings WHERE group_id = ? AND case_id = ? AND revoked_at IS NULL",
                group_id,
                case_id,
            )
        else:
            target = await self._db.fetchval(
                "SELECT MAX(id) FROM mod_warnings WHERE group_id = ? AND user_id = ? AND revoked_at IS NULL",
                group_id,
                user_id,
            )
        if target is None:
            return False
        return bool(
            await self._db.execute_rowcount(
                "UPDATE mod_warnings SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                now_ms,
                actor,
                int(target),
            )
        )

    # --- domains and the log target ------------------------------------------------------------------

    async def domains(self, group_id: int) -> frozenset[str]:
        rows = await self._db.fetchall("SELECT domain FROM mod_domains WHERE group_id = ?", group_id)
        return frozenset(r[0] for r in rows)

    async def allow_domain(self, group_id: int, domain: str) -> None:
        await self._db.execute(
            "INSERT INTO mod_domains (group_id, domain) VALUES (?, ?) ON CONFLICT (group_id, domain) DO NOTHING",
            group_id,
            domain,
        )

    async def deny_domain(self, group_id: int, domain: str) -> bool:
        return bool(
            await self._db.execute_rowcount(
                "DELETE FROM mod_domains WHERE group_id = ? AND domain = ?", group_id, domain
            )
        )

    async def log_target(self, group_id: int) -> LogTarget | None:
        row = await self._db.fetchone(
            "SELECT chat_id, channel FROM mod_log_targets WHERE group_id = ?", group_id
        )
        return None if row is None else LogTarget(row["chat_id"], row["channel"])

    async def set_log_target(self, group_id: int, target: LogTarget | None, actor: str, now_ms: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM mod_log_targets WHERE group_id = ?", group_id)
            if target is not None:
                await tx.execute(
                    "INSERT INTO mod_log_targets (group_id, chat_id, channel, set_by, set_at) VALUES (?, ?, ?, ?, ?)",
                    group_id,
                    target.chat_id,
                    target.channel,
                    actor,
                    now_ms,
                )

    async def groups_logging_to(self, chat_id: str) -> list[int]:
        rows = await self._db.fetchall("SELECT group_id FROM mod_log_targets WHERE chat_id = ?", chat_id)
        return [int(r[0]) for r in rows]

    # --- reports -------------------------------------------------------------------------------------

    async def add_report(
        self,
        group_id: int,
        message_id: str,
        reporter: str,
        target_user: str,
        target_name: str,
        excerpt: str,
        reason: str,
        now_ms: int,
    ) -> int:
        """Record one member's report (once per reporter); returns how many distinct members reported it."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO mod_reports (group_id, message_id, reporter, target_user, target_name, excerpt, "
                "reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, message_id, reporter) DO NOTHING",
                group_id,
                message_id,
                reporter,
                target_user,
                target_name,
                excerpt,
                reason,
                now_ms,
            )
            return int(
                await tx.fetchval(
                    "SELECT COUNT(*) FROM mod_reports WHERE group_id = ? AND message_id = ?",
                    group_id,
                    message_id,
                )
            )

    async def report_target(self, group_id: int, message_id: str) -> tuple[str, str, str] | None:
        row = await self._db.fetchone(
            "SELECT target_user, target_name, excerpt FROM mod_reports WHERE group_id = ? AND message_id = ? LIMIT 1",
            group_id,
            message_id,
        )
        return None if row is None else (row[0], row[1], row[2])

    async def decide_report(
        self, group_id: int, message_id: str, decision: str, actor: str, now_ms: int
    ) -> bool:
        """Once: the first admin's decision stands."""
        return bool(
            await self._db.execute_rowcount(
                "INSERT INTO mod_report_decisions (group_id, message_id, decision, actor, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, message_id) DO NOTHING",
                group_id,
                message_id,
                decision,
                actor,
                now_ms,
            )
        )

    async def report_decided(self, group_id: int, message_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT 1 FROM mod_report_decisions WHERE group_id = ? AND message_id = ?", group_id, message_id
        )
        return found is not None
