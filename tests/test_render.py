"""Text leaving for each platform: Discord Markdown made inert (a property over any text), long texts cut
into messages within each platform's limit at line ends, never inside a mention."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.render import chunks as discord_chunks
from adapters.discord.render import escape, render
from adapters.telegram.adapter import chunks as telegram_chunks
from adapters.telegram.adapter import visible
from bot.chunks import split_text
from bot.markup import mention, plain

# Everything Discord gives meaning to: inline markers, and what counts at a line's start.
_INLINE = set("*_~|`[]<\\")
_LINE_START = re.compile(r"^[ \t]*(#|>|-|\+|\d+[.)])")
_LINK = re.compile(r"<(?:https?|steam)://[^\s<>]+>")


def unescape(rendered: str) -> str:
    """What a reader sees: links unwrapped, every backslash escape resolved (Discord hides a backslash
    before ASCII punctuation)."""
    out, pos = [], 0
    for m in _LINK.finditer(rendered):
        out.append(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", rendered[pos : m.start()]))
        out.append(m.group(0)[1:-1])
        pos = m.end()
    out.append(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", rendered[pos:]))
    return "".join(out)


def live_markup(rendered: str) -> list[str]:
    """Markup Discord would still act on: an unescaped marker outside a wrapped link, a line opening
    with a block marker, a bare link it would embed."""
    found = []
    for line in rendered.split("\n"):
        bare = _LINK.sub("", line)
        i = 0
        while i < len(bare):
            if bare[i] == "\\" and i + 1 < len(bare):
                i += 2
                continue
            if bare[i] in _INLINE:
                found.append(f"{bare[i]!r} in {line!r}")
            i += 1
        if _LINE_START.match(line):
            found.append(f"line start {line!r}")
        if re.search(r"(?:https?|steam)://[^\s<]+[^<.,:;\"')\]\s]", bare):
            found.append(f"bare link {line!r}")
    return found


_PIECES = [*"*_~|`[]()<>#-+.:/\\@!1 \n\tab群名", "https://", "<@1>", "||", "```", "# ", "-# ", "1. ", "x.cn"]
markdownish = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(markdownish, st.text(max_size=60)))
def test_no_member_text_keeps_any_discord_formatting(name: str) -> None:
    rendered = render(name)
    assert live_markup(rendered) == []
    assert unescape(rendered) == name  # and the member still reads exactly what was written


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(markdownish, st.text(max_size=30)), min_size=1, max_size=4))
def test_names_on_a_board_carry_nothing_but_the_mention_they_are_given(names: list[str]) -> None:
    text = "\n".join(f"{i}. {mention(str(700 + i), n)} — 11" for i, n in enumerate(names, 1))
    rendered = render(text)
    pings = re.findall(r"(?<!\\)<@(\d+)>", rendered)
    assert pings == [str(700 + i) for i in range(1, len(names) + 1)]
    assert live_markup(re.sub(r"(?<!\\)<@\d+>", "", rendered)) == []


def test_the_names_from_the_report_render_as_their_letters() -> None:
    board = "\n".join(
        [
            "🥇 [免费领取Nitro](https://evil.cn) — 11",
            "🥈 # 管理员通知 ||点我|| — 11",
            "**官方** <@700000000000000001> — 11",
            "# 管理员通知",
            "> 引用 <#1> <t:1700000000:R> <:e:1>",
            "- 列表\n1. 编号\n-# 小字",
        ]
    )
    rendered = render(board)
    assert "\\[免费领取Nitro\\](<https://evil.cn>)" in rendered
    assert "\\|\\|点我\\|\\|" in rendered
    assert "\\*\\*官方\\*\\* \\<@700000000000000001>" in rendered
    assert "\n\\# 管理员通知" in rendered
    assert "\n\\> 引用 \\<#1> \\<t:1700000000:R> \\<:e:1>" in rendered
    assert "\n\\- 列表\n1\\. 编号\n\\-# 小字" in rendered
    assert live_markup(rendered) == []


def test_a_link_stays_a_working_address_without_an_embed() -> None:
    assert escape("see https://docs.example.com/a_b?x=1*2.") == "see <https://docs.example.com/a_b?x=1*2>."
    assert escape("(https://x.io/p)") == "(<https://x.io/p>)"
    assert escape("https://") == "https\\://"  # no address: no link, and none can form
    assert escape("https://a.cn/x>y") == "https\\://a.cn/x>y"  # a > would end the wrapper


def test_escaping_is_linear_on_the_largest_message() -> None:
    for hostile in ("[" * 4096, "[a](" * 1024, "<" * 4096, "https://" + "a" * 4088, "\n-" * 2048):
        start = time.perf_counter()
        render(hostile)
        discord_chunks(hostile)
        assert time.perf_counter() - start < 0.5, hostile[:10]


def test_a_long_help_is_cut_at_line_ends_within_discord_limit() -> None:
    lines = [f"/command{i} (/命令{i}) — what it does, with *stars* and _marks_ {i}" for i in range(90)]
    text = "\n".join(lines)
    parts = discord_chunks(text)
    assert len(parts) > 1
    assert all(len(p) <= 2000 for p in parts)
    assert "\n".join(unescape(p) for p in parts) == text  # nothing lost, nothing cut mid-line


def test_a_long_chinese_answer_without_line_ends_is_cut_after_a_sentence() -> None:
    answer = "这是一个很长的回答，没有换行。" * 200  # 3,000 characters, one line
    parts = telegram_chunks(answer, 1024)
    assert all(visible(p) <= 1024 for p in parts)
    assert all(p.endswith("。") for p in parts[:-1])
    assert "".join(parts) == answer


def test_a_mention_is_never_cut() -> None:
    text = "x" * 1990 + mention("123456789012345678", "某个很长的名字" * 3) + "y" * 30
    parts = split_text(text, 2000, lambda s: len(render(s)))
    assert "".join(parts) == text
    assert sum(p.count("\x02") for p in parts) == 1 and all(p.count("\x02") == p.count("\x03") for p in parts)


def test_telegram_counts_what_a_reader_sees_in_utf16() -> None:
    assert visible("😀a<b>&") == 2 + 1 + 4
    assert visible(mention("5", "Dave")) == 4
    parts = telegram_chunks("&" * 5000)  # 5,000 visible, 25,000 as HTML
    assert [visible(plain(p.replace("&amp;", "&"))) for p in parts] == [4096, 904]


def test_a_flood_of_text_is_capped_with_an_ellipsis() -> None:
    parts = split_text("line\n" * 10_000, 2000)
    assert len(parts) == 10 and parts[-1].endswith("…") and all(len(p) <= 2000 for p in parts)
