"""The punishment ladder: warnings expire, and each count leads to its step."""

from __future__ import annotations

from datetime import timedelta

from rules.ladder import DEFAULT_LADDER, Rung, live_warnings, step_for

DAY = 86_400_000


def test_default_ladder() -> None:
    steps = [(step_for(n).step, step_for(n).mute_for) for n in range(1, 9)]
    assert steps == [
        ("warn", None),
        ("warn", None),
        ("mute", timedelta(hours=1)),
        ("mute", timedelta(hours=1)),
        ("mute", timedelta(hours=24)),
        ("mute", timedelta(hours=24)),
        ("kick", None),
        ("kick", None),
    ]


def test_a_ban_rung_can_be_added() -> None:
    ladder = (*DEFAULT_LADDER, Rung(9, "ban"))
    assert step_for(9, ladder).step == "ban" and step_for(8, ladder).step == "kick"


def test_warnings_expire() -> None:
    issued = [0, 10 * DAY, 29 * DAY, 31 * DAY]
    assert live_warnings(issued, 31 * DAY, timedelta(days=30)) == 3  # the first is older than 30 days
    assert live_warnings(issued, 70 * DAY, timedelta(days=30)) == 0
