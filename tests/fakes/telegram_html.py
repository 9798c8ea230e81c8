"""Telegram's HTML parse mode as the Bot API applies it, for the fake server to refuse what Telegram refuses.

The rules follow tdlib's `parse_html` (td/telegram/MessageEntity.cpp), which the Bot API server runs on
every `parse_mode=HTML` text: only its tags are accepted (b/strong, i/em, u/ins, s/strike/del, a, code,
pre, blockquote, tg-spoiler, span class="tg-spoiler", tg-emoji), every `<` starts a tag (so a bare `<` in
text is an "Unsupported start tag"), only `&lt; &gt; &amp; &quot;` and numeric references are decoded
(any other `&` stays as written), and tags must nest. Errors carry the same wording and byte offsets, so
an assertion can quote them. What is left is the text a member sees, which is what the length limits
count.
"""

from __future__ import annotations

ALLOWED_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "tg-emoji", "span"}
    | {"pre", "code", "blockquote"}
)
_SPACE = " \t\r\n\v\f"
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """Telegram's reason, as it follows "Bad Request: can't parse entities: "."""


def visible_text(html: str) -> str:
    """The text Telegram shows for `html` in HTML parse mode; raises EntityParseError as Telegram would."""
    out: list[str] = []
    stack: list[tuple[str, str]] = []  # (tag, argument)
    n = len(html)
    i = 0

    def offset(at: int) -> int:
        return len(html[:at].encode("utf-8"))

    while i < n:
        c = html[i]
        if c == "&":
            decoded = _entity(html, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and html[i] == "/":  # an end tag
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset(begin)}")
            while i < n and html[i] not in _SPACE and html[i] != ">":
                i += 1
            name = html[begin + 2 : i].lower()
            while i < n and html[i] in _SPACE:
                i += 1
            if i >= n or html[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {offset(begin)}")
            tag, argument = stack[-1]
            if name and name != tag:
                expected = f'expected "</{tag}>", found "</{name}>"'
                raise EntityParseError(f"Unmatched end tag at byte offset {offset(begin)}, {expected}")
            if tag == "tg-emoji" and not (argument.isdigit() and int(argument) != 0):
                raise EntityParseError("Invalid custom emoji identifier specified")
            stack.pop()
            i += 1
            continue
        while i < n and html[i] not in _SPACE and html[i] != ">":
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset(begin)}")
        tag = html[begin + 1 : i].lower()
        if tag not in ALLOWED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {offset(begin)}')
        argument, i = _attributes(html, i, tag, offset(begin))
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset(begin)}')
        stack.append((tag, argument))
        i += 1  # past ">"
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    return "".join(out)


def _attributes(html: str, i: int, tag: str, begin_offset: int) -> tuple[str, int]:
    """A start tag's attributes from `i` to its `>`: the argument Telegram keeps, and where `>` is."""
    n = len(html)
    argument = ""
    while i < n and html[i] != ">":
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_offset}")
        if html[i] == ">":
            break
        name_start = i
        while i < n and html[i] not in _SPACE and html[i] != "=":
            i += 1
        name = html[name_start:i]
        if not name:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin_offset}')
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n or html[i] != "=":
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset '
                f"{begin_offset}"
            )
        i += 1
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin_offset}')
        if html[i] not in "'\"":  # a name token: letters, digits, periods, hyphens
            token_start = i
            while i < n and (html[i].isascii() and (html[i].isalnum() or html[i] in ".-")):
                i += 1
            value = html[token_start:i].lower()
            if i < n and html[i] not in _SPACE and html[i] != ">":
                offset = len(html[:token_start].encode("utf-8"))
                raise EntityParseError(f"Unexpected end of name token at byte offset {offset}")
        else:
            quote = html[i]
            i += 1
            chars: list[str] = []
            while i < n and html[i] != quote:
                decoded = _entity(html, i) if html[i] == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                    continue
                chars.append(html[i])
                i += 1
            if i < n:
                i += 1  # past the closing quote
            value = "".join(chars)
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_offset}")
        if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
            argument = value
        elif (tag, name) == ("span", "class") and value.startswith("tg-"):
            argument = value[3:]
    return argument, i


def _entity(html: str, i: int) -> tuple[str, int] | None:
    """The character an entity at `i` stands for and where it ends; None when Telegram keeps `&` as is."""
    n = len(html)
    end = i + 1
    if end < n and html[end] == "#":
        end += 1
        code = 0
        if end < n and html[end] == "x":
            end += 1
            while end < n and html[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(html[end], 16)
                end += 1
        else:
            while end < n and html[end].isascii() and html[end].isdigit():
                code = code * 10 + int(html[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - i >= 10:
            return None
        char = chr(code)
    else:
        while end < n and html[end].isascii() and html[end].isalpha():
            end += 1
        named = _NAMED.get(html[i + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and html[end] == ";":
        end += 1
    return char, end


def length(text: str) -> int:
    """How Telegram counts a bot's text against its limits: Unicode code points of the visible text, leading
    and trailing white space trimmed (tdlib's `utf8_length` after `fix_formatted_text`)."""
    return len(text.strip())
