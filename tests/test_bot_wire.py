"""Real discord.py against a local fake Discord: the exact JSON Discord would receive.

Interactions are delivered as the gateway would deliver them (``parse_interaction_create``);
the fake records every REST call with its arrival time, so the tests also measure how long the
bot takes to acknowledge (Discord allows 3 s) and to answer.
"""

from __future__ import annotations

import json
import time
from unittest.mock import patch

import discord
import pytest

from bot.app import create_bot
from bot.views import DOWN_ID, FULL_ID, MORE_ID, UP_ID
from tests.discord_fakes import (
    ADMIN_ID,
    ADMIN_ROLE_ID,
    APP_ID,
    GUILD_ID,
    NEW_DOC,
    USER_ID,
    FakeDiscord,
    command_data,
    feed,
    interaction_payload,
    make_service,
    make_settings,
    only,
    snowflake,
    stored_documents,
)

QUESTION = "Who signed the MOU between the US and UK AI Safety Institutes?"
EPHEMERAL = 64
TIMINGS: list[str] = []


@pytest.fixture
async def fake():
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture
def settings(tmp_path, fake, monkeypatch):
    # create_bot points discord.py at the fake; monkeypatch restores the real URLs afterwards.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    return make_settings(tmp_path, discord_api_base=fake.base)


@pytest.fixture
async def bot(settings, fake):
    bot = create_bot(settings, make_service(settings))
    await bot.login("fake-token")  # GET /users/@me, /oauth2/applications/@me, then setup_hook
    assert fake.api_base == discord.http.Route.BASE
    yield bot
    await bot.close()


def ask_payload(question: str = QUESTION, **kwargs) -> dict:
    options = [{"name": "question", "type": 3, "value": question}]
    return interaction_payload(kind=2, data=command_data("ask", options), **kwargs)


async def exchange(fake: FakeDiscord, payload: dict, started: float):
    """The interaction callback and the first follow-up for ``payload``, with timings."""
    [callback] = await fake.wait_for("POST", f"/interactions/{payload['id']}/")
    followups = await fake.wait_for("POST", f"/webhooks/{APP_ID}/{payload['token']}")
    return (
        callback,
        followups[0],
        (callback.at - started) * 1000,
        (followups[0].at - started) * 1000,
    )


def assert_embed_within_limits(embed: dict) -> None:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    assert len(embed.get("title", "")) <= 256 and len(embed.get("description", "")) <= 4096
    assert len(embed.get("fields", [])) <= 25
    for f in embed.get("fields", []):
        assert len(f["name"]) <= 256 and len(f["value"]) <= 1024
        total += len(f["name"]) + len(f["value"])
    total += len(embed.get("footer", {}).get("text", ""))
    assert total <= 6000


async def test_ask_defers_then_follows_up_with_embed_buttons_and_no_pings(bot, fake):
    payload = ask_payload()
    started = await feed(bot, payload)
    callback, followup, defer_ms, answer_ms = await exchange(fake, payload, started)
    TIMINGS.append(f"/ask: deferred after {defer_ms:.0f} ms, answered after {answer_ms:.0f} ms")
    print(TIMINGS[-1])
    assert defer_ms < 3000
    assert callback.query == {"with_response": "1"}
    assert callback.json == {"type": 5}  # deferred, public ("PolicyBot is thinking…")
    body = followup.json
    assert followup.query.get("wait") in {"1", "true"}
    assert body["allowed_mentions"] == {"parse": []}
    assert not body.get("flags", 0) & EPHEMERAL
    [embed] = body["embeds"]
    assert_embed_within_limits(embed)
    assert embed["title"] == QUESTION
    assert "[1]" in embed["description"]
    assert [f["name"][:4] for f in embed["fields"]] == ["[1] ", "[2] "]
    assert any(
        "**" in f["value"] and "[Open the source](https://" in f["value"] for f in embed["fields"]
    )
    rows = body["components"]
    assert [c["custom_id"] for c in rows[0]["components"]] == [MORE_ID, UP_ID, DOWN_ID]
    assert [c["type"] for c in rows[0]["components"]] == [2, 2, 2]
    select = only(rows[1]["components"])
    assert select["custom_id"] == FULL_ID and select["type"] == 3
    assert all("#" in o["value"] and o["label"].startswith("[") for o in select["options"])


SLOW_ANSWER_S = 1.0


async def test_a_slow_answer_does_not_block_other_users(bot, fake):
    real_ask = bot.deps.service.ask

    def slow_ask(*args, **kwargs):
        time.sleep(SLOW_ANSWER_S)  # model inference holding a worker thread
        return real_ask(*args, **kwargs)

    with patch.object(bot.deps.service, "ask", side_effect=slow_ask):
        first, second = ask_payload(), ask_payload(user_id=USER_ID + 1, name="bob")
        started = await feed(bot, first)
        await feed(bot, second)
        callbacks = [
            (await fake.wait_for("POST", f"/interactions/{p['id']}/"))[0] for p in (first, second)
        ]
        await fake.wait_for("POST", f"/webhooks/{APP_ID}/{second['token']}")
    # Both acknowledged before one slow answer could have finished: a blocked event loop would
    # acknowledge the second only after the first answer (the margin is for a loaded machine).
    assert all((c.at - started) < 0.9 * SLOW_ANSWER_S for c in callbacks)


async def test_answer_buttons_reply_ephemerally_even_after_a_restart(bot, fake, settings):
    payload = ask_payload()
    started = await feed(bot, payload)
    _, followup, _, _ = await exchange(fake, payload, started)
    message = next(m for m in fake.messages.values() if m["embeds"] == followup.json["embeds"])

    async def click(data: dict, *, clear_cache: bool = False) -> tuple[dict, dict, float]:
        if clear_cache:
            bot.deps.answers._items.clear()  # what a restart leaves: no memory of the answer
        click = interaction_payload(kind=3, data=data, message=message)
        started = await feed(bot, click)
        callback, reply, defer_ms, reply_ms = await exchange(fake, click, started)
        TIMINGS.append(
            f"click {data['custom_id']}: deferred {defer_ms:.0f} ms, reply {reply_ms:.0f} ms"
        )
        print(TIMINGS[-1])
        assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
        assert reply.json["flags"] & EPHEMERAL
        assert reply.json["allowed_mentions"] == {"parse": []}
        return callback.json, reply.json, defer_ms

    _, more, _ = await click({"custom_id": MORE_ID, "component_type": 2})
    assert more["embeds"][0]["fields"][0]["name"].startswith("[3] ")
    assert_embed_within_limits(more["embeds"][0])

    _, again, _ = await click({"custom_id": MORE_ID, "component_type": 2}, clear_cache=True)
    assert again["embeds"] == more["embeds"]

    chunk = message["components"][1]["components"][0]["options"][0]["value"]
    data = {"custom_id": FULL_ID, "component_type": 3, "values": [chunk]}
    _, full, _ = await click(data, clear_cache=True)
    assert full["embeds"][0]["title"].startswith("[1] ")

    _, vote, _ = await click({"custom_id": UP_ID, "component_type": 2}, clear_cache=True)
    assert vote["content"].startswith("Thanks! Noted as helpful.")
    [row] = bot.deps.service.store.feedback()
    assert row.vote == 1 and row.question == QUESTION and chunk in json.loads(row.chunk_ids)


async def test_corpus_add_by_an_admin_downloads_and_indexes(bot, fake, settings):
    fake.cdn["attachments/1/2/voluntary-ai-commitments.md"] = NEW_DOC
    attachment_id = snowflake()
    data = command_data(
        "corpus",
        [
            {
                "type": 1,
                "name": "add",
                "options": [{"name": "file", "type": 11, "value": attachment_id}],
            }
        ],
        resolved={
            "attachments": {
                attachment_id: {
                    "id": attachment_id,
                    "filename": "voluntary-ai-commitments.md",
                    "size": len(NEW_DOC),
                    "url": f"{fake.base}/cdn/attachments/1/2/voluntary-ai-commitments.md",
                    "proxy_url": f"{fake.base}/cdn/attachments/1/2/voluntary-ai-commitments.md",
                    "content_type": "text/markdown; charset=utf-8",
                }
            }
        },
    )
    payload = interaction_payload(kind=2, data=data, user_id=ADMIN_ID, name="root", permissions=8)
    started = await feed(bot, payload)
    callback, followup, defer_ms, answer_ms = await exchange(fake, payload, started)
    TIMINGS.append(f"/corpus add: deferred {defer_ms:.0f} ms, reported {answer_ms:.0f} ms")
    print(TIMINGS[-1])
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert fake.find("GET", "/cdn/attachments/1/2/voluntary-ai-commitments.md")
    assert followup.json["flags"] & EPHEMERAL
    assert "Added **Voluntary AI Commitments**" in followup.json["content"]
    assert "passages indexed in" in followup.json["content"]
    doc = next(d for d in bot.deps.service.documents() if d.title == "Voluntary AI Commitments")
    assert doc.added_by == f"discord:{ADMIN_ID}:root"
    assert bot.deps.service.store.original(doc.doc_id).data == NEW_DOC  # the bytes are kept


@pytest.mark.parametrize("command", ["add", "remove", "list"])
async def test_corpus_commands_by_a_non_admin_are_refused_and_change_nothing(
    bot, fake, settings, command
):
    before = stored_documents(bot.deps.service)
    documents = bot.deps.service.documents()
    attachment_id = snowflake()
    options = {
        "add": [{"name": "file", "type": 11, "value": attachment_id}],
        "remove": [{"name": "document", "type": 3, "value": "eu-ai-act-proposal"}],
        "list": [],
    }[command]
    resolved = {
        "attachments": {
            attachment_id: {
                "id": attachment_id,
                "filename": "evil.md",
                "size": 10,
                "url": f"{fake.base}/cdn/attachments/evil.md",
                "proxy_url": f"{fake.base}/cdn/attachments/evil.md",
            }
        }
    }
    data = command_data("corpus", [{"type": 1, "name": command, "options": options}], resolved)
    payload = interaction_payload(kind=2, data=data, permissions=0, roles=[GUILD_ID])
    await feed(bot, payload)
    [callback] = await fake.wait_for("POST", f"/interactions/{payload['id']}/")
    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert callback.json["data"]["content"].startswith("Only PolicyBot admins can do that")
    assert callback.json["data"]["allowed_mentions"] == {"parse": []}
    assert not fake.find("GET", "/cdn/")
    assert stored_documents(bot.deps.service) == before
    assert bot.deps.service.documents() == documents
    refusal = bot.deps.service.admin_actions()[0]
    assert refusal.actor.startswith("discord:") and refusal.action == command
    assert "not an admin" in refusal.outcome


async def test_admin_role_member_may_list(bot, fake):
    data = command_data("corpus", [{"type": 1, "name": "list", "options": []}])
    payload = interaction_payload(kind=2, data=data, permissions=0, roles=[ADMIN_ROLE_ID])
    started = await feed(bot, payload)
    callback, followup, _, _ = await exchange(fake, payload, started)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert followup.json["embeds"][0]["title"] == "2 documents in the corpus"


async def test_cooldown_refusal_says_when_to_retry(tmp_path, fake, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    settings = make_settings(tmp_path, discord_api_base=fake.base, ask_cooldown_s=30)
    bot = create_bot(settings, make_service(settings))
    await bot.login("fake-token")
    try:
        first, second = ask_payload(), ask_payload()
        await feed(bot, first)
        await fake.wait_for("POST", f"/webhooks/{APP_ID}/{first['token']}")
        await feed(bot, second)
        [callback] = await fake.wait_for("POST", f"/interactions/{second['id']}/")
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] == EPHEMERAL
        assert "You can ask again in 30 s" in callback.json["data"]["content"]
    finally:
        await bot.close()


async def test_engine_error_after_deferral_is_private_and_answered(bot, fake):
    payload = ask_payload("why " * 400)
    await feed(bot, payload)
    [callback] = await fake.wait_for("POST", f"/interactions/{payload['id']}/")
    assert callback.json == {"type": 5}
    await fake.wait_for("DELETE", f"/webhooks/{APP_ID}/{payload['token']}/messages/@original")
    [followup] = await fake.wait_for("POST", f"/webhooks/{APP_ID}/{payload['token']}")
    assert followup.json["flags"] & EPHEMERAL
    assert followup.json["content"].startswith("Questions are limited to 1000 characters")


async def test_unexpected_error_gets_a_generic_private_apology(bot, fake, caplog):
    with patch.object(bot.deps.service, "ask", side_effect=RuntimeError("secret detail")):
        payload = ask_payload()
        await feed(bot, payload)
        [followup] = await fake.wait_for("POST", f"/webhooks/{APP_ID}/{payload['token']}")
    assert followup.json["flags"] & EPHEMERAL
    assert "something went wrong" in followup.json["content"]
    assert "secret" not in followup.json["content"]
    assert f"ask failed (guild {GUILD_ID}" in caplog.text


async def test_sync_publishes_described_commands_to_the_guild_or_globally(bot, fake):
    synced = await bot.sync_tree()
    [put] = fake.find("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    by_name = {c["name"]: c for c in put.json}
    assert set(by_name) == {"ask", "corpus", "reindex"} and len(synced) == 3
    assert str(by_name["corpus"]["default_member_permissions"]) == "8"
    assert str(by_name["reindex"]["default_member_permissions"]) == "8"
    assert by_name["ask"]["default_member_permissions"] is None
    subcommands = {o["name"]: o for o in by_name["corpus"]["options"]}
    assert set(subcommands) == {"add", "add_url", "remove", "list"}
    assert subcommands["remove"]["options"][0]["autocomplete"] is True
    for option in by_name["ask"]["options"]:
        assert option["description"] and option["description"] != "…"
    bot.deps.settings.discord_guild_id = None
    await bot.sync_tree()
    [put] = fake.find("PUT", f"/applications/{APP_ID}/commands")
    assert {c["name"] for c in put.json} == {"ask", "corpus", "reindex"}


def test_zz_report_timings():
    print("\n".join(TIMINGS))
