"""Files in the corpus folder: stored atomically, moved aside on removal, restored on failure."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.documents import SourceDocument, slugify
from retrieval.errors import DocumentError

if TYPE_CHECKING:
    from retrieval.store import Store
    from retrieval.tables import DocumentRow

MAX_NAME_CHARS = 80  # file names made from a title stay short enough to read in a listing


def markdown_copy(document: SourceDocument, url: str) -> tuple[bytes, str]:
    """A fetched page or PDF as a Markdown file with its metadata in front matter: (bytes, name).

    The corpus keeps the text that was indexed, with where it came from, not the raw download.
    """
    meta = {k: v for k, v in document.meta.items() if v}
    meta.setdefault("url", url)
    meta["obtained_from"] = url
    name = slugify(meta.get("title", ""))[:MAX_NAME_CHARS].strip("-") or document.doc_id
    return metadata_yaml(meta) + f"\n{document.text}\n".encode(), name + ".md"


def metadata_yaml(meta: dict[str, str]) -> bytes:
    """Metadata as the front matter a sidecar file holds."""
    import yaml

    return f"---\n{yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}---\n".encode()


def write_atomically(target: Path, data: bytes) -> None:
    """Write beside the target, then rename: a crash leaves the old state or the whole file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


class RemovedFiles:
    """Where removed documents' files are kept (``<data_dir>/removed``), never deleted."""

    def __init__(self, folder: Path):
        self.folder = folder

    def move_aside(self, source: Path) -> Path | None:
        """Move ``source`` out of the corpus; the path it now has, or None if it was gone."""
        if not source.exists():
            return None
        aside = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{source.name}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(source, aside)
        except OSError as err:
            raise DocumentError(f"Cannot move {source} out of the corpus: {err.strerror}.") from err
        return aside

    def keep(self, name: str, data: bytes) -> Path:
        """Write the bytes of a removed upload; the path they now have."""
        kept = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{Path(name).name}"
        write_atomically(kept, data)
        return kept

    @staticmethod
    def restore(aside: Path | None, source: Path) -> None:
        if aside is not None and aside.exists():
            shutil.move(aside, source)


def keep_removed(row: DocumentRow, store: Store, removed: RemovedFiles) -> Callable[[], None]:
    """Keep what a removal takes away: a folder's file moves aside (so the next import does
    not bring it back), an upload's bytes are written out. Returns what undoes it."""
    from retrieval.metadata import metadata_file
    from retrieval.tables import UPLOADED

    if row.origin == UPLOADED:
        original = store.original(row.doc_id)
        if original is None:
            return lambda: None
        kept = removed.keep(original.filename, original.data)
        return lambda: kept.unlink(missing_ok=True)
    source = Path(row.source)
    aside = removed.move_aside(source)
    aside_metadata = removed.move_aside(metadata_file(source))

    def undo() -> None:
        removed.restore(aside, source)
        removed.restore(aside_metadata, metadata_file(source))

    return undo
