"""The buttons under an answer, and the short-lived memory of recent answers.

The buttons have fixed custom ids and one persistent view, registered at start-up, handles every
click, so buttons keep working after a restart. A click finds its answer by message id in a
small cache; after a restart (a miss) the question is read back from the message's embed and
asked again. "Full passage" carries the chunk id in the select option itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import answer_embeds
from bot.dependencies import CachedAnswer, Dependencies
from bot.errors import handle_interaction_error
from bot.replies import NO_MENTIONS, defer_private, send_private
from retrieval.errors import PolicyBotError
from retrieval.types import Answer, Filters

log = logging.getLogger(__name__)

MORE_ID = "policybot:more"
FULL_ID = "policybot:full"
UP_ID = "policybot:vote:up"
DOWN_ID = "policybot:vote:down"


class AnswerView(discord.ui.View):
    """More sources · Full passage · 👍 · 👎 — built per answer, or empty for registration."""

    def __init__(self, deps: Dependencies, answer: Answer | None = None):
        super().__init__(timeout=None)
        self.deps = deps
        more_count = len(answer.more) if answer else 1
        label = "Closest passages" if answer and answer.abstained else "More sources"
        self.more = discord.ui.Button(
            label=label,
            style=discord.ButtonStyle.secondary,
            custom_id=MORE_ID,
            disabled=more_count == 0,
            row=0,
        )
        self.up = discord.ui.Button(
            emoji="👍", style=discord.ButtonStyle.secondary, custom_id=UP_ID, row=0
        )
        self.down = discord.ui.Button(
            emoji="👎", style=discord.ButtonStyle.secondary, custom_id=DOWN_ID, row=0
        )
        self.full = discord.ui.Select(
            custom_id=FULL_ID, placeholder="Full passage…", min_values=1, max_values=1, row=1
        )
        shown = answer.passages if answer else ()
        for spec in answer_embeds.source_options(shown):
            self.full.add_option(
                label=spec.label, value=spec.value, description=spec.description or None
            )
        self.more.callback = self.on_more
        self.full.callback = self.on_full
        self.up.callback = self.on_up
        self.down.callback = self.on_down
        self.add_item(self.more)
        self.add_item(self.up)
        self.add_item(self.down)
        if answer is None or self.full.options:
            self.add_item(self.full)

    # -- callbacks: each acknowledges at once (ephemeral), then works off the event loop --

    async def on_more(self, interaction: discord.Interaction) -> None:
        await defer_private(interaction)
        entry = await self.resolve_answer(interaction)
        passages = entry.answer.more
        if not passages:
            await send_private(interaction, "There are no more sources for this answer.")
            return
        abstained = entry.answer.abstained
        first = 1 if abstained else len(entry.answer.passages) + 1
        title = "Closest passages" if abstained else "More sources"
        embed = answer_embeds.passages_embed(title, passages, first=first)
        await send_private(interaction, embed=embed)

    async def on_full(self, interaction: discord.Interaction) -> None:
        values = (interaction.data or {}).get("values") or []  # read now: the view is shared
        await defer_private(interaction)
        if not values:
            raise PolicyBotError("Pick a source to see its whole passage.")
        value = str(values[0])
        number = _option_number(interaction.message, value)
        if value.startswith("#"):
            entry = await self.resolve_answer(interaction)
            index = int(value[1:]) - 1
            if not 0 <= index < len(entry.answer.passages):
                raise PolicyBotError("That source is no longer available; please ask again.")
            value = entry.answer.passages[index].chunk_id
        passage = await asyncio.to_thread(self.deps.service.passage, value)
        await send_private(interaction, embed=answer_embeds.full_passage_embed(passage, number))

    async def on_up(self, interaction: discord.Interaction) -> None:
        await self._vote(interaction, +1)

    async def on_down(self, interaction: discord.Interaction) -> None:
        await self._vote(interaction, -1)

    async def _vote(self, interaction: discord.Interaction, vote: int) -> None:
        await defer_private(interaction)
        entry = await self.resolve_answer(interaction)
        await asyncio.to_thread(
            self.deps.service.record_feedback,
            question=entry.question,
            chunk_ids=answer_embeds.cited_chunk_ids(entry.answer),
            user_id=str(interaction.user.id),
            vote=vote,
        )
        verdict = "helpful" if vote > 0 else "not helpful"
        await send_private(
            interaction,
            f"Thanks! Noted as {verdict}. Voting again on this answer replaces your vote.",
        )

    async def resolve_answer(self, interaction: discord.Interaction) -> CachedAnswer:
        """The answer behind the clicked message: from the cache, else asked again."""
        message = interaction.message
        if message is None or (self.deps.answers.get(message.id) is None and not message.embeds):
            raise PolicyBotError(
                "I can't find the answer this button belongs to; please ask again."
            )
        cached = self.deps.answers.get(message.id)
        if cached is not None:
            return cached
        question, jurisdiction = answer_embeds.question_from_embed(message.embeds[0])
        log.info("answer cache miss for message %s: asking again", message.id)
        answer = await asyncio.to_thread(
            self.deps.service.ask,
            question,
            top_k=self.deps.settings.top_k,
            filters=Filters(jurisdiction=jurisdiction),
        )
        cached = CachedAnswer(question, jurisdiction, answer)
        self.deps.answers.put(message.id, cached)
        return cached

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        where = f"button {getattr(item, 'custom_id', '?')}"
        await handle_interaction_error(interaction, error, where=where)


def _option_number(message: discord.Message | None, value: str) -> int | None:
    """The source number of a select option, read from its label '[n] Title'."""
    if message is None:
        return None
    for row in message.components:
        for child in getattr(row, "children", ()):
            for option in getattr(child, "options", ()):
                if option.value == value and (m := re.match(r"\[(\d+)\]", option.label)):
                    return int(m.group(1))
    return None


async def send_answer(
    deps: Dependencies,
    send: Callable[..., Awaitable[discord.Message | None]],
    answer: Answer,
    *,
    question: str,
    jurisdiction: str | None,
) -> discord.Message | None:
    """Post ``answer`` with its buttons through ``send`` and remember it for the buttons."""
    embed = answer_embeds.answer_embed(answer, jurisdiction=jurisdiction)
    view = AnswerView(deps, answer)
    # Render only: the persistent view registered at start-up handles the clicks, so this
    # instance must not be stored per message (which would also keep it in memory forever).
    view.stop()
    message = await send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
    if message is not None:
        deps.answers.put(message.id, CachedAnswer(question, jurisdiction, answer))
    return message
