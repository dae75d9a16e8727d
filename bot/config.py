"""The bot's settings: the engine's, plus what only the Discord adapter reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from retrieval.config import LogLevel, Settings, split_list


def empty_is_none(value: object) -> object:
    """An empty value, as `.env.example` leaves it, means "not set" for an optional number."""
    return None if value == "" else value


class BotSettings(Settings):
    """Every setting the bot reads; `.env.example` lists the same names."""

    discord_token: SecretStr | None = Field(None, description="Bot token; only the bot reads it.")
    discord_guild_id: int | None = Field(None, description="Guild to sync commands to instantly.")
    admin_role_ids: Annotated[list[int], NoDecode] = Field(
        [], description="Role ids, comma-separated, whose members may manage the corpus."
    )
    ask_cooldown_s: float = Field(10.0, ge=0, description="Per-user pause between /ask calls.")
    message_content_intent: bool = Field(
        False,
        description="Request the privileged Message Content intent (enable it in the portal).",
    )
    discord_api_base: str = Field(
        "", description="Discord REST base URL override (tests, proxies)."
    )
    discord_gateway_url: str = Field("", description="Discord gateway URL override.")
    log_level: LogLevel = Field("INFO", description="Log level of the bot process.")
    discord_shard_count: int | None = Field(
        None, ge=1, description="Gateway shards across all processes; empty means no sharding."
    )
    discord_shard_ids: Annotated[list[int], NoDecode] = Field(
        [], description="Shards this process runs, comma-separated; empty means all of them."
    )

    _split_lists = field_validator("admin_role_ids", "discord_shard_ids", mode="before")(split_list)
    _empty_numbers = field_validator("discord_guild_id", "discord_shard_count", mode="before")(
        empty_is_none
    )

    @field_validator("discord_shard_ids")
    @classmethod
    def _check_shard_ids(cls, ids: list[int], info: ValidationInfo) -> list[int]:
        """Discord closes the connection of a shard outside the count: refuse it before that."""
        if not ids or "discord_shard_count" not in info.data:  # an invalid count says so itself
            return ids
        count = info.data["discord_shard_count"]
        if count is None:
            raise ValueError("needs POLICYBOT_DISCORD_SHARD_COUNT, the total number of shards")
        if repeated := [i for i in ids if ids.count(i) > 1]:
            raise ValueError(f"shard {repeated[0]} is listed twice")
        if outside := [i for i in ids if not 0 <= i < count]:
            raise ValueError(
                f"shard {outside[0]} is out of range: with POLICYBOT_DISCORD_SHARD_COUNT={count} "
                f"shard ids run from 0 to {count - 1}"
            )
        return ids

    @property
    def runs_shard_zero(self) -> bool:
        """Whether this process runs shard 0: also true unsharded or when it runs every shard."""
        return not self.discord_shard_ids or 0 in self.discord_shard_ids
