"""The redemption shop: stocking, redeeming atomically, the last item, refunds, bad input."""

from __future__ import annotations

import asyncio

from storage.points import PointsRepo
from tests.helpers import Harness


async def give(h: Harness, user: str, amount: int) -> None:
    await h.say(user, "签到")  # makes the member known to the group
    await h.say("carol", f"/points give @{user} {amount}", admin=True)


async def test_stock_redeem_fulfil_and_cancel(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    assert await h.say("alice", "/shop") == ["积分商城还是空的。"]
    [added] = await h.say("carol", '/shop add "月度 会员" 100 2 一个月的会员资格', admin=True)
    assert added.startswith("已上架 #") and "月度 会员" in added
    await h.say("carol", "/shop add 贴纸 30", admin=True)
    [shop] = await h.say("alice", "积分商城")
    assert (
        "月度 会员 — 100 积分（剩 2 件）" in shop
        and "一个月的会员资格" in shop
        and "贴纸 — 30 积分（不限量）" in shop
    )
    item_id = added.split("#")[1].split(" ")[0]
    await give(h, "alice", 190)  # 10 from the check-in + 190
    [ok, notice] = await h.say("alice", f"/redeem {item_id}")
    assert ok.startswith("🎁 兑换成功：「月度 会员」，扣除 100 积分，剩余 100。兑换编号 #")
    assert notice.startswith("📦 新的兑换 #") and "@alice" in notice
    rid = ok.split("兑换编号 #")[1].split("，")[0]
    [pending] = await h.say("carol", "/redemptions", admin=True)
    assert f"#{rid} alice — 月度 会员" in pending
    assert await h.say("carol", f"/redemptions done {rid}", admin=True) == [
        f"✅ 兑换 #{rid} 已发放：@alice 的「月度 会员」。"
    ]
    assert await h.say("carol", f"/redemptions done {rid}", admin=True) == [f"没有待处理的兑换 #{rid}。"]
    [_, _] = await h.say("alice", "/redeem 月度 会员")
    rid2 = str(int(rid) + 1)
    assert await h.balance("alice") == 0
    assert await h.say("alice", "/redeem 贴纸") == ["积分不够：「贴纸」需要 30 积分，发送 /me 查看你的积分。"]
    [cancelled] = await h.say("carol", f"/redemptions cancel {rid2}", admin=True)
    assert cancelled == f"↩️ 兑换 #{rid2} 已取消，已退还 @alice 100 积分。"
    assert await h.balance("alice") == 100
    [shop] = await h.say("alice", "/shop")
    assert "剩 1 件" in shop  # the cancelled one went back into stock
    group = await h.app.groups.get("test", "g1")
    assert group is not None
    assert await PointsRepo(db).ledger_sum(group.id, "alice") == 100
    await h.stop()


async def test_two_redeems_of_the_last_item_cannot_both_win(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    [added] = await h.say("carol", "/shop add 限量杯 50 1", admin=True)
    item_id = added.split("#")[1].split(" ")[0]
    await give(h, "alice", 100)
    await give(h, "bob", 100)
    await asyncio.gather(
        h.app.handle(h.message("alice", f"/redeem {item_id}")),
        h.app.handle(h.message("bob", f"/redeem {item_id}")),
    )
    texts = h.adapter.pop_texts()
    assert sum(t.startswith("🎁 兑换成功") for t in texts) == 1
    assert sum(t == "「限量杯」已经兑完了。" for t in texts) == 1
    assert sorted([await h.balance("alice"), await h.balance("bob")]) == [60, 110]  # only the winner paid
    stock = await db.fetchval("SELECT stock FROM shop_items WHERE id = ?", int(item_id))
    assert stock == 0
    await h.stop()


async def test_a_redelivered_redeem_charges_once(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    [added] = await h.say("carol", "/shop add 贴纸 30", admin=True)
    await give(h, "alice", 100)
    event = h.message("alice", "/redeem 贴纸")
    await h.app.handle(event)
    await h.restart()
    await h.app.handle(event)
    assert await h.balance("alice") == 80
    assert await sqlite_db.fetchval("SELECT COUNT(*) FROM redemptions") == 1
    assert added
    await h.stop()


async def test_shop_bad_input_and_rights(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    usage = "用法：/shop，或管理员 /shop add <名称> <积分> [库存] [说明] | /shop add freeze <积分> [库存]（连签保护卡）| /shop remove <编号或名称>"
    for bad in (
        "/shop add",
        "/shop add 杯子",
        "/shop add 杯子 -5",
        "/shop add 杯子 lots",
        "/shop frobnicate",
    ):
        assert await h.say("carol", bad, admin=True) == [usage], bad
    assert await h.say("carol", "/shop add 123 5", admin=True) == ["奖品名称不能是纯数字（数字用作编号）。"]
    assert await h.say("alice", "/shop add 杯子 5") == ["/shop add 仅限管理员使用。"]
    await h.say("carol", "/shop add 杯子 5", admin=True)
    assert await h.say("carol", "/shop add 杯子 9", admin=True) == ["已经有叫「杯子」的奖品了。"]
    assert await h.say("alice", "/redeem 茶壶") == ["没有找到奖品「茶壶」，发送 /shop 查看。"]
    assert await h.say("alice", "/redeem") == ["用法：/redeem <编号或名称>"]
    assert await h.say("carol", "/redemptions done soon", admin=True) == [
        "用法：/redemptions [done|cancel <编号>]"
    ]
    # Another group's admin cannot see or remove this group's items.
    assert await h.say("carol", "/shop remove 杯子", admin=True, chat_id="g2") == [
        "没有找到奖品「杯子」，发送 /shop 查看。"
    ]
    assert await h.say("carol", "/shop remove 杯子", admin=True) == ["已下架「杯子」。"]
    assert await h.say("alice", "/shop") == ["积分商城还是空的。"]
    await h.stop()
