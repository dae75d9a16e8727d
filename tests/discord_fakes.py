"""Shared fakes for the bot tests: a tmp corpus with the real Service, interaction fakes shaped
like discord.py's classes, and a local fake Discord (REST, CDN and gateway) for wire tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, create_autospec

import discord
from aiohttp import WSMsgType, web

from bot.config import BotSettings
from retrieval.service import Service
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[1]
SEED_DOC = ROOT / "corpus" / "techradar-us-uk-ai-safety-mou.md"

APP_ID = 700000000000000001
BOT_ID = APP_ID
GUILD_ID = 700000000000000002
CHANNEL_ID = 700000000000000003
ADMIN_ROLE_ID = 700000000000000004
USER_ID = 700000000000000010
ADMIN_ID = 700000000000000011

EU_DOC = """---
title: "Proposal for an Artificial Intelligence Act"
publisher: "European Commission"
jurisdiction: "EU"
date: 2021-04-21
url: "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:52021PC0206"
status: "superseded by Regulation (EU) 2024/1689"
---

# Article 5 Prohibited artificial intelligence practices

The placing on the market of AI systems that deploy subliminal techniques beyond a person's
consciousness shall be prohibited. Systems that exploit any of the *vulnerabilities* of a
specific group of persons due to their age shall be prohibited. Real-time remote biometric
identification systems in publicly accessible spaces for law_enforcement are prohibited
unless strictly necessary.
"""

NEW_DOC = b"""---
title: "Voluntary AI Commitments"
publisher: "The White House"
jurisdiction: "US"
date: 2023-07-21
url: "https://example.org/voluntary-ai-commitments"
status: "in force"
---

# Safety

Companies commit to internal and external security testing of their AI systems before their
release. Companies commit to sharing information across the industry and with governments on
managing AI risks.
"""


def make_corpus(root: Path) -> Path:
    """A corpus folder with the seed document and a small EU document."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / SEED_DOC.name).write_bytes(SEED_DOC.read_bytes())
    (corpus / "eu-ai-act-proposal.md").write_text(EU_DOC, encoding="utf-8")
    return corpus


def make_settings(root: Path, **overrides: Any) -> BotSettings:
    """Settings over a tmp corpus; ``min_support=-1`` makes the hash embedder answer."""
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "corpus_dirs": [make_corpus(root)],
        "embedding_model": "hash-embedder",
        "min_support": -1.0,
        "top_k": 2,
        "ask_cooldown_s": 0.0,
        "admin_role_ids": [ADMIN_ROLE_ID],
        "discord_guild_id": GUILD_ID,
    }
    values.update(overrides)
    return BotSettings(_env_file=None, **values)


def make_service(settings: BotSettings) -> Service:
    """The real service with the deterministic embedder, loaded."""
    service = Service(settings, HashEmbedder())
    service.load()
    return service


def stored_documents(service: Service) -> list[str]:
    """The ids of the documents in the database, where an upload goes."""
    return sorted(d.doc_id for d in service.documents())


# -- callback-test fakes (NOTES.md recipe) ---------------------------------------------------


def fake_member(user_id: int = USER_ID, name: str = "alice", role_ids: tuple[int, ...] = ()):
    member = MagicMock(spec_set=discord.Member)
    member.id = user_id
    member.name = name
    member.bot = False
    member.roles = [MagicMock(spec=discord.Role, id=r) for r in role_ids]
    member._roles = list(role_ids)
    return member


def fake_interaction(
    bot: discord.Client,
    *,
    user: Any = None,
    administrator: bool = False,
    guild_id: int | None = GUILD_ID,
    message: Any = None,
    data: dict | None = None,
    command: Any = None,
) -> MagicMock:
    """An interaction whose response and followup are autospecs of the real classes."""
    interaction = MagicMock(spec_set=discord.Interaction)
    interaction.client = bot
    interaction.id = 4242
    interaction.user = user or fake_member()
    interaction.guild_id = guild_id
    interaction.permissions = discord.Permissions(administrator=administrator)
    interaction.extras = {}
    interaction.message = message
    interaction.data = data or {}
    interaction.command = command
    interaction.namespace = discord.app_commands.Namespace.__new__(discord.app_commands.Namespace)
    interaction.response = create_autospec(discord.InteractionResponse, instance=True)
    interaction.response.is_done.return_value = False
    interaction.response.type = None
    interaction.followup = create_autospec(discord.Webhook, instance=True)
    sent = MagicMock(spec=discord.WebhookMessage)
    sent.id = 9000
    interaction.followup.send.return_value = sent
    return interaction


def fake_message_with(embed: discord.Embed, view: discord.ui.View, message_id: int) -> MagicMock:
    """The answer message as a click sees it: id, embed and components."""
    message = MagicMock(spec=discord.Message)
    message.id = message_id
    message.embeds = [embed]
    message.components = [
        discord.components._component_factory(row) for row in view.to_components()
    ]
    return message


def sent_kwargs(mock: Any) -> dict[str, Any]:
    """Keyword arguments of the last awaited call of an autospec'd coroutine."""
    assert mock.await_count, "expected the coroutine to be awaited"
    return dict(mock.await_args.kwargs)


# -- wire fakes: a local Discord -------------------------------------------------------------

_ids = itertools.count(800000000000000000)


def snowflake() -> str:
    return str(next(_ids))


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events on."""
    return (guild_id >> 22) % shard_count


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
    }


def member_payload(user_id: int, name: str, *, permissions: int = 0, roles=()) -> dict[str, Any]:
    return {
        "user": user_payload(user_id, name),
        "roles": [str(r) for r in roles],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(permissions),
    }


def channel_payload(channel_id: int = CHANNEL_ID, guild_id: int = GUILD_ID) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": "policy",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "rate_limit_per_user": 0,
        "topic": None,
        "last_message_id": None,
    }


def guild_payload() -> dict[str, Any]:
    return {
        "id": str(GUILD_ID),
        "name": "Policy Lab",
        "icon": None,
        "owner_id": str(ADMIN_ID),
        "roles": [
            {
                "id": str(GUILD_ID),
                "name": "@everyone",
                "permissions": "1024",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "emojis": [],
        "features": [],
        "member_count": 2,
        "members": [],
        "channels": [channel_payload()],
        "threads": [],
        "voice_states": [],
        "presences": [],
        "unavailable": False,
        "large": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "system_channel_flags": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "stickers": [],
    }


def message_payload(
    *,
    content: str = "",
    author: dict | None = None,
    channel_id: int = CHANNEL_ID,
    message_id: str | None = None,
    embeds: list | None = None,
    components: list | None = None,
    flags: int = 0,
    mentions: list | None = None,
    guild: bool = True,
) -> dict[str, Any]:
    data = {
        "id": message_id or snowflake(),
        "channel_id": str(channel_id),
        "author": author or user_payload(BOT_ID, "PolicyBot", bot=True),
        "content": content,
        "timestamp": datetime.now(UTC).isoformat(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "pinned": False,
        "type": 0,
        "flags": flags,
        "components": components or [],
    }
    if guild:
        data["guild_id"] = str(GUILD_ID)
    return data


def interaction_payload(
    *,
    kind: int,
    data: dict[str, Any],
    user_id: int = USER_ID,
    name: str = "alice",
    permissions: int = 0,
    roles=(),
    message: dict | None = None,
    guild_id: int = GUILD_ID,
) -> dict[str, Any]:
    """What Discord sends for a slash command (kind 2) or a component click (kind 3)."""
    interaction_id = snowflake()
    payload = {
        "id": interaction_id,
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"token-{interaction_id}",
        "version": 1,
        "guild_id": str(guild_id),
        "channel_id": str(CHANNEL_ID),
        "channel": channel_payload(guild_id=guild_id),
        "member": member_payload(user_id, name, permissions=permissions, roles=roles),
        "app_permissions": str(discord.Permissions.all().value),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
        "attachment_size_limit": 26214400,
        "data": data,
    }
    if message is not None:
        payload["message"] = message
    return payload


def command_data(name: str, options: list | None = None, resolved: dict | None = None) -> dict:
    data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1, "options": options or []}
    if resolved:
        data["resolved"] = resolved
    return data


@dataclass
class Recorded:
    """One request the fake Discord received."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    at: float
    files: dict[str, bytes] = field(default_factory=dict)


class FakeDiscord:
    """A local Discord: the REST routes the bot uses, a CDN, and a gateway websocket."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.cdn: dict[str, bytes] = {}
        self.messages: dict[str, dict] = {}
        self.threads: list[str] = []  # ids of the threads the bot started
        self.gateways: dict[int, web.WebSocketResponse] = {}  # by shard id; unsharded is 0
        self.identifies: list[dict] = []  # the data of each IDENTIFY, in arrival order
        self.identified = asyncio.Event()
        self.base = ""
        self._runner: web.AppRunner | None = None
        self._seq = 1
        self._changed = asyncio.Event()
        self.reject_token = False
        self.server_error = False  # answer /users/@me with 503, as during an outage
        self.close_code: int | None = None  # close the gateway with this code on IDENTIFY

    # -- lifecycle --

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/cdn/{path:.*}", self._cdn)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._api)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for ws in self.gateways.values():
            if not ws.closed:
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return self.base + "/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/gateway"

    # -- assertions --

    def find(self, method: str, contains: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and contains in r.path]

    async def wait_for(
        self, method: str, contains: str, count: int = 1, timeout: float = 10.0
    ) -> list[Recorded]:
        deadline = time.perf_counter() + timeout
        while len(found := self.find(method, contains)) < count:
            if time.perf_counter() > deadline:
                seen = [(r.method, r.path) for r in self.requests]
                raise AssertionError(f"no {count}× {method} {contains} in time; saw {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.05)
        return found

    # -- handlers --

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # discord.py parses JSON only when the Content-Type is exactly application/json.
        return web.Response(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )

    async def _cdn(self, request: web.Request) -> web.Response:
        self._record(request, None)
        data = self.cdn.get(request.match_info["path"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})

    async def _body(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            payload, files = None, {}
            async for part in reader:
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files[part.filename or part.name or "?"] = await part.read()
            return payload, files
        if request.can_read_body:
            return await request.json(), {}
        return None, {}

    def _record(self, request: web.Request, body: Any, files: dict | None = None) -> None:
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                body,
                time.perf_counter(),
                files or {},
            )
        )
        self._changed.set()

    async def _api(self, request: web.Request) -> web.Response:
        body, files = await self._body(request)
        self._record(request, body, files)
        path = "/" + request.match_info["path"]
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            if self.server_error:
                return self._json({"message": "503: Service Unavailable", "code": 0}, 503)
            if self.reject_token:
                return self._json({"message": "401: Unauthorized", "code": 0}, 401)
            return self._json(user_payload(BOT_ID, "PolicyBot", bot=True))
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": str(APP_ID),
                    "name": "PolicyBot",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "flags": 0,
                    "owner": user_payload(ADMIN_ID, "owner"),
                    "team": None,
                    "summary": "",
                }
            )
        if path.startswith("/interactions/") and path.endswith("/callback"):
            return self._json({"interaction": {"id": parts[1], "type": 2}})
        if parts[0] == "webhooks" and request.method == "POST":
            message = message_payload(
                content=(body or {}).get("content") or "",
                embeds=(body or {}).get("embeds"),
                components=(body or {}).get("components"),
                flags=(body or {}).get("flags", 0),
                author=user_payload(BOT_ID, "PolicyBot", bot=True),
            )
            message["webhook_id"] = str(APP_ID)
            self.messages[message["id"]] = message
            return self._json(message)
        if parts[0] == "webhooks" and request.method == "PATCH":
            return self._json(message_payload(content=(body or {}).get("content") or ""))
        if parts[0] == "webhooks" and request.method == "DELETE":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "typing":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "threads":
            thread = {
                "id": snowflake(),
                "type": 11,
                "guild_id": str(GUILD_ID),
                "parent_id": parts[1],
                "name": (body or {}).get("name", "thread"),
                "owner_id": str(BOT_ID),
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": (body or {}).get("auto_archive_duration", 1440),
                    "archive_timestamp": datetime.now(UTC).isoformat(),
                    "locked": False,
                },
            }
            self.threads.append(thread["id"])
            return self._json(thread)
        if parts[0] == "channels" and parts[-1] == "messages" and request.method == "POST":
            message = message_payload(
                content=(body or {}).get("content") or "",
                embeds=(body or {}).get("embeds"),
                components=(body or {}).get("components"),
                channel_id=int(parts[1]),
            )
            self.messages[message["id"]] = message
            return self._json(message)
        if parts[0] == "applications" and request.method == "PUT":
            commands = []
            for cmd in body or []:
                commands.append(
                    {
                        "id": snowflake(),
                        "application_id": str(APP_ID),
                        "version": snowflake(),
                        "default_member_permissions": None,
                        "dm_permission": True,
                        "nsfw": False,
                        "options": [],
                        "type": 1,
                        **cmd,
                    }
                )
            return self._json(commands)
        return self._json({"message": f"fake Discord has no route {path}", "code": 0}, 404)

    # -- gateway --

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif data["op"] == 2 and self.close_code:
                await ws.close(code=self.close_code, message=b"Authentication failed.")
            elif data["op"] == 2:
                await self._ready(ws, data["d"])
        return ws

    async def _ready(self, ws: web.WebSocketResponse, identify: dict) -> None:
        """READY for the shard named in IDENTIFY; as on Discord, the guild only on its shard."""
        self.identifies.append(identify)
        shard_id, count = identify.get("shard", (0, 1))
        self.gateways[shard_id] = ws
        guilds = [guild_payload()] if shard_of(GUILD_ID, count) == shard_id else []
        ready = {
            "v": 10,
            "user": user_payload(BOT_ID, "PolicyBot", bot=True),
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": f"fake-session-{shard_id}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        await self.dispatch("READY", ready, shard=shard_id)
        for guild in guilds:
            await self.dispatch("GUILD_CREATE", guild, shard=shard_id)
        self.identified.set()

    async def dispatch(self, event: str, data: dict, *, shard: int = 0) -> None:
        """Send an event down the connection of ``shard``."""
        assert shard in self.gateways, f"shard {shard} has not identified"
        self._seq += 1
        message = {"op": 0, "t": event, "s": self._seq, "d": data}
        await self.gateways[shard].send_str(json.dumps(message))


async def feed(bot: discord.Client, payload: dict) -> float:
    """Deliver an interaction as the gateway would; returns the time it was delivered."""
    started = time.perf_counter()
    bot._connection.parse_interaction_create(payload)
    await asyncio.sleep(0)
    return started


def only(items: list, predicate: Callable[[Any], bool] | None = None) -> Any:
    found = [i for i in items if predicate is None or predicate(i)]
    assert len(found) == 1, found
    return found[0]
