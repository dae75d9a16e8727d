"""The progress bars `policybot` draws on stderr while it embeds."""

from __future__ import annotations

import shutil
import sys


def progress_bars():
    """A tqdm bar on stderr for each embedding pass (passages, then sentences) with work to do."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(what: str, done: int, total: int) -> None:
        if total == 0:
            return
        if what not in bars:
            # A terminal that reports no width (a pty from docker exec, script) would get an
            # empty bar: fall back to 80 columns.
            width = shutil.get_terminal_size((80, 20)).columns or 80
            bars[what] = tqdm(
                total=total,
                unit=what[:-1],
                desc=f"Embedding {what}",
                file=_Stream(sys.stderr),
                ncols=min(width, 100),
            )
        bar = bars[what]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


class _Stream:
    """sys.stderr behind a plain object: tqdm 4.70 given a terminal's sys.stderr itself drew
    nothing (an empty line under a pty), while the same bar through a wrapper shows."""

    encoding = "utf-8"

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()
