"""Admin commands: /corpus add, add_url, remove, list, and /reindex.

Each is checked at run time (``admin_only``) on every call; ``default_permissions`` only hides
them in Discord's UI. Replies are ephemeral: they concern the admin, not the channel.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.checks import actor, admin_only
from bot.errors import NO_MENTIONS
from retrieval.errors import DocumentError

if TYPE_CHECKING:
    from bot.app import PolicyBot

log = logging.getLogger(__name__)


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


async def _defer(interaction: discord.Interaction) -> None:
    interaction.extras["ephemeral"] = True
    await interaction.response.defer(ephemeral=True, thinking=True)


async def _send(interaction: discord.Interaction, content: str | None = None, **kwargs) -> None:
    await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
    interaction.extras["answered"] = True


class AdminCog(commands.Cog, name="Admin"):
    """Corpus management for admins."""

    corpus = app_commands.Group(
        name="corpus",
        description="Manage the documents PolicyBot answers from (admins only).",
        default_permissions=discord.Permissions(administrator=True),
        guild_only=True,
    )

    def __init__(self, bot: PolicyBot):
        self.bot = bot

    async def _refuse(self, interaction: discord.Interaction, action: str, target: str, error: str):
        """Audit a failure the bot caught before calling the service, then raise it to the user."""
        try:
            await asyncio.to_thread(
                self.bot.service.record_failure,
                actor=actor(interaction.user),
                action=action,
                target=target,
                error=f"refused: {error}",
            )
        except Exception:
            log.exception("could not record the refused %s", action)
        raise DocumentError(error)

    @corpus.command(name="add")
    @app_commands.describe(
        file="The document to add: Markdown, plain text, PDF or HTML, with its sources noted."
    )
    @admin_only
    async def add(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """Add a document to the corpus and index it (admins only)."""
        limit = self.bot.settings.max_document_bytes
        if file.size > limit:
            await self._refuse(
                interaction,
                "add",
                file.filename,
                f"{file.filename} is {_size(file.size)}; the limit is {_size(limit)}. "
                "Nothing was added.",
            )
        await _defer(interaction)
        try:
            data = await file.read()
        except discord.HTTPException as err:
            log.warning("attachment download failed: %s", err)
            await self._refuse(
                interaction,
                "add",
                file.filename,
                "I couldn't download the attachment from Discord; please upload it again.",
            )
        result = await asyncio.to_thread(
            self.bot.service.add_bytes, data, file.filename, actor=actor(interaction.user)
        )
        log.info("user %s added %s", interaction.user.id, result.document.doc_id)
        await _send(interaction, render.added_message(result))

    @corpus.command(name="add_url")
    @app_commands.describe(url="An https:// link to a web page or PDF to add to the corpus.")
    @admin_only
    async def add_url(self, interaction: discord.Interaction, url: str) -> None:
        """Fetch a web page or PDF and add it to the corpus (admins only)."""
        await _defer(interaction)
        result = await asyncio.to_thread(
            self.bot.service.add_url, url.strip(), actor=actor(interaction.user)
        )
        log.info("user %s added %s from a URL", interaction.user.id, result.document.doc_id)
        await _send(interaction, render.added_message(result))

    @corpus.command(name="remove")
    @app_commands.describe(document="The document to remove (start typing its title).")
    @admin_only
    async def remove(self, interaction: discord.Interaction, document: str) -> None:
        """Remove a document from the corpus and the index (admins only)."""
        await _defer(interaction)
        info = await asyncio.to_thread(
            self.bot.service.remove, document.strip(), actor=actor(interaction.user)
        )
        log.info("user %s removed %s", interaction.user.id, info.doc_id)
        await _send(interaction, render.removed_message(info))

    @remove.autocomplete("document")
    async def document_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            docs = await asyncio.to_thread(self.bot.service.documents)
        except Exception:
            log.exception("document autocomplete failed")
            return []
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=render.choice_name(d), value=d.doc_id)
            for d in docs
            if len(d.doc_id) <= render.OPTION_TEXT_LIMIT
            and (
                not needle
                or needle in d.doc_id.lower()
                or needle in d.title.lower()
                or needle in d.publisher.lower()
            )
        ][: render.CHOICES_LIMIT]

    @corpus.command(name="list")
    @admin_only
    async def list_documents(self, interaction: discord.Interaction) -> None:
        """List the documents in the corpus and who added each (admins only)."""
        await _defer(interaction)
        docs = await asyncio.to_thread(self.bot.service.documents)
        embed, full = render.documents_embed(docs)
        if full is None:
            await _send(interaction, embed=embed)
        else:
            file = discord.File(io.BytesIO(full.encode()), filename="documents.md")
            await _send(interaction, embed=embed, file=file)

    @app_commands.command(name="reindex")
    @app_commands.describe(
        rebuild="Re-read and re-embed every document instead of only what changed (slow)."
    )
    @app_commands.default_permissions(administrator=True)
    @app_commands.guild_only()
    @admin_only
    async def reindex(self, interaction: discord.Interaction, rebuild: bool = False) -> None:
        """Bring the search index in line with the corpus folder (admins only)."""
        await _defer(interaction)
        report = await asyncio.to_thread(
            self.bot.service.reindex, actor=actor(interaction.user), rebuild=rebuild
        )
        await _send(interaction, render.reindex_message(report))
