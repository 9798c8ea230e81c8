"""Per-chat ordering: platforms hand updates to concurrent tasks, but one chat's must be handled in order
(a `/lang en` and the `/help` after it). One FIFO lock per chat, taken before the first await."""

from __future__ import annotations

import asyncio


class ChatLocks:
    def __init__(self, keep: int = 10_000) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._keep = keep

    def __call__(self, chat_id: str) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            if len(self._locks) > self._keep:  # forget idle chats
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[chat_id] = asyncio.Lock()
        return lock
