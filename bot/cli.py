"""`policybot bot`: registered by this package as a `policybot.commands` entry point, so the
engine's CLI runs the bot without the engine importing the adapter."""

from __future__ import annotations

from typing import Annotated

import typer


def bot(
    sync: Annotated[
        bool, typer.Option("--sync", help="Publish the slash commands, then run.")
    ] = False,
) -> None:
    """Run the Discord bot (needs POLICYBOT_DISCORD_TOKEN in the environment or .env).

    Example: policybot bot --sync
    """
    from bot.app import run
    from bot.config import BotSettings

    raise typer.Exit(run(BotSettings(), sync=sync))
