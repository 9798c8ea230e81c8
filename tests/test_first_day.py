"""The first day of a new operator (issue 13): forgiving input, one clear reply per action, the right
figures, one voice per language. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.helpers import Harness


async def test_check_in_words_are_forgiven(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    for i, text in enumerate(
        ("签到！", "签到了", "打卡～", "簽到", "签 到", "/签到", "checkin", "Check-in!")
    ):
        member = f"m{i}"
        [reply] = await h.say(member, text)
        assert "签到成功" in reply, (text, reply)
    assert await h.say("m9", "打卡了吗") == []  # a question about checking in is not a check-in
    assert await h.say("m9", "今天签到了吗？") == []
    await h.stop()


async def test_did_you_mean(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    [reply] = await h.say("alice", "/hlep")
    assert reply == "未知命令 /hlep。你是不是想用 /help？发送 /help 查看可用命令。"
    [reply] = await h.say("alice", "/xyzzy")
    assert reply == "未知命令 /xyzzy，发送 /help 查看可用命令。"  # nothing close: no guess
    [reply] = await h.say("carol", "/set checkin.base_point 5", admin=True)
    assert (
        reply
        == "没有设置项「checkin.base_point」。发送 /settings 查看全部设置项。\n你是不是想设置：checkin.base_points？"
    )
    assert "moderation.flood_seconds" not in reply  # no dump of every key
    await h.stop()
