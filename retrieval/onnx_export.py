"""Export a sentence-transformers model to ONNX, pooling and normalisation included.

sentence-transformers is the reference implementation; this is the only place that imports
torch. It runs in a child process (``python -m retrieval.onnx_export MODEL FOLDER``) so that
the process answering questions never loads torch or its OpenMP runtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

EXPORT_FORMAT = 2  # bump when the exported graph or its config changes (2: fused attention)
OPSET = 17


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def export(model_path: str, target: Path) -> None:
    """Write ``model.onnx``, ``tokenizer.json`` and ``export.json`` into ``target`` atomically."""
    import torch
    from sentence_transformers import SentenceTransformer

    # The plain ("eager") attention exports as the MatMul/Softmax pattern that ONNX Runtime's
    # transformer optimizer fuses into one Attention node; the default one does not fuse.
    model = SentenceTransformer(
        model_path, device="cpu", model_kwargs={"attn_implementation": "eager"}
    ).eval()

    class Pooled(torch.nn.Module):
        """The whole sentence-transformers pipeline: transformer, pooling, normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            features = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            }
            return self.model(features)["sentence_embedding"]

    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    example = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            Pooled(),
            (example, torch.ones_like(example), torch.zeros_like(example)),
            str(staging / "model.onnx"),
            dynamo=False,
            opset_version=OPSET,
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={
                **{n: {0: "batch", 1: "tokens"} for n in names},
                "embedding": {0: "batch"},
            },
        )
    _fuse(staging / "model.onnx", model[0].auto_model.config)
    # The exact tokenizer sentence-transformers runs; truncation and padding are set per call.
    model.tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
    config = {
        "format": EXPORT_FORMAT,
        "source": model_path,
        "max_tokens": int(model.max_seq_length),
        "dimension": int(model.get_embedding_dimension()),
        "pad_id": int(model.tokenizer.pad_token_id or 0),
        "pad_token": str(model.tokenizer.pad_token or "[PAD]"),
        "sha256": file_sha256(staging / "model.onnx"),
    }
    (staging / "export.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    try:
        os.rename(staging, target)
    except OSError:  # another process finished the same export first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "export.json").is_file():
            raise


def _fuse(path: Path, config) -> None:
    """Fuse attention, GELU and layer norms with ONNX Runtime's optimizer for BERT-like models.
    Measured here: a question embeds in about 14% less time, passages in bulk at about 1.1x the
    rate, each vector component within 2e-7 of the unfused graph's. A graph it cannot fuse is
    kept as exported: the fusion is a speed-up, never a condition."""
    from onnxruntime.transformers import optimizer

    heads = getattr(config, "num_attention_heads", 0)
    hidden = getattr(config, "hidden_size", 0)
    if getattr(config, "model_type", "") != "bert" or not heads or not hidden:
        return
    try:
        fused = optimizer.optimize_model(
            str(path), model_type="bert", num_heads=heads, hidden_size=hidden
        )
    except Exception as err:  # whatever fails, the exported graph stays as it is
        print(f"kept the unfused graph: {err}", file=sys.stderr)
        return
    if fused.get_fused_operator_statistics().get("Attention", 0) > 0:
        fused.save_model_to_file(str(path))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    export(sys.argv[1], Path(sys.argv[2]))
