#!/usr/bin/env python3
"""Re-index the corpus (for cron): `scripts/reindex.py [--rebuild] [--corpus DIR]...`."""

import sys

from retrieval.cli import main

if __name__ == "__main__":
    main(["index", *sys.argv[1:]])
