"""/ask and @mentions: one question → one ``service.ask`` call → one answer embed."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.dependencies import Dependencies
from bot.errors import cooldown_message, reply_text
from bot.replies import NO_MENTIONS
from bot.text import CHOICES_LIMIT, MESSAGE_LIMIT, thread_name
from bot.views import send_answer
from retrieval.errors import PolicyBotError
from retrieval.types import Filters

log = logging.getLogger(__name__)

MENTION_HINT = (
    "Ask me a question about the AI-policy documents after the mention, for example "
    "`@PolicyBot who signed the US-UK AI safety agreement?`, or use `/ask`."
)


class AskCog(commands.Cog, name="Ask"):
    """Questions from slash commands and mentions."""

    def __init__(self, deps: Dependencies, bot_user: Callable[[], discord.abc.User | None]):
        self.deps = deps
        self.bot_user = bot_user  # who "@PolicyBot" is: known once the bot has logged in

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """The per-user cooldown, shared with mentions ('ask again in N s')."""
        limited = self.deps.cooldown.hit(interaction.user.id)
        if limited:
            raise app_commands.CommandOnCooldown(*limited)
        return True

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="Your question about AI policy, in plain words.",
        jurisdiction="Only use documents from this jurisdiction (leave empty for all).",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: str,
        jurisdiction: str | None = None,
    ) -> None:
        """Ask about AI-policy documents; the answer quotes them word for word, with links."""
        await interaction.response.defer(thinking=True)
        if jurisdiction:
            jurisdiction = await self._known_jurisdiction(jurisdiction)
        answer = await asyncio.to_thread(
            self.deps.service.ask,
            question,
            top_k=self.deps.settings.top_k,
            filters=Filters(jurisdiction=jurisdiction),
        )
        send = functools.partial(interaction.followup.send, wait=True)
        await send_answer(self.deps, send, answer, question=question, jurisdiction=jurisdiction)
        interaction.extras["answered"] = True

    @ask.autocomplete("jurisdiction")
    async def jurisdiction_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            names = await asyncio.to_thread(self.deps.service.jurisdictions)
        except Exception:
            log.exception("jurisdiction autocomplete failed")
            return []
        current = current.strip().lower()
        return [
            app_commands.Choice(name=name[:100], value=name[:100])
            for name in names
            if current in name.lower()
        ][:CHOICES_LIMIT]

    async def _known_jurisdiction(self, value: str) -> str:
        """The canonical spelling of a typed jurisdiction, or a refusal listing the choices."""
        names = await asyncio.to_thread(self.deps.service.jurisdictions)
        for name in names:
            if name.lower() == value.strip().lower():
                return name
        choices = ", ".join(names) or "none yet"
        raise PolicyBotError(
            f"I have no documents for the jurisdiction {value.strip()[:50]!r}. "
            f"Choose one of: {choices}."
        )

    # -- mentions --------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer '@PolicyBot <question>' in a thread started from the message (in direct
        messages, every message is a question)."""
        me = self.bot_user()
        if message.author.bot or me is None:
            return
        if message.guild is not None and me.id not in message.raw_mentions:
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        if not question:
            await message.reply(MENTION_HINT, mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        limited = self.deps.cooldown.hit(message.author.id)
        if limited:
            await message.reply(
                cooldown_message(limited[1]), mention_author=False, allowed_mentions=NO_MENTIONS
            )
            return
        where = await _reply_channel(message, question)
        try:
            async with where.typing():
                answer = await asyncio.to_thread(
                    self.deps.service.ask, question, top_k=self.deps.settings.top_k
                )
            await send_answer(self.deps, where.send, answer, question=question, jurisdiction=None)
        except Exception as err:  # the same mapping as commands: engine errors, else an apology
            text = reply_text(
                err,
                where="mention answer",
                guild_id=message.guild and message.guild.id,
                user_id=message.author.id,
            )
            await _send_quietly(where, text[:MESSAGE_LIMIT])


async def _reply_channel(message: discord.Message, question: str) -> discord.abc.Messageable:
    """A new thread on the message where possible, else the message's own channel."""
    if isinstance(message.channel, discord.TextChannel):
        try:
            return await message.create_thread(
                name=thread_name(question), auto_archive_duration=1440
            )
        except discord.HTTPException as err:
            log.info("cannot start a thread in channel %s: %s", message.channel.id, err)
    return message.channel


async def _send_quietly(where: discord.abc.Messageable, text: str) -> None:
    """Send an error reply; if even that fails (no permission), log it and move on."""
    try:
        await where.send(text, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as err:
        log.warning("could not send an error reply: %s", err)
