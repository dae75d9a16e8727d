"""Admin commands: /corpus add, add_url, remove, list, and /reindex.

The cog's ``interaction_check`` runs before every one of them, on every call;
``default_permissions`` only hides them in Discord's UI. Replies are ephemeral: they concern the
admin, not the channel.
"""

from __future__ import annotations

import asyncio
import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot import admin_messages
from bot.checks import command_target, is_admin_member
from bot.dependencies import Dependencies
from bot.errors import NotAdmin
from bot.replies import actor, defer_private, record_refusal, send_private
from bot.text import CHOICES_LIMIT, OPTION_TEXT_LIMIT
from retrieval.errors import DocumentError, printable

log = logging.getLogger(__name__)


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


class AdminCog(commands.Cog, name="Admin"):
    """Corpus management for admins."""

    corpus = app_commands.Group(
        name="corpus",
        description="Manage the documents PolicyBot answers from (admins only).",
        default_permissions=discord.Permissions(administrator=True),
        guild_only=True,
    )

    def __init__(self, deps: Dependencies):
        self.deps = deps

    def _is_admin(self, interaction: discord.Interaction) -> bool:
        return is_admin_member(interaction, self.deps.settings.admin_role_ids)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """The admin check, before every command of this cog: refusals are audited."""
        if self._is_admin(interaction):
            return True
        command = interaction.command.qualified_name if interaction.command else "admin command"
        await record_refusal(
            self.deps.service,
            interaction,
            command.replace("corpus ", ""),
            command_target(interaction),
            "not an admin",
        )
        raise NotAdmin()

    async def _refuse(self, interaction: discord.Interaction, action: str, target: str, error: str):
        """Audit a failure caught before calling the service, then raise it to the user."""
        await record_refusal(self.deps.service, interaction, action, target, error)
        raise DocumentError(error)

    @corpus.command(name="add")
    @app_commands.describe(
        file="The document to add: Markdown, plain text, PDF or HTML, with its sources noted."
    )
    async def add(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """Add a document to the corpus and index it (admins only)."""
        limit = self.deps.settings.max_document_bytes
        if file.size > limit:
            await self._refuse(
                interaction,
                "add",
                file.filename,
                f"{printable(file.filename)} is {_size(file.size)}; the limit is {_size(limit)}. "
                "Nothing was added.",
            )
        await defer_private(interaction)
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
            self.deps.service.add_bytes, data, file.filename, actor=actor(interaction.user)
        )
        log.info("user %s added %s", interaction.user.id, result.document.doc_id)
        await send_private(interaction, admin_messages.added_message(result))

    @corpus.command(name="add_url")
    @app_commands.describe(url="An https:// link to a web page or PDF to add to the corpus.")
    async def add_url(self, interaction: discord.Interaction, url: str) -> None:
        """Fetch a web page or PDF and add it to the corpus (admins only)."""
        await defer_private(interaction)
        result = await asyncio.to_thread(
            self.deps.service.add_url, url.strip(), actor=actor(interaction.user)
        )
        log.info("user %s added %s from a URL", interaction.user.id, result.document.doc_id)
        await send_private(interaction, admin_messages.added_message(result))

    @corpus.command(name="remove")
    @app_commands.describe(document="The document to remove (start typing its title).")
    async def remove(self, interaction: discord.Interaction, document: str) -> None:
        """Remove a document from the corpus and the index (admins only)."""
        await defer_private(interaction)
        info = await asyncio.to_thread(
            self.deps.service.remove, document.strip(), actor=actor(interaction.user)
        )
        log.info("user %s removed %s", interaction.user.id, info.doc_id)
        await send_private(interaction, admin_messages.removed_message(info))

    @remove.autocomplete("document")
    async def document_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not self._is_admin(interaction):  # titles are for admins only
            return []
        try:
            docs = await asyncio.to_thread(self.deps.service.documents)
        except Exception:
            log.exception("document autocomplete failed")
            return []
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=admin_messages.choice_name(d), value=d.doc_id)
            for d in docs
            if len(d.doc_id) <= OPTION_TEXT_LIMIT
            and (
                not needle
                or needle in d.doc_id.lower()
                or needle in d.title.lower()
                or needle in d.publisher.lower()
            )
        ][:CHOICES_LIMIT]

    @corpus.command(name="list")
    async def list_documents(self, interaction: discord.Interaction) -> None:
        """List the documents in the corpus and who added each (admins only)."""
        await defer_private(interaction)
        docs = await asyncio.to_thread(self.deps.service.documents)
        embed, full = admin_messages.documents_embed(docs)
        if full is None:
            await send_private(interaction, embed=embed)
        else:
            file = discord.File(io.BytesIO(full.encode()), filename="documents.md")
            await send_private(interaction, embed=embed, file=file)

    @app_commands.command(name="reindex")
    @app_commands.describe(
        rebuild="Re-read and re-embed every document instead of only what changed (slow)."
    )
    @app_commands.default_permissions(administrator=True)
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction, rebuild: bool = False) -> None:
        """Bring the search index in line with the corpus folder (admins only)."""
        await defer_private(interaction)
        report = await asyncio.to_thread(
            self.deps.service.reindex, actor=actor(interaction.user), rebuild=rebuild
        )
        await send_private(interaction, admin_messages.reindex_message(report))
