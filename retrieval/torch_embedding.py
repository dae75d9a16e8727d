"""sentence-transformers on torch: the reference the ONNX model is tested against, and in
bfloat16 the indexer's fast path. Only indexing and tests import this module (and torch)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from retrieval.embedding import Embedder, resolve_model_path


class SentenceTransformerEmbedder:
    """The reference: sentence-transformers on torch (tests compare the engine's vectors to it);
    in bfloat16, the indexer's fast path."""

    def __init__(self, model: str, batch_size: int = 16, bfloat16: bool = False):
        self.name = model
        self.batch_size = batch_size
        self.bfloat16 = bfloat16

    @cached_property
    def _model(self):
        import torch
        from sentence_transformers import SentenceTransformer

        dtype = torch.bfloat16 if self.bfloat16 else torch.float32
        return SentenceTransformer(
            resolve_model_path(self.name), device="cpu", model_kwargs={"dtype": dtype}
        )

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
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # unit length in float32

    def count_tokens(self, text: str) -> int:
        encoded = self._model.tokenizer(text, add_special_tokens=True, verbose=False)
        return len(encoded["input_ids"])


class Bfloat16Embedder:
    """Indexing in bfloat16: torch runs the model's matrix products on the CPU's bfloat16 units.
    Measured here on 433 real passages: 56-63/s against ONNX Runtime's 33/s in float32, every
    vector's cosine to its float32 one at least 0.9999. Token counts and the model's size come
    from the question path's embedder, so chunks are cut alike and nothing loads torch until a
    text needs a vector."""

    def __init__(self, questions: Embedder, threads: int = 0):
        self.name = f"{questions.name}@bfloat16"  # its vectors are cached apart from float32's
        self.questions = questions
        self.threads = threads
        # Texts per torch batch (padded to the longest): 32 ran at 63/s, 16 at 56/s.
        self.torch = SentenceTransformerEmbedder(questions.name, batch_size=32, bfloat16=True)

    @property
    def dimension(self) -> int:
        return self.questions.dimension

    @property
    def max_tokens(self) -> int:
        return self.questions.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.questions.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        return self.torch.embed(texts)
