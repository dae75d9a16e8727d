#!/usr/bin/env python3
"""Print, in one run: indexing throughput next to the model's raw throughput on the same texts,
the time until a build answers, re-index time of an unchanged corpus, engine question latency,
cold start of the CLI, and peak memory. With ``--scale N``, question latency, search recall and
memory at N synthetic passages made from the real ones.

Usage: scripts/bench.py [--corpus ../shared/corpus] [--questions ../shared/eval/dev.jsonl]
                        [--scale N] [--reference-sample 400]
Builds into a temporary data folder, so the project's own index is untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from retrieval.builds import build_row
from retrieval.config import Settings, process_defaults
from retrieval.evaluate import load_questions
from retrieval.index import IndexDirectory
from retrieval.lexical import terms
from retrieval.manifest import Build, Manifest, new_build_id
from retrieval.model_input import embedding_text
from retrieval.service import Service
from retrieval.snapshot import Analysis, SentenceTable, TermSets
from retrieval.store import Store
from retrieval.tables import Change

# A child that answers the questions on its stdin (one JSON list) against an existing data
# folder, then prints latencies and its own peak RSS (VmHWM, KiB): the memory of a process
# that only serves, apart from the one that built the index.
SERVE = """
import json, re, sys
from retrieval.config import Settings, process_defaults
from retrieval.service import Service
service = Service(Settings())
questions = json.load(sys.stdin)
service.ask("warm up")
first = [service.ask(q).elapsed_ms for q in questions]  # pages of the index read from disk
latencies = [service.ask(q).elapsed_ms for q in questions]  # the same, served from memory
status = open("/proc/self/status").read()
peak = int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
print(json.dumps({"first": first, "latencies": latencies, "peak_kib": peak,
                  "torch": "torch" in sys.modules}))
"""
# The CLI in a child that reports its own peak RSS last on stderr.
CLI_WITH_RSS = """
import re, sys
from retrieval.cli import main
try:
    main(sys.argv[1:])
finally:
    status = open("/proc/self/status").read()
    print(re.search(r"VmHWM:\\s+(\\d+)", status).group(1), file=sys.stderr)
"""


def serve(env: dict, questions: list[str]) -> dict:
    child = subprocess.run(
        [sys.executable, "-c", SERVE],
        input=json.dumps(questions), env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(child.stdout.strip().splitlines()[-1])


def percentiles(values) -> str:
    return f"p50 {np.percentile(values, 50):.1f} ms, p95 {np.percentile(values, 95):.1f} ms"


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    process_defaults()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--questions", type=Path, default=Path("../shared/eval/dev.jsonl"))
    parser.add_argument("--scale", type=int, default=0, help="also measure at N passages")
    parser.add_argument(
        "--reference-sample",
        type=int,
        default=400,
        help="passages also encoded by sentence-transformers on torch, as the yardstick (0: skip)",
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="policybot-bench-"))
    try:
        bench(args, data)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def bench(args: argparse.Namespace, data: Path) -> None:
    env = {**os.environ, "POLICYBOT_DATA_DIR": str(data), "POLICYBOT_CORPUS_DIRS": str(args.corpus)}
    settings = Settings(data_dir=data, corpus_dirs=[args.corpus])
    service = Service(settings)

    started = time.perf_counter()
    service.embedder.load()
    print(f"model: exported or found, and loaded, in {time.perf_counter() - started:.1f} s")
    passes: dict[str, list[float]] = {}

    def progress(what: str, done: int, total: int) -> None:
        passes.setdefault(what, [time.perf_counter(), 0.0, total])[1] = time.perf_counter()

    started = time.perf_counter()
    report = service.reindex(progress=progress)
    index_s = time.perf_counter() - started
    print(
        f"index: {report.documents} documents, {report.chunks} passages, "
        f"{report.sentences_embedded} sentences in {index_s:.1f} s; answering after "
        f"{report.answerable_seconds:.1f} s (passages published)"
    )
    for what, (first, last, total) in passes.items():
        print(f"  {what}: {total} in {last - first:.1f} s = {rate(total, last - first):.1f}/s")

    snapshot = service.current()
    texts = [
        embedding_text(snapshot.documents[p.doc_id].title, p.heading, p.text)
        for p in snapshot.passages
    ]
    sentences = [
        t
        for t, scored in zip(
            snapshot.analysis.sentence_texts(snapshot.passages),
            snapshot.analysis.sentences.scored,
            strict=True,
        )
        if scored
    ]
    for what, items in (
        ("passages", sorted(texts, key=len)),
        ("sentences", sorted(set(sentences), key=len)),
    ):
        started = time.perf_counter()
        service.index_embedder.embed(items)
        raw = rate(len(items), time.perf_counter() - started)
        first, last, total = passes.get(what, [0.0, 0.0, 0])
        indexed = rate(total, last - first) if total else float("nan")
        print(
            f"raw embed of the same {what}: {raw:.1f}/s; indexing reaches {indexed / raw:.0%} of it"
        )
    if args.reference_sample:
        sample = sorted(texts, key=len)[:: max(1, len(texts) // args.reference_sample)]
        from retrieval.torch_embedding import SentenceTransformerEmbedder

        reference = SentenceTransformerEmbedder(settings.embedding_model)
        reference.embed(sample[:4])
        started = time.perf_counter()
        reference.embed(sample)
        torch_rate = rate(len(sample), time.perf_counter() - started)
        started = time.perf_counter()
        service.embedder.embed(sample)
        onnx_rate = rate(len(sample), time.perf_counter() - started)
        started = time.perf_counter()
        service.index_embedder.embed(sample)
        index_rate = rate(len(sample), time.perf_counter() - started)
        print(
            f"yardstick on {len(sample)} passages: sentence-transformers (torch float32, batches "
            f"of 16) {torch_rate:.1f}/s, the question path's ONNX Runtime {onnx_rate:.1f}/s "
            f"({onnx_rate / torch_rate:.2f}x), the index's {service.index_embedder.name} "
            f"{index_rate:.1f}/s ({index_rate / torch_rate:.2f}x)"
        )

    started = time.perf_counter()
    again = service.reindex()
    print(
        f"re-index unchanged corpus: {time.perf_counter() - started:.2f} s, "
        f"{again.embedded + again.sentences_embedded} embedded"
    )

    questions = [q.question for q in load_questions(args.questions)]
    served = serve(env, questions)
    print(
        f"engine latency over {len(questions)} questions: {percentiles(served['latencies'])} "
        f"(first pass {percentiles(served['first'])}); "
        f"serving process peak RSS {served['peak_kib'] / 1024:.0f} MiB, torch loaded: {served['torch']}"
    )

    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CLI_WITH_RSS, "ask", questions[0]],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(f"cold start (process start to first answer): {time.perf_counter() - started:.2f} s")
    child_mib = int(child.stderr.strip().splitlines()[-1]) / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {child_mib:.0f} MiB for one CLI answer; {own:.0f} MiB indexing and querying")

    if args.scale:
        scaled(snapshot, settings, env, questions, args.scale)


def tiled(values: np.ndarray, times: int, step: int = 0) -> np.ndarray:
    """``values`` repeated; with ``step``, each copy shifted by step x its copy number."""
    copies = [values + k * step for k in range(times)] if step else [values] * times
    return np.concatenate(copies)


def tile_offsets(offsets: np.ndarray, times: int) -> np.ndarray:
    """Row offsets (n + 1 of them) of ``times`` copies of the rows."""
    total = int(offsets[-1])
    return np.append(tiled(offsets[:-1], times, total), total * times)


def tile_terms(sets: TermSets, times: int, rows: int) -> TermSets:
    """The first ``rows`` rows of ``times`` copies."""
    offsets = tile_offsets(sets.offsets, times)[: rows + 1]
    return TermSets(offsets, tiled(sets.ids, times)[: int(offsets[-1])])


def scaled(snapshot, settings: Settings, env: dict, questions: list[str], n: int) -> None:
    """Question latency, search recall and memory at ``n`` passages, served by a process of its
    own once the build's arrays are freed (the builder would have exited)."""
    data = Path(tempfile.mkdtemp(prefix="policybot-scale-"))
    try:
        started = time.perf_counter()
        published = publish_scaled(snapshot, n, data)
        print(
            f"scale {published.chunks:,} passages, {published.sentences:,} sentences: built in "
            f"{time.perf_counter() - started:.0f} s, search {published.search}"
        )
        recall = search_recall(data, settings, snapshot.manifest, questions)
        served = serve({**env, "POLICYBOT_DATA_DIR": str(data)}, questions)
        print(
            f"  latency {percentiles(served['latencies'])} (first pass, index pages read from "
            f"disk: {percentiles(served['first'])}); search recall@50 vs exact {recall:.3f}; "
            f"serving process peak RSS {served['peak_kib'] / 1024:.0f} MiB"
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)


def publish_scaled(snapshot, n: int, data: Path) -> Manifest:
    """Publish a build of ``n`` passages in ``data``: the real ones repeated, each copy with its
    vector mixed from two real vectors so the search has real work to do."""
    times = -(-n // len(snapshot.passages))
    count = len(snapshot.passages)
    passages = [
        replace(p, chunk_id=f"{p.chunk_id}~{k}") if k else p
        for k in range(times)
        for p in snapshot.passages
    ][:n]
    rng = np.random.default_rng(0)
    base = np.asarray(snapshot.passage_vectors)
    vectors = np.empty((len(passages), base.shape[1]), dtype=np.float32)
    for k in range(times):
        rows = slice(k * count, min((k + 1) * count, n))
        size = rows.stop - rows.start
        if size <= 0:
            break
        mixed = (
            base[:size] if k == 0 else 0.8 * base[:size] + 0.2 * base[rng.integers(0, count, size)]
        )
        vectors[rows] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    a = snapshot.analysis
    table = a.sentences
    first = tile_offsets(table.first, times)[: len(passages) + 1]
    cut = int(first[-1])
    sentence_table = SentenceTable(
        first=first,
        start=tiled(table.start, times)[:cut],
        end=tiled(table.end, times)[:cut],
        scored=tiled(table.scored, times)[:cut],
        opens_list=tiled(table.opens_list, times)[:cut],
        item=tiled(table.item, times)[:cut],
        terms=tile_terms(table.terms, times, cut),
    )
    analysis = Analysis(
        a.vocabulary,
        tile_terms(a.passage_terms, times, len(passages)),
        tiled(a.informative, times)[: len(passages)],
        sentence_table,
    )
    lexical = [
        terms(f"{snapshot.documents[p.doc_id].title}\n{p.heading}\n{p.text}")
        for p in snapshot.passages
    ]
    manifest = replace(
        snapshot.manifest, build_id=new_build_id(), chunks=len(passages), sentences=cut
    )
    build = Build(
        manifest,
        passages,
        snapshot.documents,
        vectors,
        (lexical * times)[: len(passages)],
        analysis,
        tiled(np.asarray(snapshot.sentence_vectors), times)[:cut],
        np.ones(cut, dtype=bool),
        snapshot.names,
        snapshot.spelling,
    )
    published = IndexDirectory(data / "index").publish(build)
    # The database names the build every process serves: this one (its documents stay local).
    Store(f"sqlite:///{data / 'policybot.db'}").commit(Change(), build_row(published))
    return published


def search_recall(data: Path, settings: Settings, made_like, questions: list[str]) -> float:
    """Share of the exact top 50 passages that the scaled build's vector search finds."""
    scaled_snapshot = IndexDirectory(data / "index").load(
        made_like.model, made_like.chunker, made_like.chunk_tokens
    )
    service = Service(Settings(data_dir=data, corpus_dirs=settings.corpus_dirs))
    hits = total = 0
    for question in questions:
        query = service.embedder.embed([question])[0]
        found, _ = scaled_snapshot.dense_scores(query, 50, None)
        exact = np.argsort(-(np.asarray(scaled_snapshot.passage_vectors) @ query))[:50]
        hits += len(set(found.tolist()) & set(exact.tolist()))
        total += 50
    return hits / total


if __name__ == "__main__":
    main()
