"""Run-time checks: who is an admin, and the per-user /ask cooldown.

``default_permissions`` only hides commands in Discord's UI; these run on every call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import NotAdmin

if TYPE_CHECKING:
    from bot.app import PolicyBot

log = logging.getLogger(__name__)


def actor(user: discord.abc.User) -> str:
    """How the audit log names a Discord user: ``discord:<id>:<name>``."""
    return f"discord:{user.id}:{user.name}"


def is_admin_member(interaction: discord.Interaction, admin_role_ids: list[int]) -> bool:
    """Administrator in this channel (as Discord resolved it), or one of the admin roles."""
    if interaction.guild_id is None:
        return False
    if interaction.permissions.administrator:
        return True
    user = interaction.user
    if isinstance(user, discord.Member):
        # Member.get_role needs the guild's roles in cache; the role ids the interaction carries
        # are enough (they are what Discord says this member has).
        held = {role.id for role in user.roles} | set(getattr(user, "_roles", ()))
        return any(role_id in held for role_id in admin_role_ids)
    return False


def _target(interaction: discord.Interaction) -> str:
    """What the refused call was about, from its options (for the audit log)."""
    parts = []
    for name, value in interaction.namespace:
        shown = getattr(value, "filename", None) or getattr(value, "url", None) or value
        parts.append(f"{name}={shown}")
    return " ".join(parts)[:500]


async def admin_predicate(interaction: discord.Interaction) -> bool:
    """The admin check: passes admins; records and refuses everyone else."""
    bot: PolicyBot = interaction.client  # type: ignore[assignment]
    if is_admin_member(interaction, list(bot.settings.admin_role_ids)):
        return True
    command = interaction.command.qualified_name if interaction.command else "admin command"
    log.info("refused %s: user %s, guild %s", command, interaction.user.id, interaction.guild_id)
    try:
        await asyncio.to_thread(
            bot.service.record_failure,
            actor=actor(interaction.user),
            action=command.replace("corpus ", ""),
            target=_target(interaction),
            error="refused: not an admin",
        )
    except Exception:  # the refusal must still be answered
        log.exception("could not record the refused %s", command)
    raise NotAdmin()


admin_only = app_commands.check(admin_predicate)
"""Decorator for admin commands (the meta-test looks for ``admin_predicate`` in ``.checks``)."""


class UserCooldown:
    """One question per user every ``per`` seconds, shared by /ask and mentions (0 = off)."""

    def __init__(self, per: float):
        self.per = float(per)
        self._buckets: dict[int, app_commands.Cooldown] = {}

    def hit(self, user_id: int) -> tuple[app_commands.Cooldown, float] | None:
        """Count one question; (cooldown, seconds to wait) when the user must wait."""
        if self.per <= 0:
            return None
        now = time.time()
        if len(self._buckets) > 10_000:  # forget users whose window has passed
            self._buckets = {k: b for k, b in self._buckets.items() if b.get_retry_after(now) > 0}
        bucket = self._buckets.setdefault(user_id, app_commands.Cooldown(1, self.per))
        retry_after = bucket.update_rate_limit(now)
        return (bucket, retry_after) if retry_after else None


async def ask_cooldown(interaction: discord.Interaction) -> bool:
    """The /ask check: raises ``CommandOnCooldown`` (→ 'ask again in N s') when too quick."""
    limited = interaction.client.ask_cooldown.hit(interaction.user.id)  # type: ignore[attr-defined]
    if limited:
        raise app_commands.CommandOnCooldown(*limited)
    return True


per_user_cooldown = app_commands.check(ask_cooldown)
"""Decorator for /ask (the cooldown lives on the bot, so each bot instance has its own)."""
