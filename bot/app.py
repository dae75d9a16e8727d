"""Build and run the Discord bot: ``create_bot`` (no connection) and ``run`` (the entry point)."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
import threading
import warnings

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.admin import AdminCog
from bot.ask import AskCog
from bot.config import BotSettings
from bot.dependencies import Dependencies
from bot.errors import PolicyBotTree
from bot.replies import NO_MENTIONS
from bot.views import AnswerView
from retrieval.errors import PolicyBotError
from retrieval.service import Service

log = logging.getLogger(__name__)

API_VERSION_SUFFIX = re.compile(r"/api/v\d+/?$")


def apply_endpoints(settings: BotSettings) -> None:
    """Point discord.py at another REST base and gateway (a proxy, a compatible server, a fake).

    discord.py keeps these as class attributes, so this applies to the whole process.
    """
    if settings.discord_api_base:
        base = settings.discord_api_base.rstrip("/")
        if not API_VERSION_SUFFIX.search(base):
            base += "/api/v10"
        discord.http.Route.BASE = base
        log.info("Discord REST base: %s", base)
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
        log.info("Discord gateway: %s", settings.discord_gateway_url)


class PolicyBot(commands.Bot):
    """The bot: slash commands, mentions and answer buttons over one ``Service``."""

    def __init__(self, settings: BotSettings, service: Service, *, sync: bool = False, **options):
        intents = discord.Intents.default()
        # Messages that mention the bot carry their text even without this privileged intent;
        # it is only needed to read other messages, which PolicyBot does not do.
        intents.message_content = settings.message_content_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            tree_cls=PolicyBotTree,
            **options,
        )
        self.deps = Dependencies.create(settings, service)
        # Only the process that runs shard 0 syncs, so N processes started alike sync once.
        self.sync_commands = sync and settings.runs_shard_zero
        if sync and not self.sync_commands:
            log.warning(
                "not syncing the slash commands: this process runs shards %s of %d, and the "
                "process with shard 0 syncs them",
                settings.discord_shard_ids,
                settings.discord_shard_count,
            )

    async def add_cogs(self) -> None:
        """Register the commands and listeners (no network)."""
        if self.get_cog("Ask") is None:
            await self.add_cog(AskCog(self.deps, lambda: self.user))
        if self.get_cog("Admin") is None:
            await self.add_cog(AdminCog(self.deps))

    async def setup_hook(self) -> None:
        """Before the bot connects: load the model and index, register commands and buttons."""
        started = asyncio.get_running_loop().time()
        await asyncio.to_thread(self.deps.service.load)
        log.info("model and index loaded in %.1f s", asyncio.get_running_loop().time() - started)
        await self.add_cogs()
        # One persistent view handles every answer's buttons, also those sent before a restart.
        self.add_view(AnswerView(self.deps))
        if self.sync_commands:
            await self.sync_tree()

    async def sync_tree(self) -> list[discord.app_commands.AppCommand]:
        """Publish the slash commands: to the configured guild at once, else globally."""
        guild_id = self.deps.settings.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (may take up to an hour to appear)", len(synced))
        return synced

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "ready as %s (id %s) in %d guilds", user, user.id if user else "?", len(self.guilds)
        )

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are handled by the Ask cog's listener."""


class ShardedPolicyBot(PolicyBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (discord.py's ``AutoShardedBot``)."""

    async def on_shard_ready(self, shard_id: int) -> None:
        guilds = sum(1 for guild in self.guilds if guild.shard_id == shard_id)
        log.info("shard %d of %d ready in %d guilds", shard_id, self.shard_count, guilds)


def create_bot(
    settings: BotSettings, service: Service, *, sync: bool = False, **options
) -> PolicyBot:
    """The configured bot, not connected (for ``run``, tests and embedding)."""
    apply_endpoints(settings)
    if settings.discord_shard_count is None:
        return PolicyBot(settings, service, sync=sync, **options)
    return ShardedPolicyBot(
        settings,
        service,
        sync=sync,
        shard_count=settings.discord_shard_count,
        shard_ids=settings.discord_shard_ids or None,  # None: every shard of the count
        **options,
    )


def _fail(message: str) -> int:
    print(f"policybot: {message}", file=sys.stderr)
    return 1


def run(settings: BotSettings, *, sync: bool, service: Service | None = None) -> int:
    """Start the bot and serve until stopped; returns the process exit code."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        return _fail(
            "no Discord bot token: set POLICYBOT_DISCORD_TOKEN in .env or the environment "
            "(see the README)."
        )
    level = logging.getLevelNamesMapping()[settings.log_level]
    own_handler = None
    if not logging.getLogger().handlers:
        own_handler = logging.StreamHandler()
        discord.utils.setup_logging(handler=own_handler, level=level)
        # Until the bot is ready only warnings are shown, so a failed start is one line.
        own_handler.setLevel(max(level, logging.WARNING))
        warnings.simplefilter("ignore")
    else:  # the caller set up logging; still let the bot's own progress through
        for name in ("bot", "discord"):
            logging.getLogger(name).setLevel(level)
    # PolicyBot never joins voice: skip discord.py's warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    try:
        service = service or Service(settings)
        bot = create_bot(settings, service, sync=sync)
        if own_handler is not None:

            async def log_fully(*_: int) -> None:
                own_handler.setLevel(level)

            # A sharded bot is ready only when all its shards are: show each shard's progress.
            bot.add_listener(log_fully, "on_ready")
            bot.add_listener(log_fully, "on_shard_connect")
        asyncio.run(_serve(bot, token))
    except discord.LoginFailure:
        return _fail(
            "Discord rejected the bot token (POLICYBOT_DISCORD_TOKEN): copy a fresh one from the "
            "Developer Portal (Bot → Reset Token)."
        )
    except discord.PrivilegedIntentsRequired:
        return _fail(
            "Discord refused the Message Content intent: enable it in the Developer Portal "
            "(Bot → Privileged Gateway Intents) or set POLICYBOT_MESSAGE_CONTENT_INTENT=false."
        )
    except PolicyBotError as err:
        return _fail(str(err))
    except aiohttp.ClientError as err:
        return _fail(f"cannot reach Discord ({type(err).__name__}: {err}).")
    except discord.HTTPException as err:
        return _fail(f"Discord answered HTTP {err.status} at start-up; try again in a while.")
    except discord.ConnectionClosed as err:
        hint = ": the token was refused (POLICYBOT_DISCORD_TOKEN)" if err.code == 4004 else ""
        return _fail(f"Discord closed the gateway connection at start-up (code {err.code}){hint}.")
    except KeyboardInterrupt:
        return 0
    return 0


async def _serve(bot: PolicyBot, token: str) -> None:
    """Serve until stopped; SIGTERM and SIGINT close the connection cleanly (exit status 0)."""
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():  # signals reach that thread only
        for stop in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop, lambda: asyncio.ensure_future(bot.close()))
    async with bot:
        await bot.start(token)
