"""What the bot's cogs and views work with, built once at start-up and passed to each of them."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from discord import app_commands

from retrieval.types import Answer

if TYPE_CHECKING:
    from bot.config import BotSettings
    from retrieval.service import Service

ANSWER_CACHE_SIZE = 1024  # answers whose buttons work without asking again (about 1 MB)
COOLDOWN_USERS = 10_000  # past this many users, those whose window has passed are forgotten


@dataclass(frozen=True)
class CachedAnswer:
    """An answer as it was shown, with what is needed to ask again."""

    question: str
    jurisdiction: str | None
    answer: Answer


class AnswerCache:
    """The last ``size`` answers by message id (a bounded LRU)."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE):
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
        if len(self._buckets) > COOLDOWN_USERS:
            self._buckets = {k: b for k, b in self._buckets.items() if b.get_retry_after(now) > 0}
        bucket = self._buckets.setdefault(user_id, app_commands.Cooldown(1, self.per))
        retry_after = bucket.update_rate_limit(now)
        return (bucket, retry_after) if retry_after else None


@dataclass
class Dependencies:
    """The engine, the settings and the bot's own short-lived state."""

    service: Service
    settings: BotSettings
    cooldown: UserCooldown
    answers: AnswerCache

    @classmethod
    def create(cls, settings: BotSettings, service: Service) -> Dependencies:
        return cls(service, settings, UserCooldown(settings.ask_cooldown_s), AnswerCache())
