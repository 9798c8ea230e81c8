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


def parse_ladder(text: str) -> tuple[Rung, ...]:
    """`3=mute:1h,5=mute:24h,7=kick,9=ban`: the rungs above a plain warning. ValueError when malformed."""
    from bot.parsing import parse_duration, parse_int  # pure helpers, shared with the commands

    rungs: list[Rung] = []
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        count, _, step = part.partition("=")
        count, step = count.strip(), step.strip().lower()
        number = parse_int(count, 1, 100)
        if number is None:
            raise ValueError(f"{part!r}: the warning count is a number from 1 to 100")
        count = str(number)
        kind, _, duration = step.partition(":")
        if kind == "mute":
            rungs.append(Rung(int(count), "mute", parse_duration(duration or "1h")))
        elif kind in ("warn", "kick", "ban") and not duration:
            rungs.append(Rung(int(count), kind))  # type: ignore[arg-type]
        else:
            raise ValueError(f"{part!r}: a step is warn, mute:<duration>, kick or ban")
    counts = [r.warnings for r in rungs]
    if len(counts) != len(set(counts)):
        raise ValueError("each warning count once")
    return tuple(sorted(rungs, key=lambda r: r.warnings))


def format_ladder(ladder: tuple[Rung, ...]) -> str:
    from bot.parsing import format_duration

    return ",".join(
        f"{r.warnings}={r.step}" + (f":{format_duration(r.mute_for)}" if r.mute_for else "") for r in ladder
    )


def next_rung(warnings: int, ladder: tuple[Rung, ...]) -> Rung | None:
    """The next step up, to tell a warned member what comes next."""
    return next((r for r in sorted(ladder, key=lambda r: r.warnings) if r.warnings > warnings), None)
