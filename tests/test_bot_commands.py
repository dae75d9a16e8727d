"""Meta-tests over every slash command, and the layering rule (retrieval never imports bot)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from discord import app_commands

from bot.app import create_bot
from bot.checks import admin_predicate, ask_cooldown
from retrieval.config import Settings

ROOT = Path(__file__).resolve().parents[1]
ADMIN_COMMANDS = {"corpus add", "corpus add_url", "corpus remove", "corpus list", "reindex"}
DEFAULT_DESCRIPTION = "…"  # what discord.py uses when a description is missing


@pytest.fixture
async def tree():
    bot = create_bot(Settings(_env_file=None), service=None)  # type: ignore[arg-type]
    await bot.add_cogs()
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


async def test_admin_commands_carry_the_runtime_check(tree):
    for command in commands(tree):
        is_admin = admin_predicate in command.checks
        assert is_admin == (command.qualified_name in ADMIN_COMMANDS), command.qualified_name


async def test_admin_commands_are_hidden_by_default_and_guild_only(tree):
    for command in commands(tree):
        if command.qualified_name not in ADMIN_COMMANDS:
            continue
        owner = command.root_parent or command
        assert owner.default_permissions is not None, command.qualified_name
        assert owner.default_permissions.administrator
        assert owner.guild_only


async def test_ask_has_a_per_user_cooldown(tree):
    ask = tree.get_command("ask")
    assert ask.checks == [ask_cooldown]
    assert ask._params["jurisdiction"].autocomplete is not None
    assert ask._params["jurisdiction"].required is False


def test_retrieval_never_imports_discord_or_bot():
    """The engine never depends on the adapter. The one exception is the CLI's `policybot bot`
    entry point, which starts the bot with a lazy import inside that command only."""
    offenders = []
    for path in sorted((ROOT / "retrieval").rglob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = module.body if path.name == "cli.py" else list(ast.walk(module))
        for node in nodes:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in {"discord", "bot"}:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders
