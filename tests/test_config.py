"""Settings: `.env.example` stays in step, and values come from the environment or `.env`."""

from __future__ import annotations

from pathlib import Path

from bot.config import BotSettings
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
