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
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot import render
from bot.errors import NO_MENTIONS, handle_interaction_error
from retrieval.errors import PolicyBotError
from retrieval.types import Answer

if TYPE_CHECKING:
    from bot.app import PolicyBot

log = logging.getLogger(__name__)

MORE_ID = "policybot:more"
FULL_ID = "policybot:full"
UP_ID = "policybot:vote:up"
DOWN_ID = "policybot:vote:down"


@dataclass(frozen=True)
class CachedAnswer:
    """An answer as it was shown, with what is needed to ask again."""

    question: str
    jurisdiction: str | None
    answer: Answer


class AnswerCache:
    """The last ``size`` answers by message id (a bounded LRU)."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._items: OrderedDict[int, CachedAnswer] = OrderedDict()

    def put(self, message_id: int, item: CachedAnswer) -> None:
        self._items[message_id] = item
        self._items.move_to_end(message_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, message_id: int) -> CachedAnswer | None:
        item = self._items.get(message_id)
        if item is not None:
            self._items.move_to_end(message_id)
        return item

    def __len__(self) -> int:
        return len(self._items)


class AnswerView(discord.ui.View):
    """More sources · Full passage · 👍 · 👎 — built per answer, or empty for registration."""

    def __init__(self, answer: Answer | None = None, *, top_k: int = 5):
        super().__init__(timeout=None)
        more_count = len(render.more_passages(answer, top_k)) if answer else 1
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
        shown = render.shown_passages(answer, top_k) if answer else ()
        for spec in render.source_options(shown):
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
        bot = _bot(interaction)
        await _defer(interaction)
        entry = await resolve_answer(interaction)
        top_k = bot.settings.top_k
        passages = render.more_passages(entry.answer, top_k)
        if not passages:
            await _send(interaction, content="There are no more sources for this answer.")
            return
        first = 1 if entry.answer.abstained else top_k + 1
        title = "Closest passages" if entry.answer.abstained else "More sources"
        embed = render.passages_embed(title, passages, first=first)
        await _send(interaction, embed=embed)

    async def on_full(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        values = (interaction.data or {}).get("values") or []  # read now: the view is shared
        await _defer(interaction)
        if not values:
            raise PolicyBotError("Pick a source to see its whole passage.")
        value = str(values[0])
        number = _option_number(interaction.message, value)
        if value.startswith("#"):
            entry = await resolve_answer(interaction)
            index = int(value[1:]) - 1
            if not 0 <= index < len(entry.answer.passages):
                raise PolicyBotError("That source is no longer available; please ask again.")
            value = entry.answer.passages[index].chunk_id
        passage = await asyncio.to_thread(bot.service.passage, value)
        await _send(interaction, embed=render.full_passage_embed(passage, number))

    async def on_up(self, interaction: discord.Interaction) -> None:
        await self._vote(interaction, +1)

    async def on_down(self, interaction: discord.Interaction) -> None:
        await self._vote(interaction, -1)

    async def _vote(self, interaction: discord.Interaction, vote: int) -> None:
        bot = _bot(interaction)
        await _defer(interaction)
        entry = await resolve_answer(interaction)
        await asyncio.to_thread(
            bot.service.record_feedback,
            question=entry.question,
            chunk_ids=render.cited_chunk_ids(entry.answer, bot.settings.top_k),
            user_id=str(interaction.user.id),
            vote=vote,
        )
        verdict = "helpful" if vote > 0 else "not helpful"
        await _send(
            interaction,
            content=f"Thanks! Noted as {verdict}. Voting again on this answer replaces your vote.",
        )

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        where = f"button {getattr(item, 'custom_id', '?')}"
        await handle_interaction_error(interaction, error, where=where)


def _bot(interaction: discord.Interaction) -> PolicyBot:
    return interaction.client  # type: ignore[return-value]


async def _defer(interaction: discord.Interaction) -> None:
    interaction.extras["ephemeral"] = True
    await interaction.response.defer(ephemeral=True, thinking=True)


async def _send(interaction: discord.Interaction, **kwargs: Any) -> None:
    await interaction.followup.send(ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
    interaction.extras["answered"] = True


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


async def resolve_answer(interaction: discord.Interaction) -> CachedAnswer:
    """The answer behind the clicked message: from the cache, else asked again."""
    bot = _bot(interaction)
    message = interaction.message
    if message is None:
        raise PolicyBotError("I can't find the answer this button belongs to; please ask again.")
    cached = bot.answers.get(message.id)
    if cached is not None:
        return cached
    if not message.embeds:
        raise PolicyBotError("I can't find the answer this button belongs to; please ask again.")
    question, jurisdiction = render.question_from_embed(message.embeds[0])
    log.info("answer cache miss for message %s: asking again", message.id)
    answer = await asyncio.to_thread(
        bot.service.ask, question, top_k=bot.settings.top_k, jurisdiction=jurisdiction
    )
    cached = CachedAnswer(question, jurisdiction, answer)
    bot.answers.put(message.id, cached)
    return cached


async def send_answer(
    bot: PolicyBot,
    send: Callable[..., Awaitable[discord.Message | None]],
    answer: Answer,
    *,
    question: str,
    jurisdiction: str | None,
) -> discord.Message | None:
    """Post ``answer`` with its buttons through ``send`` and remember it for the buttons."""
    top_k = bot.settings.top_k
    embed = render.answer_embed(answer, top_k=top_k, jurisdiction=jurisdiction)
    view = AnswerView(answer, top_k=top_k)
    # Render only: the persistent view registered at start-up handles the clicks, so this
    # instance must not be stored per message (which would also keep it in memory forever).
    view.stop()
    message = await send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
    if message is not None:
        bot.answers.put(message.id, CachedAnswer(question, jurisdiction, answer))
    return message
