"""Meta-tests over every slash command, and the layering rule (retrieval never imports bot)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from discord import app_commands

from bot.admin import AdminCog
from bot.app import create_bot
from bot.ask import AskCog
from bot.errors import NotAdmin
from tests.discord_fakes import fake_interaction, make_service, make_settings

ROOT = Path(__file__).resolve().parents[1]
ADMIN_COMMANDS = {"corpus add", "corpus add_url", "corpus remove", "corpus list", "reindex"}
DEFAULT_DESCRIPTION = "…"  # what discord.py uses when a description is missing


@pytest.fixture
async def bot(tmp_path):
    settings = make_settings(tmp_path, admin_role_ids=[])
    bot = create_bot(settings, make_service(settings))
    await bot.add_cogs()
    return bot


@pytest.fixture
def tree(bot):
    return bot.tree


def commands(tree: app_commands.CommandTree) -> list[app_commands.Command]:
    return [c for c in tree.walk_commands() if isinstance(c, app_commands.Command)]


async def test_the_expected_commands_exist(tree):
    assert {c.qualified_name for c in commands(tree)} == {"ask"} | ADMIN_COMMANDS


async def test_every_command_and_parameter_is_described_for_users(tree):
    for command in tree.walk_commands():
        description = command.description
        assert description and description != DEFAULT_DESCRIPTION, command.qualified_name
        assert len(description) <= 100 and description[0].isupper(), command.qualified_name
        for parameter in getattr(command, "parameters", []):
            assert parameter.description and parameter.description != DEFAULT_DESCRIPTION, (
                f"/{command.qualified_name} {parameter.name}"
            )
            assert len(parameter.description) <= 100


async def test_admin_commands_refuse_non_admins_on_every_call(bot, tree):
    """Through discord.py's own check path (what runs before a callback): every admin command
    refuses a member without the permission and lets an administrator through."""
    for command in commands(tree):
        is_admin = command.qualified_name in ADMIN_COMMANDS
        assert isinstance(command.binding, AdminCog if is_admin else AskCog)
        member = fake_interaction(bot, command=command)
        if is_admin:
            with pytest.raises(NotAdmin):
                await command._check_can_run(member)
        else:
            assert await command._check_can_run(member)
        assert await command._check_can_run(fake_interaction(bot, administrator=True))


async def test_admin_commands_are_hidden_by_default_and_guild_only(tree):
    for command in commands(tree):
        if command.qualified_name not in ADMIN_COMMANDS:
            continue
        owner = command.root_parent or command
        assert owner.default_permissions is not None, command.qualified_name
        assert owner.default_permissions.administrator
        assert owner.guild_only


async def test_ask_has_a_per_user_cooldown_and_jurisdiction_autocomplete(bot, tree, monkeypatch):
    monkeypatch.setattr(bot.deps.cooldown, "per", 30.0)
    ask = tree.get_command("ask")
    assert await ask._check_can_run(fake_interaction(bot))
    with pytest.raises(app_commands.CommandOnCooldown):
        await ask._check_can_run(fake_interaction(bot))
    assert ask._params["jurisdiction"].autocomplete is not None
    assert ask._params["jurisdiction"].required is False


def test_retrieval_never_imports_discord_or_bot():
    """The engine never depends on the adapter: `policybot bot` is an entry point that the bot
    package registers."""
    offenders = []
    for path in sorted((ROOT / "retrieval").rglob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(module):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in {"discord", "bot"}:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_bot_modules_import_no_circle():
    """Each bot module imports only modules below it: no import circle through the client."""
    graph = {}
    for path in sorted((ROOT / "bot").glob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom) and node.module == "bot":
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot."):
                imported.add(node.module.split(".")[1])
        graph[path.stem] = imported

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for name in graph.get(start, ()):
            if name == target or (name not in seen and reaches(name, target, seen | {name})):
                return True
        return False

    circles = [name for name in graph if reaches(name, name, set())]
    assert not circles, circles
