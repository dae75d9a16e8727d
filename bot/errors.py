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

from bot.replies import reply_private
from retrieval.errors import PolicyBotError

log = logging.getLogger(__name__)

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


def reply_text(error: BaseException, *, where: str, guild_id: int | None, user_id: int | None):
    """What the user is told about ``error``; anything unexpected is logged with its context."""
    message = user_message(error)
    if message is None:
        original = getattr(error, "original", error)
        log.error(
            "%s failed (guild %s, user %s): %s",
            where,
            guild_id,
            user_id,
            type(original).__name__,
            exc_info=original,
        )
        message = APOLOGY
    return message


async def handle_interaction_error(
    interaction: discord.Interaction, error: BaseException, *, where: str | None = None
) -> None:
    """Answer ``error`` for ``interaction`` (see the module docstring for the order)."""
    command = interaction.command.qualified_name if interaction.command else None
    message = reply_text(
        error,
        where=where or command or "interaction",
        guild_id=interaction.guild_id,
        user_id=interaction.user.id if interaction.user else None,
    )
    try:
        await reply_private(interaction, message)
    except discord.HTTPException:
        log.warning("could not send an error reply for interaction %s", interaction.id)


class PolicyBotTree(app_commands.CommandTree):
    """The command tree, with the one error handler."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await handle_interaction_error(interaction, error)
