"""Private replies and the audit of refusals, shared by commands, buttons and the error handler.

Every reply passes ``allowed_mentions=NO_MENTIONS``: echoed user or document text never pings.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bot.text import MESSAGE_LIMIT, fit
from retrieval.service import Service

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


def actor(user: discord.abc.User) -> str:
    """How the audit log names a Discord user: ``discord:<id>:<name>``."""
    return f"discord:{user.id}:{user.name}"


async def defer_private(interaction: discord.Interaction) -> None:
    """Acknowledge at once; the reply that follows is seen by the user alone."""
    interaction.extras["ephemeral"] = True
    await interaction.response.defer(ephemeral=True, thinking=True)


async def send_private(interaction: discord.Interaction, content: str | None = None, **kwargs: Any):
    """The follow-up to :func:`defer_private`."""
    await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
    interaction.extras["answered"] = True


async def reply_private(interaction: discord.Interaction, text: str) -> None:
    """Send ``text`` only to the user, whatever state the interaction is in."""
    text = fit(text, MESSAGE_LIMIT, render=str)
    response = interaction.response
    if not response.is_done():
        await response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    # A public "thinking…" deferral turns the next follow-up into the public reply: remove it
    # first so the error goes to the user alone.
    public_pending = (
        response.type is discord.InteractionResponseType.deferred_channel_message
        and not interaction.extras.get("ephemeral")
        and not interaction.extras.get("answered")
    )
    if public_pending:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the deferred response of interaction %s", interaction.id)
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def record_refusal(
    service: Service, interaction: discord.Interaction, action: str, target: str, reason: str
) -> None:
    """Audit an admin action refused before it reached the service (the refusal must still be
    answered, so a failure to record is logged, not raised)."""
    log.info("refused %s: user %s, guild %s", action, interaction.user.id, interaction.guild_id)
    try:
        await asyncio.to_thread(
            service.record_failure,
            actor=actor(interaction.user),
            action=action,
            target=target[:500],
            error=f"refused: {reason}",
        )
    except Exception:
        log.exception("could not record the refused %s", action)
