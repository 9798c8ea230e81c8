"""Every per-message parser and pattern runs in linear time: the worst inputs we can build, each timed against
an ordinary message of the same length in the same run (a ratio, so a slow or busy machine cannot fail it
and a quadratic path cannot pass: the URL pattern took 0.65 s on "1." * 2048, 1,700× the baseline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.commands import CommandRegistry
from bot.parsing import parse_duration, parse_int, tokenize
from bot.text import clean_text
from handlers import default_features
from rules import detectors
from rules.engine import Rule, RuleSet
from rules.lists import parse_import
from rules.normalize import MAX_CHARS, compact, normalize

SIZE = MAX_CHARS
MAX_RATIO = 12.0  # linear paths land within 1-4x here; a quadratic one is hundreds of times slower


def _terms() -> list[Rule]:
    lines = Path(__file__).with_name("data").joinpath("spam_terms.txt").read_text("utf-8").splitlines()
    terms = [t for t in lines if t and not t.startswith("#")]
    rules = [
        Rule(i, "literal", t, exceptions=("刷单词",) if t == "刷单" else ()) for i, t in enumerate(terms)
    ]
    return [*rules, Rule(len(rules), "fuzzy", "casino"), Rule(len(rules) + 1, "literal", "sex")]


RULES = RuleSet(_terms())
REGISTRY = CommandRegistry()
for _feature in default_features():
    for _spec in _feature.commands():
        REGISTRY.add(_spec)
FLOOD = detectors.FloodTracker(8, 10_000, 3, 600_000)


def pipeline(text: str) -> None:
    """What one member message meets on its way in, parsers included."""
    text = clean_text(text)
    match = REGISTRY.match(text)
    tokenize(match.args if match else text)
    RULES.check(text)
    detectors.links(text)
    detectors.contacts(text)
    detectors.mention_count(text)
    FLOOD.repeating(1, "u", text, 0)
    normalize(text)
    compact(text)


def _fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


ORDINARY = _fill("今天的分享很有收获，晚上八点有直播，大家记得签到哦！See you at 8pm, thanks everyone. ")

HOSTILE: dict[str, str] = {
    "dotted digits": _fill("1."),
    "spelled-out term": _fill("c.a.s.i.n.o "),
    "host labels": _fill("a."),
    "dashed labels": _fill("a-"),
    "www run": _fill("www."),
    "scheme run": _fill("http://"),
    "spaces after qq": "qq" + " " * (SIZE - 2),
    "qq repeated": _fill("qq "),
    "wechat colons": _fill("微信: "),
    "at signs": _fill("@"),
    "mention run": _fill("@a"),
    "discord mention digits": "<@" + "1" * (SIZE - 2),
    "discord mention repeated": _fill("<@1"),
    "phone digits": _fill("1"),
    "plus digits": _fill("+1 "),
    "term wall": _fill("刷单"),
    "exception wall": _fill("刷单词"),
    "latin term wall": _fill("sex "),
    "zero-width between letters": _fill("加\u200b"),
    "combining marks": _fill("s\u0338"),
    "bidi overrides": _fill("\u202e加微信\u202c"),
    "lone surrogates": _fill("加\ud83d"),
    "control characters": _fill("a\x00\x02\x1f"),
    "unclosed quotes": "/filter add " + _fill('"'),
    "quote pairs": "/filter add " + _fill('"a" '),
    "slash command with a long argument": "/redeem " + _fill("x"),
    "emoji": _fill("😀"),
    "full-width": _fill("ＳＥＸ"),
}


def _best(func: Callable[[str], object], text: str, runs: int = 7) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("name", list(HOSTILE))
def test_message_pipeline_is_linear_on_hostile_input(name: str) -> None:
    baseline = _best(pipeline, ORDINARY)
    hostile = _best(pipeline, HOSTILE[name])
    assert hostile / baseline < MAX_RATIO, (
        f"{name}: {hostile * 1e3:.2f} ms vs {baseline * 1e3:.2f} ms ordinary"
    )


@pytest.mark.parametrize(
    ("func", "unit"),
    [
        (parse_duration, "1h"),
        (parse_duration, "1"),
        (parse_int, "1"),
        (lambda t: parse_import(t), "刷单,literal,warn,赌博\n"),
        (lambda t: parse_import(t), "regex:(a+)+\n"),
    ],
)
def test_parsers_are_linear(func: Callable[[str], object], unit: str) -> None:
    """Doubling the input may at most about double the time (quadratic would quadruple it)."""

    def run(text: str) -> None:
        try:
            func(text)
        except ValueError:
            pass

    small, large = _fill(unit)[: SIZE // 2], _fill(unit)
    # A busy machine only ever slows one of the two timings down, so the best of three ratios is the
    # fair one; a quadratic parser stays near 4 in all three.
    ratio = min(_best(run, large) / max(_best(run, small), 1e-7) for _ in range(3))
    assert ratio < 3.5, ratio


# --- text that arrives by file, and text that leaves as a spreadsheet -----------------------------------


async def _import_file(h, tmp_path: Path, command: str, name: str, body: str):  # type: ignore[no-untyped-def]
    """An admin's `/faq import` or `/filter import` with a file attached (its bytes as written)."""
    import dataclasses

    from bot.events import Attachment

    listing = tmp_path / name
    listing.write_bytes(body.encode("utf-8"))
    event = h.message("carol", command, admin=True)
    await h.app.handle(
        dataclasses.replace(event, attachments=(Attachment(str(listing), name, listing.stat().st_size),))
    )
    return h.take()


HIDDEN_MENTION = "\x02777000\x1f群主\x03"  # bot/markup.py's private mention markers
PLATFORM_NAME = "test"  # tests.helpers.PLATFORM


async def test_an_imported_faq_file_cannot_smuggle_in_a_mention(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Probe (issue 29, 10): an answer imported from a file kept the bot's hidden mention markers and
    became a real mention of user 777000. A file's text is cleaned like typed text."""
    from bot import actions as A
    from bot.markup import mentioned_ids
    from tests.helpers import Harness

    h = await Harness(db).start()
    h.adapter.admins["g1"] = {"carol"}
    body = f"## 谁是{HIDDEN_MENTION}群主\n请联系 {HIDDEN_MENTION} 处理，\r\n谢谢。\n"
    out = await _import_file(h, tmp_path, "/faq import", "faq.txt", body)
    assert any("已导入 1 条" in a.text for a in out if isinstance(a, A.Reply))
    stored = await db.fetchall("SELECT question, answer FROM faq_entries")
    assert stored and not any(c in "".join(stored[0]) for c in "\x02\x1f\x03\r")
    await h.app.handle(h.message("alice", "/faq 谁是777000群主群主"))
    answers = [a for a in h.take() if isinstance(a, A.Reply | A.Send)]
    assert answers and all(mentioned_ids(a.text) == [] for a in answers)
    assert any("请联系 777000群主 处理" in a.text for a in answers)
    await h.stop()


async def test_every_file_import_reads_text_cleaned_like_typed_text(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The one reader of members' text files (`Context.read_text_attachment`: /faq import, /filter
    import) hands over what an event's text would be: no control characters, no mention markers."""
    import dataclasses

    from bot.context import Context
    from bot.events import Attachment
    from tests.helpers import Harness

    h = await Harness(db).start()
    h.adapter.admins["g1"] = {"carol"}
    listing = tmp_path / "any.txt"
    listing.write_bytes(f"a{HIDDEN_MENTION}\x1b[31m b\r\nc\x85d\n".encode())
    event = dataclasses.replace(
        h.message("carol", "/faq import", admin=True),
        attachments=(Attachment(str(listing), "any.txt", listing.stat().st_size),),
    )
    group = await h.app.groups.ensure(PLATFORM_NAME, "g1", "Group g1", 0)
    ctx = Context(h.app, group, await h.app.groups.settings(group.id), event)
    assert await ctx.read_text_attachment(("txt",), 10_000) == "a777000群主[31m b\ncd\n"
    await _import_file(h, tmp_path, "/filter import", "words.txt", f"代开发票{HIDDEN_MENTION}\r\n加微信领福利\n")
    patterns = sorted(r[0] for r in await db.fetchall("SELECT pattern FROM mod_rules"))
    assert patterns == ["代开发票777000群主", "加微信领福利"]
    await h.stop()


@pytest.mark.parametrize(
    "text",
    [
        " =HYPERLINK(\"http://evil.example\",\"click\")",
        "\t=1+1",
        "   +cmd|' /C calc'!A0",
        " \t -2+3",
        "\u3000@SUM(A1)",  # an ideographic space, as a Chinese keyboard types one
        "\n=1+1",
    ],
)
def test_a_formula_after_leading_blanks_is_defused_in_an_exported_cell(text: str) -> None:
    """Probe (issue 29, 10): the guard looked at the first character only, so " =HYPERLINK(…)" passed
    (spreadsheets skip the blanks before a formula's sign)."""
    import csv
    import io

    from handlers.exports import cell

    out = io.StringIO()
    csv.writer(out).writerow([cell(text)])
    [[back]] = list(csv.reader(io.StringIO(out.getvalue())))
    assert back == "'" + text


@pytest.mark.parametrize("text", ["普通的名字", "a = b", "Tom - the admin", "  张三  ", "", "x@y.example"])
def test_ordinary_cells_are_left_as_they_are(text: str) -> None:
    from handlers.exports import cell

    assert cell(text) == text
