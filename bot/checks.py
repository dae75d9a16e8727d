"""Who is an admin. Checked on every call: ``default_permissions`` only hides a command in
Discord's UI."""

from __future__ import annotations

from collections.abc import Iterable

import discord


def is_admin_member(interaction: discord.Interaction, admin_role_ids: Iterable[int]) -> bool:
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


def command_target(interaction: discord.Interaction) -> str:
    """What a refused call was about, from its options (for the audit log)."""
    parts = []
    for name, value in interaction.namespace:
        shown = getattr(value, "filename", None) or getattr(value, "url", None) or value
        parts.append(f"{name}={shown}")
    return " ".join(parts)
