"""Long texts cut into messages a platform accepts: at line ends first, then at a clause or a space, never
inside a member mention. Adapters call it with their own limit and their own measure of a rendered
piece (Discord counts its escaped Markdown, Telegram the visible text), so a /help of 3,000 characters
arrives whole on both instead of ending mid-word.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.markup import _TOKEN

MAX_CHUNKS = 10  # a text that needs more is cut: a bot that posts twenty messages at once is a flood
ELLIPSIS = "…"
# Where a line too long for one message is best cut: after a sentence, a clause, then a space.
_BREAKS = ("\n", "。", "！", "？", "!", "?", "；", ";", "，", ",", "、", " ")

Measure = Callable[[str], int]


def _atoms(line: str) -> list[str]:
    """The line as characters, with each mention token one indivisible atom."""
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(line):
        out.extend(line[pos : m.start()])
        out.append(m.group(0))
        pos = m.end()
    out.extend(line[pos:])
    return out


def _cut_line(line: str, limit: int, measure: Measure) -> list[str]:
    """A line longer than `limit` as pieces that each fit: the longest prefix that fits (binary search
    over the atoms: O(n log n)), moved back to the last good break in its final third."""
    atoms = _atoms(line)
    pieces: list[str] = []
    while atoms:
        if measure("".join(atoms)) <= limit:
            pieces.append("".join(atoms))
            break
        lo, hi = 1, len(atoms)  # the largest k with measure(atoms[:k]) <= limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if measure("".join(atoms[:mid])) <= limit:
                lo = mid
            else:
                hi = mid - 1
        k = lo
        for i in range(k, max(1, k * 2 // 3) - 1, -1):
            if atoms[i - 1] in _BREAKS:
                k = i
                break
        pieces.append("".join(atoms[:k]).rstrip(" "))
        atoms = atoms[k:]
        while atoms and atoms[0] == " ":
            atoms = atoms[1:]
    return [p for p in pieces if p] or [""]


def split_text(text: str, limit: int, measure: Measure = len, *, max_chunks: int = MAX_CHUNKS) -> list[str]:
    """`text` as at most `max_chunks` pieces whose `measure` is at most `limit`, cut at line ends where
    possible. `measure` must be additive over lines (a line's rendering does not depend on its
    neighbours), as both platforms' renderings are; each chunk is checked anyway."""
    if measure(text) <= limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        width = measure(line)
        if width > limit:
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            chunks.extend(_cut_line(line, limit, measure))
            continue
        extra = width + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current))
            current, size, extra = [], 0, width
        current.append(line)
        size += extra
    if current:
        chunks.append("\n".join(current))
    checked: list[str] = []
    for chunk in chunks:
        checked.extend([chunk] if measure(chunk) <= limit else _cut_line(chunk, limit, measure))
    checked = [c for c in checked if c.strip()] or [checked[0] if checked else ""]
    if len(checked) > max_chunks:
        atoms = _atoms(checked[max_chunks - 1])
        while atoms and measure("".join(atoms) + ELLIPSIS) > limit:
            atoms.pop()
        checked = [*checked[: max_chunks - 1], "".join(atoms) + ELLIPSIS]
    return checked
