"""Moderation as it meets real downloaded lexicons (issue 12), through the app on both databases: the
disguises found on real spam, sound-alikes for terms that opt in, innocent words that contain short
terms, the allow-list, imports in the formats operators download, lint, the cap, the rebuild off the
event loop, and texts in the admin's language."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from bot import actions as A
from handlers import filters
from handlers import moderation as moderation_module
from tests.test_moderation import sent, setup


def deleted(actions: list[A.Action]) -> bool:
    return any(isinstance(a, A.Delete) for a in actions)


async def check(h, user: str, text: str) -> list[A.Action]:  # type: ignore[no-untyped-def]
    h.clock.advance(timedelta(minutes=1))  # apart, so flood and repeats stay out of it
    await h.app.handle(h.message(user, text))
    return h.take()


async def test_disguises_from_real_spam_are_caught(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db, "办证", "金皇国际", "卖发票", "加微信")
    for i, text in enumerate(
        (
            "办@证",  # a symbol between
            "金丶皇丨国〓际",  # strokes and symbols
            "金#&%^@$丨丶♡★皇#&%^@$丨丶♡★国#&%^@$丨丶♡★际",
            "卖🉐发票",  # one emoji inserted (NFKC would make 🉐 an ideograph)
            "办\u3164证",  # Hangul filler
            "办\uffa0证",
            "办\u115f证",
            "办\u2800证",  # braille blank
            "\u202e信微加\u202c",  # reversed under a right-to-left override: reads 加微信
        )
    ):
        assert deleted(await check(h, f"m{i}", text)), text
    await h.stop()


async def test_innocent_words_that_contain_short_terms_pass(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db, "法论", "长期", "下流", "代制", "合体", "比的", "台联", "g产", "刷单")
    for text in (
        "这套方法论很重要",
        "公司进入增长期了",
        "线下流量怎么转化",
        "迭代制度要写清楚",
        "这是一个聚合体",
        "性价比的问题先放一边",
        "跨平台联动效果不错",
        "拼音 yíng)-產品",  # a Latin edge continuing a word, across a dropped separator
    ):
        assert not deleted(await check(h, "alice", text)), text
    for text in ("这个人很下流", "兼职刷单日结"):  # the words themselves still hit
        assert deleted(await check(h, "bob", text)), text
    await h.stop()


async def test_the_allow_list_and_its_shipped_words(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db, "法论", "检察")
    [changed] = await h.say("carol", "/set moderation.segment_chars 0", admin=True)  # the allow-list alone
    assert "moderation.segment_chars" in changed
    await moderation_module_reload(h)
    assert deleted(await check(h, "alice", "方法论"))
    [added] = await h.say("carol", "/filter allow 方法论", admin=True)
    assert added.startswith("已放行：方法论")
    assert not deleted(await check(h, "alice", "方法论"))
    assert not deleted(await check(h, "alice", "检察长来了"))  # shipped common word
    [listing] = await h.say("carol", "/filter allow list", admin=True)
    assert "本群添加 1 个" in listing and "方法论" in listing
    await h.say("carol", "/filter allow remove 方法论 检察长", admin=True)
    assert deleted(await check(h, "alice", "方法论"))
    assert deleted(await check(h, "bob", "检察长来了"))
    [refused] = await h.say("zed", "/filter allow 测试词")
    assert "仅限管理员" in refused
    await h.stop()


async def moderation_module_reload(h) -> None:  # type: ignore[no-untyped-def]
    """A setting changed by /set takes effect with the next build; wait for it as the next message would."""
    feature = next(f for f in h.app.features if isinstance(f, moderation_module.ModerationFeature))
    ctx = await h.app.context_for_group((await h.app.groups.get("test", "g1")).id)
    await feature.reload(ctx)


async def test_sound_alikes_shadow_first_then_on(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db, "办证 delete", "加微信 delete")
    assert not deleted(await check(h, "alice", "jia wei xin"))  # off by default
    [mode] = await h.say("carol", "/filter pinyin shadow", admin=True)
    assert "试运行" in mode
    actions = await check(h, "alice", "快 jia wei xin")
    assert not deleted(actions)
    assert any("谐音或拼音" in text for text in sent(actions))  # a shadow note, to the group (no log chat)
    # the list's setting covers terms of 3+ characters; two syllables opt in one by one
    assert not any("谐音" in text for text in sent(await check(h, "alice", "我可以ban证")))
    [updated] = await h.say("carol", "/filter pinyin 办证 on", admin=True)
    assert "拼音：开" in updated
    for text in ("扮证", "ban zheng 找我", "娱乐 ban证"):
        assert deleted(await check(h, "bob", text)), text
    assert not deleted(await check(h, "bob", "加威信"))  # still shadow for the rest of the list
    assert not deleted(await check(h, "bob", "事实上这件事已经办了"))  # sounds, but no disguise
    [added] = await h.say("carol", "/filter add 代开发票 delete pinyin", admin=True)
    assert "拼音：试运行（只记录）" in added  # a term opted in by sound starts in shadow
    [bad] = await h.say("carol", "/filter pinyin 办证 maybe", admin=True)
    assert bad.startswith("用法：")
    await h.stop()


async def test_imports_parse_each_line_and_answer_in_the_admins_language(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db)
    [imported] = await h.say(
        "carol",
        "/filter import force\n博彩,literal,ban,赌博\n加微信\nregex:[(\n裸聊,色情\n1夜情\nterm,kind,action,category",
        admin=True,
    )
    assert imported.startswith("已导入 4 条；0 条已存在；1 行被拒绝。")
    assert (
        "第 3 行" in imported and "方括号 [ 没有闭合" in imported and "regex" not in imported.split("——")[-1]
    )
    [listing] = await h.say("carol", "/filter list", admin=True)
    assert "博彩 → 封禁 · #赌博" in listing and "裸聊 → 删除并警告 · #色情" in listing
    assert "regex:[(" not in listing and "博彩,literal" not in listing
    assert deleted(await check(h, "alice", "一夜情"))  # 1夜情 also as 一夜情
    [bad] = await h.say("carol", "/filter add regex:[(", admin=True)
    assert "方括号 [ 没有闭合" in bad
    [empty] = await h.say("carol", "/filter add ~~~", admin=True)
    assert "去掉符号和空格后没有剩下任何文字" in empty
    await h.say("carol", "/lang en", admin=True)
    [bad_en] = await h.say("carol", "/filter add regex:(a", admin=True)
    assert "a ) is missing" in bad_en
    await h.stop()


async def test_the_cap_says_how_many_were_dropped(db, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(filters, "MAX_RULES", 5)
    h = await setup(db)
    [imported] = await h.say(
        "carol", "/filter import force\n" + "\n".join(f"词{i}词" for i in range(8)), admin=True
    )
    assert imported.startswith("已导入 5 条") and "有 3 条没有添加" in imported
    [one_more] = await h.say("carol", "/filter add 再来一个", admin=True)
    assert "有 1 条没有添加" in one_more
    await h.stop()


async def test_lint_holds_risky_terms_behind_a_button(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db)
    await h.app.handle(h.message("carol", "/filter import\n长\n㈠夜情\n兼职\n代开发票\n我们", admin=True))
    actions = h.take()
    [reply] = [a for a in actions if isinstance(a, A.Reply)]
    text = reply.text
    assert text.startswith("已导入 1 条") and "有 4 个词看起来会误伤正常聊天" in text
    assert "“长”只有一个字" in text and "“㈠夜情”规范化后是“一夜情”" in text
    assert "“兼职”出现在正常语句中" in text and "“我们”本身是常用词" in text
    [[button]] = reply.buttons
    assert button.data.startswith("mod:addall:")
    await h.press("alice", button.data)
    [refusal] = [a for a in h.take() if isinstance(a, A.AnswerButton)]
    assert "只有本群管理员" in refusal.text
    await h.press("carol", button.data, admin=True)
    pressed = h.take()
    assert any(isinstance(a, A.EditMessage) and a.text == "已添加 4 个词。" for a in pressed), pressed
    [listing] = await h.say("carol", "/filter list", admin=True)
    assert "敏感词库：5 条" in listing
    await h.stop()


async def test_a_rebuild_runs_off_the_loop_and_the_old_list_keeps_working(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db, "加微信 delete")
    assert deleted(await check(h, "alice", "加微信"))  # built once
    started, release = threading.Event(), threading.Event()
    real = moderation_module.RuleSet

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(moderation_module, "RuleSet", slow)
    adding = asyncio.create_task(h.say("carol", "/filter add 代开发票 delete", admin=True))
    assert await asyncio.to_thread(started.wait, 10)
    # the build is blocked in its thread; the loop still checks messages, with the list as it was
    assert deleted(await check(h, "bob", "加微信"))
    assert not deleted(await check(h, "bob", "代开发票"))
    release.set()
    [added] = await adding
    assert added.startswith("已添加")
    assert deleted(await check(h, "dan", "代开发票"))
    await h.stop()


async def test_flood_counts_and_refusals(db) -> None:  # type: ignore[no-untyped-def]
    h = await setup(db)
    [bad] = await h.say("carol", "/flood 0 10", admin=True)
    assert "条数要在 1 到 100 之间" in bad
    [ok] = await h.say("carol", "/flood 3 10", admin=True)
    assert "10 秒内最多 3 条，超过（第 4 条起）禁言" in ok
    for i in range(3):
        await h.app.handle(h.message("flo", f"消息 {i} 号"))
        assert not any(isinstance(a, A.Mute) for a in h.take()), i
    await h.app.handle(h.message("flo", "第四条"))
    assert any(isinstance(a, A.Mute) for a in h.take())
    [refused] = await h.say("carol", "/set moderation.repeats delete", admin=True)
    assert "0 到 50 之间的整数" in refused  # a count, as the README now says
    await h.stop()
