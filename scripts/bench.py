#!/usr/bin/env python3
"""Print indexing throughput (vs raw model.encode), re-index time, query latency, cold start, RSS.

Usage: scripts/bench.py [--corpus ../shared/corpus] [--questions ../shared/eval/dev.jsonl]
Builds into a temporary data folder, so the project's own index is untouched.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.chunking import embedding_text
from retrieval.config import Settings
from retrieval.evaluate import load_questions
from retrieval.service import Service

# The CLI in a child that reports its own peak RSS (KiB, VmHWM) last on stderr. Linux's
# ru_maxrss survives exec, so it would report this (larger) process's memory at fork time.
CLI_WITH_RSS = """
import re, sys
from retrieval.cli import main
try:
    main(sys.argv[1:])
finally:
    status = open("/proc/self/status").read()
    print(re.search(r"VmHWM:\\s+(\\d+)", status).group(1), file=sys.stderr)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--questions", type=Path, default=Path("../shared/eval/dev.jsonl"))
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="policybot-bench-"))
    settings = Settings(data_dir=data, corpus_dirs=[args.corpus])
    service = Service(settings)

    started = time.perf_counter()
    service.embedder.load()  # once per process; raw encode below does not pay it either
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    report = service.reindex()
    index_s = time.perf_counter() - started
    print(
        f"index: {report.documents} documents, {report.chunks} chunks in {index_s:.1f} s "
        f"= {report.chunks / index_s:.1f} chunks/s (read, chunk, embed, publish), after "
        f"{load_s:.1f} s loading the model ({report.chunks / (index_s + load_s):.1f} chunks/s "
        "counting the load)"
    )

    snapshot = service.current()
    texts = [
        embedding_text(snapshot.documents[p.doc_id].title, p.heading, p.text)
        for p in snapshot.passages
    ]
    started = time.perf_counter()
    service.embedder.embed(texts)
    encode_s = time.perf_counter() - started
    print(
        f"raw model.encode on the same chunks: {len(texts) / encode_s:.1f} chunks/s; "
        f"indexing reaches {encode_s / index_s:.0%} of it"
    )

    started = time.perf_counter()
    again = service.reindex()
    print(
        f"re-index unchanged corpus: {time.perf_counter() - started:.2f} s, {again.embedded} embedded"
    )

    questions = [q.question for q in load_questions(args.questions)]
    service.ask("warm up")
    latencies = [service.ask(q).elapsed_ms for q in questions]
    print(
        f"query latency over {len(latencies)} questions: p50 {np.percentile(latencies, 50):.0f} ms, "
        f"p95 {np.percentile(latencies, 95):.0f} ms"
    )

    env = {**os.environ, "POLICYBOT_DATA_DIR": str(data), "POLICYBOT_CORPUS_DIRS": str(args.corpus)}
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CLI_WITH_RSS, "ask", questions[0]],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(f"cold start (process start to first answer): {time.perf_counter() - started:.1f} s")
    child_mib = int(child.stderr.strip().splitlines()[-1]) / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS: {own:.0f} MiB while indexing and querying; {child_mib:.0f} MiB for one CLI answer"
    )


if __name__ == "__main__":
    main()
