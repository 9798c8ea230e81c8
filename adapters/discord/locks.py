"""Locks as Discord permissions: a locked kind that Discord has a permission for is denied to @everyone
by an override in every text channel the bot may manage, and allowed again to a role the bot keeps for
the members the admins trusted (/trust). The core still deletes what slips through (a channel made after
the lock, a role with its own allow); this makes the client refuse it before it is posted.

Discord has no permission for links, GIFs or forwards, and one (Attach Files) for photos, videos and
files together: files are denied only when all three are locked; the rest stay with deletion.
"""

from __future__ import annotations

import contextlib

import discord

TRUSTED_ROLE = "Qunbot trusted"
FILE_KINDS = ("photo", "video", "file")
SINGLE = {"voice": "send_voice_messages", "poll": "send_polls", "sticker": "use_external_stickers"}


def enforced(locked: frozenset[str] | set[str]) -> frozenset[str]:
    """The locked kinds that Discord's permissions refuse."""
    out = {k for k in SINGLE if k in locked}
    if all(k in locked for k in FILE_KINDS):
        out |= set(FILE_KINDS)
    return frozenset(out)


def denied(locked: frozenset[str] | set[str]) -> dict[str, bool]:
    """Each managed permission: True when the lock denies it."""
    kinds = enforced(locked)
    out = {perm: kind in kinds for kind, perm in SINGLE.items()}
    out["attach_files"] = "file" in kinds
    return out


async def _set(
    channel: discord.abc.GuildChannel, target: discord.Role, wanted: dict[str, bool | None]
) -> None:
    """Set the managed bits of the target's override, keeping its other bits. Always sent, never skipped
    as "unchanged": discord.py's cache learns of our own change only from a later gateway event, and a
    resend is harmless. An override left empty is removed (and one already gone is fine)."""
    overwrite = channel.overwrites_for(target)
    for perm, value in wanted.items():
        setattr(overwrite, perm, value)
    reason = "Qunbot /lock"
    if not overwrite.is_empty():
        await channel.set_permissions(target, overwrite=overwrite, reason=reason)
        return
    with contextlib.suppress(discord.NotFound):
        await channel.set_permissions(target, overwrite=None, reason=reason)


def manageable(guild: discord.Guild) -> bool:
    """Whether the bot may set permissions in some text channel (Manage Roles there), as `sync` checks."""
    me = guild.me
    return me is not None and any(c.permissions_for(me).manage_roles for c in guild.text_channels)


def _has_role(member: discord.Member, role_id: int) -> bool:
    return any(r.id == role_id for r in member.roles) or role_id in getattr(member, "_roles", ())


class PermissionLocks:
    """One per adapter: remembers the trusted role per guild (a role just made is not in discord.py's
    cache until the gateway says so)."""

    def __init__(self) -> None:
        self._roles: dict[int, discord.Role] = {}

    def forget(self, guild_id: int) -> None:
        """The remembered role is gone (an admin deleted it): look it up, or make it, again."""
        self._roles.pop(guild_id, None)

    async def role(self, guild: discord.Guild, *, create: bool) -> discord.Role | None:
        found = self._roles.get(guild.id) or discord.utils.get(guild.roles, name=TRUSTED_ROLE)
        if found is None and create:
            found = await guild.create_role(
                name=TRUSTED_ROLE,
                permissions=discord.Permissions.none(),
                reason="Qunbot: members the admins trusted may post what /lock denies others",
            )
        if found is not None:
            self._roles[guild.id] = found
        return found

    async def sync(
        self, guild: discord.Guild, locked: frozenset[str], exempt: frozenset[str]
    ) -> tuple[int, int]:
        """Make every manageable text channel and the trusted role match the lock state: (channels
        set, channels the bot may not manage)."""
        deny = denied(locked)
        everyone = {perm: (False if d else None) for perm, d in deny.items()}
        allow = {perm: (True if d else None) for perm, d in deny.items()}
        role = await self.role(guild, create=any(deny.values()) and bool(exempt))
        done = skipped = 0
        for channel in guild.text_channels:
            if not channel.permissions_for(guild.me).manage_roles:
                skipped += 1
                continue
            await _set(channel, guild.default_role, everyone)
            if role is not None:
                await _set(channel, role, allow)
            done += 1
        if role is not None:
            await self._members(guild, role, exempt)
        return done, skipped

    async def _members(self, guild: discord.Guild, role: discord.Role, exempt: frozenset[str]) -> None:
        """The trusted role on exactly the trusted members the guild has."""
        for user_id in sorted(exempt):
            member = guild.get_member(int(user_id))
            if member is None:
                try:
                    member = await guild.fetch_member(int(user_id))
                except discord.NotFound:
                    continue  # trusted, but gone from the server
            if not _has_role(member, role.id):
                await member.add_roles(role, reason="Qunbot /trust")
        for member in guild.members:
            if str(member.id) not in exempt and _has_role(member, role.id):
                await member.remove_roles(role, reason="Qunbot /untrust")
