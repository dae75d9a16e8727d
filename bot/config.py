"""The bot's settings: the engine's, plus what only the Discord adapter reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from retrieval.config import LogLevel, Settings, split_list


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

    _split_roles = field_validator("admin_role_ids", mode="before")(split_list)
