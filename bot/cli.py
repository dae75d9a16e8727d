"""`policybot bot`: registered by this package as a `policybot.commands` entry point, so the
engine's CLI runs the bot without the engine importing the adapter."""

from __future__ import annotations

from typing import Annotated

import typer


def bot(
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="Publish the slash commands, then run (with sharding: the process of shard 0).",
        ),
    ] = False,
) -> None:
    """Run the Discord bot (needs POLICYBOT_DISCORD_TOKEN in the environment or .env).

    Example: policybot bot --sync
    """
    from pydantic import ValidationError

    from bot.app import run
    from bot.config import BotSettings
    from retrieval.config import invalid_settings

    try:
        settings = BotSettings()
    except ValidationError as err:  # the engine's settings passed; a bot setting did not
        typer.echo(f"Error: {invalid_settings(err)}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run(settings, sync=sync))
