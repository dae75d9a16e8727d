#!/usr/bin/env python3
"""Print how fast a build reaches another process on a shared database: the refresh time of a
new data folder (its local index made from the database's rows, no embedding), and the time
from `add` on process A to B's first answer citing the new document.

Usage: scripts/bench_store.py [--database URL] [--corpus ../shared/corpus]
                              [--embeddings-from sqlite:///data/policybot.db]
Without --database, a SQLite file in a temporary folder. --embeddings-from copies cached
vectors from another database first, so the first build embeds only what that one lacks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlmodel import select

from retrieval.config import Settings, process_defaults
from retrieval.service import Service
from retrieval.store import Store
from retrieval.tables import EmbeddingRow

NEW_DOCUMENT = """---
title: "Model audit rule"
publisher: "Example Office"
date: 2026-01-01
---

Providers of frontier models must commission an independent audit every eighteen months.
"""


def copy_embeddings(source_url: str, target: Store) -> int:
    source = Store(source_url)
    with source.session() as session:
        rows = session.exec(select(EmbeddingRow)).all()
    by_model: dict[str, list[EmbeddingRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    for model, group in by_model.items():
        vectors = np.stack([np.frombuffer(r.vector, dtype="<f4") for r in group])
        target.save_embeddings(model, [r.text_hash for r in group], vectors)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="")
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--embeddings-from", default="")
    args = parser.parse_args()
    process_defaults()
    root = Path(tempfile.mkdtemp(prefix="policybot-store-"))
    url = args.database or f"sqlite:///{root / 'shared.db'}"
    a = Service(Settings(data_dir=root / "a", corpus_dirs=[args.corpus], database_url=url))
    if args.embeddings_from:
        print(f"copied {copy_embeddings(args.embeddings_from, a.store):,} cached vectors")
    started = time.perf_counter()
    report = a.reindex()
    print(
        f"A: {report.documents} documents, {report.chunks} passages built in "
        f"{time.perf_counter() - started:.1f} s ({report.embedded} embedded)"
    )
    a.ask("warm up")
    b = Service(Settings(data_dir=root / "b", corpus_dirs=[], database_url=url))
    b.embedder.embed(["warm up"])
    started = time.perf_counter()
    refresh_s = b.local.refresh()
    b.ask("warm up")
    print(
        f"B (new data folder): refresh from the database {refresh_s:.2f} s, first answer after "
        f"{time.perf_counter() - started:.2f} s"
    )
    upload = root / "model-audit-rule.md"
    upload.write_text(NEW_DOCUMENT, encoding="utf-8")
    started = time.perf_counter()
    a.add_file(upload)
    added_s = time.perf_counter() - started
    answer = b.ask("How often must providers commission an independent audit?")
    total_s = time.perf_counter() - started
    cites = any(p.document.doc_id == "model-audit-rule" for p in answer.passages)
    print(
        f"add on A {added_s:.2f} s; B's first answer {'citing' if cites else 'NOT citing'} it "
        f"{total_s:.2f} s after the add began ({total_s - added_s:.2f} s on B)"
    )
    latencies = []
    for _ in range(20):
        latencies.append(b.ask("Who signed the US-UK AI MOU?").elapsed_ms)
    latencies.sort()
    print(f"B question latency with the build check: p50 {latencies[10]:.1f} ms")


if __name__ == "__main__":
    main()
