"""Needs voting: submit, duplicates, votes, responses and who hears of them, deadlines, figures, points."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from bot import actions as A
from bot.markup import plain
from handlers.needs import most_similar, similarity, similarity_key
from storage.needs import NeedsRepo
from tests.helpers import PLATFORM, Harness

DATA = Path(__file__).parent / "data" / "need_pairs.tsv"


async def _member(h: Harness, user: str, chat_id: str = "g1") -> None:
    """A member seen in the group long enough ago that their votes count."""
    await h.say(user, f"大家好，我是{user}，来很久了", chat_id=chat_id)


async def _ready(h: Harness, *users: str) -> None:
    for user in users:
        await _member(h, user)
    h.clock.advance(timedelta(hours=25))
    h.take()


async def _do(h: Harness, user: str, text: str, **kw: object) -> None:
    """Like Harness.say, but the actions stay with the adapter for the test to look at."""
    await h.app.handle(h.message(user, text, **kw))  # type: ignore[arg-type]


def _card(h: Harness) -> tuple[str, A.Send]:
    sends = [a for a in h.take() if isinstance(a, A.Send)]
    assert sends, "no card was posted"
    return plain(sends[-1].text), sends[-1]


def _edits(h: Harness) -> list[str]:
    return [plain(a.text) for a in h.adapter.actions if isinstance(a, A.EditMessage)]


def _answers(h: Harness) -> list[str]:
    return [a.text for a in h.adapter.actions if isinstance(a, A.AnswerButton)]


async def test_submit_vote_unvote_and_the_card_follows(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _member(h, "bob")  # seen just now: too new to vote
    await _ready(h, "alice", "carol")
    await _do(h, "alice", "/need 希望群里每周办一次线上分享会")
    card, send = _card(h)
    assert card.startswith("📌 需求 #1 · 待处理\n希望群里每周办一次线上分享会\n提出：@alice · 👍 1")
    assert [b.data for b in send.buttons[0]] == ["needs:v:1", "needs:r:1"]
    await h.press("carol", "needs:v:1", message_id="10005")
    assert _answers(h)[-1].startswith("已为 #1 投票（共 2 票）")
    assert any("👍 2" in e for e in _edits(h))  # the card is edited, no new message
    assert not [a for a in h.adapter.actions if isinstance(a, A.Send | A.Reply)]
    h.take()
    await h.press("carol", "needs:v:1")  # a double tap: counted once
    assert "共 2 票" in _answers(h)[-1]
    h.take()
    h.clock.advance(timedelta(seconds=5))
    await h.press("carol", "needs:v:1")  # pressed again later: withdrawn
    assert _answers(h)[-1].startswith("已撤回对 #1 的投票（共 1 票）")
    h.take()
    h.clock.set(h.clock.now() - timedelta(hours=20))  # bob is still younger than a day
    await h.press("bob", "needs:v:1")
    assert "入群满 24 小时后投票才会计入" in _answers(h)[-1]
    assert (await NeedsRepo(db).get((await h.app.groups.get(PLATFORM, "g1")).id, 1)).votes == 1  # type: ignore[union-attr]
    await h.stop()


async def test_bad_input_gets_a_clear_answer(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    assert (await h.say("alice", "/need 短"))[0] == "需求内容需要 6–500 个字。"
    assert (await h.say("alice", "/need"))[0].startswith("用法：/need")
    assert (await h.say("alice", "/need 99"))[0] == "本群没有编号为 #99 的需求。"
    assert (await h.say("alice", "/needs sideways"))[0].startswith("用法：/needs")
    for i in range(3):
        await h.say("alice", f"/need 第{i}个完全不同的想法：{'甲乙丙'[i] * 8}")
    assert (await h.say("alice", "/need 第四个想法，今天已经提了三个"))[
        0
    ] == "每人每天最多提 3 条需求，明天再来吧。"
    await h.say("carol", "/filter add 代刷", admin=True)
    h.clock.advance(timedelta(days=1))
    await h.say("dave", "/need 请开放代刷服务的合作")  # moderation removes it before it is a need
    assert await NeedsRepo(db).open_texts((await h.app.groups.get(PLATFORM, "g1")).id) == [  # type: ignore[union-attr]
        (3, "第2个完全不同的想法：丙丙丙丙丙丙丙丙"),
        (2, "第1个完全不同的想法：乙乙乙乙乙乙乙乙"),
        (1, "第0个完全不同的想法：甲甲甲甲甲甲甲甲"),
    ]
    await h.stop()


async def test_a_similar_need_is_offered_for_a_vote_first(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _ready(h, "alice", "bob", "erin")
    await h.say("alice", "/need 希望增加夜间模式，晚上看着不刺眼")
    h.take()
    await _do(h, "bob", "/需求 希望增加夜间模式，晚上不刺眼")
    [offer] = [a for a in h.take() if isinstance(a, A.Reply)]
    assert plain(offer.text).startswith("和已有的需求 #1 很像：「希望增加夜间模式，晚上看着不刺眼」（👍 1）")
    buttons = offer.buttons[0]
    vote_for, anyway = buttons[0].data, buttons[1].data
    await h.press("erin", vote_for)
    assert _answers(h)[-1] == "只有提出这条需求的人可以选择。"
    h.take()
    await h.press("bob", vote_for)
    assert "共 2 票" in _answers(h)[-1]
    h.take()
    await h.press("bob", anyway)
    card, _ = _card(h)
    assert card.startswith("📌 需求 #2 · 待处理\n希望增加夜间模式，晚上不刺眼")
    await h.stop()


async def test_responses_tell_the_submitter_and_voters_once(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _ready(h, "alice", "bob", "carol", "dave")
    await h.say("alice", "/need 希望每月公布一次社群数据报告")
    h.take()
    await h.press("bob", "needs:v:1")
    await h.press("carol", "needs:v:1")
    await h.app.dms.opened(PLATFORM, "carol", 0)
    h.take()
    before = await h.balance("alice")
    assert (await h.say("dave", "/need 1 accepted"))[0] == "/need 仅限管理员使用。"
    await _do(h, "erin", "/need 1 受理 下周排进计划", admin=True)
    actions = h.take()
    group = [plain(a.text) for a in actions if isinstance(a, A.Reply | A.Send)]
    dms = [a for a in actions if isinstance(a, A.DirectMessage)]
    assert group == ["@alice 你的需求 #1 已更新为「已受理」。 另有 1 位投票者请留意。\n💬 回复：下周排进计划"]
    assert [d.user_id for d in dms] == ["carol"] and "已更新为「已受理」" in dms[0].text
    assert any("📌 需求 #1 · 已受理" in plain(a.text) for a in actions if isinstance(a, A.EditMessage))
    assert await h.balance("alice") == before + 20  # the accepted bonus
    await h.say("erin", "/need 1 受理", admin=True, key="redelivered")
    await h.say("erin", "/need 1 受理", admin=True, key="redelivered")  # the same command again
    assert await h.balance("alice") == before + 20  # paid once
    assert (await h.say("erin", "/need 1 拒绝", admin=True))[0].startswith("拒绝需求时请写明原因")
    said = await h.say("erin", "/need 1 排期 12-15 年底上线", admin=True)
    [planned] = [t for t in said if t.startswith("@")]  # and carol's DM
    assert planned.startswith("@alice 你的需求 #1 已更新为「已排期」")
    gid = (await h.app.groups.get(PLATFORM, "g1")).id  # type: ignore[union-attr]
    need = await NeedsRepo(db).get(gid, 1)
    assert need is not None and need.planned_for == "2026-12-15" and need.first_response_at is not None
    history = await NeedsRepo(db).history(1)
    assert [(r[2], r[3]) for r in history] == [
        ("open", "accepted"),
        ("accepted", "accepted"),
        ("accepted", "planned"),
    ]
    await h.stop()


async def test_a_duplicate_merges_its_voters_once(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _ready(h, "alice", "bob", "carol")
    await h.say("alice", "/need 建议设置新人答疑专区")
    await h.say("bob", "/need 能不能开一个资料下载区")
    h.take()
    await h.press("carol", "needs:v:1")
    await h.press("carol", "needs:v:2")
    await h.press("alice", "needs:v:2")
    assert (await h.say("erin", "/need 2 重复 #2", admin=True))[0].startswith("标记重复请写出")
    await h.say("erin", "/need 2 重复 #1", admin=True)
    gid = (await h.app.groups.get(PLATFORM, "g1")).id  # type: ignore[union-attr]
    one, two = await NeedsRepo(db).get(gid, 1), await NeedsRepo(db).get(gid, 2)
    assert one is not None and two is not None
    assert one.votes == 3  # alice, carol (once, though she voted on both) and bob
    assert two.status == "duplicate" and two.duplicate_of == 1 and two.closed_at is not None
    h.take()
    await h.press("carol", "needs:v:2")
    assert _answers(h)[-1] == "这条需求已经结束或不存在，不能再投票。"
    await h.stop()


async def test_half_time_reminder_and_overdue_alert_survive_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "/need 希望每周五晚上有固定的答疑时间")
    await h.say("alice", "/need 第二条：能否把群公告置顶")  # answered in time: no alerts for it
    await h.say("erin", "/need 2 受理", admin=True)
    h.take()
    await h.advance(timedelta(hours=23, minutes=59))
    assert not any("需求 #1" in t for t in h.adapter.pop_texts())
    await h.advance(timedelta(minutes=2))
    [half] = [t for t in h.adapter.pop_texts() if "需求 #" in t]
    assert half.startswith("⏳ 需求 #1「希望每周五晚上有固定的答疑时间」") and "时限 48 小时" in half
    await h.restart()
    await h.advance(timedelta(hours=24))
    alerts = [a for a in h.take() if isinstance(a, A.Send) and "需求 #" in a.text]
    assert [plain(a.text)[:40] for a in alerts] == [
        "⚠️ 需求 #1「希望每周五晚上有固定的答疑时间」（👍 1）已超过 48 小时没有回复！"[:40]
    ]
    assert alerts[0].buttons[0][0].data == "needs:r:1"
    await h.stop()


async def test_stats_on_a_known_history(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("erin", "/set needs.per_day 10", admin=True)
    for i, text in enumerate(
        ("第一条需求内容甲", "第二条需求内容乙", "第三条需求内容丙", "第四条需求内容丁")
    ):
        await h.say(f"m{i}", f"/need {text}{'！' * i}")
    h.clock.advance(timedelta(hours=1))
    await h.say("erin", "/need 1 完成", admin=True)
    h.clock.advance(timedelta(hours=9))
    await h.say("erin", "/need 2 拒绝 不在计划内", admin=True)
    h.clock.advance(timedelta(hours=50))
    await h.say("erin", "/need 3 受理", admin=True)
    [stats] = await h.say("alice", "/needs stats all")
    assert stats.splitlines()[:6] == [
        "📊 需求闭环数据（全部）：",
        "提出 4 条，已答复 3 条",
        "首次答复用时：中位数 10 小时，90% 在 2 天 12 小时 内",
        "48 小时内答复：50%；已结案：50%",
        "闭环处理率：50%",
        "当前未结 2 条，其中超时未答复 1 条",
    ]
    [page] = await h.say("alice", "/needs done")
    assert page.splitlines()[0] == "📋 需求投票（已结束）：" and len(page.splitlines()) == 3
    await h.stop()


async def test_points_are_paid_once_and_groups_stay_apart(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _ready(h, "alice", "bob")
    before = await h.balance("alice")
    await h.say("alice", "/need 希望增加积分兑换的商品种类", key="submit")
    await h.say("alice", "/need 希望增加积分兑换的商品种类", key="submit")  # redelivered
    gid = (await h.app.groups.get(PLATFORM, "g1")).id  # type: ignore[union-attr]
    assert len(await NeedsRepo(db).open_texts(gid)) == 1
    await h.say("alice", "/need 另一条完全不同的建议：多办活动")
    assert await h.balance("alice") == before + 5  # the submission bonus, once a day
    h.take()
    # group g2 presses g1's buttons (forged data): nothing of g1 changes
    await h.press("bob", "needs:v:1", chat_id="g2")
    await h.press("bob", "needs:s:1:done", chat_id="g2", admin=True)
    need = await NeedsRepo(db).get(gid, 1)
    assert need is not None and need.votes == 1 and need.status == "open"
    await h.press("bob", "needs:r:1")  # a member pressing Respond
    assert _answers(h)[-1] == "只有管理员可以处理需求。"
    await h.stop()


def test_the_similarity_threshold_on_labelled_pairs() -> None:
    """tests/data/need_pairs.tsv: near-duplicate (1) and distinct (0) pairs of needs, Chinese and English.
    At the default threshold (80) every duplicate is caught and no distinct pair is flagged. The margins
    are thin and recorded: Chinese duplicates score ≥ 80.0 against ≤ 77.8 for distinct pairs (签到提醒 vs
    生日提醒), English ≥ 84.2 against ≤ 78.6; a scorer or normaliser change that closes them fails here."""
    rows = list(csv.reader(DATA.open(encoding="utf-8"), delimiter="\t"))
    assert len(rows) >= 40
    dup = [similarity(similarity_key(a), similarity_key(b)) for a, b, label in rows if label == "1"]
    distinct = [similarity(similarity_key(a), similarity_key(b)) for a, b, label in rows if label == "0"]
    assert min(dup) >= 80 > max(distinct), (min(dup), max(distinct))
    assert most_similar("希望增加夜间模式", [(1, "增加夜间模式吧"), (2, "多办线下活动")], 80) == (1, 80.0)
    assert most_similar("希望增加夜间模式", [(2, "多办线下活动")], 80) is None
    assert most_similar("希望能增加夜间模式", [(2, "多办线下活动"), (1, "希望增加夜间模式")], 80) == (
        1,
        94.11764705882352,
    )
    found = most_similar(
        "Please add a dark mode", [(4, "Please add a music bot"), (5, "please add dark mode")], 80
    )
    assert found is not None and found[0] == 5 and found[1] > 95


async def test_a_card_edit_that_fails_never_undoes_the_vote(db) -> None:  # type: ignore[no-untyped-def]
    """The card's message was deleted (or Telegram says "message is not modified"): the vote stands."""
    h = await Harness(db).start()
    await _ready(h, "alice", "bob")
    await h.say("alice", "/need 希望每周办一次线上分享会")
    perform = h.adapter.perform

    async def refuse_edits(action: A.Action) -> A.ActionResult:
        if isinstance(action, A.EditMessage):
            raise A.PermanentError(A.Failure.NOT_FOUND, "message to edit not found")
        return await perform(action)

    h.adapter.perform = refuse_edits  # type: ignore[method-assign]
    await h.press("bob", "needs:v:1")
    assert _answers(h)[-1].startswith("已为 #1 投票（共 2 票）")
    gid = (await h.app.groups.get(PLATFORM, "g1")).id  # type: ignore[union-attr]
    assert (await NeedsRepo(db).get(gid, 1)).votes == 2  # type: ignore[union-attr]
    await h.stop()


def _payloads(actions: list[A.Action]) -> set[str]:
    """Every button payload the actions carry (a DM's fallback too)."""
    out: set[str] = set()
    for a in actions:
        for one in (a, getattr(a, "fallback", None)):
            for row in getattr(one, "buttons", ()) or ():
                out |= {b.data for b in row}
    return out


async def _card_id(h: Harness, need_id: int = 1) -> str:
    gid = (await h.app.groups.get(PLATFORM, "g1")).id  # type: ignore[union-attr]
    need = await NeedsRepo(h.db).get(gid, need_id)
    assert need is not None and need.card_message_id is not None
    return need.card_message_id


async def test_every_needs_button_payload_survives_the_adapters_shortening(db) -> None:  # type: ignore[no-untyped-def]
    """Handlers write payloads in full and only the adapter shortens them (Telegram 64 bytes, Discord 100
    characters): "submit anyway" carries the need's whole text and was shortened twice, once by the
    handler and once by the adapter, so its press resolved to a reference and expired."""
    from storage.buttons import reference

    h = await Harness(db).start()
    await _ready(h, "alice", "bob")
    long = "希望增加夜间模式，晚上看着不刺眼，" + "最好还能按日出日落的时间自动切换" * 2
    seen: list[A.Action] = []
    await _do(h, "alice", f"/need {long}")
    seen += h.take()
    await _do(h, "bob", f"/need {long}。")  # like #1: offered a vote first, or "submit anyway"
    offer = h.take()
    seen += offer
    mid = await _card_id(h)
    await h.press("erin", "needs:r:1", message_id=mid, admin=True)  # the menu in place (Telegram)
    seen += h.take()
    h.adapter.private_answers = True  # type: ignore[attr-defined]
    await h.press("erin", "needs:r:1", message_id=mid, admin=True)  # the menu as a private answer
    seen += h.take()
    await h.advance(timedelta(hours=25))  # the half-time reminder to the admins
    seen += h.take()
    payloads = _payloads(seen)
    assert {p.split(":")[1] for p in payloads} >= {"v", "r", "d", "n", "s", "c"}
    anyway = next(p for p in payloads if p.startswith("needs:n:"))
    assert len(anyway.encode()) > 100 and anyway.endswith(long + "。")
    store = h.app.buttons
    for data in payloads:
        assert reference(data) is None, data  # a feature's own payload, never a reference
        for limit in (64, 100):
            short = await store.shorten(data, limit, 0)
            assert len(short.encode()) <= limit
            assert await store.resolve(short) == data
            assert await store.resolve(await store.shorten(short, limit, 0)) == data  # shortened twice
    pressed = await store.shorten(anyway, 64, 0)  # as Telegram's adapter sends it
    await h.press("bob", pressed)
    card, _ = _card(h)
    assert card.startswith(f"📌 需求 #2 · 待处理\n{long}。")
    await h.stop()


async def test_a_reference_stored_by_older_code_still_resolves(db) -> None:  # type: ignore[no-untyped-def]
    """Buttons already posted carry a reference to a reference (the handler's and the adapter's): a
    press follows both hops, and a malformed or unknown reference is an expired button."""
    h = await Harness(db).start()
    store = h.app.buttons
    inner = await store.shorten("needs:n:bob:" + "很长的需求" * 20, 64, 0)
    outer = await h.db.fetchval(
        "INSERT INTO button_payloads (data, created_at) VALUES (?, ?) RETURNING id", inner, 0
    )
    assert await store.resolve(f"~{outer}") == "needs:n:bob:" + "很长的需求" * 20
    assert await store.shorten("~abc", 64, 0) != "~abc"  # a payload that merely starts with ~ is stored
    assert await store.resolve(await store.shorten("~abc", 64, 0)) == "~abc"
    for bad in ("~abc", "~0", "~999999", "~", "~１２"):
        assert await store.resolve(bad) is None, bad
    await h.stop()


async def test_status_notices_try_a_dm_where_the_platform_allows_it_and_fall_back(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _ready(h, "alice", "bob")
    await h.say("alice", "/need 希望每月公布一次社群数据报告")
    await h.press("bob", "needs:v:1")
    h.take()
    # Telegram-like (a DM only after /start): nobody started the bot, so the group hears it
    await _do(h, "erin", "/need 1 受理", admin=True)
    actions = h.take()
    assert not [a for a in actions if isinstance(a, A.DirectMessage)]
    assert [plain(a.text) for a in actions if isinstance(a, A.Reply)] == [
        "@alice 你的需求 #1 已更新为「已受理」。 另有 1 位投票者请留意。"
    ]
    # Discord-like (DMs are tried): a DM each; the submitter's falls back to a group message naming her
    h.adapter.dm_opt_in = False  # type: ignore[attr-defined]
    await _do(h, "erin", "/need 1 进行中", admin=True)
    actions = h.take()
    dms = {a.user_id: a for a in actions if isinstance(a, A.DirectMessage)}
    assert sorted(dms) == ["alice", "bob"]
    assert "已更新为「进行中」" in dms["alice"].text
    fallback = dms["alice"].fallback
    assert fallback is not None and plain(fallback.text) == "@alice 你的需求 #1 已更新为「进行中」。"
    assert dms["bob"].fallback is None  # a voter's news is in the group message below
    assert [plain(a.text) for a in actions if isinstance(a, A.Reply)] == ["需求 #1 已更新为「进行中」。"]
    # alice's DMs are closed: the platform refuses, the fallback goes out, the refusal is remembered
    perform = h.adapter.perform

    async def closed_for_alice(action: A.Action) -> A.ActionResult:
        if isinstance(action, A.DirectMessage) and action.user_id == "alice":
            raise A.PermanentError(A.Failure.FORBIDDEN, "Cannot send messages to this user")
        return await perform(action)

    h.adapter.perform = closed_for_alice  # type: ignore[method-assign]
    await _do(h, "erin", "/need 1 排期", admin=True)
    texts = [plain(a.text) for a in h.take() if isinstance(a, A.Send | A.Reply)]
    assert "@alice 你的需求 #1 已更新为「已排期」。" in texts
    assert await h.app.dms.may_dm(h.app.outbox, PLATFORM, ["alice", "bob"]) == {"bob"}
    await _do(h, "erin", "/need 1 完成", admin=True)  # next time she is named in the group at once
    actions = h.take()
    assert [a.user_id for a in actions if isinstance(a, A.DirectMessage)] == ["bob"]
    assert [plain(a.text) for a in actions if isinstance(a, A.Reply)] == [
        "@alice 你的需求 #1 已更新为「已完成」。"
    ]
    await h.stop()


def _public(actions: list[A.Action]) -> list[str]:
    return [plain(a.text) for a in actions if isinstance(a, A.Send | A.Reply)]


async def test_the_status_menu_is_the_pressing_admins_alone(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _ready(h, "alice", "bob")
    await h.say("alice", "/need 希望每月公布一次社群数据报告")
    mid = await _card_id(h)
    gid = (await h.app.groups.get(PLATFORM, "g1")).id  # type: ignore[union-attr]
    menu_data = ["needs:s:1:accepted", "needs:s:1:planned", "needs:s:1:progress", "needs:s:1:done"]
    # Telegram-like: a reply is a group message, so the card itself becomes the menu
    for data in ("needs:r:1", "needs:s:1:accepted", "needs:c:1"):  # a member pressing any of them
        await h.press("bob", data, message_id=mid)
        actions = h.take()
        assert [(a.text, a.alert) for a in actions if isinstance(a, A.AnswerButton)] == [
            ("只有管理员可以处理需求。", True)
        ], data
        assert not _public(actions) and not [a for a in actions if isinstance(a, A.EditMessage)]
    await h.press("erin", "needs:r:1", message_id=mid, admin=True)
    actions = h.take()
    assert not _public(actions)
    [menu] = [a for a in actions if isinstance(a, A.EditMessage)]
    assert menu.message_id == mid and "处理需求 #1：选择新状态" in menu.text
    assert plain(menu.text).startswith("📌 需求 #1 · 待处理")
    flat = [b.data for row in menu.buttons for b in row]
    assert flat[:4] == menu_data and flat[-1] == "needs:c:1"
    await h.press("erin", "needs:c:1", message_id=mid, admin=True)  # Back: the card again
    [card] = [a for a in h.take() if isinstance(a, A.EditMessage)]
    assert card.message_id == mid and [b.data for b in card.buttons[0]] == ["needs:v:1", "needs:r:1"]
    await h.press("erin", "needs:r:1", message_id=mid, admin=True)
    h.take()
    await h.press("erin", "needs:s:1:accepted", message_id=mid, admin=True)
    actions = h.take()
    [card] = [a for a in actions if isinstance(a, A.EditMessage)]
    assert card.message_id == mid and plain(card.text).startswith("📌 需求 #1 · 已受理")
    assert "选择新状态" not in card.text and [b.data for b in card.buttons[0]] == ["needs:v:1", "needs:r:1"]
    assert [a.text for a in actions if isinstance(a, A.AnswerButton)] == ["需求 #1 已更新为「已受理」。"]
    assert _public(actions) == ["@alice 你的需求 #1 已更新为「已受理」。"]  # the news, for everyone
    await h.press("erin", "needs:s:1:declined", message_id=mid, admin=True)  # not on the menu: forged
    actions = h.take()
    assert [a.alert for a in actions if isinstance(a, A.AnswerButton)] == [True] and not _public(actions)
    assert (await NeedsRepo(db).get(gid, 1)).status == "accepted"  # type: ignore[union-attr]
    # Discord-like: the press is answered privately, with the menu; the card is not touched
    h.adapter.private_answers = True  # type: ignore[attr-defined]
    await h.press("erin", "needs:r:1", message_id=mid, admin=True)
    actions = h.take()
    [answer] = [a for a in actions if isinstance(a, A.AnswerButton)]
    assert "处理需求 #1：选择新状态" in answer.text
    assert [b.data for row in answer.buttons for b in row] == [*menu_data, "needs:s:1:open"]
    assert not _public(actions) and not [a for a in actions if isinstance(a, A.EditMessage)]
    await h.press("erin", "needs:s:1:progress", message_id="ephemeral-1", admin=True)
    actions = h.take()
    # the card is brought up to date, and the private menu becomes the confirmation, with no buttons left
    edits = [(a.message_id, a.text, a.buttons) for a in actions if isinstance(a, A.EditMessage)]
    assert edits[0][0] == mid and edits[1] == ("ephemeral-1", "需求 #1 已更新为「进行中」。", ())
    assert [a.text for a in actions if isinstance(a, A.AnswerButton)] == [""]  # and the press is closed
    await h.press("bob", "needs:s:1:done", message_id="ephemeral-1")
    assert [(a.text, a.alert) for a in h.take() if isinstance(a, A.AnswerButton)] == [
        ("只有管理员可以处理需求。", True)
    ]
    await h.stop()


async def test_a_need_replied_to_someone_elses_message_is_the_senders(db) -> None:  # type: ignore[no-untyped-def]
    """Probe (issue 29, 8): mal replied /need to three of vic's messages: three cards "提出：@vic", vic's
    daily quota spent, and vic's own need refused. Whoever sends the command is the submitter."""
    h = await Harness(db).start()
    await _ready(h, "mal", "vic")
    wishes = ["希望增加夜间模式的主题", "希望每周公布一次积分榜单", "希望群文件能按照年份来整理"]
    said = []
    for wish in wishes:
        said.append(h.message("vic", wish))
        await h.app.handle(said[-1])
    h.take()
    for message in said:
        h.clock.advance(timedelta(minutes=11))  # a bare "/need" again at once would be a repeat
        await _do(h, "mal", "/need", reply_to=message)
        card, _ = _card(h)
        assert "提出：@mal" in card and "@vic" not in card
    rows = await db.fetchall("SELECT user_id, text FROM needs ORDER BY id")
    assert [tuple(r) for r in rows] == [("mal", w) for w in wishes]
    await _do(h, "vic", "/need 希望能开一个读书分享的频道")  # vic's quota is untouched
    card, _ = _card(h)
    assert card.startswith("📌 需求 #4") and "提出：@vic" in card
    h.clock.advance(timedelta(minutes=11))
    refused = await h.say("mal", "/need", reply_to=h.message("vic", "希望有一个新人答疑的专区"))
    assert refused == ["每人每天最多提 3 条需求，明天再来吧。"]  # mal's own quota paid for them
    await h.stop()


async def test_a_replied_text_is_screened_like_the_senders_own(db) -> None:  # type: ignore[no-untyped-def]
    """The text of a replied message reaches a card without passing the message hook as the sender's
    words (an admin wrote it, or a trusted member): it is screened for the sender, and a warn-level
    finding refuses it too (the card would show the invite to everyone)."""
    h = await Harness(db).start()
    await _ready(h, "mal")
    spam = h.message("carol", "加入 discord.gg/freegift 领福利 兼职刷单日结", admin=True)
    await h.app.handle(spam)  # an admin's message: exempt, stays
    h.take()
    [answer] = await h.say("mal", "/need", reply_to=spam)
    assert answer.startswith("这条需求没有发布：发布其他群的邀请链接")
    assert await db.fetchval("SELECT COUNT(*) FROM needs") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM mod_cases") == 0  # refused, not punished: mal sent nothing bad
    await h.stop()
