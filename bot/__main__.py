"""``python -m bot [--sync]``: start the Discord bot with settings from `.env` and the env."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Run PolicyBot on Discord.")
    parser.add_argument(
        "--sync",
        action="store_true",
        help="publish the slash commands (to POLICYBOT_DISCORD_GUILD_ID at once, else globally); "
        "with sharding, only the process that runs shard 0 does",
    )
    args = parser.parse_args(argv)

    from bot.config import BotSettings
    from retrieval.config import invalid_settings, process_defaults

    process_defaults()
    try:
        settings = BotSettings()
    except ValidationError as err:
        print(f"policybot: {invalid_settings(err)}", file=sys.stderr)
        return 2

    from bot.app import run

    return run(settings, sync=args.sync)


if __name__ == "__main__":
    sys.exit(main())
