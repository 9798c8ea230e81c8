"""Files the bot writes (charts, CSV exports) before it sends them, and the refusals of files it reads.

A file action is stored in the outbox by path, so the file must outlive the process that wrote it: files
live under one folder (the `files_dir` setting) and are pruned after a week, long after any resend.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

KEEP_SECONDS = 7 * 86_400
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class FileRefused(Exception):
    """A member's file that cannot be read: `too_big`, `unavailable`, `not_text`, `not_utf8`, `type`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def safe_name(name: str, default: str = "file") -> str:
    """A file name made only of ASCII letters, digits and -_. (member text never names a path)."""
    cleaned = "".join(c if c in _SAFE else "_" for c in name).strip("._") or default
    return cleaned[:80]


class FileStore:
    """`sequential` names files stem-1, stem-2, … (console scripts: the same script prints the same paths);
    otherwise a random part keeps two processes sharing the folder from ever writing the same file."""

    def __init__(self, root: str | Path | None = None, *, sequential: bool = False) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.gettempdir()) / "qunbot-files"
        self._sequential = sequential
        self._count = 0

    def new_path(self, stem: str, suffix: str) -> Path:
        """A fresh path for a file to be written."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._count += 1
        tail = str(self._count) if self._sequential else secrets.token_hex(6)
        return self.root / f"{safe_name(stem)}-{tail}{suffix}"

    def prune(self, keep_seconds: float = KEEP_SECONDS, now: float | None = None) -> int:
        """Delete files older than `keep_seconds`; returns how many went."""
        if not self.root.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - keep_seconds
        gone = 0
        for entry in os.scandir(self.root):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                gone += 1
        return gone


def decode_text(data: bytes) -> str:
    """An uploaded word list as text: UTF-8 (a BOM allowed), no NUL bytes; else FileRefused."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 (Windows Notepad's "Unicode"): text, not UTF-8
        raise FileRefused("not_utf8")
    if b"\x00" in data[:65536]:
        raise FileRefused("not_text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused("not_utf8") from exc
