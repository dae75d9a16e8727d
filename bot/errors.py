"""The one place where failures become replies, for commands, buttons and mentions alike.

Order: not an admin → "admins only"; on cooldown → when to retry; other failed check → its
message; a ``PolicyBotError`` (the engine's errors, written for users) → its message; anything
else → logged with the command, guild and user ids, and a generic apology without details.
Every reply is ephemeral and never pings; an interaction always gets an answer.
"""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands

from bot.render import MESSAGE_LIMIT, fit
from retrieval.errors import PolicyBotError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again later."


class NotAdmin(app_commands.CheckFailure):
    """Raised by the admin check; its message is the refusal users see."""

    def __init__(self) -> None:
        super().__init__(
            "Only PolicyBot admins can do that: it needs the Administrator permission or one of "
            "the admin roles. Nothing was changed."
        )


def cooldown_message(retry_after: float) -> str:
    """'You can ask again in N s', with a Discord timestamp that counts down."""
    seconds = max(1, round(retry_after + 0.49))
    return (
        f"You're asking too quickly. You can ask again in {seconds} s "
        f"(<t:{int(time.time() + retry_after) + 1}:R>)."
    )


def user_message(error: BaseException) -> str | None:
    """The message a user may see for ``error``, or None when it must stay private."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.CommandOnCooldown):
        return cooldown_message(error.retry_after)
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        value = str(error.value)[:100]
        return f"I couldn't understand the value {value!r}. Please pick or type it again."
    if isinstance(error, PolicyBotError):
        return str(error) or "That request could not be completed."
    return None


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
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


async def handle_interaction_error(
    interaction: discord.Interaction, error: BaseException, *, where: str | None = None
) -> None:
    """Answer ``error`` for ``interaction`` (see the module docstring for the order)."""
    message = user_message(error)
    if message is None:
        original = getattr(error, "original", error)
        command = interaction.command.qualified_name if interaction.command else None
        log.error(
            "%s failed (guild %s, user %s): %s",
            where or command or "interaction",
            interaction.guild_id,
            interaction.user.id if interaction.user else None,
            type(original).__name__,
            exc_info=original,
        )
        message = APOLOGY
    try:
        await reply_ephemeral(interaction, message)
    except discord.HTTPException:
        log.warning("could not send an error reply for interaction %s", interaction.id)


class PolicyBotTree(app_commands.CommandTree):
    """The command tree, with the one error handler."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await handle_interaction_error(interaction, error)
