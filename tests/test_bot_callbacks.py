"""Every command, button and error branch, called directly with fakes shaped like discord.py's
classes (create_autospec: a wrong keyword raises) over the real Service and a hash embedder."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from unittest.mock import MagicMock, create_autospec, patch

import discord
import pytest
from discord import app_commands

from bot import answer_embeds
from bot import text as bot_text
from bot.admin import AdminCog
from bot.app import create_bot
from bot.ask import MENTION_HINT, AskCog
from bot.dependencies import UserCooldown
from bot.errors import APOLOGY, NotAdmin
from bot.replies import NO_MENTIONS
from bot.views import DOWN_ID, FULL_ID, MORE_ID, UP_ID, AnswerView
from retrieval import fetch as fetch_module
from retrieval.errors import (
    DocumentError,
    FetchError,
    InvalidQuestion,
    PolicyBotError,
    UnknownDocument,
)
from retrieval.fetch import Fetched
from retrieval.types import Filters
from tests.discord_fakes import (
    ADMIN_ROLE_ID,
    BOT_ID,
    GUILD_ID,
    NEW_DOC,
    USER_ID,
    fake_interaction,
    fake_member,
    fake_message_with,
    make_service,
    make_settings,
    sent_kwargs,
    stored_documents,
)

QUESTION = "Who signed the MOU between the US and UK AI Safety Institutes?"
NONE = NO_MENTIONS.to_dict()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One loaded service for tests that only read."""
    settings = make_settings(tmp_path_factory.mktemp("shared"))
    return settings, make_service(settings)


@pytest.fixture
def fresh(tmp_path):
    """A service of its own, for tests that change the corpus."""
    settings = make_settings(tmp_path)
    return settings, make_service(settings)


@pytest.fixture
def bot(shared):
    settings, service = shared
    return create_bot(settings.model_copy(), service)


@pytest.fixture
def admin_bot(fresh):
    settings, service = fresh
    return create_bot(settings, service)


def embed_ok(embed: discord.Embed) -> None:
    assert len(embed) <= 6000 and len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25 and all(len(f.value) <= 1024 for f in embed.fields)


async def ask(bot, question=QUESTION, jurisdiction=None, message_id=9000):
    cog = AskCog(bot.deps, lambda: bot.user)
    interaction = fake_interaction(bot)
    interaction.followup.send.return_value.id = message_id
    await cog.ask.callback(cog, interaction, question=question, jurisdiction=jurisdiction)
    return interaction


# -- /ask --------------------------------------------------------------------------------------


async def test_ask_defers_then_answers_with_sources_and_buttons(bot):
    interaction = await ask(bot)
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    kwargs = sent_kwargs(interaction.followup.send)
    assert kwargs["wait"] is True
    assert kwargs["allowed_mentions"].to_dict() == NONE
    embed, view = kwargs["embed"], kwargs["view"]
    embed_ok(embed)
    assert "[1]" in embed.description
    assert [f.name[:4] for f in embed.fields] == ["[1] ", "[2] "]  # top_k = 2
    assert any("> " in f.value and "**" in f.value for f in embed.fields)
    assert embed.footer.text.startswith("Jurisdiction: all")
    ids = [getattr(item, "custom_id", None) for item in view.children]
    assert ids == [MORE_ID, UP_ID, DOWN_ID, FULL_ID]
    cached = bot.deps.answers.get(9000)
    assert cached.question == QUESTION and cached.jurisdiction is None
    shown = [p.chunk_id for p in cached.answer.passages[:2]]
    assert [o.value for o in view.children[3].options] == shown  # chunk ids survive a restart
    assert view.is_finished()  # render-only: the persistent view handles the clicks


async def test_ask_runs_the_engine_off_the_event_loop(bot):
    threads = []
    real = bot.deps.service.ask

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    with patch.object(bot.deps.service, "ask", side_effect=spy):
        await ask(bot)
    assert threads and threads[0] is not threading.main_thread()


async def test_ask_with_jurisdiction_uses_the_canonical_name(bot):
    with patch.object(bot.deps.service, "ask", wraps=bot.deps.service.ask) as spy:
        interaction = await ask(bot, jurisdiction="international")
    assert spy.call_args.kwargs["filters"] == Filters(jurisdiction="International")
    assert sent_kwargs(interaction.followup.send)["embed"].footer.text.startswith(
        "Jurisdiction: International ·"
    )


async def test_ask_with_unknown_jurisdiction_lists_the_choices(bot):
    with pytest.raises(PolicyBotError, match=r"Choose one of: EU, International"):
        await ask(bot, jurisdiction="Mars")


async def test_ask_abstains_plainly_and_names_nearest(bot, monkeypatch):
    monkeypatch.setattr(bot.deps.settings, "min_support", 5.0)
    monkeypatch.setattr(bot.deps.service.settings, "min_support", 5.0)
    interaction = await ask(bot)
    embed = sent_kwargs(interaction.followup.send)["embed"]
    assert "do not support an answer" in embed.description
    assert "US and UK sign deal to partner on AI research" in embed.description
    assert not embed.fields
    view = sent_kwargs(interaction.followup.send)["view"]
    assert view.children[0].label == "Closest passages" and not view.children[0].disabled
    assert FULL_ID not in [getattr(i, "custom_id", None) for i in view.children]
    message = fake_message_with(embed, view, 9000)
    click = fake_interaction(bot, message=message)
    await AnswerView(bot.deps).on_more(click)
    closest = sent_kwargs(click.followup.send)["embed"]
    assert closest.title == "Closest passages" and closest.fields[0].name.startswith("[1] ")


async def test_ask_too_long_raises_the_engine_message(bot):
    with pytest.raises(InvalidQuestion, match="limited to 1000 characters"):
        await ask(bot, question="why " * 400)


async def test_jurisdiction_autocomplete(bot):
    cog = AskCog(bot.deps, lambda: bot.user)
    interaction = fake_interaction(bot)
    choices = await cog.jurisdiction_autocomplete(interaction, "")
    assert [c.value for c in choices] == ["EU", "International"]
    assert [c.value for c in await cog.jurisdiction_autocomplete(interaction, "e")] == [
        "EU",
        "International",
    ]
    assert [c.value for c in await cog.jurisdiction_autocomplete(interaction, "inter")] == [
        "International"
    ]


# -- buttons -------------------------------------------------------------------------------


async def answered(bot, message_id=9000):
    interaction = await ask(bot, message_id=message_id)
    kwargs = sent_kwargs(interaction.followup.send)
    return fake_message_with(kwargs["embed"], kwargs["view"], message_id)


async def test_more_sources_is_ephemeral_and_numbered_after_the_shown_ones(bot):
    message = await answered(bot)
    click = fake_interaction(bot, message=message)
    await AnswerView(bot.deps).on_more(click)
    click.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    kwargs = sent_kwargs(click.followup.send)
    assert kwargs["ephemeral"] is True and kwargs["allowed_mentions"].to_dict() == NONE
    embed = kwargs["embed"]
    embed_ok(embed)
    assert embed.fields[0].name.startswith("[3] ")


async def test_more_sources_after_a_restart_asks_again(bot):
    message = await answered(bot, message_id=9100)
    restarted = create_bot(bot.deps.settings, bot.deps.service)  # empty answer cache
    click = fake_interaction(restarted, message=message)
    with patch.object(bot.deps.service, "ask", wraps=bot.deps.service.ask) as spy:
        await AnswerView(restarted.deps).on_more(click)
    spy.assert_called_once_with(QUESTION, top_k=2, filters=Filters(jurisdiction=None))
    assert sent_kwargs(click.followup.send)["embed"].fields[0].name.startswith("[3] ")


async def test_full_passage_shows_the_whole_chunk(bot):
    message = await answered(bot)
    chunk_id = bot.deps.answers.get(9000).answer.passages[1].chunk_id
    click = fake_interaction(bot, message=message, data={"values": [chunk_id]})
    await AnswerView(bot.deps).on_full(click)
    kwargs = sent_kwargs(click.followup.send)
    assert kwargs["ephemeral"] is True
    embed = kwargs["embed"]
    embed_ok(embed)
    assert embed.title.startswith("[2] ")
    whole = bot.deps.service.passage(chunk_id).text
    first_words = " ".join(whole.split()[:4])
    assert bot_text.escape(first_words) in embed.description


async def test_full_passage_of_a_removed_chunk_says_so(bot):
    click = fake_interaction(bot, message=await answered(bot), data={"values": ["gone#1"]})
    with pytest.raises(UnknownDocument, match="no longer in the index"):
        await AnswerView(bot.deps).on_full(click)


async def test_votes_record_feedback_and_a_second_vote_replaces_the_first(admin_bot):
    bot = admin_bot
    message = await answered(bot)
    view = AnswerView(bot.deps)
    up = fake_interaction(bot, message=message)
    await view.on_up(up)
    assert "helpful" in up.followup.send.await_args.args[0]
    assert sent_kwargs(up.followup.send)["ephemeral"] is True
    rows = bot.deps.service.store.feedback()
    assert len(rows) == 1 and rows[0].vote == 1 and rows[0].question == QUESTION
    cited = answer_embeds.cited_chunk_ids(bot.deps.answers.get(9000).answer)
    assert json.loads(rows[0].chunk_ids) == cited
    assert str(USER_ID) not in rows[0].user_hash
    down = fake_interaction(bot, message=message)
    await view.on_down(down)
    assert "not helpful" in down.followup.send.await_args.args[0]
    rows = bot.deps.service.store.feedback()
    assert len(rows) == 1 and rows[0].vote == -1


async def test_button_failure_is_logged_and_apologised(bot, caplog):
    message = await answered(bot)
    click = fake_interaction(bot, message=message)
    click.response.is_done.return_value = True
    click.response.type = discord.InteractionResponseType.deferred_channel_message
    click.extras["ephemeral"] = True
    with patch.object(answer_embeds, "passages_embed", side_effect=RuntimeError("secret detail")):
        view = AnswerView(bot.deps)
        with caplog.at_level(logging.ERROR):
            await view._scheduled_task(view.more, click)
    kwargs = sent_kwargs(click.followup.send)
    assert kwargs["ephemeral"] is True and click.followup.send.await_args.args[0] == APOLOGY
    assert "button policybot:more failed" in caplog.text and str(GUILD_ID) in caplog.text
    click.delete_original_response.assert_not_awaited()


# -- mentions ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def no_typing():
    yield


def mention(bot, content: str, channel_cls=discord.TextChannel):
    bot._connection.user = MagicMock(spec=discord.ClientUser, id=BOT_ID)
    message = create_autospec(discord.Message, instance=True)
    message.author = fake_member()
    message.content = content
    message.raw_mentions = [BOT_ID] if f"<@{BOT_ID}>" in content else []
    message.guild = MagicMock(spec=discord.Guild, id=GUILD_ID)
    message.channel = create_autospec(channel_cls, instance=True)
    message.channel.id = 1
    message.channel.typing.side_effect = lambda: no_typing()
    thread = create_autospec(discord.Thread, instance=True)
    thread.typing.side_effect = lambda: no_typing()
    thread.send.return_value = MagicMock(spec=discord.Message, id=9200)
    message.create_thread.return_value = thread
    return message, thread


async def test_mention_is_answered_in_a_thread(bot):
    message, thread = mention(bot, f"<@{BOT_ID}> {QUESTION}")
    await AskCog(bot.deps, lambda: bot.user).on_message(message)
    message.create_thread.assert_awaited_once_with(
        name=bot_text.thread_name(QUESTION), auto_archive_duration=1440
    )
    kwargs = sent_kwargs(thread.send)
    assert kwargs["allowed_mentions"].to_dict() == NONE
    embed_ok(kwargs["embed"])
    assert bot.deps.answers.get(9200).question == QUESTION


async def test_mention_inside_a_thread_replies_there(bot):
    message, _ = mention(bot, f"<@{BOT_ID}> {QUESTION}", channel_cls=discord.Thread)
    message.channel.send.return_value = MagicMock(spec=discord.Message, id=9300)
    await AskCog(bot.deps, lambda: bot.user).on_message(message)
    message.create_thread.assert_not_awaited()
    assert "embed" in sent_kwargs(message.channel.send)


async def test_direct_messages_need_no_mention(bot):
    message, _ = mention(bot, QUESTION, channel_cls=discord.DMChannel)
    message.guild = None
    message.channel.send.return_value = MagicMock(spec=discord.Message, id=9400)
    await AskCog(bot.deps, lambda: bot.user).on_message(message)
    message.create_thread.assert_not_awaited()
    assert sent_kwargs(message.channel.send)["allowed_mentions"].to_dict() == NONE


async def test_mention_without_question_gets_a_hint_and_others_are_ignored(bot):
    message, _ = mention(bot, f"<@{BOT_ID}>  ")
    await AskCog(bot.deps, lambda: bot.user).on_message(message)
    message.reply.assert_awaited_once_with(
        MENTION_HINT, mention_author=False, allowed_mentions=NO_MENTIONS
    )
    other, _ = mention(bot, "who signed the MOU? @everyone")
    await AskCog(bot.deps, lambda: bot.user).on_message(other)
    other.reply.assert_not_awaited()
    other.create_thread.assert_not_awaited()


async def test_mention_cooldown_and_engine_errors(bot, monkeypatch):
    bot.deps.cooldown = UserCooldown(60)
    cog = AskCog(bot.deps, lambda: bot.user)
    message, _ = mention(bot, f"<@{BOT_ID}> {QUESTION}")
    await cog.on_message(message)
    again, _ = mention(bot, f"<@{BOT_ID}> {QUESTION}")
    await cog.on_message(again)
    assert "You can ask again in 60 s" in again.reply.await_args.args[0]
    bot.deps.cooldown = UserCooldown(0)
    long_one, thread = mention(bot, f"<@{BOT_ID}> " + "why " * 400)
    await AskCog(bot.deps, lambda: bot.user).on_message(long_one)
    assert "limited to 1000 characters" in thread.send.await_args.args[0]


# -- admin check -----------------------------------------------------------------------------


async def test_admin_check_refuses_and_records_non_admins(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    interaction = fake_interaction(bot, command=cog.add)
    with pytest.raises(NotAdmin, match="Only PolicyBot admins"):
        await cog.interaction_check(interaction)
    action = bot.deps.service.admin_actions()[0]
    assert action.actor == f"discord:{USER_ID}:alice"
    assert action.action == "add" and "not an admin" in action.outcome


@pytest.mark.parametrize(
    "kwargs",
    [
        {"administrator": True},
        {"user": fake_member(role_ids=(ADMIN_ROLE_ID,))},
    ],
    ids=["administrator", "admin-role"],
)
async def test_admin_check_passes_admins(bot, kwargs):
    assert await AdminCog(bot.deps).interaction_check(fake_interaction(bot, **kwargs)) is True


async def test_admin_check_refuses_in_direct_messages(bot):
    interaction = fake_interaction(bot, administrator=True, guild_id=None)
    with pytest.raises(NotAdmin):
        await AdminCog(bot.deps).interaction_check(interaction)


# -- /corpus and /reindex --------------------------------------------------------------------


def attachment(data: bytes, filename: str, size: int | None = None):
    file = create_autospec(discord.Attachment, instance=True)
    file.filename = filename
    file.size = len(data) if size is None else size
    file.read.return_value = data
    return file


async def test_corpus_add_indexes_the_file_and_reports(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    interaction = fake_interaction(bot, administrator=True)
    file = attachment(NEW_DOC, "voluntary-ai-commitments.md")
    await cog.add.callback(cog, interaction, file=file)
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    text = interaction.followup.send.await_args.args[0]
    assert "Added **Voluntary AI Commitments**" in text
    assert "passages indexed in" in text
    assert sent_kwargs(interaction.followup.send)["ephemeral"] is True
    doc = next(d for d in bot.deps.service.documents() if d.title == "Voluntary AI Commitments")
    assert doc.added_by == f"discord:{USER_ID}:alice"
    assert bot.deps.service.store.original(doc.doc_id).data == NEW_DOC  # the bytes are kept
    answer = bot.deps.service.ask("security testing before release", top_k=2)
    assert any(p.document.doc_id == doc.doc_id for p in answer.passages)


async def test_corpus_add_refuses_a_file_over_the_limit_before_download(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    interaction = fake_interaction(bot, administrator=True)
    file = attachment(b"x", "big.pdf", size=bot.deps.settings.max_document_bytes + 1)
    before = stored_documents(bot.deps.service)
    with pytest.raises(DocumentError, match="the limit is 20.0 MB"):
        await cog.add.callback(cog, interaction, file=file)
    file.read.assert_not_awaited()
    interaction.response.defer.assert_not_awaited()
    assert stored_documents(bot.deps.service) == before
    assert "refused" in bot.deps.service.admin_actions()[0].outcome


async def test_corpus_add_refuses_content_that_is_not_a_document(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    before = stored_documents(bot.deps.service)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    with pytest.raises(DocumentError):
        await cog.add.callback(
            cog, fake_interaction(bot, administrator=True), file=attachment(png, "policy.md")
        )
    assert stored_documents(bot.deps.service) == before


async def test_corpus_add_url(admin_bot, monkeypatch):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    fetched = Fetched(NEW_DOC, "commitments.md", "https://example.org/c", "text/markdown")
    real = fetch_module.fetch_url

    def fetch(url, **kwargs):
        return fetched if url == fetched.url else real(url, **kwargs)

    monkeypatch.setattr(fetch_module, "fetch_url", fetch)
    interaction = fake_interaction(bot, administrator=True)
    await cog.add_url.callback(cog, interaction, url=" https://example.org/c ")
    assert "Added **Voluntary AI Commitments**" in interaction.followup.send.await_args.args[0]
    with pytest.raises(FetchError):
        await cog.add_url.callback(
            cog, fake_interaction(bot, administrator=True), url="http://localhost/x"
        )


async def test_corpus_remove_and_its_autocomplete(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    admin = fake_interaction(bot, administrator=True)
    choices = await cog.document_autocomplete(admin, "commission")
    assert [c.value for c in choices] == ["eu-ai-act-proposal"]
    assert choices[0].name.startswith("Proposal for an Artificial Intelligence Act (European")
    assert len(await cog.document_autocomplete(admin, "")) == 2
    assert await cog.document_autocomplete(fake_interaction(bot), "") == []  # not an admin
    interaction = fake_interaction(bot, administrator=True)
    await cog.remove.callback(cog, interaction, document="eu-ai-act-proposal")
    assert "Removed **Proposal" in interaction.followup.send.await_args.args[0]
    assert "(`eu-ai-act-proposal`, 1 passages)" in interaction.followup.send.await_args.args[0]
    assert [d.doc_id for d in bot.deps.service.documents()] == ["techradar-us-uk-ai-safety-mou"]
    with pytest.raises(UnknownDocument):
        await cog.remove.callback(cog, fake_interaction(bot, administrator=True), document="nope")


async def test_corpus_list_shows_who_added_what(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    await cog.add.callback(
        cog,
        fake_interaction(bot, administrator=True),
        file=attachment(NEW_DOC, "voluntary-ai-commitments.md"),
    )
    interaction = fake_interaction(bot, administrator=True)
    await cog.list_documents.callback(cog, interaction)
    embed = sent_kwargs(interaction.followup.send)["embed"]
    assert embed.title == "3 documents in the corpus"
    assert f"added by <@{USER_ID}>" in embed.description
    assert "added by the corpus folder" in embed.description
    assert "file" not in sent_kwargs(interaction.followup.send)


async def test_reindex_reports(admin_bot):
    bot = admin_bot
    cog = AdminCog(bot.deps)
    interaction = fake_interaction(bot, administrator=True)
    await cog.reindex.callback(cog, interaction, rebuild=False)
    assert "already up to date" in interaction.followup.send.await_args.args[0]
    interaction = fake_interaction(bot, administrator=True)
    await cog.reindex.callback(cog, interaction, rebuild=True)
    assert interaction.followup.send.await_args.args[0].startswith("Rebuilt the index: 2 documents")


# -- the error handler -----------------------------------------------------------------------


async def test_error_handler_check_failure_is_ephemeral(bot):
    interaction = fake_interaction(bot)
    await bot.tree.on_error(interaction, NotAdmin())
    interaction.response.send_message.assert_awaited_once_with(
        str(NotAdmin()), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


async def test_error_handler_cooldown_says_when(bot):
    interaction = fake_interaction(bot)
    error = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 7.2)
    await bot.tree.on_error(interaction, error)
    text = interaction.response.send_message.await_args.args[0]
    assert "You can ask again in 8 s" in text and "<t:" in text


async def test_error_handler_engine_error_after_public_defer_stays_private(bot):
    await bot.add_cogs()
    interaction = fake_interaction(bot)
    interaction.response.is_done.return_value = True
    interaction.response.type = discord.InteractionResponseType.deferred_channel_message
    error = app_commands.CommandInvokeError(
        bot.tree.get_command("ask"), InvalidQuestion("Questions are limited to 10 characters.")
    )
    await bot.tree.on_error(interaction, error)
    interaction.delete_original_response.assert_awaited_once()
    interaction.followup.send.assert_awaited_once_with(
        "Questions are limited to 10 characters.", ephemeral=True, allowed_mentions=NO_MENTIONS
    )


async def test_error_handler_unexpected_is_logged_with_context_and_apologised(bot, caplog):
    await bot.add_cogs()
    interaction = fake_interaction(bot, command=bot.tree.get_command("ask"))
    error = app_commands.CommandInvokeError(interaction.command, RuntimeError("secret detail"))
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        await bot.tree.on_error(interaction, error)
    text = interaction.response.send_message.await_args.args[0]
    assert text == APOLOGY and "secret" not in text
    record = caplog.records[-1]
    assert record.getMessage().startswith(f"ask failed (guild {GUILD_ID}, user {USER_ID})")
    assert record.exc_info and "secret detail" in str(record.exc_info[1])


async def test_error_handler_survives_a_failing_reply(bot):
    interaction = fake_interaction(bot)
    interaction.response.send_message.side_effect = discord.NotFound(
        MagicMock(status=404, reason="gone"), "Unknown interaction"
    )
    await bot.tree.on_error(interaction, NotAdmin())  # no exception escapes


async def test_setup_hook_loads_the_engine_and_registers_commands_and_buttons(bot):
    await bot.setup_hook()
    assert bot.deps.service.current().passages  # the index is loaded before going online
    assert {c.qualified_name for c in bot.tree.walk_commands()} >= {"ask", "corpus", "reindex"}
    assert any(v.is_persistent() for v in bot.persistent_views)


async def test_ask_cooldown_is_per_user_and_per_bot(bot):
    bot.deps.cooldown = UserCooldown(30)
    cog = AskCog(bot.deps, lambda: bot.user)
    assert await cog.interaction_check(fake_interaction(bot)) is True
    with pytest.raises(app_commands.CommandOnCooldown) as caught:
        await cog.interaction_check(fake_interaction(bot))
    assert 29 < caught.value.retry_after <= 30
    other = fake_interaction(bot, user=fake_member(user_id=USER_ID + 1))
    assert await cog.interaction_check(other) is True
    another_bot = create_bot(bot.deps.settings, bot.deps.service)
    another = AskCog(another_bot.deps, lambda: another_bot.user)
    assert await another.interaction_check(fake_interaction(another_bot)) is True
