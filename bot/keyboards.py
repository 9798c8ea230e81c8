"""Buttons laid out for the platform: several a row, and a list longer than one message holds paged.

A platform says how many buttons a row and how many rows one message may carry (`Outbox.button_grid`:
Discord 5 × 5, Telegram 8 a row and, for a phone's screen, a dozen rows); a list of choices (the FAQ's
questions) is cut into pages of what fits with a row left for ◀ page ▶, instead of showing the first
five on one platform and twenty-four on the other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.actions import Button, Keyboard

LONG_LABEL = 14  # display cells (a CJK character takes two): longer labels go two a row


@dataclass(frozen=True, slots=True)
class Grid:
    per_row: int
    rows: int


UNLIMITED = Grid(per_row=8, rows=100)


def cells(label: str) -> int:
    """How wide a label shows: wide (CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)


def columns(labels: Sequence[str], grid: Grid) -> int:
    """Buttons a row for these labels: three short ones, two long ones, never more than the grid."""
    wanted = 2 if any(cells(label) > LONG_LABEL for label in labels) else 3
    return max(1, min(wanted, grid.per_row))


@dataclass(frozen=True, slots=True)
class Page:
    keyboard: Keyboard
    page: int  # 0-based, clamped into range
    pages: int


def paged(
    buttons: Sequence[Button],
    page: int,
    grid: Grid,
    nav: Callable[[int], str],
    *,
    labels: tuple[str, str] = ("◀", "▶"),
    footer: Sequence[Button] = (),
) -> Page:
    """One page of `buttons` laid out in rows, with a ◀ n/m ▶ row when there is more than one page
    (`nav(k)` is the payload that shows page k) and an optional `footer` row under everything."""
    cols = columns([b.label for b in buttons], grid)
    spare = 1 + (1 if footer else 0)
    rows_per_page = max(1, grid.rows - spare)
    size = cols * rows_per_page
    pages = max(1, -(-len(buttons) // size))
    page = min(max(page, 0), pages - 1)
    shown = list(buttons[page * size : (page + 1) * size])
    rows: list[tuple[Button, ...]] = [tuple(shown[i : i + cols]) for i in range(0, len(shown), cols)]
    if pages > 1:
        rows.append(
            (
                Button(labels[0], nav((page - 1) % pages)),
                Button(f"{page + 1}/{pages}", nav(page)),
                Button(labels[1], nav((page + 1) % pages)),
            )
        )
    if footer:
        rows.append(tuple(footer[: grid.per_row]))
    return Page(tuple(rows), page, pages)


def reflow(buttons: Keyboard, grid: Grid) -> tuple[Keyboard, int]:
    """A keyboard made to fit the grid: long rows wrapped; rows past the last dropped (counted, for a
    log line: features page their lists, so this only catches a mistake)."""
    rows: list[tuple[Button, ...]] = []
    for row in buttons:
        for i in range(0, len(row), grid.per_row):
            rows.append(tuple(row[i : i + grid.per_row]))
    dropped = sum(len(r) for r in rows[grid.rows :])
    return tuple(rows[: grid.rows]), dropped
