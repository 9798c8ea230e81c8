"""The punishment ladder (阶梯式处罚): what a member's count of live warnings leads to. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Step = Literal["warn", "mute", "kick", "ban"]


@dataclass(frozen=True, slots=True)
class Rung:
    warnings: int  # reached when a member has this many live warnings
    step: Step
    mute_for: timedelta | None = None


# Default: a warning; 3 → mute 1 h; 5 → mute 24 h; 7 → kick. Ban is optional (operators add a rung).
DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung(1, "warn"),
    Rung(3, "mute", timedelta(hours=1)),
    Rung(5, "mute", timedelta(hours=24)),
    Rung(7, "kick"),
)


def live_warnings(issued_ms: list[int], now_ms: int, expiry: timedelta) -> int:
    """Warnings expire (default 30 days): only those issued within the expiry count."""
    cutoff = now_ms - int(expiry.total_seconds() * 1000)
    return sum(1 for t in issued_ms if t > cutoff)


def step_for(warnings: int, ladder: tuple[Rung, ...] = DEFAULT_LADDER) -> Rung:
    """The highest rung a member's live warnings reach (a plain warning below the first)."""
    reached = [r for r in sorted(ladder, key=lambda r: r.warnings) if warnings >= r.warnings]
    return reached[-1] if reached else Rung(0, "warn")
