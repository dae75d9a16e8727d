"""Settings: `.env.example` stays in step, and values come from the environment or `.env`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.__main__ import main as bot_main
from bot.config import BotSettings
from retrieval.cli import main as cli_main
from retrieval.config import Settings
from tests.conftest import REPO


def test_env_example_lists_every_setting_and_nothing_else():
    lines = (REPO / ".env.example").read_text().splitlines()
    listed = {line.split("=")[0] for line in lines if line.startswith("POLICYBOT_")}
    # The bot's settings extend the engine's, so they cover both.
    assert set(Settings.model_fields) < set(BotSettings.model_fields)
    assert listed == {f"POLICYBOT_{name.upper()}" for name in BotSettings.model_fields}


def test_env_example_values_parse():
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.startswith("POLICYBOT_") and line.split("=", 1)[1]:
            key, value = line.split("=", 1)
            values[key.removeprefix("POLICYBOT_").lower()] = value
    settings = BotSettings(**values)
    assert settings.corpus_dirs == [Path("corpus")] and settings.top_k == 5


def test_settings_read_env_file_and_lists(monkeypatch):
    Path(".env").write_text("POLICYBOT_DATA_DIR=/tmp/x\nPOLICYBOT_ADMIN_ROLE_IDS=1, 2\n")
    monkeypatch.setenv("POLICYBOT_CORPUS_DIRS", "a,b")
    settings = BotSettings()
    assert settings.data_dir == Path("/tmp/x") and settings.admin_role_ids == [1, 2]
    assert settings.corpus_dirs == [Path("a"), Path("b")]
    assert settings.db_url == "sqlite:////tmp/x/policybot.db"
    assert settings.discord_token is None
    assert not hasattr(Settings(), "discord_token")  # the engine never holds the token


def test_env_example_copied_to_env_loads(monkeypatch):
    """Its empty values mean "not set", as its comments say."""
    monkeypatch.delenv("POLICYBOT_MODEL_DIR")  # the suite's own model cache: .env decides here
    shutil.copy(REPO / ".env.example", ".env")
    settings = BotSettings()
    assert settings.discord_guild_id is None and settings.discord_shard_count is None
    assert settings.discord_shard_ids == [] and settings.runs_shard_zero
    assert settings.model_folder == Path("data/models") and settings.database_url == ""


def test_shard_settings_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("POLICYBOT_DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("POLICYBOT_DISCORD_SHARD_IDS", "2, 3")
    settings = BotSettings()
    assert settings.discord_shard_count == 4 and settings.discord_shard_ids == [2, 3]
    assert not settings.runs_shard_zero


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [
        ("", "1", "SHARD_IDS='1': Value error, needs POLICYBOT_DISCORD_SHARD_COUNT"),
        ("2", "0,2", "shard 2 is out of range: with POLICYBOT_DISCORD_SHARD_COUNT=2 shard ids"),
        ("2", "-1", "shard -1 is out of range"),
        ("3", "1,1", "SHARD_IDS='1,1': Value error, shard 1 is listed twice"),
        ("0", "", "SHARD_COUNT='0': Input should be greater than or equal to 1"),
        ("2", "one", "='one': Input should be a valid integer"),
    ],
)
def test_invalid_shard_settings_are_one_line_naming_the_variable(
    monkeypatch, capsys, count, ids, expected
):
    monkeypatch.setenv("POLICYBOT_DISCORD_SHARD_COUNT", count)
    monkeypatch.setenv("POLICYBOT_DISCORD_SHARD_IDS", ids)
    assert bot_main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("policybot: invalid setting POLICYBOT_DISCORD_")
    assert expected in err


def test_policybot_bot_reports_an_invalid_bot_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("POLICYBOT_DISCORD_SHARD_IDS", "1")
    with pytest.raises(SystemExit) as done:
        cli_main(["bot", "--sync"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1
    assert err.startswith("Error: invalid setting POLICYBOT_DISCORD_SHARD_IDS='1': Value error")
