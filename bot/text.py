"""Member-controlled text made safe to carry: the one place control characters are removed.

Every event runs its text, names and titles through `clean_text` when it is built (bot/events.py), so
no adapter, present or future, can hand the core a NUL (PostgreSQL refuses it), a lone surrogate (UTF-8
cannot encode it) or the private markers bot/markup.py uses for mentions (a member could forge a ping).
Newline and tab are kept: they are how people write.
"""

from __future__ import annotations

import string

_KEEP = {"\n", "\t"}


def _drop_table() -> dict[int, None]:
    table: dict[int, None] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):  # C0, DEL, C1
        if chr(code) not in _KEEP:
            table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates (json.loads makes them from "\ud83d")
        table[code] = None
    return table


_DROP = _drop_table()


def clean_text(text: str) -> str:
    """`text` without control characters (but \\n and \\t) and without lone surrogates.

    A carriage return becomes a newline unless a newline follows it, so Windows line ends stay lines.
    One C-level `str.translate` on the hot path; the fast check skips even that for ordinary text.
    """
    if text.isprintable():
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_DROP)


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def placeholder_problem(template: str, allowed: tuple[str, ...]) -> str | None:
    """The first placeholder an admin's template may not use, or None. Only plain {name} fields from
    `allowed`: no attribute access, conversion or format spec (`{name.__class__}` must not run)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return "{"
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            return "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    return None
