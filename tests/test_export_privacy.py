"""Where an export may go (issue 29, 7): never into a group chat, an admin log that is the group itself
included; when no DM is open, the admin is told how to open one, in the group's language."""

from __future__ import annotations

from bot import actions as A
from bot.markup import plain
from tests.helpers import PLATFORM, Harness


async def _started(db, *, dm_opt_in: bool = True) -> Harness:  # type: ignore[no-untyped-def]
    h = Harness(db)
    h.adapter.dm_opt_in = dm_opt_in  # type: ignore[attr-defined]
    await h.start()
    h.adapter.admins["g1"] = {"carol"}
    await h.say("alice", "大家好，我是 alice")
    await h.say("carol", "/modlog set here", admin=True)  # the admin log is the group itself
    h.take()
    return h


def _files(actions: list[A.Action]) -> list[A.SendFile]:
    return [a for a in actions if isinstance(a, A.SendFile)]


def _into_group(file: A.SendFile) -> bool:
    """Whether members of g1 could read this file: sent there, or falling back there."""
    while file is not None:
        if file.user_id is None and file.chat.chat_id == "g1":
            return True
        file = file.fallback  # type: ignore[assignment]
    return False


async def test_an_export_never_goes_into_the_group_when_the_admin_log_is_the_group(db) -> None:  # type: ignore[no-untyped-def]
    """Probe: the admin log set in the group itself and no DM open (Telegram before /start): /export
    members posted names, ids, usernames and balances into the group. Now it is refused, with how."""
    h = await _started(db)
    await h.app.handle(h.message("carol", "/export members", admin=True))
    out = h.take()
    [answer] = [a for a in out if isinstance(a, A.Reply)]
    assert answer.ephemeral and "不能发在群里" in answer.text and "/start" in answer.text
    await h.app.scheduler.run_due()
    assert not _files(out + h.take())
    assert not [j for j in h.app.scheduler.job_ids() if j.startswith("export:")]
    await h.say("carol", "/lang en", admin=True)
    [english] = await h.say("carol", "/export members", admin=True)
    assert "never goes into the group" in english and "/start" in english
    await h.stop()


async def test_with_a_dm_open_the_file_goes_by_dm_and_never_falls_back_into_the_group(db) -> None:  # type: ignore[no-untyped-def]
    h = await _started(db)
    await h.app.dms.opened(PLATFORM, "carol", 0)
    await h.say("carol", "/export members", admin=True)
    refuse = {"on": True}
    inner = h.adapter.perform

    async def perform(action: A.Action) -> A.ActionResult:
        if refuse["on"] and isinstance(action, A.SendFile) and action.user_id:
            h.adapter.attempts += 1
            raise A.PermanentError(A.Failure.FORBIDDEN, "bot was blocked by the user")
        return await inner(action)

    h.adapter.perform = perform  # type: ignore[method-assign]
    await h.app.scheduler.run_due()
    out = h.take()
    assert not _files(out)  # the DM was refused, and no fallback took it into the group
    notices = [plain(a.text) for a in out if isinstance(a, A.Send)]
    assert any(n.startswith("@carol 导出文件没能私信发给你") and "/start" in n for n in notices), notices
    # the refusal is remembered: the next /export says at once how to open a DM
    [again] = await h.say("carol", "/export members", admin=True)
    assert "不能发在群里" in again
    await h.stop()


async def test_where_dms_are_tried_an_old_refusal_does_not_stop_an_admin_asking(db) -> None:  # type: ignore[no-untyped-def]
    """Discord-like (DMs tried, not opted into): a refusal remembered from long ago must not stop an
    admin who has opened their DMs since; the file goes by DM alone (the log is the group), and the
    delivered DM clears the old refusal."""
    h = await _started(db, dm_opt_in=False)
    await h.app.dms.refused(PLATFORM, "carol", 0)
    await h.app.handle(h.message("carol", "/export members", admin=True))
    assert any("私信" in plain(a.text) for a in h.take() if isinstance(a, A.Reply))
    await h.app.scheduler.run_due()
    [dm] = _files(h.take())
    assert dm.user_id == "carol" and not _into_group(dm)
    assert await db.fetchval("SELECT COUNT(*) FROM dm_refused WHERE user_id = 'carol'") == 0
    await h.stop()


async def test_a_refused_dm_where_dms_are_tried_says_how_to_open_them(db) -> None:  # type: ignore[no-untyped-def]
    h = await _started(db, dm_opt_in=False)
    await h.say("carol", "/export ledger", admin=True)
    inner = h.adapter.perform

    async def perform(action: A.Action) -> A.ActionResult:
        if isinstance(action, A.SendFile) and action.user_id:
            raise A.PermanentError(A.Failure.FORBIDDEN, "Cannot send messages to this user")
        return await inner(action)

    h.adapter.perform = perform  # type: ignore[method-assign]
    await h.app.scheduler.run_due()
    out = h.take()
    assert not _files(out)
    [notice] = [plain(a.text) for a in out if isinstance(a, A.Send)]
    assert "隐私设置" in notice and "/start" not in notice
    await h.stop()
