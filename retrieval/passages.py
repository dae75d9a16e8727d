"""A snapshot row as the `Passage` that crosses the layers, with a link to its quote."""

from __future__ import annotations

import re
from urllib.parse import quote

from retrieval.snapshot import Snapshot
from retrieval.types import Passage


def to_passage(
    snapshot: Snapshot, row: int, score: float = 0.0, highlights: tuple[tuple[int, int], ...] = ()
) -> Passage:
    stored = snapshot.passages[row]
    document = snapshot.documents[stored.doc_id]
    quote_span = highlights[0] if highlights else None
    link = text_fragment_link(document.url, stored.text[slice(*quote_span)] if quote_span else "")
    return Passage(
        chunk_id=stored.chunk_id,
        document=document,
        heading=stored.heading,
        text=stored.text,
        start=stored.start,
        end=stored.end,
        score=score,
        highlights=highlights,
        link=link,
    )


def text_fragment_link(url: str, sentence: str) -> str:
    """The URL with a ``#:~:text=start,end`` fragment that scrolls to the quoted sentence."""
    words = sentence.split()
    if (
        not url.startswith(("http://", "https://"))
        or url.lower().endswith(".pdf")
        or len(words) < 3
    ):
        return url

    def encode(part: list[str]) -> str:
        return quote(" ".join(part), safe="").replace("-", "%2D")

    base = re.sub(r"#.*$", "", url)
    if len(words) <= 8:
        return f"{base}#:~:text={encode(words)}"
    return f"{base}#:~:text={encode(words[:4])},{encode(words[-4:])}"
