"""Saved answers to common questions: adding with refusals, /faq <keyword>, #keyword, the list's buttons,
automatic answers (measured on a labelled set) with their cooldown, the figures the digest reads, export
and import, and restarts. Both databases."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from bot import actions as A
from bot.events import Attachment, ButtonPressed
from bot.markup import plain
from rules.questions import QuestionIndex, is_question, question_key
from tests.helpers import Harness

CHECKIN = "/faq add 怎么签到 | 在群里发送“签到”即可，每天一次。\n连续签到有额外奖励。"


async def _admin(h: Harness, text: str) -> list[str]:
    h.adapter.admins.setdefault("g1", set()).add("carol")
    return await h.say("carol", text, admin=True)


async def test_admins_save_answers_and_members_find_them(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    assert (await _admin(h, CHECKIN))[0].startswith("✅ 已添加 #1")
    await _admin(h, "/faq add 积分有什么用 | 可以在 /shop 兑换礼品。")
    await _admin(h, "/faq add 群规在哪里看 | 发送 /rules 查看群规。")
    said = await h.say("alice", "/faq 怎麼簽到")  # traditional characters find the simplified question
    assert said == ["❓ 怎么签到\n在群里发送“签到”即可，每天一次。\n连续签到有额外奖励。"]
    assert (await h.say("alice", "#积分"))[0].startswith("❓ 积分有什么用")
    assert await h.say("alice", "#周末快乐") == []  # a hashtag that names no entry is plain chat
    assert "没有找到" in (await h.say("alice", "/faq 退款"))[0]
    await h.restart()
    assert (await h.say("bob", "/常见问题 群规"))[0].startswith("❓ 群规在哪里看")
    await h.stop()


async def test_bad_entries_are_refused_with_the_reason(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, CHECKIN)
    assert (
        "已经有这个问题" in (await _admin(h, "/faq add 怎么 签到？ | 另一个答案"))[0]
    )  # same question, other spelling
    assert "答案不能为空" in (await _admin(h, "/faq add 新问题 | "))[0]
    assert "太长" in (await _admin(h, "/faq add 长答案 | " + "字" * 10_000))[0]
    assert "用法" in (await _admin(h, "/faq add 没有分隔符的问题"))[0]
    assert (await h.say("alice", "/faq add 我的问题 | 我的答案")) == ["/faq add 仅限管理员使用。"]
    assert "没有编号" in (await _admin(h, "/faq remove 99"))[0]
    assert "已修改 #1" in (await _admin(h, "/faq edit 1 怎么签到 | 发送“签到”或 /checkin。"))[0]
    assert (await h.say("alice", "/faq 签到"))[0].endswith("发送“签到”或 /checkin。")
    assert "已删除 #1" in (await _admin(h, "/faq remove #1"))[0]
    assert "没有找到" in (await h.say("alice", "/faq 签到"))[0]
    await h.stop()


async def test_the_list_is_buttons_and_a_press_turns_it_into_the_answer(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, CHECKIN)
    await _admin(h, "/faq add 积分有什么用 | 可以在 /shop 兑换礼品。")
    await h.app.handle(h.message("alice", "/faq"))
    [listing] = [a for a in h.take() if isinstance(a, A.Reply)]
    labels = [b.label for row in listing.buttons for b in row]
    assert labels == ["怎么签到", "积分有什么用"] and "#1" not in listing.text  # members see no ids
    await h.press("alice", listing.buttons[0][1].data, message_id="10000")  # several a row
    edits = [a for a in h.take() if isinstance(a, A.EditMessage)]
    assert len(edits) == 1 and plain(edits[0].text).startswith("❓ 积分有什么用")  # no new message
    assert edits[0].buttons[0][0].data == "faq:list"
    await h.press("alice", "faq:list", message_id="10000")
    back = [a for a in h.take() if isinstance(a, A.EditMessage)]
    assert [b.label for row in back[0].buttons for b in row] == labels
    await _admin(h, "/faq remove 2")
    await h.app.handle(
        ButtonPressed(
            **h._event_base("bob", "g1", "cb"), message_id="10000", data="faq:2", callback_id="cb-x"
        )
    )
    assert any(isinstance(a, A.AnswerButton) and "已被删除" in a.text for a in h.take())
    await h.stop()


DATA = Path(__file__).parent / "data"


def _rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def _candidates() -> tuple[dict[int, list[str]], dict[int, str]]:
    candidates, names = {}, {}
    for i, (question, phrasings, _answer) in enumerate(_rows("faq_entries.tsv"), 1):
        candidates[i] = [question_key(q) for q in (question, *phrasings.split("|"))]
        names[i] = question
    return candidates, names


def _answered(text: str, candidates: dict[int, list[str]], threshold: int = 85) -> int | None:
    if not is_question(text):
        return None
    found = QuestionIndex(candidates).best(question_key(text), threshold)  # as the handler asks
    return found[0] if found is not None and found[1] >= threshold else None


def test_automatic_answers_are_precise_on_a_labelled_set() -> None:
    """96 answerable questions (paraphrases, typos, traditional characters, English) against 20 entries,
    8 that no entry answers, and 107 ordinary chat lines that must get no answer at all."""
    candidates, names = _candidates()
    assert len(candidates) >= 20
    labelled = _rows("faq_questions.tsv")
    assert len(labelled) >= 100
    right = wrong = missed = 0
    for text, want in labelled:
        got = _answered(text, candidates)
        if got is None:
            missed += want != "-"
        elif want != "-" and names[got] == want:
            right += 1
        else:
            wrong += 1
    precision, recall = right / (right + wrong), right / (right + missed)
    print(
        f"automatic answers: precision {precision:.3f}, recall {recall:.3f} ({right} right, {wrong} wrong, {missed} missed)"
    )
    assert precision >= 0.95 and recall >= 0.9
    chat = [line for line in (DATA / "faq_chat.txt").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]  # fmt: skip
    assert len(chat) >= 100
    assert [line for line in chat if _answered(line, candidates) is not None] == []


async def test_a_members_question_is_answered_once_with_a_way_to_say_it_did_not_help(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, CHECKIN)
    await _admin(h, "/faq alias 1 每日打卡怎么弄")
    await h.app.handle(h.message("alice", "请问怎么签到啊？"))
    [answer] = [a for a in h.take() if isinstance(a, A.Reply)]
    assert plain(answer.text).startswith("❓ 怎么签到") and answer.buttons[0][0].data == "faq:no:1"
    await h.app.handle(h.message("bob", "怎麼簽到？"))  # the same entry within the cooldown: quiet
    assert not [a for a in h.take() if isinstance(a, A.Reply)]
    h.clock.advance(timedelta(minutes=11))
    assert (await h.say("bob", "每日打卡怎么弄？"))[0].startswith("❓ 怎么签到")  # by its extra phrasing
    h.clock.advance(timedelta(minutes=11))
    assert await h.say("carol", "怎么签到？", admin=True) == []  # admins' own questions are not answered
    assert await h.say("bob", "今天天气怎么样？") == []  # no close entry: nothing, never a guess
    await h.press("bob", "faq:no:1")
    out = h.take()
    assert any(isinstance(a, A.AnswerButton) and "管理员" in a.text for a in out)
    assert any(isinstance(a, A.Send) and "没有解决" in plain(a.text) for a in out)  # the admins hear of it
    await _admin(h, "/set faq.auto off")
    h.clock.advance(timedelta(minutes=11))
    assert await h.say("dave", "怎么签到？") == []
    await h.stop()


async def test_the_digest_counts_what_the_faq_did_and_what_it_could_not_answer(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, CHECKIN)
    await _admin(h, "/faq add 积分有什么用 | 可以在 /shop 兑换礼品。")
    assert (await h.say("alice", "怎么签到？"))[0].startswith("❓ 怎么签到")  # answered
    assert await h.say("bob", "怎麼簽到？") == []  # held back by the cooldown, but asked
    await h.restart()
    assert await h.say("erin", "请问怎么签到？") == []  # the cooldown outlives a restart
    assert (await h.say("bob", "#签到"))[0].startswith("❓ 怎么签到")  # looked up
    await h.press("bob", "faq:no:1")
    h.take()
    for who, question in (
        ("alice", "怎么申请退款？"),
        ("bob", "怎样申请退款?"),
        ("dave", "请问怎么申请退款"),
        ("alice", "怎么申请退款？"),  # the same member again is still one member
        ("frank", "周末有活动吗？"),  # asked once: not a candidate
    ):
        assert await h.say(who, question) == []
    h.take()
    text = plain("\n".join(await _admin(h, "/stats faq")))
    assert "自动回答 1 次 · 成员自查 1 次 · 「没解决」1 次" in text
    assert "#1 怎么签到 (4)" in text and "积分有什么用" not in text  # asked 4 times, one answer
    assert "「怎么申请退款？」（3 人问过）" in text and "周末" not in text
    h.clock.advance(timedelta(days=8))
    text = plain("\n".join(await _admin(h, "/stats 7d faq")))
    assert "退款" not in text and "自动回答" not in text  # last week's figures are not this week's
    assert await h.app.db.fetchval("SELECT COUNT(*) FROM faq_log WHERE text IS NOT NULL") == 5
    h.clock.advance(timedelta(days=113))  # 121 days after the questions: the daily housekeeping drops them
    maintenance = next(f for f in h.app.features if f.name == "maintenance")
    await maintenance.prune_events(h.app, None, None)  # type: ignore[attr-defined]
    assert await h.app.db.fetchval("SELECT COUNT(*) FROM faq_log") == 0
    await h.stop()


async def test_an_answer_carries_link_buttons_written_as_rose_writes_them(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    said = await _admin(
        h,
        "/faq add 在哪下载 | 各平台的安装包：\n[官网](buttonurl://https://example.com)"
        "[GitHub](buttonurl://https://github.com/example/app/releases:same)\n"
        "[使用手册](buttonurl:https://docs.example.com/zh/start?from=faq)",
    )
    assert said[0].startswith("✅ 已添加 #1")
    await h.app.handle(h.message("alice", "/faq 下载"))
    [answer] = [a for a in h.take() if isinstance(a, A.Reply)]
    assert plain(answer.text) == "❓ 在哪下载\n各平台的安装包："  # the markup is gone from the text
    assert [[(b.label, b.data) for b in row] for row in answer.buttons] == [
        [("官网", "url:https://example.com"), ("GitHub", "url:https://github.com/example/app/releases")],
        [("使用手册", "url:https://docs.example.com/zh/start?from=faq")],
        [("📚 更多问题", "faq:list")],
    ]
    await h.app.handle(h.message("bob", "请问在哪下载？"))  # an automatic answer has them too
    [auto] = [a for a in h.take() if isinstance(a, A.Reply)]
    assert auto.buttons[0][0].data == "url:https://example.com" and auto.buttons[-1][0].data == "faq:no:1"
    bad = await _admin(h, "/faq add 坏链接 | 点这里 [x](buttonurl://javascript:alert(1))")
    assert "链接按钮的写法" in bad[0]  # no script, no half-written button saved as text
    many = "".join(f"[{i}](buttonurl://https://example.com/{i})" for i in range(9))
    assert "最多带 8 个链接按钮" in (await _admin(h, f"/faq add 太多 | 看这里{many}"))[0]
    assert "buttonurl://https://github.com" in "\n".join(await _admin(h, "/faq export"))  # round-trips
    await h.stop()


async def test_export_and_import_round_trip_as_text_and_as_a_file(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, CHECKIN)
    await _admin(h, "/faq alias 1 每日打卡怎么弄")
    await _admin(h, "/faq add 积分有什么用 | 可以在 /shop 兑换礼品。")
    [exported] = await _admin(h, "/faq export")
    assert exported.startswith("## 怎么签到\n> 每日打卡怎么弄\n在群里发送")
    h.adapter.admins["g2"] = {"carol"}
    [done] = await h.say("carol", "/faq import\n" + exported, admin=True, chat_id="g2")
    assert done.startswith("已导入 2 条；0 条未导入")
    assert (await h.say("alice", "每日打卡怎么弄？", chat_id="g2"))[0].startswith(
        "❓ 怎么签到"
    )  # the alias came along
    assert (
        "1 条未导入"
        in (await h.say("carol", "/faq import\n## 积分有什么用\n另一个答案", admin=True, chat_id="g2"))[0]
    )
    for i in range(40):  # long enough to go as a file
        await _admin(h, f"/faq add 第{i}个问题是什么 | " + "很长的答案。" * 20)
    await h.app.handle(h.message("carol", "/faq export", admin=True))
    [file] = [a for a in h.take() if isinstance(a, A.SendFile)]
    listing = tmp_path / "faq.txt"
    listing.write_bytes(Path(file.path).read_bytes())
    ev = h.message("carol", "/faq import", admin=True, chat_id="g3")
    h.adapter.admins["g3"] = {"carol"}
    await h.app.handle(
        dataclasses.replace(ev, attachments=(Attachment(str(listing), "faq.txt", listing.stat().st_size),))
    )
    assert any("已导入 42 条" in t for t in h.adapter.pop_texts())
    assert (
        "用法" not in (await h.say("carol", "/faq import", admin=True, chat_id="g3"))[0]
    )  # explains the format
    await h.stop()


async def test_a_long_list_is_laid_out_several_a_row_and_paged_within_the_platform_grid(db) -> None:  # type: ignore[no-untyped-def]
    """Discord holds 5 rows of 5: 30 questions are pages of what fits plus a ◀ n/m ▶ row, and every
    question is reachable; Telegram's taller grid shows more a page (no more 5-on-one, 24-on-other)."""
    from bot.keyboards import Grid

    h = await Harness(db).start()
    for i in range(30):
        await _admin(h, f"/faq add 第{i}个问题是什么 | 答案 {i}")
    h.take()
    seen: dict[Grid, set[str]] = {}
    for grid in (Grid(5, 5), Grid(8, 13)):
        h.adapter.button_grid = grid  # type: ignore[attr-defined]
        await h.app.handle(h.message("alice", "/faq"))
        [listing] = [a for a in h.take() if isinstance(a, A.Reply)]
        keyboard = listing.buttons
        seen[grid] = set()
        for _ in range(10):
            assert len(keyboard) <= grid.rows and all(1 < len(r) <= grid.per_row for r in keyboard)
            questions = [b for row in keyboard for b in row if not b.data.startswith("faq:p:")]
            seen[grid] |= {b.data for b in questions}
            nav = keyboard[-1]
            assert nav[0].label == "◀ 上一页" and nav[2].label == "下一页 ▶"
            await h.press("alice", nav[2].data, message_id="10000")
            [edit] = [a for a in h.take() if isinstance(a, A.EditMessage)]
            keyboard = edit.buttons
        assert len(seen[grid]) == 30  # every question reachable through the pages
    h.adapter.button_grid = Grid(5, 5)  # type: ignore[attr-defined]
    await h.app.handle(h.message("bob", "/faq"))  # (a third identical /faq from alice is a repeat)
    [small] = [a for a in h.take() if isinstance(a, A.Reply)]
    h.adapter.button_grid = Grid(8, 13)  # type: ignore[attr-defined]
    await h.app.handle(h.message("dave", "/faq"))
    [tall] = [a for a in h.take() if isinstance(a, A.Reply)]
    assert sum(map(len, small.buttons[:-1])) == 8 and sum(map(len, tall.buttons[:-1])) == 24
    await h.stop()
