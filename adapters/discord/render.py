"""Text leaving for Discord: the one place Markdown is escaped and long texts are cut into messages.

Handlers write plain text plus member mentions (bot/markup.py). Discord renders Markdown in every
message, so a member named `[免费领取Nitro](https://evil.cn)` or `# 管理员通知 ||点我||` would turn a
leaderboard into a masked phishing link, a heading and a spoiler. Every plain piece is therefore made
inert here, whoever wrote it (a member's name, an admin's FAQ answer, our own catalog), exactly as
Telegram's HTML escaping does on the other side:

* inline markers `\\ * _ ~ | `` ` `` [ ] <` get a backslash anywhere (emphasis, spoilers, code, masked
  links, and `<@id>` `<#id>` `<t:…>` `<:emoji:id>` forms, which all open with `<`);
* what only counts at the start of a line gets one there: headings and subtext (`#`, `-#`), block
  quotes (`>`, `>>>`), list bullets (`-`, `+`, `*`) and numbered lists (`1.`, `1)`);
* a bare link is wrapped in `<…>`: still a visible, clickable address, but Discord shows no embed for
  it, and nothing inside it is escaped (a backslash would break the address); any other `https://`
  (one holding a `>`, which would end the wrapper, or with no address) gets its colon escaped.

Discord hides a backslash before any ASCII punctuation, so the member sees exactly what was written.
All of it is one linear scan per pattern (no backtracking patterns), on any input size.
"""

from __future__ import annotations

import re

from bot.chunks import split_text
from bot.markup import plain, split

MESSAGE_LIMIT = 2000

_INLINE = str.maketrans({c: "\\" + c for c in "\\*_~|`[]<"})
_URL = re.compile(r"(?:https?|steam)://[^\s<]+")  # as Discord finds a bare link
_SCHEME = re.compile(r"(https?|steam):(?=//)")
_URL_TAIL = ".,:;\"')]"  # Discord ends a bare link before these; so do we
_LINE_MARK = re.compile(r"^([ \t]*)([#>+\-])", re.MULTILINE)
_LINE_NUMBER = re.compile(r"^([ \t]*)(\d{1,9})([.)])", re.MULTILINE)


def _plain(text: str) -> str:
    """Inline markers escaped, and the colon of any link scheme left here (one that is not wrapped)."""
    return _SCHEME.sub(r"\1\\:", text.translate(_INLINE))


def _inline(text: str) -> str:
    """Inline markers escaped; bare links wrapped (their tail punctuation stays outside, escaped). A link
    holding a `>` (it would end the wrapper) or no address is no link at all: its scheme's colon is
    escaped like every other scheme outside a wrapper."""
    out: list[str] = []
    pos = 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_URL_TAIL)
        if ">" in url or len(url) <= url.index("://") + 3:
            continue
        out.append(_plain(text[pos : m.start()]))
        out.append(f"<{url}>")
        pos = m.start() + len(url)
    out.append(_plain(text[pos:]))
    return "".join(out)


def escape(text: str, *, line_start: bool = True) -> str:
    """Plain text made inert for Discord's Markdown (see the module's docstring). `line_start` says the
    text begins a line (a piece after a mention does not)."""
    inline = _inline(text)
    if line_start:
        inline = _LINE_MARK.sub(r"\1\\\2", inline)
        return _LINE_NUMBER.sub(r"\1\2\\\3", inline)
    head, newline, rest = inline.partition("\n")
    if not newline:
        return head
    rest = _LINE_NUMBER.sub(r"\1\2\\\3", _LINE_MARK.sub(r"\1\\\2", rest))
    return head + newline + rest


def render(text: str) -> str:
    """A handler's text as Discord content: plain pieces escaped, mentions as `<@id>` (only those the
    message names on purpose may ping: `allowed_mentions` is built from the same tokens)."""
    out: list[str] = []
    at_line_start = True
    for piece in split(text):
        if isinstance(piece, str):
            out.append(escape(piece, line_start=at_line_start))
            at_line_start = piece.endswith("\n")
        else:
            out.append(f"<@{piece.user_id}>" if piece.user_id.isdigit() else escape(f"@{piece.name}"))
            at_line_start = False
    return "".join(out)


def chunks(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The text as rendered messages of at most `limit` characters each, cut at line ends."""
    return [render(piece) for piece in split_text(text, limit, lambda s: len(render(s)))]


def flat(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One rendered message, cut with an ellipsis when it must stay one (an edit in place, a caption)."""
    pieces = split_text(text, limit - 1, lambda s: len(render(s)), max_chunks=1)
    return render(pieces[0]) if pieces else render(plain(text)[: limit - 1])
